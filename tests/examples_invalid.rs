//! Every invalid example invoice (`examples/invoices/invalid/`, named `<rule-id>-<what>.json`)
//! triggers its rule at the right field, as listed in `tests/data/invalid-examples-expect.json`; and every rule of
//! the catalogue has at least one invalid example.

use moadian::rules::{rule_catalogue, validate, Context};
use serde_json::Value;
use std::collections::BTreeSet;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/invoices/invalid");
const EXPECT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/invalid-examples-expect.json"
);

fn manifest() -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(EXPECT).expect("tests/data/invalid-examples-expect.json exists");
    match serde_json::from_str(&text).expect("expect.json parses") {
        Value::Object(m) => m,
        _ => panic!("expect.json must be an object"),
    }
}

#[test]
fn every_invalid_example_triggers_its_rule_at_its_field() {
    let mut bad = Vec::new();
    let m = manifest();
    assert!(m.len() >= rule_catalogue().len());
    for (file, e) in &m {
        let rule = e["rule"].as_str().expect("rule");
        let field = e["field"].as_str().expect("field");
        let at = e["at"].as_i64().expect("at");
        assert!(
            file.starts_with(&format!("{rule}-")),
            "{file} is not named after {rule}"
        );
        let text = std::fs::read_to_string(format!("{DIR}/{file}"))
            .unwrap_or_else(|err| panic!("{file}: {err}"));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{file}: {err}"));
        let f = validate(&v, &Context::at(at));
        // Where the manifest names the severity and official code (the cases checked against
        // the official tables, cited in its `official` key), the finding must carry them.
        let severity = e.get("severity").and_then(Value::as_str);
        let code = e.get("code").and_then(Value::as_str);
        let hit = |x: &moadian::rules::Finding| {
            x.rule == rule
                && x.field == field
                && severity
                    .into_iter()
                    .all(|s| serde_json::to_value(x.severity).ok() == Some(Value::from(s)))
                && code.into_iter().all(|c| x.code.as_deref() == Some(c))
        };
        if !f.iter().any(hit) {
            let got: Vec<String> = f
                .iter()
                .map(|f| format!("{} @ {} ({:?} {:?})", f.rule, f.field, f.severity, f.code))
                .collect();
            bad.push(format!(
                "{file}: expected {rule} @ {field} ({severity:?} {code:?}), got {got:?}"
            ));
        }
        // Every finding names a rule from the catalogue and carries both languages.
        for x in &f {
            assert!(
                rule_catalogue().iter().any(|r| r.id == x.rule),
                "{file}: unknown rule {}",
                x.rule
            );
            assert!(!x.message.fa.is_empty() && !x.message.en.is_empty());
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_rule_has_an_invalid_example() {
    let covered: BTreeSet<String> = manifest()
        .values()
        .filter_map(|e| e["rule"].as_str().map(String::from))
        .collect();
    let missing: Vec<&str> = rule_catalogue()
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !covered.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without an invalid example: {missing:?}"
    );
}

#[test]
fn every_invalid_file_is_in_the_manifest() {
    let m = manifest();
    for entry in std::fs::read_dir(DIR).expect("invalid dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".json") {
            assert!(
                m.contains_key(&name),
                "{name} is not listed in invalid-examples-expect.json"
            );
        }
    }
}

#[test]
fn arithmetic_findings_say_expected_and_actual() {
    let text = std::fs::read_to_string(format!("{DIR}/arith.line.vam-vam-rounded-up.json"))
        .expect("example");
    let v: Value = serde_json::from_str(&text).expect("json");
    let f = validate(
        &v,
        &Context::at(v["header"]["indatim"].as_i64().unwrap_or(0)),
    );
    let vam = f
        .iter()
        .find(|f| f.rule == "arith.line.vam")
        .expect("vam finding");
    assert_eq!(vam.code.as_deref(), Some("0204501"));
    assert!(
        vam.message.en.contains("1951") && vam.message.en.contains("1950"),
        "{}",
        vam.message.en
    );
}
