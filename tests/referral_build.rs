//! Corrections (ins 2), cancellations (ins 3) and returns (ins 4) are built with the fields the
//! rules require and forbid, pass the project's validation, and an invalid one is stopped with
//! the rule that forbids it.

use moadian::import::referral::{self, Returned};
use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use moadian::rules::{self, Finding};
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An accepted original with two lines (as the queue holds it: numbered).
fn reference(indatim: i64) -> (String, Value) {
    let mem = MemoryId::parse("A11216").expect("memory id");
    let taxid = TaxId::generate(&mem, indatim, 12).expect("taxid");
    let v = json!({
        "header": {"taxid": taxid.as_str(), "inno": inno_for_serial(12), "indatim": indatim,
            "inty": 1, "inp": 1, "ins": 1, "tins": "14003778990", "tob": 2, "tinb": "10100302746",
            "setm": 1, "tprdis": 35000, "tdis": 500, "tadis": 34500, "tvam": 3450, "todam": 0, "tbill": 37950},
        "body": [
            {"sstid": "2330001234567", "sstt": "a", "am": 2, "mu": "1627", "fee": 10000, "prdis": 20000,
             "dis": 500, "adis": 19500, "vra": 10, "vam": 1950, "tsstam": 21450},
            {"sstid": "2330001234574", "sstt": "b", "am": 3, "mu": "1627", "fee": 5000, "prdis": 15000,
             "dis": 0, "adis": 15000, "vra": 10, "vam": 1500, "tsstam": 16500}],
        "payments": []
    });
    (taxid.as_str().to_string(), v)
}

/// Validates as the queue will number it (serial 13).
fn errors_of(inv: &Value, at: i64) -> Vec<Finding> {
    let mut v = inv.clone();
    let mem = MemoryId::parse("A11216").expect("memory id");
    let indatim = v["header"]["indatim"].as_i64().expect("indatim");
    let t = TaxId::generate(&mem, indatim, 13).expect("taxid");
    v["header"]["taxid"] = json!(t.as_str());
    v["header"]["inno"] = json!(inno_for_serial(13));
    rules::validate(&v, &rules::Context::at(at))
        .into_iter()
        .filter(Finding::is_error)
        .collect()
}

fn rules_of(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|x| x.rule.as_str()).collect()
}

#[test]
fn correction_carries_irtaxid_same_type_and_recomputed_amounts() {
    let t = now();
    let (taxid, r) = reference(t - 2 * HOUR);
    let new = json!({"header": {}, "body": [
        {"sstid": "2330001234567", "sstt": "a", "am": 2, "mu": "1627", "fee": 11000, "dis": 500, "vra": 10},
        {"sstid": "2330001234574", "sstt": "b", "am": 3, "mu": "1627", "fee": 5000, "dis": 0, "vra": 10}]});
    let c = referral::correction(&r, &taxid, &new, t).expect("correction");
    let h = &c["header"];
    assert_eq!(h["ins"], 2);
    assert_eq!(h["irtaxid"], taxid.as_str());
    assert_eq!(
        (h["inty"].clone(), h["inp"].clone(), h["tins"].clone()),
        (json!(1), json!(1), json!("14003778990"))
    );
    assert_eq!(h["indatim"], t);
    assert!(
        h.get("taxid").is_none() && h.get("inno").is_none(),
        "numbered at enqueue"
    );
    assert!(
        h.get("tinb").is_none(),
        "buyer fields are taken from the reference, not sent"
    );
    assert_eq!(h["tbill"].to_string(), "40150");
    assert_eq!(c["body"][0]["vam"].to_string(), "2150");
    assert_eq!(errors_of(&c, t), vec![], "valid correction");
}

#[test]
fn invalid_correction_is_stopped_with_its_rule() {
    let t = now();
    let (taxid, r) = reference(t - 2 * HOUR);
    // A new goods/service ID, a changed VAT rate, another pattern and another buyer.
    let new = json!({"header": {"inp": 4, "tinb": "10101704295"}, "body": [
        {"sstid": "2330001234567", "am": 2, "mu": "1627", "fee": 10000, "dis": 0, "vra": 9},
        {"sstid": "9999999999999", "am": 1, "mu": "1627", "fee": 10, "dis": 0, "vra": 10}]});
    let e = referral::correction(&r, &taxid, &new, t).expect_err("must be stopped");
    let rules = rules_of(&e);
    for want in [
        "referral.type_pattern_changed",
        "referral.buyer_changed",
        "referral.vra_changed",
        "referral.new_sstid",
    ] {
        assert!(rules.contains(&want), "{want} missing from {rules:?}");
    }
    let f = e
        .iter()
        .find(|f| f.rule == "referral.new_sstid")
        .expect("rule");
    assert_eq!(f.field, "body[1].sstid");
    assert!(f.message.en.contains("9999999999999"));
}

#[test]
fn referral_must_be_later_than_its_reference_and_not_reference_a_cancellation() {
    let t = now();
    let (taxid, r) = reference(t);
    let e = referral::cancellation(&r, &taxid, t - 1).expect_err("earlier than reference");
    assert_eq!(rules_of(&e), vec!["referral.indatim_not_after_reference"]);
    let (ctaxid, _) = reference(t - HOUR);
    let cancel = referral::cancellation(&reference(t - 2 * HOUR).1, &ctaxid, t).expect("cancel");
    let e = referral::cancellation(&cancel, "A112160512E00000000054", t + 1)
        .expect_err("cancel of a cancel");
    assert!(rules_of(&e).contains(&"referral.reference_is_cancellation"));
}

#[test]
fn cancellation_has_only_the_fields_it_needs() {
    let t = now();
    let (taxid, r) = reference(t - HOUR);
    let c = referral::cancellation(&r, &taxid, t).expect("cancel");
    let keys: Vec<&String> = c["header"].as_object().expect("header").keys().collect();
    assert_eq!(keys, vec!["indatim", "ins", "irtaxid", "tins"]);
    assert_eq!(c["header"]["ins"], 3);
    assert_eq!(c["body"], json!([]));
    assert_eq!(errors_of(&c, t), vec![]);
}

#[test]
fn return_keeps_the_remaining_items_with_the_same_prices() {
    let t = now();
    let (taxid, r) = reference(t - HOUR);
    let ret = referral::sales_return(
        &r,
        &taxid,
        &[Returned {
            sstid: "2330001234567".into(),
            am: "1".parse().expect("d"),
        }],
        t,
    )
    .expect("return");
    let h = &ret["header"];
    assert_eq!(
        (h["ins"].clone(), h["irtaxid"].clone()),
        (json!(4), json!(taxid))
    );
    let b = ret["body"].as_array().expect("body");
    assert_eq!(b.len(), 2);
    assert_eq!(b[0]["am"].to_string(), "1");
    assert_eq!(b[0]["fee"].to_string(), "10000");
    assert_eq!(b[0]["vra"].to_string(), "10");
    // The discount shrinks with the quantity: 500 × 1/2 = 250.
    assert_eq!(b[0]["dis"].to_string(), "250");
    assert_eq!(b[0]["tsstam"].to_string(), "10725");
    assert_eq!(b[1]["am"].to_string(), "3");
    assert_eq!(h["tbill"].to_string(), "27225");
    assert_eq!(h["tvam"].to_string(), "2475");
    assert_eq!(errors_of(&ret, t), vec![]);

    // Returning a whole line removes it.
    let ret = referral::sales_return(
        &r,
        &taxid,
        &referral::parse_lines("2330001234574:3").expect("lines"),
        t,
    )
    .expect("return");
    assert_eq!(ret["body"].as_array().map(Vec::len), Some(1));
}

#[test]
fn return_rules() {
    let t = now();
    let (taxid, r) = reference(t - HOUR);
    let all = referral::parse_lines("2330001234567:2,2330001234574:3").expect("lines");
    let e = referral::sales_return(&r, &taxid, &all, t).expect_err("everything returned");
    assert_eq!(rules_of(&e), vec!["referral.return_all_use_cancel"]);
    let more = referral::parse_lines("2330001234567:5").expect("lines");
    let e = referral::sales_return(&r, &taxid, &more, t).expect_err("more than sold");
    assert_eq!(rules_of(&e), vec!["referral.return_quantity_increased"]);
    let unknown = referral::parse_lines("1111111111111:1").expect("lines");
    let e = referral::sales_return(&r, &taxid, &unknown, t).expect_err("unknown");
    assert_eq!(rules_of(&e), vec!["referral.new_sstid"]);
    let mut export = r.clone();
    export["header"]["inp"] = json!(7);
    let one = referral::parse_lines("2330001234567:1").expect("lines");
    let e = referral::sales_return(&export, &taxid, &one, t).expect_err("pattern 7");
    assert!(rules_of(&e).contains(&"referral.return_pattern_not_allowed"));
    assert!(referral::parse_lines("2330001234567").is_err());
    assert!(referral::parse_lines("2330001234567:-1").is_err());

    // From a file: the remaining items, fee unchanged, quantities only down.
    let up = json!({"header": {}, "body": [
        {"sstid": "2330001234567", "am": 3, "mu": "1627", "fee": 10000, "dis": 0, "vra": 10}]});
    let e = referral::sales_return_from(&r, &taxid, &up, t).expect_err("increase");
    assert!(rules_of(&e).contains(&"referral.return_quantity_increased"));
    let fee = json!({"header": {}, "body": [
        {"sstid": "2330001234567", "am": 1, "mu": "1627", "fee": 9000, "dis": 0, "vra": 10}]});
    let e = referral::sales_return_from(&r, &taxid, &fee, t).expect_err("fee");
    assert!(rules_of(&e).contains(&"referral.return_fee_changed"));
    let ok = json!({"header": {}, "body": [
        {"sstid": "2330001234567", "sstt": "a", "am": 1, "mu": "1627", "fee": 10000, "dis": 0, "vra": 10},
        {"sstid": "2330001234574", "sstt": "b", "am": 3, "mu": "1627", "fee": 5000, "dis": 0, "vra": 10}]});
    let ret = referral::sales_return_from(&r, &taxid, &ok, t).expect("return from file");
    assert_eq!(ret["header"]["tbill"].to_string(), "27500");
    assert_eq!(errors_of(&ret, t), vec![]);
}
