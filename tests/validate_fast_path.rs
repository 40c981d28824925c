//! `validate` reads JSON Lines (and array elements) straight from their text into a borrowed
//! tree, in one pass that also refuses repeated keys; everything else goes through a
//! `serde_json::Value`. Both must judge every invoice alike: same findings (rule, field, code,
//! message), same load errors with the same positions.

use moadian::invoice::load::{load_paths_with, Next, ReadOptions};
use moadian::pipeline::verdict::{check_next, check_one, Checked};
use moadian::rules::Context;
use std::path::{Path, PathBuf};

fn shape(c: &Checked) -> String {
    let mut s = format!("{} {:?} ", c.source, c.taxid);
    for f in c.findings.iter().chain(&c.notes) {
        s.push_str(&format!(
            "[{:?} {} {} {:?} {} | {}]",
            f.severity, f.rule, f.field, f.code, f.message.en, f.message.fa
        ));
    }
    s
}

/// Every invoice under `paths` judged both ways.
fn both_ways(paths: &[PathBuf]) -> (Vec<String>, Vec<String>, usize) {
    let ctx = Context::at(1_700_000_000_000);
    let opts = ReadOptions::default();
    let slow: Vec<String> = load_paths_with(paths, opts.clone())
        .map(|l| shape(&check_one(l.source, l.value, &ctx, false)))
        .collect();
    let mut fast = Vec::new();
    let mut texts = 0;
    let mut it = load_paths_with(paths, opts);
    while let Some(n) = it.next_invoice() {
        if matches!(n, Next::Text(_)) {
            texts += 1;
        }
        fast.push(shape(&check_next(n, &ctx)));
    }
    (slow, fast, texts)
}

/// The example invoices, written as JSON Lines (one per line) and as one JSON array.
#[test]
fn examples_as_lines_and_as_an_array_are_judged_as_through_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for entry in
        walkdir::WalkDir::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/invoices"))
            .sort_by_file_name()
    {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Array(a)) => {
                    for v in a {
                        lines.push_str(&v.to_string());
                        lines.push('\n');
                    }
                }
                Ok(v) => {
                    lines.push_str(&v.to_string());
                    lines.push('\n');
                }
                // (A file that is deliberately not JSON, or holds a repeated key.)
                Err(_) => {}
            }
        }
    }
    // Load errors too: a repeated key, bad syntax, not an object, a capitalised key.
    lines.push_str("{\"header\":{\"inty\":1,\"inty\":2}}\n");
    lines.push_str("{\"header\": [1,}\n");
    lines.push_str("  42\n");
    lines
        .push_str("{\"header\":{\"Indati2m\":1683997837988,\"nope\":1},\"body\":[],\"extra\":1}\n");
    let jsonl = dir.path().join("all.jsonl");
    std::fs::write(&jsonl, &lines).unwrap();
    let (slow, fast, texts) = both_ways(std::slice::from_ref(&jsonl));
    assert!(slow.len() >= 10, "{}", slow.len());
    assert_eq!(texts, slow.len());
    assert_eq!(slow, fast);
    assert!(slow
        .iter()
        .any(|s| s.contains("load.duplicate_key") && s.contains("line")));
    assert!(slow.iter().any(|s| s.contains("field.key_case")));
}

/// Numbers with exponents (both spellings), whole numbers past 64 bits, keys and texts written
/// with escapes, a repeated key spelled with an escape, nesting past the quick scan's depth:
/// judged as through a value, with the number shown as serde_json keeps it (`1E4` → `1e+4`).
#[test]
fn exponents_huge_numbers_and_escaped_keys_are_judged_as_through_a_value() {
    let base = r#"{"header":{"taxid":"A11216049A2000000001E3","inno":"0000000001","indatim":1700000000000,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2},"body":[{"sstid":"2710000138624","sstt":"x","mu":"164","am":2,"fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}],"payments":[]}"#;
    let variants = [
        base.to_string(),
        base.replace(r#""am":2,"#, r#""am":2E0,"#)
            .replace(r#""fee":10000"#, r#""fee":1e4"#)
            .replace(r#""prdis":20000,"dis""#, r#""prdis":2.0000e+4,"dis""#)
            .replace(r#""vam":1755"#, r#""vam":17.56E2"#)
            .replace(r#""inty":1"#, r#""inty":1E0"#),
        base.replace(
            r#""tbill":21255"#,
            r#""tbill":123456789012345678901234567890"#,
        )
        .replace(r#""am":2,"#, r#""am":-18446744073709551617,"#)
        .replace(r#""indatim":1700000000000"#, r#""indatim":1.7e12"#),
        base.replace(r#""tinb""#, r#""t\u0069nb""#)
            .replace(r#""am""#, r#""\u0061m""#)
            .replace(r#""sstt":"x""#, r#""sstt":"\"x\" \u06F1\ud83d\ude00\/""#)
            .replace(r#""vra""#, r#""v\u0072a2""#),
        base.replace(r#""dis":500,"#, r#""dis":500,"\u0064is":5,"#),
        base.replace(
            r#""payments":[]"#,
            &format!(
                r#""payments":[],"extension":{}0{}"#,
                "[".repeat(110),
                "]".repeat(110)
            ),
        ),
        base.replace(
            r#""payments":[]"#,
            &format!(
                r#""payments":[],"extension":{}0{}"#,
                "[".repeat(130),
                "]".repeat(130)
            ),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("edges.jsonl");
    std::fs::write(&jsonl, variants.join("\n")).unwrap();
    let (slow, fast, texts) = both_ways(std::slice::from_ref(&jsonl));
    assert_eq!(texts, variants.len());
    assert_eq!(slow, fast);
    let all = slow.join("\n");
    assert!(all.contains("got 1e+0"), "{all}");
    assert!(all.contains("got 1.7e+12"), "{all}");
    assert!(all.contains("123456789012345678901234567890"), "{all}");
    assert!(all.contains("v\\u0072a2") || all.contains("vra2"), "{all}");
    assert!(all.contains("load.duplicate_key"), "{all}");
    assert!(all.contains("recursion limit"), "{all}");
}
