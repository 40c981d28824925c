//! The typed invoice model: official keys, exact decimals end to end (invariant 1: money never
//! passes through f64), absent fields stay absent, every V7.8 field round-trips.

use moadian::invoice::model::Invoice;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The official example invoice (RC_TICS.IS connection guide; tests/data/official/README.md).
const OFFICIAL: &str = r#"{"header":{"taxid":"A1121604C220002F095011","inno":"49321217","indatim":1683997837988,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2},"body":[{"sstid":"2710000138624","sstt":"فولاد صنعت قطعات سرسیلندرسازی","mu":"164","am":2,"fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}],"payments":[]}"#;

/// Same JSON document: same keys (in any order) and the same number texts.
fn assert_same_json(a: &str, b: &str) {
    let a: serde_json::Value = serde_json::from_str(a).unwrap();
    let b: serde_json::Value = serde_json::from_str(b).unwrap();
    assert_eq!(a, b);
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn official_example_reads_and_writes_back_identically() {
    let inv: Invoice = serde_json::from_str(OFFICIAL).unwrap();
    assert_eq!(inv.header.taxid.as_deref(), Some("A1121604C220002F095011"));
    assert_eq!(inv.header.indatim, Some(1_683_997_837_988));
    assert_eq!(inv.header.inty, Some(1));
    assert_eq!(inv.header.tbill, Some(dec("21255")));
    assert_eq!(inv.body.len(), 1);
    assert_eq!(inv.body[0].vra, Some(dec("9")));
    assert!(inv.payments.is_empty());
    assert!(inv.extension.is_none());
    // Same keys, same digits: nothing added, nothing lost (keys come out in V7.8 order).
    assert_same_json(&serde_json::to_string(&inv).unwrap(), OFFICIAL);
}

#[test]
fn invariant_1_am_0_29_times_fee_100_is_exactly_29() {
    let inv: Invoice =
        serde_json::from_str(r#"{"header":{},"body":[{"am":0.29,"fee":100}],"payments":[]}"#)
            .unwrap();
    let line = &inv.body[0];
    let prdis = line.am.unwrap() * line.fee.unwrap();
    assert_eq!(prdis, Decimal::from(29));
    assert_eq!(moadian::invoice::money::trunc(prdis, 0), Decimal::from(29));
}

#[test]
fn invariant_1_eighteen_digit_amounts_round_trip_unchanged() {
    let text = r#"{"header":{"tbill":999999999999999999,"tvam":123456789012345678},"body":[{"fee":12345678901.12345678,"am":0.00000001,"tsstam":100000000000000000}],"payments":[{"pv":999999999999999999}]}"#;
    let inv: Invoice = serde_json::from_str(text).unwrap();
    assert_eq!(inv.header.tbill, Some(dec("999999999999999999")));
    assert_eq!(inv.body[0].fee, Some(dec("12345678901.12345678")));
    let out = serde_json::to_string(&inv).unwrap();
    assert_same_json(&out, text);
    for digits in [
        "999999999999999999",
        "123456789012345678",
        "12345678901.12345678",
        "0.00000001",
    ] {
        assert!(
            out.contains(digits),
            "{digits} must be written unchanged: {out}"
        );
    }
    // And through serde_json::Value, as the validator sees it.
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    let again = Invoice::from_value(&value).unwrap();
    assert_eq!(again, inv);
    assert_same_json(
        &serde_json::to_string(&again.to_value().unwrap()).unwrap(),
        text,
    );
}

#[test]
fn invariant_1_model_source_has_no_f64() {
    let src = include_str!("../src/invoice/model.rs");
    let money = include_str!("../src/invoice/money.rs");
    let code = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!code.contains("f64"), "model.rs must not use f64");
    assert!(!code.contains("f32"), "model.rs must not use f32");
    // money.rs names f64 only in the visitor that rejects/recovers serde_json's float path.
    for line in money.lines().filter(|l| l.contains("f64")) {
        assert!(
            line.contains("fn visit_f64") || line.trim_start().starts_with("//"),
            "unexpected f64 in money.rs: {line}"
        );
    }
}

#[test]
fn absent_stays_absent_and_empty_string_stays_present() {
    let text = r#"{"header":{"taxid":"","inty":1},"body":[{"mu":""}],"payments":[]}"#;
    let inv: Invoice = serde_json::from_str(text).unwrap();
    assert_eq!(inv.header.taxid.as_deref(), Some(""));
    assert_eq!(inv.body[0].mu.as_deref(), Some(""));
    assert_same_json(&serde_json::to_string(&inv).unwrap(), text);
}

#[test]
fn capitalised_template_spellings_are_read() {
    let inv: Invoice =
        serde_json::from_str(r#"{"header":{"Indati2m":1683997837988,"Tax17":5},"body":[]}"#)
            .unwrap();
    assert_eq!(inv.header.indati2m, Some(1_683_997_837_988));
    assert_eq!(inv.header.tax17, Some(dec("5")));
    // Written back in the official lowercase.
    let out = serde_json::to_string(&inv).unwrap();
    assert!(out.contains("\"indati2m\":1683997837988"));
    assert!(out.contains("\"tax17\":5"));
}

#[test]
fn bill_of_lading_and_later_fields_round_trip() {
    let text = r#"{"header":{"inp":8,"lno":"123456789012345678","ocu":"364","oci":"11","dco":"364","dci":"21","tid":"0010532129","lt":1,"cno":"IR12A345","sg":[{"sgid":"2710000138624","sgt":"steel"}],"in":"123456789","an":"987654321","insr":1,"nti1":"note","nti2":"note 2","asn":"1","asd":19490,"cdcd":19489},"body":[{"cpr":500000.5,"sovat":1000,"vba":12.3456,"cui":750,"pspd":1}],"payments":[{"pmt":4,"pdt":1683997837988,"pv":0}],"extension":null}"#;
    let inv: Invoice = serde_json::from_str(text).unwrap();
    assert_eq!(inv.header.in_.as_deref(), Some("123456789"));
    assert_eq!(
        inv.header.sg.as_ref().unwrap()[0].sgid.as_deref(),
        Some("2710000138624")
    );
    assert_eq!(inv.header.lt, Some(1));
    assert_eq!(inv.body[0].vba, Some(dec("12.3456")));
    let out = serde_json::to_string(&inv).unwrap();
    // `extension: null` is dropped (absent and null mean the same to the server).
    assert_same_json(&out, &text.replace(r#","extension":null"#, ""));
}

#[test]
fn lt_may_be_a_digit_string_as_in_the_template() {
    let inv: Invoice = serde_json::from_str(r#"{"header":{"lt":"2"},"body":[]}"#).unwrap();
    assert_eq!(inv.header.lt, Some(2));
}

#[test]
fn every_v78_key_is_in_the_model() {
    // Keys of the V7.8 JSON template (§8-3) plus the later insr/nti1/nti2.
    let header = [
        "taxid", "indatim", "indati2m", "inty", "inno", "irtaxid", "inp", "ins", "tins", "tob",
        "bid", "tinb", "sbc", "bpc", "bbc", "ft", "bpn", "scln", "scc", "cdcn", "cdcd", "crn",
        "billid", "tprdis", "tdis", "tadis", "tvam", "todam", "tbill", "tonw", "torv", "tocv",
        "setm", "cap", "insp", "tvop", "tax17", "tinc", "lno", "lrno", "ocu", "oci", "dco", "dci",
        "tid", "rid", "lt", "cno", "did", "sg", "asn", "asd", "in", "an", "insr", "nti1", "nti2",
    ];
    let body = [
        "sstid", "sstt", "am", "mu", "nw", "fee", "cfee", "cut", "exr", "ssrv", "sscv", "prdis",
        "dis", "adis", "vra", "vba", "vam", "odt", "odr", "odam", "olt", "olr", "olam", "consfee",
        "spro", "bros", "tcpbs", "cop", "vop", "bsrn", "tsstam", "cui", "cpr", "sovat",
    ];
    let payments = [
        "iinn", "acn", "trmn", "pmt", "trn", "pcn", "pid", "pdt", "pv",
    ];
    // Build an invoice with every key set to a value of the right type, read it and write it:
    // a key the model lacked would be dropped.
    let num_keys_h = [
        "indatim", "indati2m", "inty", "inp", "ins", "tob", "ft", "cdcd", "tprdis", "tdis",
        "tadis", "tvam", "todam", "tbill", "tonw", "torv", "tocv", "setm", "cap", "insp", "tvop",
        "tax17", "lt", "asd", "insr",
    ];
    let mut h = serde_json::Map::new();
    for k in header {
        let v = if k == "sg" {
            serde_json::json!([{"sgid": "1", "sgt": "x"}])
        } else if num_keys_h.contains(&k) {
            serde_json::json!(1)
        } else {
            serde_json::json!("1")
        };
        h.insert(k.to_string(), v);
    }
    let str_keys_b = ["sstid", "sstt", "mu", "cut", "odt", "olt", "bsrn"];
    let mut b = serde_json::Map::new();
    for k in body {
        let v = if str_keys_b.contains(&k) {
            serde_json::json!("1")
        } else {
            serde_json::json!(1)
        };
        b.insert(k.to_string(), v);
    }
    let mut p = serde_json::Map::new();
    for k in payments {
        let v = if ["pmt", "pdt", "pv"].contains(&k) {
            serde_json::json!(1)
        } else {
            serde_json::json!("1")
        };
        p.insert(k.to_string(), v);
    }
    let value = serde_json::json!({"header": h, "body": [b], "payments": [p]});
    let inv = Invoice::from_value(&value).unwrap();
    let back = inv.to_value().unwrap();
    for k in header {
        assert!(
            back["header"].get(k).is_some(),
            "header.{k} missing from the model"
        );
    }
    for k in body {
        assert!(
            back["body"][0].get(k).is_some(),
            "body.{k} missing from the model"
        );
    }
    for k in payments {
        assert!(
            back["payments"][0].get(k).is_some(),
            "payments.{k} missing from the model"
        );
    }
}
