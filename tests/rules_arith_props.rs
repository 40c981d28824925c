//! Property tests: the line and total arithmetic of `moadian::rules::arith` agrees with an
//! independent big-integer computation of the spec's formulas (exact products, then truncation
//! toward zero), and the rules engine accepts what that computation produces.

use moadian::rules::arith::{compute_line, compute_totals, LineInput, Rates};
use moadian::rules::{validate, Context};
use num_bigint::BigInt;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;

/// A decimal as text with `int` integer digits at most and `dec` decimals at most.
fn dec_text(int_max: u64, dec: u32) -> impl Strategy<Value = String> {
    (0..=int_max, 0..10u64.pow(dec), 0..=dec).prop_map(move |(i, f, places)| {
        if places == 0 {
            i.to_string()
        } else {
            let f = f % 10u64.pow(places);
            format!("{i}.{f:0width$}", width = places as usize)
        }
    })
}

/// Exact rational (numerator, 10^scale) of a decimal text, by string handling only.
fn big(text: &str) -> (BigInt, u32) {
    match text.split_once('.') {
        Some((i, f)) => (
            BigInt::from_str(&format!("{i}{f}")).expect("digits"),
            f.len() as u32,
        ),
        None => (BigInt::from_str(text).expect("digits"), 0),
    }
}

fn pow10(n: u32) -> BigInt {
    BigInt::from(10).pow(n)
}

/// trunc(a × b / 10^extra) as an integer (all inputs non-negative).
fn trunc_mul(a: &str, b: &str, extra: u32) -> BigInt {
    let (x, sx) = big(a);
    let (y, sy) = big(b);
    (x * y) / pow10(sx + sy + extra)
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

fn bd(x: &BigInt) -> Decimal {
    Decimal::from_str(&x.to_string()).expect("fits")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn sale_line_and_totals_match_big_integers(
        lines in prop::collection::vec(
            (dec_text(99_999, 8), dec_text(9_999_999_999, 8), 0u64..1000, dec_text(100, 2)),
            1..4,
        )
    ) {
        let mut amounts = Vec::new();
        let (mut tprdis, mut tdis, mut tadis, mut tvam, mut tbill) =
            (BigInt::from(0), BigInt::from(0), BigInt::from(0), BigInt::from(0), BigInt::from(0));
        for (am, fee, dis, vra) in &lines {
            let prdis = trunc_mul(am, fee, 0);
            let dis = BigInt::from(*dis).min(prdis.clone());
            let adis = &prdis - &dis;
            let vam = trunc_mul(&adis.to_string(), vra, 2);
            let tsstam = &adis + &vam;
            let input = LineInput {
                am: Some(d(am)), fee: Some(d(fee)), dis: Some(bd(&dis)), vra: Some(d(vra)),
                ..Default::default()
            };
            let got = compute_line(1, &input, &Rates::default()).expect("computes");
            prop_assert_eq!(got.prdis, Some(bd(&prdis)));
            prop_assert_eq!(got.adis, Some(bd(&adis)));
            prop_assert_eq!(got.vam, bd(&vam));
            prop_assert_eq!(got.tsstam, bd(&tsstam));
            tprdis += &prdis; tdis += &dis; tadis += &adis; tvam += &vam; tbill += &tsstam;
            amounts.push(got);
        }
        let t = compute_totals(1, &amounts).expect("totals");
        prop_assert_eq!(t.tprdis, Some(bd(&tprdis)));
        prop_assert_eq!(t.tdis, Some(bd(&tdis)));
        prop_assert_eq!(t.tadis, Some(bd(&tadis)));
        prop_assert_eq!(t.tvam, bd(&tvam));
        prop_assert_eq!(t.tbill, bd(&tbill));
    }

    #[test]
    fn gold_line_matches_big_integers(
        am in dec_text(999, 8), fee in dec_text(999_999_999, 8),
        consfee in 0u64..1_000_000_000, spro in 0u64..1_000_000_000, bros in 0u64..1_000_000_000,
        vra in dec_text(100, 2),
    ) {
        let prdis = trunc_mul(&am, &fee, 0);
        let tcpbs = BigInt::from(consfee) + spro + bros;
        let adis = &prdis + &tcpbs;
        // trunc(tcpbs × 10/100 + prdis × vra/100): one exact sum, then truncation
        let (v, sv) = big(&vra);
        let vam = (&tcpbs * BigInt::from(10) * pow10(sv) + &prdis * v) / pow10(sv + 2);
        let input = LineInput {
            am: Some(d(&am)), fee: Some(d(&fee)), dis: Some(Decimal::ZERO), vra: Some(d(&vra)),
            consfee: Some(Decimal::from(consfee)), spro: Some(Decimal::from(spro)), bros: Some(Decimal::from(bros)),
            ..Default::default()
        };
        let got = compute_line(3, &input, &Rates::default()).expect("computes");
        prop_assert_eq!(got.tcpbs, Some(bd(&tcpbs)));
        prop_assert_eq!(got.adis, Some(bd(&adis)));
        prop_assert_eq!(got.vam, bd(&vam));
        prop_assert_eq!(got.tsstam, bd(&(adis + vam)));
    }

    #[test]
    fn currency_sale_and_levies_match_big_integers(
        cfee in dec_text(9_999_999_999, 4), exr in dec_text(99_999_999, 8),
        sovat in 0u64..1_000_000_000_000, vra in dec_text(100, 2), odr in dec_text(100, 2),
    ) {
        let prdis = trunc_mul(&cfee, &exr, 0);
        let vam = trunc_mul(&sovat.to_string(), &vra, 2);
        let odam = trunc_mul(&prdis.to_string(), &odr, 2);
        let input = LineInput {
            cfee: Some(d(&cfee)), exr: Some(d(&exr)), sovat: Some(Decimal::from(sovat)),
            vra: Some(d(&vra)), odr: Some(d(&odr)), dis: Some(Decimal::ZERO),
            ..Default::default()
        };
        let got = compute_line(2, &input, &Rates::default()).expect("computes");
        prop_assert_eq!(got.prdis, Some(bd(&prdis)));
        prop_assert_eq!(got.vam, bd(&vam));
        prop_assert_eq!(got.odam, bd(&odam));
        prop_assert_eq!(got.tsstam, bd(&(&prdis + &vam + &odam)));
    }

    #[test]
    fn engine_accepts_the_big_integer_result_and_rejects_one_rial_off(
        am in dec_text(9_999, 8), fee in dec_text(99_999_999, 8), vra in dec_text(30, 2), off in 0usize..4,
    ) {
        let prdis = trunc_mul(&am, &fee, 0);
        prop_assume!(prdis > BigInt::from(0));
        let vam = trunc_mul(&prdis.to_string(), &vra, 2);
        let tsstam = &prdis + &vam;
        let mut fields = [prdis.clone(), prdis.clone(), vam.clone(), tsstam.clone()];
        let keys = ["prdis", "adis", "vam", "tsstam"];
        let text = |f: &[BigInt; 4]| format!(
            r#"{{"header":{{"inty":2,"inp":1,"ins":1,"tins":"14003778990","indatim":1795163400000,
            "tprdis":{p},"tdis":0,"tadis":{a},"tvam":{v},"todam":0,"tbill":{t}}},
            "body":[{{"sstid":"2710000138624","am":{am},"fee":{fee},"prdis":{p},"dis":0,"adis":{a},
            "vra":{vra},"vam":{v},"tsstam":{t}}}],"payments":[]}}"#,
            p = f[0], a = f[1], v = f[2], t = f[3], am = am, fee = fee, vra = vra);
        let ctx = Context::at(1795163400000);
        let ok: serde_json::Value = serde_json::from_str(&text(&fields)).expect("json");
        let arith: Vec<_> = validate(&ok, &ctx).into_iter().filter(|f| f.rule.starts_with("arith")).collect();
        prop_assert!(arith.is_empty(), "{:?}", arith);
        fields[off] += 1;
        let bad: serde_json::Value = serde_json::from_str(&text(&fields)).expect("json");
        let rule = format!("arith.line.{}", keys[off]);
        let path = format!("body[0].{}", keys[off]);
        prop_assert!(validate(&bad, &ctx).iter().any(|f| f.rule == rule && f.field == path));
    }
}
