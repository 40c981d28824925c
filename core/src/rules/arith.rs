//! The invoice arithmetic of RC_IITP.IS_V7.8 (§6 «قاعده کلی» 1 and جداول ۱۵–۲۸، ۴۰–۵۳) as pure
//! functions: every amount is computed exactly and then truncated (قطع کردن, toward zero) to the
//! stated decimals — rial amounts 0, currency amounts 4. Used by the rules engine to check what
//! an invoice states, and by `--fill` to compute what follows from the lines.
//!
//! Exactness: products and quotients are formed on the integer mantissas (i128, with a
//! big-integer fallback when they would overflow), so there is no rounding before the final
//! truncation. A result too large for a `Decimal` gives `None`.

use num_bigint::BigInt;
use rust_decimal::Decimal;

/// Decimals of rial amounts.
pub const RIAL: u32 = 0;
/// Decimals of a unit price (fee, جدول ۳۴).
pub const FEE: u32 = 8;
/// Decimals of currency amounts (cfee, sscv, tocv).
pub const CURRENCY: u32 = 4;

/// `trunc(Π nums / (den × 10^pow10))` to `scale` decimals, exactly. `None` when `den` is zero
/// or the result does not fit a `Decimal`.
pub fn ratio_trunc(
    nums: &[Decimal],
    den: Option<Decimal>,
    pow10: u32,
    scale: u32,
) -> Option<Decimal> {
    let mut n: i128 = 1;
    let mut sn: u32 = 0;
    let mut fast = true;
    for x in nums {
        sn += x.scale();
        match n.checked_mul(x.mantissa()) {
            Some(v) => n = v,
            None => {
                fast = false;
                break;
            }
        }
    }
    let (dm, sd) = match den {
        Some(d) if d.is_zero() => return None,
        Some(d) => (d.mantissa(), d.scale()),
        None => (1, 0),
    };
    let e = (sd + scale) as i64 - (sn + pow10) as i64;
    if fast {
        if let Some(r) = ratio_i128(n, dm, e) {
            return Decimal::try_from_i128_with_scale(r, scale).ok();
        }
    }
    ratio_big(nums, dm, e, scale)
}

fn pow10_i128(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

fn ratio_i128(n: i128, d: i128, e: i64) -> Option<i128> {
    let (num, den) = if e >= 0 {
        (n.checked_mul(pow10_i128(e as u32)?)?, d)
    } else {
        (n, d.checked_mul(pow10_i128((-e) as u32)?)?)
    };
    Some(num / den)
}

fn ratio_big(nums: &[Decimal], dm: i128, e: i64, scale: u32) -> Option<Decimal> {
    let mut n = BigInt::from(1);
    for x in nums {
        n *= BigInt::from(x.mantissa());
    }
    let mut d = BigInt::from(dm);
    if e >= 0 {
        n *= BigInt::from(10).pow(e as u32);
    } else {
        d *= BigInt::from(10).pow((-e) as u32);
    }
    let r = n / d; // BigInt division truncates toward zero
    let r: i128 = i128::try_from(r).ok()?;
    Decimal::try_from_i128_with_scale(r, scale).ok()
}

/// `trunc(a × b)` to `scale` decimals.
pub fn mul_trunc(a: Decimal, b: Decimal, scale: u32) -> Option<Decimal> {
    ratio_trunc(&[a, b], None, 0, scale)
}

/// `trunc(base × rate / 100)` in rials (vam, odam, olam from a percentage rate).
pub fn percent_trunc(base: Decimal, rate: Decimal) -> Option<Decimal> {
    ratio_trunc(&[base, rate], None, 2, RIAL)
}

/// `trunc(a × b / c)` to `scale` decimals (cop, vop: multiply first, then divide).
pub fn mul_div_trunc(a: Decimal, b: Decimal, c: Decimal, scale: u32) -> Option<Decimal> {
    ratio_trunc(&[a, b], Some(c), 0, scale)
}

/// `trunc(a / b)` to `scale` decimals (cfee = fee / exr).
pub fn div_trunc(a: Decimal, b: Decimal, scale: u32) -> Option<Decimal> {
    ratio_trunc(&[a], Some(b), 0, scale)
}

/// prdis (مبلغ قبل از تخفیف) = trunc(am × fee) — جدول ۴۰.
pub fn prdis(am: Decimal, fee: Decimal) -> Option<Decimal> {
    mul_trunc(am, fee, RIAL)
}

/// prdis in the currency-sale pattern (inp 2) = trunc(cfee × exr).
pub fn prdis_currency(cfee: Decimal, exr: Decimal) -> Option<Decimal> {
    mul_trunc(cfee, exr, RIAL)
}

/// adis (مبلغ بعد از تخفیف) = prdis − dis — جدول ۴۲ row 1.
pub fn adis(prdis: Decimal, dis: Decimal) -> Option<Decimal> {
    prdis.checked_sub(dis)
}

/// adis in the gold pattern (inp 3) = prdis + tcpbs − dis — جدول ۴۲ row 4.
pub fn adis_gold(prdis: Decimal, tcpbs: Decimal, dis: Decimal) -> Option<Decimal> {
    prdis.checked_add(tcpbs)?.checked_sub(dis)
}

/// tcpbs (جمع کل اجرت، حق‌العمل و سود) = consfee + bros + spro — جدول ۴۹.
pub fn tcpbs(consfee: Decimal, bros: Decimal, spro: Decimal) -> Option<Decimal> {
    consfee.checked_add(bros)?.checked_add(spro)
}

/// vam = trunc(adis × vra / 100) — جدول ۴۴ row 1 (also odam/olam with their rates, row 5/6 of ۴۵).
pub fn vam(adis: Decimal, vra: Decimal) -> Option<Decimal> {
    percent_trunc(adis, vra)
}

/// vam in the gold pattern = trunc(tcpbs × gold_rate / 100 + prdis × vra / 100) — جدول ۴۴ row 4
/// (the spec prints the fixed rate 10).
pub fn vam_gold(
    tcpbs: Decimal,
    gold_rate: Decimal,
    prdis: Decimal,
    vra: Decimal,
) -> Option<Decimal> {
    let a = tcpbs.checked_mul(gold_rate)?;
    let b = prdis.checked_mul(vra)?;
    ratio_trunc(&[a.checked_add(b)?], None, 2, RIAL)
}

/// vam in the currency-sale pattern = trunc(sovat × vra / 100) — جدول ۴۴ row 5.
pub fn vam_currency(sovat: Decimal, vra: Decimal) -> Option<Decimal> {
    percent_trunc(sovat, vra)
}

/// vam in the petroleum pattern when the goods have a base VAT amount = trunc(am × vba) — جدول ۴۴ row 6.
pub fn vam_petroleum(am: Decimal, vba: Decimal) -> Option<Decimal> {
    mul_trunc(am, vba, RIAL)
}

/// tsstam (مبلغ کل کالا/خدمت) = adis + vam + odam + olam — جدول ۵۳ (export: ssrv instead of adis).
pub fn tsstam(adis: Decimal, vam: Decimal, odam: Decimal, olam: Decimal) -> Option<Decimal> {
    adis.checked_add(vam)?.checked_add(odam)?.checked_add(olam)
}

/// cfee in the non-currency patterns = trunc(fee / exr, 4) — جدول ۳۵.
pub fn cfee(fee: Decimal, exr: Decimal) -> Option<Decimal> {
    div_trunc(fee, exr, CURRENCY)
}

/// cop (سهم نقدی از پرداخت) = trunc(tsstam × cap / tadis) — جدول ۵۰.
pub fn cop(tsstam: Decimal, cap: Decimal, tadis: Decimal) -> Option<Decimal> {
    mul_div_trunc(tsstam, cap, tadis, RIAL)
}

/// vop (سهم مالیات بر ارزش افزوده از پرداخت) = trunc(vam × cap / tadis) — جدول ۵۱.
pub fn vop(vam: Decimal, cap: Decimal, tadis: Decimal) -> Option<Decimal> {
    mul_div_trunc(vam, cap, tadis, RIAL)
}

/// Inputs of one line, as the invoice states them (absent = `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineInput {
    pub am: Option<Decimal>,
    pub fee: Option<Decimal>,
    pub dis: Option<Decimal>,
    pub vra: Option<Decimal>,
    /// Other tax/duty rate; when absent, `odam` is taken as a fixed amount.
    pub odr: Option<Decimal>,
    pub odam: Option<Decimal>,
    /// Other legal levy rate; when absent, `olam` is taken as a fixed amount.
    pub olr: Option<Decimal>,
    pub olam: Option<Decimal>,
    pub cfee: Option<Decimal>,
    pub exr: Option<Decimal>,
    pub sovat: Option<Decimal>,
    pub consfee: Option<Decimal>,
    pub spro: Option<Decimal>,
    pub bros: Option<Decimal>,
    pub ssrv: Option<Decimal>,
    pub vba: Option<Decimal>,
}

/// The computed amounts of one line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineAmounts {
    pub prdis: Option<Decimal>,
    pub dis: Decimal,
    pub adis: Option<Decimal>,
    pub tcpbs: Option<Decimal>,
    pub vam: Decimal,
    pub odam: Decimal,
    pub olam: Decimal,
    pub tsstam: Decimal,
    /// Export only: the rial value (ssrv) the line total is based on.
    pub ssrv: Option<Decimal>,
}

/// Why a line could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArithError {
    #[error("missing input `{0}` for pattern {1}")]
    Missing(&'static str, u8),
    #[error("amount out of range while computing `{0}`")]
    Overflow(&'static str),
}

/// Rates that are configuration rather than invoice data.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// The fixed VAT rate on tcpbs in the gold pattern (V7.8 prints 10).
    pub gold_vat_rate: Decimal,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            gold_vat_rate: Decimal::from(10),
        }
    }
}

fn need(v: Option<Decimal>, name: &'static str, inp: u8) -> Result<Decimal, ArithError> {
    v.ok_or(ArithError::Missing(name, inp))
}

fn ok(v: Option<Decimal>, name: &'static str) -> Result<Decimal, ArithError> {
    v.ok_or(ArithError::Overflow(name))
}

/// Computes a line's amounts from its inputs for pattern `inp` (1–14), with the spec's
/// truncation. Export (7) computes from ssrv; currency sale (2) from cfee × exr and sovat;
/// gold (3) adds tcpbs; petroleum (9) uses vba when present.
pub fn compute_line(inp: u8, l: &LineInput, rates: &Rates) -> Result<LineAmounts, ArithError> {
    let zero = Decimal::ZERO;
    let dis = l.dis.unwrap_or(zero);
    let mut out = LineAmounts {
        dis,
        ..Default::default()
    };
    let vra = l.vra.unwrap_or(zero);
    let levy = |base: Decimal, rate: Option<Decimal>, fixed: Option<Decimal>, name| match rate {
        Some(r) => ok(percent_trunc(base, r), name),
        None => Ok(fixed.unwrap_or(zero)),
    };
    let base = match inp {
        7 => {
            let ssrv = need(l.ssrv, "ssrv", inp)?;
            out.ssrv = Some(ssrv);
            out.dis = zero;
            out.vam = ok(vam(ssrv, vra), "vam")?;
            ssrv
        }
        2 => {
            let p = ok(
                prdis_currency(need(l.cfee, "cfee", inp)?, need(l.exr, "exr", inp)?),
                "prdis",
            )?;
            let a = ok(adis(p, dis), "adis")?;
            out.prdis = Some(p);
            out.adis = Some(a);
            out.vam = ok(vam_currency(need(l.sovat, "sovat", inp)?, vra), "vam")?;
            a
        }
        3 => {
            let p = ok(
                prdis(need(l.am, "am", inp)?, need(l.fee, "fee", inp)?),
                "prdis",
            )?;
            let t = ok(
                tcpbs(
                    l.consfee.unwrap_or(zero),
                    l.bros.unwrap_or(zero),
                    l.spro.unwrap_or(zero),
                ),
                "tcpbs",
            )?;
            let a = ok(adis_gold(p, t, dis), "adis")?;
            out.prdis = Some(p);
            out.tcpbs = Some(t);
            out.adis = Some(a);
            out.vam = ok(vam_gold(t, rates.gold_vat_rate, p, vra), "vam")?;
            out.odam = levy(t, l.odr, l.odam, "odam")?;
            out.olam = levy(t, l.olr, l.olam, "olam")?;
            out.tsstam = ok(tsstam(a, out.vam, out.odam, out.olam), "tsstam")?;
            return Ok(out);
        }
        _ => {
            let am = need(l.am, "am", inp)?;
            let p = ok(prdis(am, need(l.fee, "fee", inp)?), "prdis")?;
            let a = ok(adis(p, dis), "adis")?;
            out.prdis = Some(p);
            out.adis = Some(a);
            out.vam = match (inp, l.vba) {
                (9, Some(vba)) => ok(vam_petroleum(am, vba), "vam")?,
                _ => ok(vam(a, vra), "vam")?,
            };
            a
        }
    };
    out.odam = levy(base, l.odr, l.odam, "odam")?;
    out.olam = levy(base, l.olr, l.olam, "olam")?;
    out.tsstam = ok(tsstam(base, out.vam, out.odam, out.olam), "tsstam")?;
    Ok(out)
}

/// Header totals computed from the lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Σ prdis (absent for export).
    pub tprdis: Option<Decimal>,
    pub tdis: Option<Decimal>,
    pub tadis: Option<Decimal>,
    pub tvam: Decimal,
    /// Σ odam + Σ olam.
    pub todam: Decimal,
    /// Σ tsstam.
    pub tbill: Decimal,
    /// Export: Σ ssrv.
    pub torv: Option<Decimal>,
}

/// Sums the lines into the header totals (جداول ۱۵–۲۰، ۲۲): tprdis, tdis, tadis, tvam, todam,
/// tbill, and for export torv. `None` on overflow.
pub fn compute_totals(inp: u8, lines: &[LineAmounts]) -> Option<Totals> {
    let zero = Decimal::ZERO;
    let mut t = Totals::default();
    let (mut tp, mut td, mut ta, mut tr) = (zero, zero, zero, zero);
    for l in lines {
        tp = tp.checked_add(l.prdis.unwrap_or(zero))?;
        td = td.checked_add(l.dis)?;
        ta = ta.checked_add(l.adis.unwrap_or(zero))?;
        tr = tr.checked_add(l.ssrv.unwrap_or(zero))?;
        t.tvam = t.tvam.checked_add(l.vam)?;
        t.todam = t.todam.checked_add(l.odam)?.checked_add(l.olam)?;
        t.tbill = t.tbill.checked_add(l.tsstam)?;
    }
    if inp == 7 {
        t.torv = Some(tr);
    } else {
        t.tprdis = Some(tp);
        t.tdis = Some(td);
        t.tadis = Some(ta);
    }
    Some(t)
}

/// Checked sum of decimals (`None` on overflow).
pub fn sum<I: IntoIterator<Item = Decimal>>(it: I) -> Option<Decimal> {
    it.into_iter()
        .try_fold(Decimal::ZERO, |a, b| a.checked_add(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal literal")
    }

    #[test]
    fn official_example_line() {
        let l = LineInput {
            am: Some(d("2")),
            fee: Some(d("10000")),
            dis: Some(d("500")),
            vra: Some(d("9")),
            ..Default::default()
        };
        let a = compute_line(1, &l, &Rates::default()).expect("computes");
        assert_eq!(a.prdis, Some(d("20000")));
        assert_eq!(a.adis, Some(d("19500")));
        assert_eq!(a.vam, d("1755"));
        assert_eq!(a.tsstam, d("21255"));
        let t = compute_totals(1, &[a]).expect("totals");
        assert_eq!(t.tbill, d("21255"));
        assert_eq!(t.tvam, d("1755"));
    }

    #[test]
    fn truncation_not_rounding() {
        assert_eq!(prdis(d("0.29"), d("100")), Some(d("29")));
        assert_eq!(prdis(d("1.99999999"), d("1")), Some(d("1")));
        assert_eq!(vam(d("1999"), d("9")), Some(d("179"))); // 179.91
        assert_eq!(cfee(d("10000"), d("3")), Some(d("3333.3333")));
        assert_eq!(vam_gold(d("1001"), d("10"), d("5"), d("9")), Some(d("100"))); // 100.1 + 0.45
        assert_eq!(cop(d("10"), d("1"), d("3")), Some(d("3")));
        assert_eq!(div_trunc(d("1"), d("0"), 0), None);
    }

    #[test]
    fn huge_products_fall_back_to_big_integers() {
        let big = d("999999999999999999.99999999");
        assert_eq!(mul_trunc(big, d("0.00000001"), 0), Some(d("9999999999")));
        assert_eq!(mul_trunc(big, big, 0), None);
        assert_eq!(
            mul_div_trunc(big, big, big, 0),
            Some(d("999999999999999999"))
        );
    }
}
