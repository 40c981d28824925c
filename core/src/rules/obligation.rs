//! Obligation rules from the matrix (RC_IITP.IS_V7.8 جدول ۱): a required field that is missing
//! is an error (existence code `00<field>`); a present field that is out of the pattern is a
//! warning like the server's `14<field>`. Conditional (C) fields are decided here where the
//! condition can be read from the invoice itself. Referral subjects (ins 2/3/4) change what is
//! expected: the server takes the buyer (and for ins 3 the type, pattern and body) from the
//! reference invoice.

use super::data::{Obligation, Section, TABLES};
use super::util::{bpath, code, get, hpath, ppath, Inv, Sink};
use super::Severity;

/// Buyer-related header fields that a referral (ins 2/3/4) takes from its reference.
const BUYER_FIELDS: [&str; 5] = ["tinb", "bid", "bpc", "bbc", "billid"];
/// What a cancellation (ins 3) needs; everything else is fetched from the reference.
const CANCEL_NEEDS: [&str; 5] = ["taxid", "indatim", "ins", "irtaxid", "tins"];
/// Header amounts that a cancellation does not carry.
const CANCEL_SUMS: [&str; 12] = [
    "tprdis", "tdis", "tadis", "tvam", "todam", "tbill", "setm", "cap", "insp", "tvop", "tax17",
    "torv",
];

fn ec_of(key: &str) -> Option<&'static str> {
    let i = TABLES.index_of(key)?;
    TABLES.fields[i].ec.as_deref()
}

/// The amounts `--fill` computes from the lines (`import::fill`): a missing one is not for the
/// user to work out by hand.
const FILLED: [&str; 17] = [
    "prdis", "dis", "adis", "vam", "odam", "olam", "tsstam", "tcpbs", "tprdis", "tdis", "tadis",
    "tvam", "todam", "tbill", "torv", "tonw", "tocv",
];

fn missing(sink: &mut Sink, rule: &str, key: &str, path: String, why_fa: &str, why_en: &str) {
    let c = ec_of(key).map(|e| code(Severity::Error, 0, e, None));
    let (fa, en) = if FILLED.contains(&key) {
        (
            format!("فیلد «{key}» {why_fa} اجباری است ولی مقدار ندارد؛ `--fill` (مثلاً `moadian validate --fill` یا `moadian submit --fill`) آن را از ردیف‌ها حساب می‌کند."),
            format!("`{key}` is required {why_en} but is missing; `--fill` (`moadian validate --fill`, `moadian submit --fill`) computes it from the lines"),
        )
    } else {
        (
            format!("فیلد «{key}» {why_fa} اجباری است ولی مقدار ندارد؛ آن را اضافه کنید."),
            format!("`{key}` is required {why_en} but is missing; add it"),
        )
    };
    sink.error(rule, path, c, fa, en);
}

fn out_of_pattern(
    sink: &mut Sink,
    rule: &str,
    key: &str,
    path: String,
    why_fa: &str,
    why_en: &str,
) {
    let c = ec_of(key).map(|e| code(Severity::Warning, 4, e, None));
    sink.warn(
        rule,
        path,
        c,
        format!(
            "فیلد «{key}» {why_fa} خارج از الگو است و سامانه آن را دریافت نمی‌کند؛ آن را حذف کنید."
        ),
        format!("`{key}` is out of pattern {why_en}; the server ignores it and warns — remove it"),
    );
}

/// "in pattern …" for each column of the matrix, in Persian and English (made once).
static COLUMN_WORDS: once_cell::sync::Lazy<Vec<(String, String)>> =
    once_cell::sync::Lazy::new(|| {
        TABLES
            .column_names
            .iter()
            .map(|c| (format!("در الگوی {c}"), format!("for type/pattern {c}")))
            .collect()
    });

/// For each column of the matrix, the rows (in order) for which [`check`] may have something
/// to say: every row but the optional header fields (other than the buyer's, which a referral
/// checks), and the body, payment and `sg` rows that are required (or out of pattern, for
/// lines and payments). The rows left out are the ones `check` skips.
static ROWS_TO_CHECK: once_cell::sync::Lazy<Vec<Vec<usize>>> = once_cell::sync::Lazy::new(|| {
    (0..16)
        .map(|col| {
            TABLES
                .matrix
                .iter()
                .enumerate()
                .filter(|(_, row)| {
                    let obl = row.obl[col];
                    match row.sec {
                        Section::Header => {
                            obl != Obligation::Optional || BUYER_FIELDS.contains(&row.key.as_str())
                        }
                        Section::Body | Section::Payment => {
                            matches!(obl, Obligation::Required | Obligation::Ignore)
                        }
                        Section::Sg => obl == Obligation::Required,
                    }
                })
                .map(|(i, _)| i)
                .collect()
        })
        .collect()
});

/// Applies the matrix for the invoice's column, or the referral rules.
pub(crate) fn check(inv: &Inv, sink: &mut Sink) {
    if inv.ins == Some(3) {
        check_cancellation(inv, sink);
        return;
    }
    let referral = matches!(inv.ins, Some(2) | Some(4));
    let Some(col) = inv.col else {
        if inv.inty == Some(3) {
            check_type3(inv, sink);
            return;
        } else if let (Some(t), Some(p)) = (inv.inty, inv.inp) {
            sink.error(
                "matrix.column",
                hpath("inp"),
                Some("0100702".into()),
                format!("الگوی {p} برای صورتحساب نوع {t} تعریف نشده است (جدول ۱)؛ نوع یا الگو را اصلاح کنید."),
                format!("pattern {p} does not exist for invoice type {t} (جدول ۱); fix inty or inp"),
            );
        }
        // Without a column only the always-required fields can be checked.
        for key in ["taxid", "indatim", "inty", "inp", "ins", "tins"] {
            if inv.h(key).is_none() {
                missing(
                    sink,
                    "matrix.required",
                    key,
                    hpath(key),
                    "در همه الگوها",
                    "in every pattern",
                );
            }
        }
        return;
    };
    let (ctx_fa, ctx_en) = COLUMN_WORDS
        .get(col)
        .map(|(fa, en)| (fa.as_str(), en.as_str()))
        .unwrap_or(("", ""));
    // Which matrix rows each object has, found when the structural rules went over its keys
    // (instead of searching every object for every row of the matrix).
    let (header_rows, body_rows, payment_rows) =
        (inv.rows.header, &inv.rows.body, &inv.rows.payments);
    let all_rows;
    let rows: &[usize] = match ROWS_TO_CHECK.get(col) {
        Some(rows) => rows,
        None => {
            all_rows = (0..TABLES.matrix.len()).collect::<Vec<_>>();
            &all_rows
        }
    };
    for &i in rows {
        let row = &TABLES.matrix[i];
        let obl = row.obl[col];
        let key = row.key.as_str();
        match row.sec {
            Section::Header => {
                let buyer = referral && BUYER_FIELDS.contains(&key);
                // (An optional field needs no look-up: whether present or not, nothing to say.)
                if obl == Obligation::Optional && !buyer {
                    continue;
                }
                let present = has(header_rows, i, || inv.h(key).is_some()) || alt_present(inv, key);
                if buyer {
                    if present {
                        sink.warn(
                            "referral.out_of_pattern",
                            hpath(key),
                            ec_of(key).map(|e| code(Severity::Warning, 4, e, None)),
                            format!("در صورتحساب اصلاحی یا برگشت از فروش، «{key}» از صورتحساب مرجع خوانده می‌شود و قابل تغییر نیست؛ آن را حذف کنید یا دقیقاً برابر مرجع بگذارید."),
                            format!("in a corrective/return invoice `{key}` is taken from the reference and cannot change; omit it or keep it equal to the reference"),
                        );
                    }
                    continue;
                }
                header_obl(inv, sink, obl, key, present, ctx_fa, ctx_en);
            }
            Section::Body => {
                if !matches!(obl, Obligation::Required | Obligation::Ignore) {
                    continue;
                }
                for (j, line) in inv.body.iter().enumerate() {
                    let present = has(body_rows.get(j), i, || get(line, key).is_some());
                    match obl {
                        Obligation::Required if !present => {
                            missing(sink, "matrix.required", key, bpath(j, key), ctx_fa, ctx_en)
                        }
                        Obligation::Ignore if present => out_of_pattern(
                            sink,
                            "matrix.out_of_pattern",
                            key,
                            bpath(j, key),
                            ctx_fa,
                            ctx_en,
                        ),
                        _ => {}
                    }
                }
            }
            Section::Payment => {
                if !matches!(obl, Obligation::Required | Obligation::Ignore) {
                    continue;
                }
                for (j, p) in inv.payments.iter().enumerate() {
                    let present = has(payment_rows.get(j), i, || get(p, key).is_some());
                    match obl {
                        Obligation::Required if !present => {
                            missing(sink, "matrix.required", key, ppath(j, key), ctx_fa, ctx_en)
                        }
                        Obligation::Ignore if present => out_of_pattern(
                            sink,
                            "matrix.out_of_pattern",
                            key,
                            ppath(j, key),
                            ctx_fa,
                            ctx_en,
                        ),
                        _ => {}
                    }
                }
            }
            Section::Sg => {
                if obl == Obligation::Required {
                    if let Some(items) = inv.h("sg").and_then(|v| v.as_array()) {
                        for (j, item) in items.iter().enumerate() {
                            if get(item, key).is_none() {
                                missing(
                                    sink,
                                    "matrix.required",
                                    key,
                                    format!("header.sg[{j}].{key}"),
                                    ctx_fa,
                                    ctx_en,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether matrix row `i` is present by its bit, or (past the bits) by `look_up`.
fn has(bits: u128, i: usize, look_up: impl FnOnce() -> bool) -> bool {
    if i < 128 {
        bits & (1 << i) != 0
    } else {
        look_up()
    }
}

/// `indati2m`/`tax17` may arrive in the template's capitalised spelling.
fn alt_present(inv: &Inv, key: &str) -> bool {
    match key {
        "indati2m" => inv.h("Indati2m").is_some(),
        "tax17" => inv.h("Tax17").is_some(),
        _ => false,
    }
}

fn header_obl(
    inv: &Inv,
    sink: &mut Sink,
    obl: Obligation,
    key: &str,
    present: bool,
    ctx_fa: &str,
    ctx_en: &str,
) {
    match obl {
        Obligation::Required if !present => {
            missing(sink, "matrix.required", key, hpath(key), ctx_fa, ctx_en)
        }
        Obligation::Ignore if present => {
            // cap/insp with setm 1/2 are reported by the settlement rules instead.
            out_of_pattern(
                sink,
                "matrix.out_of_pattern",
                key,
                hpath(key),
                ctx_fa,
                ctx_en,
            )
        }
        Obligation::Conditional if !present => conditional(inv, sink, key),
        _ => {}
    }
}

/// Conditional fields whose condition is visible in the invoice.
/// Iran in the country table (RC_IITP.IS_V7.8 §8-4).
const IRAN: &str = "033";

fn conditional(inv: &Inv, sink: &mut Sink, key: &str) {
    let (cond_fa, cond_en) = match key {
        "irtaxid" if matches!(inv.ins, Some(2) | Some(3) | Some(4)) => (
            "در صورتحساب اصلاحی، ابطالی یا برگشت از فروش",
            "when ins is 2, 3 or 4 (corrective, cancellation, return)",
        ),
        "cap" | "insp" if inv.hint("setm") == Some(3) => (
            "وقتی روش تسویه نقدی/نسیه (setm=3) است",
            "when setm = 3 (cash and credit)",
        ),
        // RC_IITP.IS_V7.8 tables 70 and 72: a city is required where its country is Iran.
        "oci" if inv.hstr("ocu") == Some(IRAN) => (
            "وقتی کشور مبدأ (ocu) ایران (033) است",
            "when the origin country ocu is Iran (033)",
        ),
        "dci" if inv.hstr("dco") == Some(IRAN) => (
            "وقتی کشور مقصد (dco) ایران (033) است",
            "when the destination country dco is Iran (033)",
        ),
        "did" if inv.hint("lt") == Some(1) => {
            ("در حمل جاده‌ای (lt=1)", "for road transport (lt = 1)")
        }
        _ => return,
    };
    missing(
        sink,
        "matrix.conditional",
        key,
        hpath(key),
        cond_fa,
        cond_en,
    );
}

/// Body-level conditionals: other taxes and levies, and vra in petroleum without vba.
pub(crate) fn check_line_conditionals(inv: &Inv, sink: &mut Sink) {
    if inv.ins == Some(3) {
        return;
    }
    for (j, line) in inv.body.iter().enumerate() {
        for (t, r, a) in [("odt", "odr", "odam"), ("olt", "olr", "olam")] {
            if inv.ignored(a) {
                continue;
            }
            let any = get(line, t).is_some() || get(line, r).is_some() || get(line, a).is_some();
            if any && get(line, a).is_none() {
                missing(
                    sink,
                    "matrix.conditional",
                    a,
                    bpath(j, a),
                    "وقتی موضوع یا نرخ آن آمده است",
                    "when its title or rate is given",
                );
            }
            if any && get(line, t).is_none() {
                missing(
                    sink,
                    "matrix.conditional",
                    t,
                    bpath(j, t),
                    "وقتی مبلغ یا نرخ آن آمده است",
                    "when its amount or rate is given",
                );
            }
        }
        // جدول ۴۳ ردیف ۹: goods under the budget law's base amount (vba) have no VAT rate.
        if inv.inp == Some(9) && get(line, "vra").is_some() && get(line, "vba").is_some() {
            out_of_pattern(
                sink,
                "matrix.out_of_pattern",
                "vra",
                bpath(j, "vra"),
                "در الگوی فرآورده‌های نفتی وقتی مبلغ پایه (vba) آمده است (RC_IITP.IS_V7.8 جدول ۴۳ ردیف ۹)",
                "in the petroleum pattern when the line has a base amount vba (RC_IITP.IS_V7.8 table 43 row 9)",
            );
        }
        if inv.inp == Some(9) && get(line, "vra").is_none() && get(line, "vba").is_none() {
            missing(
                sink,
                "matrix.conditional",
                "vra",
                bpath(j, "vra"),
                "در الگوی فرآورده‌های نفتی وقتی مبلغ پایه (vba) ندارد",
                "in the petroleum pattern when the line has no base amount vba",
            );
        }
    }
}

/// ins 3: only taxid, indatim, ins, irtaxid and tins are needed; the rest is fetched.
fn check_cancellation(inv: &Inv, sink: &mut Sink) {
    for key in CANCEL_NEEDS {
        if inv.h(key).is_none() {
            let rule = if key == "irtaxid" {
                "matrix.conditional"
            } else {
                "matrix.required"
            };
            missing(
                sink,
                rule,
                key,
                hpath(key),
                "در صورتحساب ابطالی",
                "in a cancellation (ins 3)",
            );
        }
    }
    for key in CANCEL_SUMS.iter().chain(BUYER_FIELDS.iter()) {
        if inv.h(key).is_some() {
            sink.warn(
                "referral.out_of_pattern",
                hpath(key),
                ec_of(key).map(|e| code(Severity::Warning, 4, e, None)),
                format!(
                    "در صورتحساب ابطالی «{key}» از صورتحساب مرجع خوانده می‌شود؛ آن را حذف کنید."
                ),
                format!("a cancellation takes `{key}` from the reference invoice; remove it"),
            );
        }
    }
    if !inv.body.is_empty() {
        sink.warn(
            "referral.out_of_pattern",
            "body".into(),
            Some("14600".into()),
            "صورتحساب ابطالی بدنه (اقلام) نمی‌خواهد؛ اقلام از صورتحساب مرجع خوانده می‌شوند.".into(),
            "a cancellation needs no body; the lines are taken from the reference — send an empty body".into(),
        );
    }
}

/// Type 3 (card-reader receipts) is not in جدول ۱: require the identity, the total and the
/// payment fields of every payment.
fn check_type3(inv: &Inv, sink: &mut Sink) {
    for key in ["taxid", "indatim", "inty", "tins", "tbill"] {
        if inv.h(key).is_none() {
            missing(
                sink,
                "matrix.required",
                key,
                hpath(key),
                "در صورتحساب نوع سوم",
                "in a type-3 receipt",
            );
        }
    }
    if inv.payments.is_empty() {
        missing(
            sink,
            "matrix.required",
            "pv",
            "payments".into(),
            "در صورتحساب نوع سوم (اطلاعات پرداخت)",
            "in a type-3 receipt (payment data)",
        );
    }
    for (j, p) in inv.payments.iter().enumerate() {
        // pcn and pid too: RC_IITP.IS_V7.8 tables 59 and 60, row 1.
        for key in ["iinn", "acn", "trmn", "trn", "pcn", "pid", "pdt", "pv"] {
            if get(p, key).is_none() {
                missing(
                    sink,
                    "matrix.required",
                    key,
                    ppath(j, key),
                    "در صورتحساب نوع سوم",
                    "in a type-3 receipt",
                );
            }
        }
    }
}
