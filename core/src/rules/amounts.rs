//! Arithmetic rules (RC_IITP.IS_V7.8 جداول ۱۵–۲۸ and ۴۰–۵۳, invoice-schema.md §8): each stated
//! amount is recomputed from the fields it depends on — as the invoice states them, so one
//! wrong field gives one finding — with the spec's truncation and zero tolerance. Also the
//! pattern rules on lines (currency sale, gold, export, petroleum, air ticket, bill of lading,
//! bourse and chain sale).

use super::arith;
use super::data::TABLES;
use super::util::{bpath, code, get, hpath, ldec, Inv, Sink};
use super::{Context, Severity};
use crate::invoice::tree::Json as Value;
use rust_decimal::Decimal;

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
    let (note_fa, note_en) = match sev {
        Severity::Warning => (
            " این فیلد در این الگو اختیاری است: سامانه صورتحساب را با هشدار می‌پذیرد و مقدار درست را در کارپوشه نشان می‌دهد (RC_IITP.IS_V7.8 بخش ۶ قاعده کلی ۲-b).",
            " This field is optional in this pattern: the server accepts the invoice with a warning and shows the right value (RC_IITP.IS_V7.8 §6 general rule 2-b).",
        ),
        Severity::Error => ("", ""),
    };
    // A sum has nothing to truncate.
    let (trunc_fa, trunc_en) = if formula.starts_with('Σ') {
        ("", "")
    } else {
        (" (با قطع کردن اعشار)", " (truncated)")
    };
    sink.push(
        sev,
        rule,
        path(),
        Some(code(sev, 2, ec(key), Some(1))),
        format!("مقدار «{key}» نادرست است: {st} نوشته شده ولی طبق فرمول {formula}{trunc_fa} باید {exp} باشد؛ آن را {exp} کنید.{note_fa}"),
        format!("`{key}` is {st} but {formula}{trunc_en} gives {exp}; set it to {exp}.{note_en}"),
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
    let sev = LineSeverity {
        fee: inv.computed_severity("fee"),
        cfee: inv.computed_severity("cfee"),
        cop: inv.computed_severity("cop"),
        vop: inv.computed_severity("vop"),
        levies_ignored: [inv.ignored("odam"), inv.ignored("olam")],
    };
    for (j, line) in inv.body.iter().enumerate() {
        if line.is_object() {
            check_line(p, j, line, ctx, (cap, tadis), sev, sink);
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

/// Checks stated line values against the chain of expected values: each field is compared
/// with what it should be given the *correct* values of the fields it depends on, so one wrong
/// field is reported once and a wrong value carried into later fields is reported where it
/// appears. Fields whose inputs are missing are taken as stated.
struct Chain<'s> {
    sink: &'s mut Sink,
    j: usize,
}

impl Chain<'_> {
    /// Compares `stated` with `computed` (outer `None`: not computable, inner `None`: too
    /// large) and returns the value later formulas should use.
    fn calc(
        &mut self,
        rule: &str,
        key: &'static str,
        stated: Option<Decimal>,
        computed: Option<Option<Decimal>>,
        formula: &str,
    ) -> Option<Decimal> {
        match computed {
            None => stated,
            Some(expected) => {
                let j = self.j;
                compare(
                    self.sink,
                    Severity::Error,
                    rule,
                    key,
                    || bpath(j, key),
                    stated,
                    expected,
                    formula,
                );
                expected.or(stated)
            }
        }
    }
}

/// How this invoice's column treats the line's optional computed fields: how bad a wrong value
/// is, and whether the other taxes and levies (odam, olam) are out of the pattern (dropped by
/// the server, so they count as zero in tsstam and are not judged).
#[derive(Clone, Copy)]
struct LineSeverity {
    fee: Severity,
    cfee: Severity,
    cop: Severity,
    vop: Severity,
    levies_ignored: [bool; 2],
}

fn check_line(
    p: u8,
    j: usize,
    l: &Value<'_>,
    ctx: &Context,
    (cap, tadis): (Option<Decimal>, Option<Decimal>),
    sev: LineSeverity,
    sink: &mut Sink,
) {
    let d = |k: &str| ldec(l, k);
    let (am, fee, vra) = (d("am"), d("fee"), d("vra"));
    let dis = d("dis").unwrap_or(zero());
    let gold = ctx.rates.gold_vat_rate;
    let mut c = Chain { sink, j };

    let prdis = match p {
        7 | 11 => None,
        2 => {
            let computed = d("cfee")
                .zip(d("exr"))
                .map(|(x, r)| arith::prdis_currency(x, r));
            c.calc(
                "arith.line.prdis",
                "prdis",
                d("prdis"),
                computed,
                "cfee × exr",
            )
        }
        _ => {
            let computed = am.zip(fee).map(|(a, f)| arith::prdis(a, f));
            c.calc(
                "arith.line.prdis",
                "prdis",
                d("prdis"),
                computed,
                "am × fee",
            )
        }
    };
    let tcpbs = if p == 3 {
        let computed = match (d("consfee"), d("bros"), d("spro")) {
            (Some(x), Some(y), Some(z)) => Some(arith::tcpbs(x, y, z)),
            _ => None,
        };
        c.calc(
            "arith.line.tcpbs",
            "tcpbs",
            d("tcpbs"),
            computed,
            "consfee + bros + spro",
        )
    } else {
        None
    };
    if let Some(pr) = prdis {
        if dis > pr {
            c.sink.error(
                "arith.line.dis",
                bpath(j, "dis"),
                Some(code(Severity::Error, 2, ec("dis"), Some(1))),
                format!("تخفیف ({dis}) از مبلغ قبل از تخفیف ({pr}) بیشتر است؛ تخفیف باید بین 0 و {pr} باشد."),
                format!("dis ({dis}) exceeds prdis ({pr}); a discount must be between 0 and prdis"),
            );
        }
        if let (3, Some(cf)) = (p, d("consfee")) {
            if cf >= pr {
                c.sink.error(
                    "arith.line.gold",
                    bpath(j, "consfee"),
                    Some(code(Severity::Error, 2, ec("consfee"), Some(1))),
                    format!("اجرت ساخت ({cf}) باید کمتر از مبلغ قبل از تخفیف ({pr}) باشد."),
                    format!("consfee ({cf}) must be less than prdis ({pr}) in the gold pattern"),
                );
            }
        }
    }
    let adis = match p {
        7 => None,
        11 => d("adis"),
        3 => {
            let computed = prdis.zip(tcpbs).map(|(pr, t)| arith::adis_gold(pr, t, dis));
            c.calc(
                "arith.line.adis",
                "adis",
                d("adis"),
                computed,
                "prdis + tcpbs − dis",
            )
        }
        _ => {
            // A discount above the price is told at dis; no negative adis is asked for.
            let computed = prdis.filter(|pr| dis <= *pr).map(|pr| arith::adis(pr, dis));
            c.calc(
                "arith.line.adis",
                "adis",
                d("adis"),
                computed,
                "prdis − dis",
            )
        }
    };
    let base = if p == 7 { d("ssrv") } else { adis };
    let vam = match (p, d("vba")) {
        (2, _) => {
            let computed = d("sovat").zip(vra).map(|(s, r)| arith::vam_currency(s, r));
            c.calc(
                "arith.line.vam",
                "vam",
                d("vam"),
                computed,
                "sovat × vra / 100",
            )
        }
        (3, _) => {
            let computed = match (tcpbs, prdis, vra) {
                (Some(t), Some(pr), Some(r)) => Some(arith::vam_gold(t, gold, pr, r)),
                _ => None,
            };
            c.calc(
                "arith.line.vam",
                "vam",
                d("vam"),
                computed,
                "tcpbs × 10/100 + prdis × vra/100",
            )
        }
        (9, Some(vba)) => {
            let computed = am.map(|a| arith::vam_petroleum(a, vba));
            c.calc("arith.line.vam", "vam", d("vam"), computed, "am × vba")
        }
        _ => {
            let computed = base.zip(vra).map(|(b, r)| arith::vam(b, r));
            let f = if p == 7 {
                "ssrv × vra / 100"
            } else {
                "adis × vra / 100"
            };
            c.calc("arith.line.vam", "vam", d("vam"), computed, f)
        }
    };
    // Other taxes and levies: from the rate when there is one; zero when the VAT rate is zero
    // (جدول ۴۵ row 9; not in export, whose VAT rate is always zero and rows 7–8 apply).
    let levy_base = if p == 3 { tcpbs } else { base };
    let mut levies = [zero(); 2];
    for (n, (rk, ak, rule)) in [
        ("odr", "odam", "arith.line.odam"),
        ("olr", "olam", "arith.line.olam"),
    ]
    .into_iter()
    .enumerate()
    {
        if sev.levies_ignored[n] {
            continue;
        }
        let stated = d(ak);
        let vat_free = p != 7 && vra.is_some_and(|v| v.is_zero());
        let computed = if vat_free && stated.is_some() {
            Some(Some(zero()))
        } else {
            levy_base
                .zip(d(rk))
                .map(|(b, r)| arith::percent_trunc(b, r))
        };
        let f = if vat_free {
            "(vra = 0 ⇒ 0)".to_string()
        } else {
            format!("base × {rk} / 100")
        };
        levies[n] = c.calc(rule, ak, stated, computed, &f).unwrap_or(zero());
    }
    let tsstam = {
        let computed = base
            .zip(vam)
            .map(|(b, v)| arith::tsstam(b, v, levies[0], levies[1]));
        let f = if p == 7 {
            "ssrv + vam + odam + olam"
        } else {
            "adis + vam + odam + olam"
        };
        c.calc("arith.line.tsstam", "tsstam", d("tsstam"), computed, f)
    };
    let sink = c.sink;
    line_pattern_rules(p, j, am, vra, sink);
    let path = |k: &'static str| move || bpath(j, k);
    // Export: fee is optional and Cs = RV / As (جدول ۳۴ ردیف ۳), a wrong one a warning.
    if p == 7 {
        if let (Some(f), Some(a), Some(rv)) = (fee, am, d("ssrv")) {
            let e = arith::div_trunc(rv, a, arith::FEE);
            compare(
                sink,
                sev.fee,
                "arith.line.fee",
                "fee",
                path("fee"),
                Some(f),
                e,
                "ssrv / am",
            );
        }
    }
    // cfee = fee / exr in the patterns where cfee is informative (optional → warning).
    if !matches!(p, 2 | 7) {
        if let (Some(f), Some(x)) = (fee, d("exr")) {
            let e = arith::cfee(f, x);
            compare(
                sink,
                sev.cfee,
                "arith.line.cfee",
                "cfee",
                path("cfee"),
                d("cfee"),
                e,
                "fee / exr",
            );
        }
    }
    // Shares of the cash payment (optional fields → warnings).
    if let (Some(cp), Some(t)) = (cap, tadis.filter(|t| !t.is_zero())) {
        if let Some(ts) = tsstam {
            let e = arith::cop(ts, cp, t);
            compare(
                sink,
                sev.cop,
                "arith.line.cop",
                "cop",
                path("cop"),
                d("cop"),
                e,
                "tsstam × cap / tadis",
            );
        }
        if let Some(v) = vam {
            let e = arith::vop(v, cp, t);
            compare(
                sink,
                sev.vop,
                "arith.line.vop",
                "vop",
                path("vop"),
                d("vop"),
                e,
                "vam × cap / tadis",
            );
        }
    }
    if p == 2 {
        currency_bounds(j, d("cfee"), d("exr"), d("cpr"), d("sovat"), sink);
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

fn line_pattern_rules(p: u8, j: usize, am: Option<Decimal>, vra: Option<Decimal>, sink: &mut Sink) {
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
                // RC_TXPS.EC_V02 table 9 prints 0304401 (a check against the system's data),
                // not the rule form 0204401 that older versions showed.
                Some(code(Severity::Error, 3, ec("vra"), Some(1))),
                format!("در الگوی {p} (صادرات، بورس یا فروش زنجیره‌ای) نرخ مالیات بر ارزش افزوده باید صفر باشد (مقدار فعلی {r}؛ RC_IITP.IS_V7.8 جدول ۴۳ ردیف ۵)؛ vra و vam را صفر کنید."),
                format!(
                    "the VAT rate must be 0 in pattern {p} (export, bourse, chain sale; RC_IITP.IS_V7.8 table 43 row 5); got {r} — set vra and vam to 0"
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
        if inv.ignored(hk) {
            return;
        }
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
        total(sink, inv.computed_severity("tdis"), "tdis", "dis", "Σ dis");
        total(sink, err, "tadis", "adis", "Σ adis");
    }
    total(sink, err, "tvam", "vam", "Σ vam");
    total(sink, inv.computed_severity("tvop"), "tvop", "vop", "Σ vop");
    let (od, _) = line_sum(inv, "odam");
    let (ol, _) = line_sum(inv, "olam");
    let todam = od.zip(ol).and_then(|(a, b)| a.checked_add(b));
    if !inv.ignored("todam") {
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
    }
    total(sink, err, "tbill", "tsstam", "Σ tsstam");
    if let (false, Some(t17), Some(tv)) = (
        inv.ignored("tax17"),
        inv.hdec("tax17").or_else(|| inv.hdec("Tax17")),
        inv.hdec("tvam"),
    ) {
        if t17 > tv {
            let sev = inv.computed_severity("tax17");
            sink.push(
                sev,
                "arith.total.tax17",
                hpath("tax17"),
                Some(code(sev, 2, ec("tax17"), Some(1))),
                format!("مالیات ماده ۱۷ ({t17}) نباید از مجموع مالیات بر ارزش افزوده ({tv}) بیشتر باشد."),
                format!("tax17 ({t17}) must not exceed tvam ({tv})"),
            );
        }
    }
    let _ = get;
}
