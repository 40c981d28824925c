//! The valid example invoices (`examples/invoices/valid/`, one per type/pattern column of the
//! obligation matrix, plus referrals) and the official example invoice validate with no error,
//! both as of their own issue time and as of today (late sending is only a warning).

use moadian::rules::data::COLUMNS;
use moadian::rules::idcheck::{taxid_parts, taxid_valid};
use moadian::rules::{validate, Context, Finding, Severity};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/invoices");

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn valid_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(format!("{DIR}/valid"))
        .expect("examples/invoices/valid exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 16,
        "expected a valid example per matrix column"
    );
    files
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn errors(f: &[Finding]) -> Vec<String> {
    f.iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{} {} {:?}: {}", f.rule, f.field, f.code, f.message.en))
        .collect()
}

fn indatim(v: &Value) -> i64 {
    v["header"]["indatim"].as_i64().expect("indatim")
}

#[test]
fn every_valid_example_has_no_error_at_its_date_and_today() {
    let mut bad = Vec::new();
    for path in valid_files() {
        let v = read(&path);
        for at in [indatim(&v), indatim(&v) + 3_600_000, now_ms()] {
            let e = errors(&validate(&v, &Context::at(at)));
            if !e.is_empty() {
                bad.push(format!("{} at {at}: {e:#?}", path.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn valid_examples_are_silent_at_their_own_date() {
    // No warnings either (except none expected): they show the clean form of each pattern.
    for path in valid_files() {
        let v = read(&path);
        let f = validate(&v, &Context::at(indatim(&v)));
        assert!(f.is_empty(), "{}: {f:#?}", path.display());
    }
}

#[test]
fn every_matrix_column_has_a_valid_example() {
    let mut seen = BTreeSet::new();
    for path in valid_files() {
        let v = read(&path);
        let h = &v["header"];
        if let (Some(t), Some(p)) = (h["inty"].as_u64(), h["inp"].as_u64()) {
            seen.insert((t as u8, p as u8));
        }
    }
    for c in COLUMNS {
        assert!(
            seen.contains(&c),
            "no valid example for type {} pattern {}",
            c.0,
            c.1
        );
    }
}

#[test]
fn valid_examples_use_the_demo_taxpayer_with_distinct_correct_tax_ids() {
    let mut taxids = BTreeSet::new();
    let mut serials = BTreeSet::new();
    for path in valid_files() {
        let v = read(&path);
        let h = &v["header"];
        let t = h["taxid"].as_str().expect("taxid");
        assert!(taxid_valid(t), "{}: {t}", path.display());
        let p = taxid_parts(t).expect("parts");
        assert_eq!(p.memory_id, "A11216", "{}", path.display());
        assert_eq!(
            p.day as i64,
            indatim(&v).div_euclid(86_400_000),
            "{}",
            path.display()
        );
        assert_eq!(
            h["tins"].as_str(),
            Some("14003778990"),
            "{}",
            path.display()
        );
        assert_eq!(
            h["inno"].as_str(),
            Some(format!("{:010X}", p.serial).as_str())
        );
        assert!(taxids.insert(t.to_string()), "duplicate tax ID {t}");
        assert!(serials.insert(p.serial), "duplicate serial {}", p.serial);
    }
}

#[test]
fn official_example_validates_with_only_the_decimal_inno_warning() {
    let v = read(Path::new(&format!("{DIR}/official-example.json")));
    assert_eq!(v["header"]["taxid"], "A1121604C220002F095011");
    assert_eq!(indatim(&v), 1683997837988);
    let f = validate(&v, &Context::at(indatim(&v)));
    assert!(errors(&f).is_empty(), "{f:#?}");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].rule, "taxid.inno");
    assert_eq!(f[0].field, "header.inno");
    assert_eq!(f[0].code.as_deref(), Some("1300501"));
    assert_eq!(f[0].severity, Severity::Warning);
    // As of today it is years late: still no error, one more warning.
    let f = validate(&v, &Context::at(now_ms()));
    assert!(errors(&f).is_empty(), "{f:#?}");
    assert!(f.iter().any(|f| f.rule == "time.late"));
}

#[test]
fn official_example_totals_are_the_published_ones() {
    let v = read(Path::new(&format!("{DIR}/official-example.json")));
    assert_eq!(v["header"]["tbill"].to_string(), "21255");
    assert_eq!(v["header"]["tvam"].to_string(), "1755");
    assert_eq!(v["body"][0]["am"].to_string(), "2");
    assert_eq!(v["body"][0]["fee"].to_string(), "10000");
    assert_eq!(v["body"][0]["dis"].to_string(), "500");
    assert_eq!(v["body"][0]["vra"].to_string(), "9");
}
