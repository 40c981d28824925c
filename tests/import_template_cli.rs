//! `moadian template` writes a blank template in each layout and format — headers only, nothing
//! that could be submitted by mistake — says where it wrote, and never overwrites a file without
//! `--force`. The filled-in example workbooks in `examples/spreadsheets/` import to one invoice.

use assert_cmd::Command;

fn template(args: &[&str], out: &std::path::Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("moadian")
        .expect("binary")
        .args(["--lang", "en", "template"])
        .args(args)
        .arg(out)
        .assert()
}

#[test]
fn template_command_writes_blank_files() {
    let dir = tempfile::tempdir().expect("tmp");
    for (layout, name, files) in [
        ("two-sheet", "a.xlsx", vec!["a.xlsx"]),
        ("one-row-per-line", "b.xlsx", vec!["b.xlsx"]),
        ("two-sheet", "c.csv", vec!["c.csv", "c.items.csv"]),
        ("one-row-per-line", "d.csv", vec!["d.csv"]),
    ] {
        let out = dir.path().join(name);
        let assert = template(&["--layout", layout], &out).success();
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        for f in &files {
            assert!(dir.path().join(f).is_file(), "{f} written");
            assert!(stdout.contains(f), "{stdout}");
        }
        assert!(stdout.contains("allocated at submission"), "{stdout}");
        // No data rows: nothing imports as an invoice.
        let got = moadian::import::load_file(&out);
        assert!(
            got.iter().all(|g| g.value.is_err()),
            "{name}: a blank template must hold no invoice"
        );
    }
}

#[test]
fn template_under_another_extension_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("t.json");
    let a = template(&[], &out).code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("t.json") && err.contains(".xlsx"), "{err}");
    assert!(
        !out.exists(),
        "a workbook named .json would be read as JSON later"
    );
    template(&["--format", "csv"], &out).success();
}

#[test]
fn template_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("book.xlsx");
    std::fs::write(&out, b"my accounts").expect("write");
    let a = template(&[], &out).code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("--force") && err.contains("book.xlsx"),
        "{err}"
    );
    // An error that stops a command: both languages, the chosen (English) first.
    let (en, fa) = (err.find("already exists"), err.find("وجود دارد"));
    assert!(matches!((en, fa), (Some(e), Some(f)) if e < f), "{err}");
    assert_eq!(
        std::fs::read(&out).expect("read"),
        b"my accounts",
        "left untouched"
    );
    template(&["--force"], &out).success();
    assert_ne!(std::fs::read(&out).expect("read"), b"my accounts");

    // CSV two-sheet: an existing items file counts too.
    let csv = dir.path().join("t.csv");
    std::fs::write(dir.path().join("t.items.csv"), b"keep").expect("write");
    template(&["--layout", "two-sheet"], &csv).code(1);
    assert!(
        !csv.exists(),
        "nothing written when one of the files exists"
    );
    assert_eq!(
        std::fs::read(dir.path().join("t.items.csv")).expect("read"),
        b"keep"
    );
}

#[test]
fn example_workbooks_import_to_one_invoice() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/spreadsheets");
    for name in [
        "two-sheet.xlsx",
        "one-row-per-line.xlsx",
        "two-sheet.csv",
        "one-row-per-line.csv",
    ] {
        let got = moadian::import::load_file(std::path::Path::new(&format!("{dir}/{name}")));
        assert_eq!(got.len(), 1, "{name}");
        let v = got[0].value.as_ref().expect("imports");
        assert_eq!(v["body"].as_array().map(Vec::len), Some(2), "{name}");
    }
}

/// Issue #11 part 5: an invoice without taxid and inno passes `validate` with a note that they
/// are allocated at submission (information, not an error), and a missing total points to --fill.
#[test]
fn validate_notes_that_taxid_is_allocated_and_fill_computes_totals() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/invoices/valid/t1-p1-sale.json"
    );
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).expect("read")).expect("json");
    let h = v["header"].as_object_mut().expect("header");
    h.remove("taxid");
    h.remove("inno");
    let at = h["indatim"].to_string();
    std::fs::write(dir.path().join("a.json"), v.to_string()).expect("write");
    let out = Command::cargo_bin("moadian")
        .expect("binary")
        .current_dir(dir.path())
        .args(["--lang", "en", "validate", "--json", "--at", &at, "a.json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let r: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let inv = &r["invoices"][0];
    assert_eq!(inv["valid"], true, "{inv:#}");
    assert_eq!(inv["errors"].as_array().map(Vec::len), Some(0), "{inv:#}");
    let note = &inv["notes"][0];
    assert_eq!(note["field"], "header.taxid");
    assert!(
        note["message"]["en"]
            .as_str()
            .is_some_and(|m| m.contains("allocate")),
        "{note:#}"
    );

    // A missing total: the error says --fill computes it.
    v["header"].as_object_mut().expect("header").remove("tbill");
    std::fs::write(dir.path().join("b.json"), v.to_string()).expect("write");
    let out = Command::cargo_bin("moadian")
        .expect("binary")
        .current_dir(dir.path())
        .args(["--lang", "en", "validate", "--json", "--at", &at, "b.json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let r: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let e = r["invoices"][0]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .find(|e| e["field"] == "header.tbill")
        .cloned()
        .expect("tbill missing");
    assert!(
        e["message"]["en"]
            .as_str()
            .is_some_and(|m| m.contains("--fill")),
        "{e:#}"
    );
}
