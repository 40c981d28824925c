//! The rules engine's allocation-free tax-ID checks agree with the typed `TaxId` of
//! `moadian::invoice` (and both with the official vectors), and every valid example invoice
//! loads into the typed model.

use moadian::invoice::{Invoice, MemoryId, TaxId};
use moadian::rules::idcheck::{taxid_check_digit, taxid_parts, taxid_valid};
use proptest::prelude::*;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors/taxid.json");
const VALID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/invoices/valid");

#[test]
fn official_vectors_pass_the_engine_check() {
    let text = std::fs::read_to_string(VECTORS).expect("tests/data/vectors/taxid.json must exist");
    let v: serde_json::Value = serde_json::from_str(&text).expect("vectors parse");
    for vec in v["vectors"].as_array().expect("vectors") {
        let t = vec["taxid"].as_str().expect("taxid");
        assert!(taxid_valid(t), "{t}");
        let p = taxid_parts(t).expect("parts");
        assert_eq!(Some(p.serial), vec["serial"].as_u64(), "{t}");
        assert_eq!(p.memory_id, vec["memory_id"].as_str().expect("memory id"));
    }
    for bad in v["invalid"].as_array().expect("invalid") {
        assert!(!taxid_valid(bad["taxid"].as_str().expect("taxid")));
    }
}

fn memory_id() -> impl Strategy<Value = String> {
    "[1-9A-HKMNOPR-UW-Z]{6}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn engine_and_typed_tax_id_agree(m in memory_id(), day in 0u32..0xFFFFF, serial in 0u64..0xFF_FFFF_FFFF) {
        let mid = MemoryId::parse(&m).expect("allowed alphabet");
        let t = TaxId::generate(&mid, day as i64 * 86_400_000, serial).expect("generates");
        let s = t.as_str();
        prop_assert!(taxid_valid(s));
        let p = taxid_parts(s).expect("parts");
        prop_assert_eq!(p.day, day as u64);
        prop_assert_eq!(p.serial, serial);
        prop_assert_eq!(taxid_check_digit(&m, day as u64, serial), Some(p.check));
    }

    #[test]
    fn engine_and_typed_parse_agree_on_random_ids(s in "[0-9A-F]{22}", m in memory_id()) {
        let s = format!("{m}{}", &s[6..]);
        prop_assert_eq!(taxid_valid(&s), TaxId::parse(&s).is_ok(), "{}", s);
    }
}

#[test]
fn valid_examples_load_into_the_typed_model() {
    for entry in std::fs::read_dir(VALID).expect("valid examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let inv = Invoice::from_value(&v).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let t = inv.header.taxid.as_deref().expect("taxid");
        TaxId::parse(t).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    }
}
