//! Buyer identification (RC_IITP.IS_V7.8 جدول ۱۱, invoice-schema.md §10), seller number checks
//! and settlement (جداول ۲۴–۲۷، ۶۲; §9): who must be identified by which number for each person
//! type and pattern, and how cash and credit split the invoice total.

use super::idcheck::{legal_id_valid, national_code_valid};
use super::util::{code, hpath, ldec, ppath, Inv, Sink};
use super::Severity;
use rust_decimal::Decimal;

fn tob_fa(tob: i64) -> &'static str {
    match tob {
        1 => "حقیقی",
        2 => "حقوقی",
        3 => "مشارکت مدنی",
        _ => "اتباع غیر ایرانی",
    }
}

fn tob_en(tob: i64) -> &'static str {
    match tob {
        1 => "natural person",
        2 => "legal person",
        3 => "civil partnership",
        _ => "foreign national",
    }
}

/// Buyer and seller identification.
pub(crate) fn check_parties(inv: &Inv, sink: &mut Sink) {
    seller(inv, sink);
    // Referrals take the buyer from the reference; only originals are checked here.
    if matches!(inv.ins, Some(2) | Some(3) | Some(4)) {
        return;
    }
    let Some(tob) = inv.hint("tob").filter(|t| (1..=4).contains(t)) else {
        return;
    };
    let tinb = inv.hstr("tinb");
    let bid = inv.hstr("bid");
    buyer_lengths(tob, tinb, bid, sink);
    if inv.inty == Some(1) {
        buyer_required(inv, tob, tinb, bid, sink);
    }
}

fn seller(inv: &Inv, sink: &mut Sink) {
    if let Some(t) = inv.hstr("tins") {
        if t.len() == 11 && t.bytes().all(|b| b.is_ascii_digit()) && !legal_id_valid(t) {
            sink.warn(
                "seller.checksum",
                hpath("tins"),
                None,
                format!("شماره اقتصادی ۱۱ رقمی فروشنده ({t}) با رقم کنترل شناسه ملی سازگار نیست؛ آن را با کارپوشه مقایسه کنید."),
                format!("the 11-digit seller economic number {t} fails the legal-ID check digit; compare it with the taxpayer portal"),
            );
        }
    }
}

fn buyer_lengths(tob: i64, tinb: Option<&str>, bid: Option<&str>, sink: &mut Sink) {
    if let Some(t) = tinb.filter(|t| t.bytes().all(|b| b.is_ascii_digit())) {
        let want = if matches!(tob, 2 | 3) { 11 } else { 14 };
        if t.len() != want && matches!(t.len(), 11 | 14) {
            sink.error(
                "buyer.length",
                hpath("tinb"),
                Some("0101204".into()),
                format!(
                    "شماره اقتصادی خریدار {} باید {want} رقم باشد؛ مقدار فعلی {} رقم است.",
                    tob_fa(tob),
                    t.len()
                ),
                format!(
                    "the economic number of a {} buyer (tob {tob}) must have {want} digits; got {}",
                    tob_en(tob),
                    t.len()
                ),
            );
        } else if tob == 2 && t.len() == 11 && !legal_id_valid(t) {
            checksum(sink, "tinb", t, "شناسه ملی", "legal national ID");
        }
    }
    if let Some(b) = bid.filter(|b| b.bytes().all(|c| c.is_ascii_digit())) {
        let want = match tob {
            1 => 10,
            4 => 12,
            _ => 11,
        };
        if b.len() != want {
            sink.error(
                "buyer.length",
                hpath("bid"),
                Some("0101104".into()),
                format!(
                    "شناسه خریدار {} باید {want} رقم باشد؛ مقدار فعلی {} رقم است.",
                    tob_fa(tob),
                    b.len()
                ),
                format!(
                    "bid of a {} buyer (tob {tob}) must have {want} digits; got {}",
                    tob_en(tob),
                    b.len()
                ),
            );
        } else if tob == 1 && !national_code_valid(b) {
            checksum(sink, "bid", b, "کد ملی", "national code");
        } else if tob == 2 && !legal_id_valid(b) {
            checksum(sink, "bid", b, "شناسه ملی", "legal national ID");
        }
    }
}

fn checksum(sink: &mut Sink, key: &str, v: &str, fa: &str, en: &str) {
    sink.error(
        "buyer.checksum",
        hpath(key),
        None,
        format!(
            "{fa} خریدار ({v}) رقم کنترل نادرستی دارد؛ شماره را دوباره از مدرک خریدار بخوانید."
        ),
        format!(
            "the buyer's {en} {v} has a wrong check digit; re-read it from the buyer's documents"
        ),
    );
}

fn buyer_required(inv: &Inv, tob: i64, tinb: Option<&str>, bid: Option<&str>, sink: &mut Sink) {
    let p = inv.inp.unwrap_or(1);
    let bpc = inv.hstr("bpc");
    let bpn = inv.hstr("bpn");
    let natural = matches!(tob, 1 | 4);
    let (ok, fa, en, key, c) = match p {
        // جدول ۱۱ rows 14–15: a natural person needs bid; a foreigner bid or, without a code, bpn.
        2 if natural => (
            bid.is_some() || (tob == 4 && bpn.is_some()),
            "در فروش ارز به شخص حقیقی یا اتباع غیر ایرانی، شماره ملی یا کد فراگیر اتباع غیر ایرانی (bid) یا شماره گذرنامه (bpn) لازم است.",
            "a currency sale to a natural person or foreign national needs bid or, without a code, the passport number bpn",
            "bid",
            "00011",
        ),
        6 if natural && inv.hint("ft") == Some(1) => (
            bid.is_some() || bpn.is_some(),
            "در بلیط پرواز داخلی، کد ملی مسافر (bid) یا برای اتباع غیر مقیم شماره گذرنامه (bpn) لازم است.",
            "a domestic flight ticket needs the passenger's bid, or bpn for a non-resident foreigner",
            "bid",
            "00011",
        ),
        1 | 3 | 4 | 8 | 9 | 13 if natural => (
            tinb.is_some() || (bid.is_some() && bpc.is_some()),
            "برای خریدار حقیقی یا اتباع غیر ایرانی، شماره اقتصادی (tinb) یا شماره ملی/کد فراگیر اتباع غیر ایرانی (bid) همراه با کد پستی (bpc) لازم است.",
            "a natural-person or foreign buyer needs tinb, or bid together with the postal code bpc",
            "tinb",
            "00012",
        ),
        1 | 2 | 3 | 4 | 8 | 9 | 13 => (
            tinb.is_some(),
            "برای خریدار حقوقی یا مشارکت مدنی، شماره اقتصادی ۱۱ رقمی (tinb) لازم است.",
            "a legal-person or civil-partnership buyer needs its 11-digit economic number tinb",
            "tinb",
            "00012",
        ),
        _ => return,
    };
    if !ok {
        sink.error(
            "buyer.required",
            hpath(key),
            Some(c.into()),
            fa.into(),
            en.into(),
        );
    }
}

/// Settlement: setm 3 splits the amount into cash (cap) and credit (insp); setm 1/2 carry
/// neither; payments cannot exceed the invoice total.
pub(crate) fn check_settlement(inv: &Inv, sink: &mut Sink) {
    if inv.ins == Some(3) {
        return;
    }
    let setm = inv.hint("setm");
    let (cap, insp) = (inv.hdec("cap"), inv.hdec("insp"));
    match setm {
        Some(3) => settle_split(inv, cap, insp, sink),
        Some(1) | Some(2) => {
            for (k, c) in [("cap", "14029"), ("insp", "14030")] {
                if inv.h(k).is_some() {
                    sink.warn(
                        "settle.unused",
                        hpath(k),
                        Some(c.into()),
                        format!("«{k}» فقط در تسویه نقدی/نسیه (setm=3) معنا دارد؛ با setm={} آن را حذف کنید.", setm.unwrap_or(0)),
                        format!("`{k}` is only used with setm 3; with setm {} remove it (the server warns {c})", setm.unwrap_or(0)),
                    );
                }
            }
        }
        _ => {}
    }
    payments_paid(inv, setm, sink);
}

/// The amounts paid (pv, RC_IITP.IS_V7.8 جدول ۶۲): together no more than tbill (rows 2 and 5),
/// and zero on a credit invoice (setm 2, row 3). pv is required in a type-3 receipt, so a wrong
/// value there is an error; elsewhere pv is optional and a wrong value a warning (§6 قاعده
/// کلی ۲-b).
fn payments_paid(inv: &Inv, setm: Option<i64>, sink: &mut Sink) {
    let sev = if inv.inty == Some(3) {
        Severity::Error
    } else {
        Severity::Warning
    };
    let credit = setm == Some(2) && !inv.ignored("setm");
    let tbill = inv.hdec("tbill");
    let mut paid = Decimal::ZERO;
    for (j, p) in inv.payments.iter().enumerate() {
        let Some(pv) = ldec(p, "pv") else { continue };
        if credit && !pv.is_zero() {
            sink.push(
                sev,
                "settle.payment",
                ppath(j, "pv"),
                Some(code(sev, 2, "076", Some(1))),
                format!("در صورتحساب نسیه (setm=2) مبلغ پرداختی باید صفر باشد (مقدار فعلی {pv}؛ RC_IITP.IS_V7.8 جدول ۶۲ ردیف ۳)؛ اگر بخشی نقدی پرداخت شده، setm را ۳ (نقدی/نسیه) کنید."),
                format!("on a credit invoice (setm 2) the amount paid must be 0 (got {pv}; RC_IITP.IS_V7.8 table 62 row 3); if part was paid in cash, make setm 3 (cash and credit)"),
            );
            return;
        }
        paid = paid.checked_add(pv).unwrap_or(Decimal::MAX);
        if let Some(tb) = tbill.filter(|tb| paid > *tb) {
            sink.push(
                sev,
                "settle.payment",
                ppath(j, "pv"),
                Some(code(sev, 2, "076", Some(1))),
                format!("جمع مبالغ پرداختی ({paid}) از مبلغ کل صورتحساب ({tb}) بیشتر شده است (RC_IITP.IS_V7.8 جدول ۶۲ ردیف ۵)."),
                format!("the payments add up to {paid}, more than the invoice total tbill {tb} (RC_IITP.IS_V7.8 table 62 row 5)"),
            );
            return;
        }
    }
}

/// setm 3 (cash and credit), each field where it fails: cap > 0 (RC_IITP.IS_V7.8 جدول ۲۵ ردیف
/// ۳, 0202901), insp > 0 (جدول ۲۶ ردیف ۳, 0203001), and C = Xs − W2 − W − Cr / Cr = Xs − W2 −
/// W − C (جدول ۲۵ و ۲۶ ردیف ۲): a sum that does not hold fails both, each told its own value.
fn settle_split(inv: &Inv, cap: Option<Decimal>, insp: Option<Decimal>, sink: &mut Sink) {
    let z = Decimal::ZERO;
    for (k, v, c, table, table_fa) in [
        ("cap", cap, "0202901", 25, "۲۵"),
        ("insp", insp, "0203001", 26, "۲۶"),
    ] {
        if let Some(v) = v.filter(|v| *v <= z) {
            let (what_fa, what_en) = if k == "cap" {
                ("مبلغ پرداختی نقدی", "the cash amount")
            } else {
                ("مبلغ نسیه", "the credit amount")
            };
            sink.error(
                "settle.split",
                hpath(k),
                Some(c.into()),
                format!("در تسویه نقدی/نسیه (setm=3) {what_fa} ({k} = {v}) باید بزرگتر از صفر باشد (RC_IITP.IS_V7.8 جدول {table_fa} ردیف ۳)؛ اگر همه مبلغ نقد یا نسیه است، setm را ۱ یا ۲ کنید."),
                format!("with setm 3 {what_en} `{k}` must be greater than 0 (RC_IITP.IS_V7.8 table {table} row 3); got {v} — if everything is cash or everything credit, use setm 1 or 2"),
            );
        }
    }
    let (Some(c), Some(i), Some(tb)) = (cap, insp, inv.hdec("tbill")) else {
        return;
    };
    let base = tb
        .checked_sub(inv.hdec("tvam").unwrap_or(z))
        .and_then(|x| x.checked_sub(inv.hdec("todam").unwrap_or(z)));
    let Some(base) = base else { return };
    if c.checked_add(i) == Some(base) {
        return;
    }
    for (k, v, other_k, other, c, table, table_fa) in [
        ("cap", c, "insp", i, "0202901", 25, "۲۵"),
        ("insp", i, "cap", c, "0203001", 26, "۲۶"),
    ] {
        let want = base
            .checked_sub(other)
            .map(|w| w.to_string())
            .unwrap_or_default();
        sink.error(
            "settle.split",
            hpath(k),
            Some(c.into()),
            format!("در تسویه نقدی/نسیه {k} باید tbill − todam − tvam − {other_k} = {base} − {other} = {want} باشد (RC_IITP.IS_V7.8 جدول {table_fa} ردیف ۲)؛ اکنون {v} است. cap + insp باید {base} شود."),
            format!("with setm 3 `{k}` must be tbill − todam − tvam − {other_k} = {base} − {other} = {want} (RC_IITP.IS_V7.8 table {table} row 2); got {v}. cap + insp must equal {base}"),
        );
    }
}
