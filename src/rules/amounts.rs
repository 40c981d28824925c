//! Arithmetic rules (RC_IITP.IS_V7.8 جداول ۱۵–۲۸ and ۴۰–۵۳, invoice-schema.md §8): each stated
//! amount is recomputed from the fields it depends on — as the invoice states them, so one
//! wrong field gives one finding — with the spec's truncation and zero tolerance. Also the
//! pattern rules on lines (currency sale, gold, export, petroleum, air ticket, bill of lading,
//! bourse and chain sale).

use super::arith;
use super::data::TABLES;
use super::util::{bpath, code, get, hpath, ldec, Inv, Sink};
use super::{Context, Severity};
use rust_decimal::Decimal;
use serde_json::Value;

fn ec(key: &str) -> &'static str {
    TABLES
        .index_of(key)
        .and_then(|i| TABLES.fields[i].ec.as_deref())
        .unwrap_or("000")
}

/// Reports `stated ≠ expected` for a computed field.
#[allow(clippy::too_many_arguments)]
fn compare(
    sink: &mut Sink,
    sev: Severity,
    rule: &str,
    key: &str,
    path: impl FnOnce() -> String,
    stated: Option<Decimal>,
    expected: Option<Decimal>,
    formula: &str,
) {
    let Some(stated) = stated else { return };
    if expected == Some(stated) {
        return;
    }
    let exp = expected
        .map(|e| e.normalize().to_string())
        .unwrap_or_else(|| "(too large / بسیار بزرگ)".into());
    let st = stated.normalize();
    sink.push(
        sev,
        rule,
        path(),
        Some(code(sev, 2, ec(key), Some(1))),
        format!("مقدار «{key}» نادرست است: {st} نوشته شده ولی طبق فرمول {formula} (با قطع کردن اعشار) باید {exp} باشد؛ آن را {exp} کنید."),
        format!("`{key}` is {st} but {formula} (truncated) gives {exp}; set it to {exp}"),
    );
}

/// Line and total arithmetic, and the pattern rules on lines.
pub(crate) fn check(inv: &Inv, ctx: &Context, sink: &mut Sink) {
    if inv.ins == Some(3) {
        return;
    }
    let p = inv.inp.unwrap_or(1);
    let cap = inv.hdec("cap");
    let tadis = inv.hdec("tadis");
    for (j, line) in inv.body.iter().enumerate() {
        if line.is_object() {
            check_line(p, j, line, ctx, cap, tadis, sink);
        }
    }
    if matches!(p, 11 | 14) && inv.body.len() > 1 {
        sink.error(
            "pattern.single_line",
            "body".into(),
            None,
            format!("در الگوی {p} صورتحساب فقط یک ردیف کالا/خدمت می‌پذیرد؛ برای هر ردیف صورتحساب جدا صادر کنید."),
            format!("pattern {p} allows exactly one line; issue one invoice per line"),
        );
    }
    if !inv.body.is_empty() {
        check_totals(inv, p, sink);
    }
}

fn zero() -> Decimal {
    Decimal::ZERO
}

fn check_line(
    p: u8,
    j: usize,
    l: &Value,
    ctx: &Context,
    cap: Option<Decimal>,
    tadis: Option<Decimal>,
    sink: &mut Sink,
) {
    let d = |k: &str| ldec(l, k);
    let (am, fee, dis, vra) = (d("am"), d("fee"), d("dis"), d("vra"));
    let (prdis, adis, vam, tsstam) = (d("prdis"), d("adis"), d("vam"), d("tsstam"));
    let (odam, olam) = (d("odam"), d("olam"));
    let path = |k: &'static str| move || bpath(j, k);
    let err = Severity::Error;

    // Base of VAT and levies, and the line's own formulas per pattern.
    let base = match p {
        7 => d("ssrv"),
        _ => adis,
    };
    match p {
        7 => {
            if let (Some(b), Some(r)) = (base, vra) {
                compare(
                    sink,
                    err,
                    "arith.line.vam",
                    "vam",
                    path("vam"),
                    vam,
                    arith::vam(b, r),
                    "ssrv × vra / 100",
                );
            }
        }
        2 => {
            let (cfee, exr, cpr, sovat) = (d("cfee"), d("exr"), d("cpr"), d("sovat"));
            if let (Some(c), Some(x)) = (cfee, exr) {
                compare(
                    sink,
                    err,
                    "arith.line.prdis",
                    "prdis",
                    path("prdis"),
                    prdis,
                    arith::prdis_currency(c, x),
                    "cfee × exr",
                );
            }
            if let (Some(s), Some(r)) = (sovat, vra) {
                compare(
                    sink,
                    err,
                    "arith.line.vam",
                    "vam",
                    path("vam"),
                    vam,
                    arith::vam_currency(s, r),
                    "sovat × vra / 100",
                );
            }
            currency_bounds(j, cfee, exr, cpr, sovat, sink);
        }
        3 => {
            let (consfee, bros, spro, tcpbs) = (d("consfee"), d("bros"), d("spro"), d("tcpbs"));
            if let (Some(c), Some(b), Some(s)) = (consfee, bros, spro) {
                compare(
                    sink,
                    err,
                    "arith.line.tcpbs",
                    "tcpbs",
                    path("tcpbs"),
                    tcpbs,
                    arith::tcpbs(c, b, s),
                    "consfee + bros + spro",
                );
            }
            if let (Some(a), Some(f)) = (am, fee) {
                compare(
                    sink,
                    err,
                    "arith.line.prdis",
                    "prdis",
                    path("prdis"),
                    prdis,
                    arith::prdis(a, f),
                    "am × fee",
                );
            }
            if let (Some(c), Some(pr)) = (consfee, prdis) {
                if c >= pr {
                    sink.error(
                        "arith.line.gold",
                        bpath(j, "consfee"),
                        Some(code(err, 2, ec("consfee"), Some(1))),
                        format!("اجرت ساخت ({c}) باید کمتر از مبلغ قبل از تخفیف ({pr}) باشد."),
                        format!("consfee ({c}) must be less than prdis ({pr}) in the gold pattern"),
                    );
                }
            }
            if let (Some(pr), Some(t)) = (prdis, tcpbs) {
                compare(
                    sink,
                    err,
                    "arith.line.adis",
                    "adis",
                    path("adis"),
                    adis,
                    arith::adis_gold(pr, t, dis.unwrap_or(zero())),
                    "prdis + tcpbs − dis",
                );
                if let Some(r) = vra {
                    compare(
                        sink,
                        err,
                        "arith.line.vam",
                        "vam",
                        path("vam"),
                        vam,
                        arith::vam_gold(t, ctx.rates.gold_vat_rate, pr, r),
                        "tcpbs × 10/100 + prdis × vra/100",
                    );
                }
            }
        }
        _ => {
            if let (Some(a), Some(f)) = (am, fee) {
                compare(
                    sink,
                    err,
                    "arith.line.prdis",
                    "prdis",
                    path("prdis"),
                    prdis,
                    arith::prdis(a, f),
                    "am × fee",
                );
            }
            match (p, d("vba"), am) {
                (9, Some(vba), Some(a)) => {
                    compare(
                        sink,
                        err,
                        "arith.line.vam",
                        "vam",
                        path("vam"),
                        vam,
                        arith::vam_petroleum(a, vba),
                        "am × vba",
                    );
                }
                _ => {
                    if let (Some(b), Some(r)) = (base, vra) {
                        compare(
                            sink,
                            err,
                            "arith.line.vam",
                            "vam",
                            path("vam"),
                            vam,
                            arith::vam(b, r),
                            "adis × vra / 100",
                        );
                    }
                }
            }
        }
    }
    if p != 3 && p != 7 {
        if let Some(pr) = prdis {
            compare(
                sink,
                err,
                "arith.line.adis",
                "adis",
                path("adis"),
                adis,
                arith::adis(pr, dis.unwrap_or(zero())),
                "prdis − dis",
            );
        }
    }
    if let (Some(pr), Some(ds)) = (prdis, dis) {
        if ds > pr && p != 7 {
            sink.error(
                "arith.line.dis",
                bpath(j, "dis"),
                Some(code(err, 2, ec("dis"), Some(1))),
                format!("تخفیف ({ds}) از مبلغ قبل از تخفیف ({pr}) بیشتر است؛ تخفیف باید بین ۰ و {pr} باشد."),
                format!("dis ({ds}) exceeds prdis ({pr}); a discount must be between 0 and prdis"),
            );
        }
    }
    // Other taxes and levies: from the rate when there is one; zero when the VAT rate is zero.
    let levy_base = if p == 3 { d("tcpbs") } else { base };
    for (rk, ak, rule) in [
        ("odr", "odam", "arith.line.odam"),
        ("olr", "olam", "arith.line.olam"),
    ] {
        let stated = d(ak);
        if p != 7 && vra.is_some_and(|v| v.is_zero()) && stated.is_some_and(|s| !s.is_zero()) {
            compare(
                sink,
                err,
                rule,
                ak,
                || bpath(j, ak),
                stated,
                Some(zero()),
                "(vra = 0 ⇒ 0)",
            );
        } else if let (Some(b), Some(r)) = (levy_base, d(rk)) {
            let f = if p == 3 {
                format!("tcpbs × {rk} / 100")
            } else if p == 7 {
                format!("ssrv × {rk} / 100")
            } else {
                format!("adis × {rk} / 100")
            };
            compare(
                sink,
                err,
                rule,
                ak,
                || bpath(j, ak),
                stated,
                arith::percent_trunc(b, r),
                &f,
            );
        }
    }
    if let Some(b) = base {
        let expected = arith::tsstam(
            b,
            vam.unwrap_or(zero()),
            odam.unwrap_or(zero()),
            olam.unwrap_or(zero()),
        );
        let f = if p == 7 {
            "ssrv + vam + odam + olam"
        } else {
            "adis + vam + odam + olam"
        };
        compare(
            sink,
            err,
            "arith.line.tsstam",
            "tsstam",
            path("tsstam"),
            tsstam,
            expected,
            f,
        );
    }
    line_pattern_rules(p, j, l, am, vra, sink);
    // cfee = fee / exr in the patterns where cfee is informative (optional → warning).
    if !matches!(p, 2 | 7) {
        if let (Some(f), Some(x)) = (fee, d("exr")) {
            compare(
                sink,
                Severity::Warning,
                "arith.line.cfee",
                "cfee",
                path("cfee"),
                d("cfee"),
                arith::cfee(f, x),
                "fee / exr",
            );
        }
    }
    // Shares of the cash payment (optional fields → warnings).
    if let (Some(c), Some(t)) = (cap, tadis.filter(|t| !t.is_zero())) {
        if let Some(ts) = tsstam {
            compare(
                sink,
                Severity::Warning,
                "arith.line.cop",
                "cop",
                path("cop"),
                d("cop"),
                arith::cop(ts, c, t),
                "tsstam × cap / tadis",
            );
        }
        if let Some(v) = vam {
            compare(
                sink,
                Severity::Warning,
                "arith.line.vop",
                "vop",
                path("vop"),
                d("vop"),
                arith::vop(v, c, t),
                "vam × cap / tadis",
            );
        }
    }
}

fn currency_bounds(
    j: usize,
    cfee: Option<Decimal>,
    exr: Option<Decimal>,
    cpr: Option<Decimal>,
    sovat: Option<Decimal>,
    sink: &mut Sink,
) {
    let (Some(c), Some(x)) = (cfee, exr) else {
        return;
    };
    if let Some(b) = cpr {
        if b <= zero() || b >= x {
            sink.error(
                "arith.line.currency",
                bpath(j, "cpr"),
                None,
                format!("نرخ خرید ارز ({b}) باید بزرگتر از صفر و کمتر از نرخ فروش ارز ({x}) باشد."),
                format!("cpr ({b}) must be greater than 0 and less than the sale rate exr ({x})"),
            );
            return;
        }
        if let Some(s) = sovat {
            let low = x
                .checked_sub(b)
                .and_then(|diff| arith::mul_trunc(c, diff, arith::RIAL));
            let high = arith::mul_trunc(c, x, arith::RIAL);
            if let (Some(lo), Some(hi)) = (low, high) {
                if s < lo || s > hi {
                    sink.error(
                        "arith.line.currency",
                        bpath(j, "sovat"),
                        None,
                        format!("ماخذ مالیات فروش ارز ({s}) باید بین cfee × (exr − cpr) = {lo} و cfee × exr = {hi} باشد."),
                        format!("sovat ({s}) must lie between cfee × (exr − cpr) = {lo} and cfee × exr = {hi}"),
                    );
                }
            }
        }
    }
}

fn line_pattern_rules(
    p: u8,
    j: usize,
    _l: &Value,
    am: Option<Decimal>,
    vra: Option<Decimal>,
    sink: &mut Sink,
) {
    if matches!(p, 6 | 8) {
        if let Some(a) = am.filter(|a| *a != Decimal::ONE) {
            sink.error(
                "pattern.am_one",
                bpath(j, "am"),
                Some(code(Severity::Error, 2, ec("am"), Some(1))),
                format!("در الگوی {p} تعداد هر ردیف باید ۱ باشد (مقدار فعلی {a})؛ برای هر بلیط/بارنامه یک ردیف بنویسید."),
                format!("pattern {p} needs am = 1 on every line (got {a}); write one line per ticket/bill"),
            );
        }
    }
    if matches!(p, 7 | 11 | 14) {
        if let Some(r) = vra.filter(|r| !r.is_zero()) {
            sink.error(
                "arith.line.vra",
                bpath(j, "vra"),
                Some(code(Severity::Error, 2, ec("vra"), Some(1))),
                format!("در الگوی {p} نرخ مالیات بر ارزش افزوده باید صفر باشد (مقدار فعلی {r})."),
                format!(
                    "the VAT rate must be 0 in pattern {p} (export, bourse, chain sale); got {r}"
                ),
            );
        }
    }
}

const TOTAL_RULES: [(&str, &str); 9] = [
    ("torv", "arith.total.torv"),
    ("tocv", "arith.total.tocv"),
    ("tonw", "arith.total.tonw"),
    ("tprdis", "arith.total.tprdis"),
    ("tdis", "arith.total.tdis"),
    ("tadis", "arith.total.tadis"),
    ("tvam", "arith.total.tvam"),
    ("tvop", "arith.total.tvop"),
    ("tbill", "arith.total.tbill"),
];

fn line_sum(inv: &Inv, key: &str) -> (Option<Decimal>, bool) {
    let mut any = false;
    let total = arith::sum(inv.body.iter().map(|l| {
        let v = ldec(l, key);
        any |= v.is_some();
        v.unwrap_or(Decimal::ZERO)
    }));
    (total, any)
}

fn check_totals(inv: &Inv, p: u8, sink: &mut Sink) {
    let err = Severity::Error;
    let total = |sink: &mut Sink, sev: Severity, hk: &'static str, lk: &str, formula: &str| {
        let (s, any) = line_sum(inv, lk);
        if any || sev == Severity::Error {
            let rule = TOTAL_RULES
                .iter()
                .find(|(k, _)| *k == hk)
                .map(|(_, r)| *r)
                .unwrap_or("arith.total");
            compare(sink, sev, rule, hk, || hpath(hk), inv.hdec(hk), s, formula);
        }
    };
    if p == 7 {
        total(sink, err, "torv", "ssrv", "Σ ssrv");
        total(sink, err, "tocv", "sscv", "Σ sscv");
        if line_sum(inv, "nw").1 {
            total(sink, err, "tonw", "nw", "Σ nw");
        }
    } else {
        total(sink, err, "tprdis", "prdis", "Σ prdis");
        total(sink, err, "tdis", "dis", "Σ dis");
        total(sink, err, "tadis", "adis", "Σ adis");
    }
    total(sink, err, "tvam", "vam", "Σ vam");
    total(sink, Severity::Warning, "tvop", "vop", "Σ vop");
    let (od, _) = line_sum(inv, "odam");
    let (ol, _) = line_sum(inv, "olam");
    let todam = od.zip(ol).and_then(|(a, b)| a.checked_add(b));
    compare(
        sink,
        err,
        "arith.total.todam",
        "todam",
        || hpath("todam"),
        inv.hdec("todam"),
        todam,
        "Σ odam + Σ olam",
    );
    total(sink, err, "tbill", "tsstam", "Σ tsstam");
    if let (Some(t17), Some(tv)) = (
        inv.hdec("tax17").or_else(|| inv.hdec("Tax17")),
        inv.hdec("tvam"),
    ) {
        if t17 > tv {
            sink.warn(
                "arith.total.tax17",
                hpath("tax17"),
                Some(code(Severity::Warning, 2, ec("tax17"), Some(1))),
                format!("مالیات ماده ۱۷ ({t17}) نباید از مجموع مالیات بر ارزش افزوده ({tv}) بیشتر باشد."),
                format!("tax17 ({t17}) must not exceed tvam ({tv})"),
            );
        }
    }
    let _ = get;
}
