//! Unit tests of the identifiers, with the sample values of the spec (§13.3, §14).

use super::*;
#[test]
fn memory_ids_seen_in_the_wild_parse() {
    for m in [
        "A11216", "A1112K", "A111DW", "A278W6", "A38MRA", "A41XRD", "A2HP31", "DEF5GH",
    ] {
        MemoryId::parse(m).unwrap();
    }
}

#[test]
fn memory_id_rejects_forbidden_and_wrong_length() {
    for bad in [
        "A1121", "A112167", "A1I216", "A11J16", "A0L216", "a11216", "A1121Q", "A112V6", "",
    ] {
        assert!(MemoryId::parse(bad).is_err(), "{bad}");
    }
    assert!(matches!(
        MemoryId::parse("A11206"),
        Err(IdError::Char {
            position: 5,
            ch: '0',
            ..
        })
    ));
}

#[test]
fn memory_id_reserved_letters_are_notes() {
    let m = MemoryId::parse("AB1216").unwrap();
    assert_eq!(m.notes(), vec![MemoryIdNote::ReservedLetter('B')]);
    assert!(MemoryId::parse("TPA123")
        .unwrap()
        .notes()
        .contains(&MemoryIdNote::TrustedCompany));
    assert!(MemoryId::parse("A11216").unwrap().notes().is_empty());
}

#[test]
fn memory_id_control_digits() {
    assert_eq!(
        MemoryId::parse("DEF5GH").unwrap().control_digits(),
        "68697057172"
    );
    assert_eq!(
        MemoryId::parse("A11216").unwrap().control_digits(),
        "6511216"
    );
}

#[test]
fn national_codes() {
    for ok in ["0922356742", "0499370899", "0010532129", "0012345679"] {
        NationalCode::parse(ok).unwrap();
    }
    for bad in [
        "0012345678",
        "1111111111",
        "092235674",
        "09223567421",
        "09223567a2",
    ] {
        assert!(NationalCode::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        NationalCode::parse_padded("10532129").unwrap().as_str(),
        "0010532129"
    );
}

#[test]
fn legal_national_ids() {
    for ok in [
        "10100302746",
        "14003778990",
        "10101704295",
        "10840096498",
        "14000405500",
        "10660111880",
    ] {
        LegalNationalId::parse(ok).unwrap();
    }
    assert!(matches!(
        LegalNationalId::parse("12345678901"),
        Err(IdError::Checksum { .. })
    ));
}

#[test]
fn economic_codes() {
    assert_eq!(
        EconomicCode::parse("14003778990").unwrap().kind(),
        EconomicCodeKind::Legal
    );
    assert_eq!(
        EconomicCode::parse("14003778990")
            .unwrap()
            .legal_checksum_ok(),
        Some(true)
    );
    assert_eq!(
        EconomicCode::parse("12345678901234").unwrap().kind(),
        EconomicCodeKind::Natural
    );
    assert!(EconomicCode::parse("123456789012").is_err());
}

#[test]
fn simple_formats() {
    PostalCode::parse("1968913111").unwrap();
    assert!(PostalCode::parse("196891311").is_err());
    BranchCode::parse("0001").unwrap();
    assert!(BranchCode::parse("00001").is_err());
    ForeignNationalCode::parse("123456789012").unwrap();
    GoodsServiceId::parse("2710000138624").unwrap();
    assert!(GoodsServiceId::parse("271000013862").is_err());
    assert!(matches!(
        BuyerId::parse("10100302746"),
        Ok(BuyerId::Legal(_))
    ));
    assert!(BuyerId::parse("123").is_err());
}

#[test]
fn errors_speak_both_languages() {
    let e = NationalCode::parse("0012345678").unwrap_err();
    let m = e.message();
    assert!(m.fa.contains("کد ملی"));
    assert!(m.en.contains("national code"));
}
