//! Tax ID conformance: every vector of `tests/data/vectors/taxid.json` (official RC_DCPS.SN_V01.3
//! appendix and the RC_TICS connection guide), and properties of the Verhoeff check digit.

use moadian::invoice::ids::MemoryId;
use moadian::invoice::jalali::days_from_gregorian;
use moadian::invoice::taxid::{
    control_string, inno_for_serial, verhoeff_check_digit, verhoeff_validate, TaxId, MS_PER_DAY,
};
use proptest::prelude::*;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors/taxid.json");

fn vectors() -> serde_json::Value {
    let text = std::fs::read_to_string(VECTORS)
        .unwrap_or_else(|e| panic!("test vector file {VECTORS} is missing or unreadable: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{VECTORS} is not JSON: {e}"))
}

fn indatim_of(v: &serde_json::Value) -> i64 {
    if let Some(ms) = v["indatim"].as_i64() {
        return ms;
    }
    let date = v["date_utc"]
        .as_str()
        .expect("vector has indatim or date_utc");
    let parts: Vec<u32> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let days = days_from_gregorian(parts[0] as i32, parts[1], parts[2]).unwrap();
    // Any moment of that UTC day; take 01:00:10 like the official example.
    days * MS_PER_DAY + 3_610_000
}

#[test]
fn official_vectors_generate_parse_and_decode() {
    let v = vectors();
    let list = v["vectors"].as_array().expect("vectors array");
    assert!(list.len() >= 4, "expected the official vectors");
    for vec in list {
        let memory = MemoryId::parse(vec["memory_id"].as_str().unwrap()).unwrap();
        let serial = vec["serial"].as_u64().unwrap();
        let indatim = indatim_of(vec);
        let expected = vec["taxid"].as_str().unwrap();

        let generated = TaxId::generate(&memory, indatim, serial).unwrap();
        assert_eq!(generated.as_str(), expected, "generate {vec}");

        let parsed = TaxId::parse(expected).unwrap();
        let parts = parsed.decode();
        assert_eq!(parts.memory_id, memory);
        assert_eq!(parts.serial, serial);
        assert_eq!(
            i64::from(parts.day_since_epoch),
            indatim.div_euclid(MS_PER_DAY)
        );
        assert!(parsed.day_matches(indatim));

        if let Some(control) = vec["control"].as_str() {
            assert_eq!(parts.control_string(), control);
            assert_eq!(
                control_string(&memory, parts.day_since_epoch, serial),
                control
            );
        }
        if let Some(check) = vec["check"].as_u64() {
            assert_eq!(u64::from(parts.check_digit()), check);
        }
        if let Some(inno) = vec["inno_hex"].as_str() {
            assert_eq!(inno_for_serial(serial), inno);
            assert_eq!(parsed.inno(), inno);
        }
    }
}

#[test]
fn official_invalid_vectors_fail() {
    let v = vectors();
    let list = v["invalid"].as_array().expect("invalid array");
    assert!(!list.is_empty());
    for vec in list {
        let taxid = vec["taxid"].as_str().unwrap();
        assert!(TaxId::parse(taxid).is_err(), "{taxid} must fail");
    }
}

#[test]
fn verhoeff_published_values() {
    assert_eq!(verhoeff_check_digit("123"), Some(3));
    assert!(verhoeff_validate("686970571720184630000000000122"));
    assert!(!verhoeff_validate("686970571720184630000000081737"));
}

fn with_check(control: &str) -> String {
    format!("{control}{}", verhoeff_check_digit(control).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Verhoeff catches every single-digit change of a control string with its check digit.
    #[test]
    fn verhoeff_catches_every_single_digit_change(control in "[0-9]{1,40}") {
        let full = with_check(&control);
        prop_assert!(verhoeff_validate(&full));
        let bytes = full.as_bytes();
        for pos in 0..bytes.len() {
            for d in b'0'..=b'9' {
                if d == bytes[pos] { continue; }
                let mut changed = bytes.to_vec();
                changed[pos] = d;
                let changed = String::from_utf8(changed).unwrap();
                prop_assert!(!verhoeff_validate(&changed), "{} -> {}", full, changed);
            }
        }
    }

    /// Verhoeff catches every adjacent transposition of two different digits.
    #[test]
    fn verhoeff_catches_every_adjacent_swap(control in "[0-9]{2,40}") {
        let full = with_check(&control);
        let bytes = full.as_bytes();
        for pos in 0..bytes.len() - 1 {
            if bytes[pos] == bytes[pos + 1] { continue; }
            let mut swapped = bytes.to_vec();
            swapped.swap(pos, pos + 1);
            let swapped = String::from_utf8(swapped).unwrap();
            prop_assert!(!verhoeff_validate(&swapped), "{} -> {}", full, swapped);
        }
    }

    /// A generated tax ID parses back to the same parts, and a tax ID with any single
    /// character changed (to another allowed one) no longer parses as valid.
    #[test]
    fn generated_taxids_round_trip(
        memory in "[1-9ADEFGHKMNOPRTWXYZ]{6}",
        indatim in 0i64..4_000_000_000_000,
        serial in 0u64..=0xFF_FFFF_FFFF,
    ) {
        let m = MemoryId::parse(&memory).unwrap();
        let t = TaxId::generate(&m, indatim, serial).unwrap();
        prop_assert_eq!(t.as_str().len(), 22);
        let back = TaxId::parse(t.as_str()).unwrap();
        let parts = back.decode();
        prop_assert_eq!(parts.memory_id, m);
        prop_assert_eq!(parts.serial, serial);
        prop_assert!(back.day_matches(indatim));
        prop_assert_eq!(back.inno(), inno_for_serial(serial));
        // A changed check digit fails.
        let mut bad = t.as_str().to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == '0' { '1' } else { '0' });
        prop_assert!(TaxId::parse(&bad).is_err());
    }
}
