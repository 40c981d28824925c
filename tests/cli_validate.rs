//! `moadian validate` end to end: exit codes (0 no error, 1 an error, 2 usage), the `--json`
//! object, positions of malformed files, and a snapshot of the human output.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

/// The official example invoice (RC_TICS.IS connection guide p.20; tests/data/official/README.md).
const OFFICIAL: &str = r#"{"header":{"taxid":"A1121604C220002F095011","inno":"49321217","indatim":1683997837988,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2},"body":[{"sstid":"2710000138624","sstt":"فولاد صنعت قطعات سرسیلندرسازی","mu":"164","am":2,"fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}],"payments":[]}"#;

fn moadian(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("moadian").unwrap();
    c.current_dir(dir).env_remove("MOADIAN_LANG");
    c
}

fn json_of(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap_or_else(|e| {
        panic!(
            "--json output is not one JSON object ({e}): {}",
            String::from_utf8_lossy(out)
        )
    })
}

#[test]
fn official_example_is_valid_as_of_its_own_date_with_an_inno_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("official.json"), OFFICIAL).unwrap();
    let out = moadian(dir.path())
        .args([
            "validate",
            "--json",
            "--at",
            "2023-05-13T17:30:00Z",
            "official.json",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    let invoices = v["invoices"].as_array().expect("invoices array");
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    assert_eq!(inv["source"], "official.json#0");
    assert_eq!(inv["taxid"], "A1121604C220002F095011");
    assert_eq!(inv["valid"], true);
    assert_eq!(inv["errors"].as_array().unwrap().len(), 0, "{inv:#}");
    let warnings = inv["warnings"].as_array().unwrap();
    let inno = warnings
        .iter()
        .find(|w| w["field"] == "header.inno")
        .unwrap_or_else(|| panic!("expected an inno warning: {inv:#}"));
    assert_eq!(inno["code"], "1300501");
    for w in warnings {
        for key in ["field", "rule", "code", "message"] {
            assert!(w.get(key).is_some(), "finding lacks {key}: {w}");
        }
        assert!(w["message"]["fa"].is_string() && w["message"]["en"].is_string());
    }
    assert_eq!(v["summary"]["invoices"], 1);
    assert_eq!(v["summary"]["valid"], 1);
    assert_eq!(v["summary"]["invalid"], 0);
}

#[test]
fn an_invoice_with_an_error_exits_1_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let broken = OFFICIAL.replace(r#""tbill":21255"#, r#""tbill":21256"#);
    std::fs::write(
        dir.path().join("both.jsonl"),
        format!("{OFFICIAL}\n{broken}\n"),
    )
    .unwrap();
    let out = moadian(dir.path())
        .args(["validate", "--json", "--at", "2023-05-13", "both.jsonl"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    let inv = &v["invoices"];
    assert_eq!(inv[0]["valid"], true);
    assert_eq!(inv[1]["source"], "both.jsonl#1");
    assert_eq!(inv[1]["valid"], false);
    let errors = inv[1]["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["field"] == "header.tbill"),
        "expected an error on header.tbill: {errors:#?}"
    );
    assert_eq!(v["summary"]["invalid"], 1);
}

#[test]
fn malformed_file_is_an_error_naming_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        "{\n  \"header\": {\n    \"inty\": 1,\n  }\n}\n",
    )
    .unwrap();
    moadian(dir.path())
        .args(["--lang", "en", "validate", "bad.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("bad.json"))
        .stdout(predicate::str::contains("line 4, column 3"));
    let out = moadian(dir.path())
        .args(["validate", "--json", "bad.json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    let e = &v["invoices"][0]["errors"][0];
    assert_eq!(e["rule"], "load.json");
    assert!(e["message"]["en"].as_str().unwrap().contains("bad.json"));
    assert!(e["message"]["en"]
        .as_str()
        .unwrap()
        .contains("line 4, column 3"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    moadian(dir.path()).args(["validate"]).assert().code(2);
    moadian(dir.path())
        .args(["validate", "--at", "yesterday", "x.json"])
        .assert()
        .code(2);
    moadian(dir.path())
        .args(["validate", "--no-such-flag", "x.json"])
        .assert()
        .code(2);
}

#[test]
fn empty_directory_is_an_error_not_a_silent_success() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    moadian(dir.path())
        .args(["--lang", "en", "validate", "empty"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no invoice file"));
}

#[test]
fn fill_lists_what_it_filled() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(OFFICIAL).unwrap();
    for k in ["tprdis", "tdis", "tadis", "tvam", "todam", "tbill"] {
        v["header"].as_object_mut().unwrap().remove(k);
    }
    for k in ["prdis", "adis", "vam", "tsstam"] {
        v["body"][0].as_object_mut().unwrap().remove(k);
    }
    std::fs::write(dir.path().join("partial.json"), v.to_string()).unwrap();
    let out = moadian(dir.path())
        .args([
            "validate",
            "--json",
            "--fill",
            "--at",
            "2023-05-13",
            "partial.json",
        ])
        .assert()
        .get_output()
        .stdout
        .clone();
    let j = json_of(&out);
    let filled = j["invoices"][0]["filled"]
        .as_array()
        .expect("filled list with --fill");
    assert!(
        filled
            .iter()
            .any(|f| f["field"] == "header.tbill" && f["value"] == "21255"),
        "{filled:#?}"
    );
    assert_eq!(j["invoices"][0]["valid"], true, "{j:#}");
}

#[test]
fn a_fill_conflict_is_shown_in_the_chosen_language() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(OFFICIAL).unwrap();
    v["body"][0]["vam"] = serde_json::json!(1);
    std::fs::write(dir.path().join("conflict.json"), v.to_string()).unwrap();
    let out = moadian(dir.path())
        .args([
            "--lang",
            "en",
            "validate",
            "--fill",
            "--at",
            "2023-05-13",
            "conflict.json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("--fill could not complete"))
        .unwrap_or_else(|| panic!("no fill error: {text}"));
    assert!(
        line.contains("body[0].vam") && line.contains("given 1"),
        "{line}"
    );
    let persian = |t: &str| t.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
    assert!(!persian(line), "English was asked for: {line}");
}

#[test]
fn human_output_groups_findings_per_invoice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a-bad.json"),
        "[\n  {\"header\": {}},\n  {\"header\": nul}\n]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b-list.jsonl"), "42\n").unwrap();
    std::fs::write(dir.path().join("c-empty.json"), "\n").unwrap();
    let out = moadian(dir.path())
        .args([
            "--lang",
            "en",
            "validate",
            "--at",
            "2024-11-05",
            "a-bad.json",
            "missing.json",
            "b-list.jsonl",
            "c-empty.json",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    insta::assert_snapshot!("human_en_file_errors", text);

    // Default language: Persian, with English beneath.
    let out = moadian(dir.path())
        .args([
            "--lang",
            "both",
            "validate",
            "--at",
            "2024-11-05",
            "c-empty.json",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    insta::assert_snapshot!("human_default_bilingual", text);
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let out = moadian(dir.path())
        .args(["validate", "--json", "--at", "2023-05-13", "-"])
        .write_stdin(format!("\n{OFFICIAL}\n{OFFICIAL}\n"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["invoices"][1]["source"], "-#1");
    assert_eq!(v["summary"]["valid"], 2);
}

/// A JSON array is streamed one invoice at a time: an array larger than `--max-file-mib` (the
/// limit of a file read whole) is validated with every invoice counted; each invoice is bounded.
#[test]
fn an_array_bigger_than_the_file_limit_is_validated_invoice_by_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sale =
        std::fs::read_to_string(root.join("examples/invoices/valid/t1-p1-sale.json")).unwrap();
    let one: serde_json::Value = serde_json::from_str(&sale).unwrap();
    let one = serde_json::to_string_pretty(&one).unwrap();
    let n = (1 << 20) / one.len() + 50;
    let text = format!("[\n{}\n]\n", vec![one.as_str(); n].join(",\n"));
    assert!(text.len() > 1 << 20);
    std::fs::write(dir.path().join("big.json"), &text).unwrap();
    let out = moadian(dir.path())
        .args([
            "validate",
            "--json",
            "--max-file-mib",
            "1",
            "--at",
            "2023-05-14",
            "big.json",
        ])
        .output()
        .unwrap();
    let v = json_of(&out.stdout);
    assert_eq!(
        v["summary"]["invoices"],
        n as u64,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let invoices = v["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), n);
    assert_eq!(invoices[n - 1]["source"], format!("big.json#{}", n - 1));
    assert!(invoices.iter().all(|i| i["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| !e["rule"].as_str().unwrap().starts_with("load."))));
    // The same file whole-read limit still holds for one object.
    std::fs::write(
        dir.path().join("one.json"),
        format!("{{\"header\":{{\"x\":\"{}\"}}\n}}", "y".repeat(2 << 20)),
    )
    .unwrap();
    let out = moadian(dir.path())
        .args([
            "--lang",
            "en",
            "validate",
            "--json",
            "--max-file-mib",
            "1",
            "one.json",
        ])
        .output()
        .unwrap();
    let v = json_of(&out.stdout);
    assert_eq!(v["invoices"][0]["errors"][0]["rule"], "load.too_large");
}

/// A NUL or ESC in a text field is refused, naming the field; in a numeric spreadsheet cell it
/// is an error too. Neither is ever echoed raw: the output shows `\u{1b}`, so an escape
/// sequence in a file cannot reach the terminal.
#[test]
fn control_characters_are_refused_and_never_echoed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(OFFICIAL).unwrap();
    v["body"][0]["sstt"] = serde_json::json!("قطعات\u{0}\u{1b}[31mRED\u{200f}");
    std::fs::write(dir.path().join("nul.json"), v.to_string()).unwrap();
    let out = moadian(dir.path())
        .args(["--lang", "en", "validate", "--at", "2023-05-13", "nul.json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("field.control_char") && text.contains("body[0].sstt"),
        "{text}"
    );
    assert!(text.contains("\\u{1b}"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{0}'),
        "{text:?}"
    );

    let csv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/spreadsheets/one-row-per-line.csv"
    );
    let csv = std::fs::read_to_string(csv).unwrap();
    assert!(csv.contains(",10000,"), "the example has a fee of 10000");
    let bad = csv.replacen(",10000,", ",10\u{1b}[2J\u{0}000,", 1);
    std::fs::write(dir.path().join("esc.csv"), bad).unwrap();
    let out = moadian(dir.path())
        .args(["--lang", "en", "validate", "--fill", "esc.csv"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not a number"), "{text}");
    assert!(text.contains("\\u{1b}"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{0}'),
        "{text:?}"
    );
}

/// The library's verdict (`pipeline::verdict::check_one`, what `examples/validate_in_process.rs`
/// uses) is the command's: the same rules, errors, warnings and notes for every input, rows of
/// a spreadsheet without tax IDs included.
#[test]
fn the_library_judges_exactly_as_validate_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = [
        root.join("examples/spreadsheets/one-row-per-line.csv"),
        root.join("examples/spreadsheets/two-sheet.xlsx"),
        root.join("examples/invoices/valid"),
    ];
    let at = "2026-12-01";
    let at_ms = moadian::dates::parse_at(at).unwrap();
    for input in &inputs {
        for fill in [false, true] {
            let mut cmd = moadian(root);
            cmd.args(["validate", "--json", "--at", at]);
            if fill {
                cmd.arg("--fill");
            }
            let out = cmd.arg(input).output().unwrap();
            let cli = json_of(&out.stdout);
            let ctx = moadian::rules::Context::at(at_ms);
            let lib: Vec<(String, bool, Vec<String>)> =
                moadian::invoice::load::load_paths(std::slice::from_ref(input))
                    .map(|l| {
                        let c =
                            moadian::pipeline::verdict::check_one(l.source, l.value, &ctx, fill);
                        let valid = c.valid();
                        let mut rules: Vec<String> = c
                            .findings
                            .iter()
                            .chain(&c.notes)
                            .map(|f| format!("{}@{}", f.rule, f.field))
                            .collect();
                        rules.sort();
                        (c.source, valid, rules)
                    })
                    .collect();
            let cli: Vec<(String, bool, Vec<String>)> = cli["invoices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let mut rules: Vec<String> = ["errors", "warnings", "notes"]
                        .iter()
                        .flat_map(|k| i[*k].as_array().cloned().unwrap_or_default())
                        .map(|f| {
                            format!(
                                "{}@{}",
                                f["rule"].as_str().unwrap(),
                                f["field"].as_str().unwrap()
                            )
                        })
                        .collect();
                    rules.sort();
                    (
                        i["source"].as_str().unwrap().to_string(),
                        i["valid"].as_bool().unwrap(),
                        rules,
                    )
                })
                .collect();
            assert_eq!(lib, cli, "{} (fill {fill})", input.display());
        }
    }
}

/// A spreadsheet's errors are in the chosen language only, each with its place (file, sheet,
/// row, column) in that language; `--lang both` shows both.
#[test]
fn spreadsheet_errors_are_in_the_chosen_language_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sheet = std::fs::read_to_string(root.join("examples/spreadsheets/one-row-per-line.csv"))
        .unwrap()
        .replacen(",10000,500,10", ",ده هزار,500,10", 1);
    std::fs::write(dir.path().join("day.csv"), sheet).unwrap();
    let run = |lang: &str| {
        let out = moadian(dir.path())
            .args(["--lang", lang, "validate", "day.csv"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let en = run("en");
    assert!(
        en.contains("row 2") && en.contains("(fee)") && en.contains("not a number"),
        "{en}"
    );
    assert!(!en.contains("عدد نیست"), "English only: {en}");
    let fa = run("fa");
    assert!(fa.contains("ردیف 2") && fa.contains("عدد نیست"), "{fa}");
    assert!(
        !fa.contains("not a number") && !fa.contains(", row 2"),
        "Persian only: {fa}"
    );
    let both = run("both");
    assert!(
        both.contains("not a number") && both.contains("عدد نیست"),
        "{both}"
    );
}
