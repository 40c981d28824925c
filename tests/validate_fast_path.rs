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
