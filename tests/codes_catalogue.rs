//! The code catalogue is complete and well-formed: every entry reads in Persian and English,
//! references resolve, and the codes seen in real responses decode to the right field and kind.

use moadian::codes::{self, Category, Check, Found, Layer};
use moadian::rules::Severity;
use moadian::Lang;
use std::collections::BTreeMap;

#[test]
fn every_entry_renders_in_both_languages() {
    let mut n = 0;
    for e in codes::all() {
        n += 1;
        for (what, m) in [("title", &e.title), ("meaning", &e.meaning)] {
            assert!(!m.fa.trim().is_empty(), "{}: empty fa {what}", e.code);
            assert!(!m.en.trim().is_empty(), "{}: empty en {what}", e.code);
        }
        assert!(!e.fix.is_empty(), "{}: no fix steps", e.code);
        assert!(!e.causes.is_empty(), "{}: no likely causes", e.code);
        for m in e.fix.iter().chain(e.causes.iter()) {
            assert!(
                !m.fa.trim().is_empty() && !m.en.trim().is_empty(),
                "{}: half-empty step",
                e.code
            );
        }
        assert!(!e.source.trim().is_empty(), "{}: no source", e.code);
        // The Persian text is Persian: it carries Arabic-script letters.
        assert!(
            e.meaning
                .fa
                .chars()
                .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
            "{}: fa meaning is not Persian",
            e.code
        );
        let x = codes::explain(&e.code).expect("a catalogued code explains");
        assert_eq!(x.found, Found::Catalogue, "{}", e.code);
        for lang in [Lang::Fa, Lang::En] {
            let one = codes::one_line(&e.code, lang).expect("one line");
            assert!(
                !one.is_empty() && !one.contains('\n'),
                "{}: bad one-liner",
                e.code
            );
        }
    }
    assert!(n > 150, "catalogue has only {n} entries");
}

#[test]
fn every_category_is_populated() {
    let mut per: BTreeMap<Category, usize> = BTreeMap::new();
    for e in codes::all() {
        *per.entry(e.category).or_default() += 1;
    }
    for c in Category::ALL {
        assert!(
            per.get(&c).copied().unwrap_or(0) > 0,
            "{c:?} has no entries"
        );
    }
}

#[test]
fn see_also_and_local_references_resolve() {
    for e in codes::all() {
        for s in &e.see_also {
            assert!(
                codes::explain(s).is_some(),
                "{}: see-also {s} explains nothing",
                e.code
            );
        }
        for p in &e.prevented_by {
            let (kind, id) = p.split_once(':').unwrap_or((p.as_str(), ""));
            assert!(
                ["doctor", "signer", "validate", "pipeline"].contains(&kind),
                "{}: prevented_by {p} has an unknown prefix",
                e.code
            );
            if kind == "doctor" || kind == "signer" {
                assert!(
                    codes::lookup_local(id).is_some(),
                    "{}: {p} is not a catalogued local id",
                    e.code
                );
            }
        }
    }
}

#[test]
fn local_ids_named_in_the_brief_are_catalogued() {
    for id in [
        "pin.locked",
        "pin.final_try",
        "pin.count_low",
        "cert.expired",
        "cert.expiring",
        "cert.wrong_type",
        "cert.national_id_mismatch",
        "cert.several",
        "module.not_found",
        "token.not_present",
        "token.removed",
        "clock.skew",
        "server.unreachable",
    ] {
        let e = codes::lookup_local(id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(e.layer, Layer::Local);
    }
    assert!(
        codes::lookup_local("4103").is_none(),
        "server codes are not local ids"
    );
    assert_eq!(
        codes::lookup_local("cert.wrong_type").map(|e| e.code.as_str()),
        Some("cert.key_usage")
    );
}

/// (code, severity, check, field key, detail)
const REAL: &[(&str, Severity, Check, &str, Option<u8>)] = &[
    ("010504", Severity::Error, Check::Structure, "inno", Some(4)),
    ("011204", Severity::Error, Check::Structure, "tinb", Some(4)),
    (
        "0100504",
        Severity::Error,
        Check::Structure,
        "inno",
        Some(4),
    ),
    ("0101104", Severity::Error, Check::Structure, "bid", Some(4)),
    (
        "0303301",
        Severity::Error,
        Check::Matching,
        "sstid",
        Some(1),
    ),
    (
        "1300501",
        Severity::Warning,
        Check::Matching,
        "inno",
        Some(1),
    ),
    (
        "14003",
        Severity::Warning,
        Check::OutOfPattern,
        "indati2m",
        None,
    ),
    (
        "0300101",
        Severity::Error,
        Check::Matching,
        "taxid",
        Some(1),
    ),
    ("00107", Severity::Error, Check::Existence, "insr", None),
    ("011304", Severity::Error, Check::Structure, "sbc", Some(4)),
    ("02002", Severity::Error, Check::Rule, "indatim", None),
    ("0200201", Severity::Error, Check::Rule, "indatim", Some(1)),
    ("0304401", Severity::Error, Check::Matching, "vra", Some(1)),
    ("00012", Severity::Error, Check::Existence, "tinb", None),
];

#[test]
fn codes_seen_in_real_responses_decode_right() {
    for &(code, sev, check, field, detail) in REAL {
        let x = codes::explain(code).unwrap_or_else(|| panic!("{code} explains nothing"));
        let d = x
            .decoded
            .as_ref()
            .unwrap_or_else(|| panic!("{code} not decoded"));
        assert_eq!(d.severity, sev, "{code}");
        assert_eq!(d.check, check, "{code}");
        assert_eq!(
            d.field.as_ref().map(|f| f.key.as_str()),
            Some(field),
            "{code}"
        );
        assert_eq!(d.detail, detail, "{code}");
        assert_eq!(x.category, Category::Content, "{code}");
        assert!(
            !x.retryable,
            "{code}: content codes are not cured by retrying"
        );
    }
}

#[test]
fn transport_and_legacy_codes_seen_in_real_responses() {
    for (code, cat, retry) in [
        ("4008", Category::Request, false),
        ("4011", Category::Certificate, false),
        ("5051", Category::Server, true),
        ("04131", Category::Certificate, false),
        ("04132", Category::Identity, false),
        ("4103", Category::Identity, false),
        ("4130", Category::Request, false),
    ] {
        let x = codes::explain(code).unwrap_or_else(|| panic!("{code}"));
        assert_eq!(x.found, Found::Catalogue, "{code}");
        assert!(x.decoded.is_none(), "{code} is not a content code");
        assert_eq!(x.category, cat, "{code}");
        assert_eq!(x.retryable, retry, "{code}");
    }
    assert_eq!(codes::explain("4103").and_then(|x| x.http), Some(401));
    assert_eq!(codes::explain("4143").and_then(|x| x.http), Some(400));
}

#[test]
fn vendor_codes_404_and_489() {
    let x = codes::explain("404").expect("404");
    assert_eq!(x.layer, Layer::Vendor);
    assert!(x.meaning.en.contains("memory ID"));
    let x = codes::explain("489").expect("489");
    assert_eq!(x.category, Category::Token);
    let all: String = x.causes.iter().map(|c| c.en.clone()).collect();
    for needle in ["expired", "date", "driver"] {
        assert!(all.contains(needle), "489 causes lack {needle}");
    }
    assert!(x.prevented_by.iter().any(|p| p == "doctor:clock.skew"));
}

#[test]
fn six_digit_and_seven_digit_forms_are_the_same_code() {
    for (old, new) in [
        ("010504", "0100504"),
        ("011204", "0101204"),
        ("011104", "0101104"),
        ("011304", "0101304"),
    ] {
        let a = codes::explain(old).expect(old);
        let b = codes::explain(new).expect(new);
        assert_eq!(a.title, b.title, "{old} vs {new}");
        assert_eq!(
            a.decoded.as_ref().map(|d| d.canonical.clone()),
            Some(new.to_string())
        );
        assert!(b
            .decoded
            .as_ref()
            .is_some_and(|d| d.equivalents.iter().any(|e| e == old)));
    }
    // The short forms of the frequent-errors document and a lost leading zero.
    for (short, full) in [
        ("0301", "0300101"),
        ("0202", "0200201"),
        ("0344", "0304401"),
        ("0245", "0204501"),
        ("0333", "0303301"),
        ("0012", "00012"),
        ("200201", "0200201"),
        ("02002", "0200201"),
    ] {
        let a = codes::lookup(short).map(|e| e.code.clone());
        assert_eq!(a.as_deref(), Some(full), "{short}");
    }
}

#[test]
fn uncatalogued_content_codes_still_name_field_and_kind() {
    let x = codes::explain("0104404").expect("decodes");
    assert_eq!(x.found, Found::Decoded);
    let d = x.decoded.as_ref().expect("decoded");
    assert_eq!(d.field.as_ref().map(|f| f.key.as_str()), Some("vra"));
    assert_eq!(d.check, Check::Structure);
    assert!(x.meaning.en.contains("vra") && x.meaning.fa.contains("vra"));
    assert!(x.title.en.contains("vra"));
    // Same shape in the old 6-digit form.
    assert_eq!(
        codes::explain("014404").map(|x| x.title),
        Some(x.title.clone())
    );
    // Warning out-of-pattern on a body field.
    let w = codes::explain("14041").expect("decodes");
    assert_eq!(w.severity, Some(Severity::Warning));
}

#[test]
fn garbage_and_text_codes_explain_nothing() {
    for g in [
        "",
        "   ",
        "hello",
        "99999999",
        "9",
        "0910504",
        "2999",
        "Unable to load certificate",
    ] {
        assert!(codes::explain(g).is_none(), "{g:?} should explain nothing");
    }
    assert_eq!(codes::annotate("Unable to load certificate", Lang::En), "");
}

#[test]
fn uncatalogued_4xxx_and_5xxx_get_their_class() {
    let x = codes::explain("4999").expect("class");
    assert_eq!(x.found, Found::Class);
    assert!(!x.retryable);
    let y = codes::explain("5998").expect("class");
    assert!(y.retryable);
    assert_eq!(y.category, Category::Server);
}

#[test]
fn annotate_points_to_explain() {
    let a = codes::annotate("04131", Lang::En);
    assert!(a.contains("moadian explain 04131"), "{a}");
    assert!(a.starts_with("invoice signature"), "{a}");
    assert_eq!(codes::is_retryable("5051"), Some(true));
    assert_eq!(codes::is_retryable("nonsense"), None);
}

#[test]
fn explanation_json_shape() {
    let x = codes::explain("010504").expect("010504");
    let v = serde_json::to_value(&x).expect("serialises");
    assert_eq!(v["code"], "010504");
    assert_eq!(v["catalogue_code"], "0100504");
    assert_eq!(v["found"], "catalogue");
    assert_eq!(v["category"], "content");
    assert_eq!(v["severity"], "error");
    assert_eq!(v["decoded"]["field"]["key"], "inno");
    assert_eq!(v["decoded"]["check"], "structure");
    assert!(v["fix"][0]["fa"].is_string() && v["fix"][0]["en"].is_string());
}

#[test]
fn decoded_codes_name_the_validation_rule_that_catches_them() {
    let x = codes::explain("0202701").expect("tbill arithmetic");
    assert!(
        x.prevented_by
            .iter()
            .any(|p| p == "validate:arith.total.tbill"),
        "{:?}",
        x.prevented_by
    );
    let x = codes::explain("0101504").expect("bbc regex");
    assert_eq!(x.found, Found::Decoded);
    assert!(
        x.prevented_by.iter().any(|p| p == "validate:field.format"),
        "{:?}",
        x.prevented_by
    );
}

#[test]
fn persian_digits_are_read_as_codes() {
    let x = codes::explain("۰۴۱۳۱").expect("Persian digits");
    assert_eq!(x.code, "04131");
    assert_eq!(x.found, Found::Catalogue);
    assert_eq!(codes::lookup("٤١٠٣").map(|e| e.code.as_str()), Some("4103"));
}

/// Issue #18 item 5: RC_TXPS.EC_V02 table 9 prints 0304401 for a non-zero VAT rate in the
/// export pattern (RE_V01 «خطای 0344»); moadian once showed 0204401 for it. The old code still
/// answers, pointing to the official one, in both languages.
#[test]
fn ec_v02_table9_old_vat_rate_code_0204401_points_to_the_official_0304401() {
    let x = codes::explain("0204401").expect("0204401 still explains");
    assert_eq!(x.found, Found::Catalogue);
    assert_eq!(x.catalogue_code.as_deref(), Some("0304401"));
    let d = x.decoded.as_ref().expect("decoded");
    assert_eq!(d.check, Check::Matching, "decoded as the official code");
    assert!(x.meaning.en.contains("0304401") && x.meaning.en.contains("0204401"));
    assert!(x.meaning.fa.contains("۰۳۰۴۴۰۱") && x.meaning.fa.contains("۰۲۰۴۴۰۱"));
    assert!(x.meaning.en.contains("table 43 row 5"), "{}", x.meaning.en);
    assert!(x
        .prevented_by
        .iter()
        .any(|p| p == "validate:arith.line.vra"));
    let y = codes::explain("0304401").expect("official");
    assert_eq!(y.title, x.title);
    assert_eq!(
        codes::lookup("02044").map(|e| e.code.as_str()),
        Some("0304401")
    );
}

/// The codes issue #18 added are catalogued, with both languages and the official source.
#[test]
fn issue_18_codes_are_catalogued_with_their_official_source() {
    for (code, source) in [
        ("1200301", "table 5 row 3"),
        ("0107806", "table 63 row 2"),
        ("0203001", "table 26"),
        ("1202301", "general rule 2-b"),
        ("1200201", "table 4 row 5"),
    ] {
        let x = codes::explain(code).unwrap_or_else(|| panic!("{code}"));
        assert_eq!(x.found, Found::Catalogue, "{code}");
        assert!(x.source.contains(source), "{code}: {}", x.source);
        assert!(!x.meaning.fa.is_empty() && !x.meaning.en.is_empty());
    }
}

/// A field number outside the official table is named as such in the title, and a check only
/// the server can run (matching against its data), or one of an unknown field, is not said to
/// be caught by `validate`.
#[test]
fn a_field_number_outside_the_table_is_named_so_and_not_claimed_by_validate() {
    let x = codes::explain("0399999").expect("decoded");
    assert_eq!(x.found, Found::Decoded);
    assert!(
        x.title.en.contains("999") && x.title.en.contains("not in the official field table"),
        "{}",
        x.title.en
    );
    assert!(x.title.fa.contains("جدول"), "{}", x.title.fa);
    assert!(x.prevented_by.is_empty(), "{:?}", x.prevented_by);
    let y = codes::explain("0199901").expect("decoded structure of field 999");
    assert!(y.prevented_by.is_empty(), "{:?}", y.prevented_by);
    // A known field's structure is still what validate checks.
    let z = codes::explain("0101504").expect("bbc regex");
    assert!(!z.prevented_by.is_empty());
}
