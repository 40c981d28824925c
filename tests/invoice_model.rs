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

/// Where the crate may name `f64`/`f32`, and why none of it is money. Any other line that
/// names a float fails the test below; adding one needs a reason here.
const FLOAT_ALLOWED: &[(&str, &str)] = &[
    ("core/src/invoice/money.rs", "fn visit_f64"),
    ("core/src/import/sheet.rs", "XLSX numeric cells arrive as f64: turned into their shortest round-trip text, refused when not exact (tests/import_exact_amounts.rs, and below)"),
    ("sandbox/src/state.rs", "fault-injection probability"),
    ("sandbox/src/config.rs", "fault-injection rates"),
    ("src/cli/sandbox.rs", "fault-injection rates (flags)"),
    ("src/pipeline/poll.rs", "poll back-off seconds"),
    ("src/pipeline/mod.rs", "poll back-off seconds (progress event)"),
    ("src/api/retry.rs", "retry back-off"),
    ("src/api/client.rs", "seconds of an outage, in the retry log line"),
    ("src/api/error.rs", "seconds of an outage, in its message"),
    ("core/src/invoice/load/checks.rs", "fn visit_f64"),
    ("core/src/import/encoding.rs", "share of Persian letters when guessing a CSV's encoding"),
];

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn invariant_1_no_float_anywhere_in_the_crate_but_the_allowed_places() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for member in ["core/src", "queue/src", "sandbox/src"] {
        rust_files(&root.join(member), &mut files);
    }
    assert!(files.len() > 50, "{files:?}");
    let mut bad = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(f).unwrap();
        // Unit tests at the bottom of a file may use floats freely (they build test input).
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("//") || !(l.contains("f64") || l.contains("f32")) {
                continue;
            }
            let allowed = FLOAT_ALLOWED.iter().any(|(file, what)| {
                rel == *file && (!what.starts_with("fn ") || line.contains(what))
            });
            // The queue's stress binary prints a rate; it never touches an amount.
            let stress = rel.starts_with("queue/src/bin/");
            if !allowed && !stress {
                bad.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "floats outside the allowed places:\n{}",
        bad.join("\n")
    );
    // The model itself has none at all.
    let model = std::fs::read_to_string(root.join("core/src/invoice/model.rs")).unwrap();
    assert!(model
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .all(|l| !l.contains("f64") && !l.contains("f32")));
}

#[test]
fn invariant_1_xlsx_float_cells_reach_the_model_exactly_or_are_refused() {
    use rust_xlsxwriter::Workbook;
    let head = [
        "invoice_no",
        "indatim",
        "inty",
        "inp",
        "ins",
        "tins",
        "sstid",
        "am",
        "fee",
        "vra",
    ];
    let load = |fee: f64| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.xlsx");
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let row = [
            "1",
            "1403/08/15 10:00",
            "2",
            "1",
            "1",
            "14003778990",
            "2330001234567",
            "1",
            "",
            "9",
        ];
        for (c, h) in head.iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
            if c != 8 {
                ws.write_string(1, c as u16, row[c]).unwrap();
            }
        }
        ws.write_number(1, 8, fee).unwrap();
        wb.save(&p).unwrap();
        moadian::import::load_file(&p)
            .into_iter()
            .next()
            .expect("one invoice")
            .value
    };
    // A cell holding the double nearest 19500.35 reaches the model as exactly 19500.35.
    let v = load(19500.35).expect("imports");
    let inv: Invoice = serde_json::from_value(v).unwrap();
    assert_eq!(inv.body[0].fee, Some(dec("19500.35")));
    // 0.1 + 0.2 is stored as 0.30000000000000004: refused, never rounded.
    let e = load(0.1 + 0.2).expect_err("refused").en;
    assert!(e.contains("fee"), "{e}");
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
