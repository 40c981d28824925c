//! Structural rules apply to EVERY present field whatever its obligation (RC_IITP.IS_V7.8 §6
//! «قاعده کلی» 3): an empty string, a value of the wrong JSON type, or too many decimals fails
//! in any field of the dictionary, with the official structural code built from its field number.

use moadian::rules::data::{FieldType, Section, TABLES};
use moadian::rules::{validate, Context, Severity};
use serde_json::Value;

const SALE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/invoices/valid/t1-p1-sale.json"
);

fn sale() -> Value {
    let text = std::fs::read_to_string(SALE).expect("valid sale example");
    serde_json::from_str(&text).expect("json")
}

/// Puts `value` into `key` of the section and returns the JSON path.
fn put(inv: &mut Value, sec: Section, key: &str, value: Value) -> String {
    match sec {
        Section::Header => {
            inv["header"][key] = value;
            format!("header.{key}")
        }
        Section::Body => {
            inv["body"][0][key] = value;
            format!("body[0].{key}")
        }
        Section::Payment => {
            inv["payments"][0][key] = value;
            format!("payments[0].{key}")
        }
        Section::Sg => {
            inv["header"]["sg"] = serde_json::json!([{ key: value }]);
            format!("header.sg[0].{key}")
        }
    }
}

fn structural_error_at(inv: &Value, path: &str) -> Option<String> {
    validate(inv, &Context::at(1795163400000))
        .into_iter()
        .find(|f| f.field == path && f.severity == Severity::Error && f.rule.starts_with("field."))
        .map(|f| format!("{} {:?}", f.rule, f.code))
}

#[test]
fn empty_string_fails_in_every_field() {
    let mut missing = Vec::new();
    for f in &TABLES.fields {
        if f.ty == FieldType::Array {
            continue;
        }
        let mut inv = sale();
        let path = put(&mut inv, f.sec, &f.key, Value::from(""));
        if structural_error_at(&inv, &path).is_none() {
            missing.push(path);
        }
    }
    assert!(missing.is_empty(), "\"\" accepted in {missing:?}");
}

#[test]
fn wrong_json_type_fails_in_every_field_with_its_code() {
    let mut bad = Vec::new();
    for f in &TABLES.fields {
        let wrong = match f.ty {
            FieldType::Str => Value::from(12),
            FieldType::Int | FieldType::Dec => Value::from("12"),
            FieldType::Array => Value::from("x"),
        };
        let mut inv = sale();
        let path = put(&mut inv, f.sec, &f.key, wrong);
        let found = validate(&inv, &Context::at(1795163400000))
            .into_iter()
            .find(|x| x.field == path && x.rule == "field.type");
        match (found, &f.ec) {
            (None, _) => bad.push(format!("{path}: no field.type")),
            (Some(x), Some(ec)) if x.code.as_deref() != Some(format!("01{ec}03").as_str()) => {
                bad.push(format!("{path}: code {:?}", x.code))
            }
            _ => {}
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn too_many_decimals_fail_in_every_decimal_field() {
    let mut bad = Vec::new();
    for f in TABLES.fields.iter().filter(|f| f.ty == FieldType::Dec) {
        let places = f.decimals.unwrap_or(0) + 1;
        let text = format!("1.{}1", "0".repeat(places as usize - 1));
        let mut inv = sale();
        let path = put(
            &mut inv,
            f.sec,
            &f.key,
            serde_json::from_str(&text).expect("number"),
        );
        let hit = validate(&inv, &Context::at(1795163400000))
            .into_iter()
            .any(|x| x.field == path && x.rule == "field.decimals");
        if !hit {
            bad.push(path);
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn out_of_pattern_optional_values_are_still_checked_structurally() {
    // consfee is out of pattern in a sale: present with a fraction it is a warning AND an error.
    let mut inv = sale();
    inv["body"][0]["consfee"] = serde_json::from_str("1.5").expect("number");
    let f = validate(&inv, &Context::at(1795163400000));
    assert!(f
        .iter()
        .any(|x| x.rule == "matrix.out_of_pattern" && x.code.as_deref() == Some("14052")));
    assert!(f
        .iter()
        .any(|x| x.rule == "field.decimals" && x.code.as_deref() == Some("0105209")));
}

#[test]
fn matrix_shape_is_99_fields_by_16_columns() {
    assert_eq!(TABLES.matrix.len(), 99);
    assert_eq!(TABLES.column_names.len(), 16);
    assert!(moadian::rules::data::load_errors().is_empty());
}

#[test]
fn the_capitalised_template_spelling_is_read_and_warned() {
    let mut inv = sale();
    inv["header"]["Tax17"] = Value::from(0);
    let f = validate(&inv, &Context::at(1795163400000));
    assert!(f
        .iter()
        .any(|x| x.rule == "field.key_case" && x.severity == Severity::Warning));
    assert!(!f.iter().any(|x| x.severity == Severity::Error), "{f:#?}");
}

/// The official definitions of text fields are plain text: a C0 control character (NUL, ESC,
/// a line break…) or DEL in any string field fails with the field's format code, and the
/// message shows it escaped, never raw (an ESC sequence would reach the terminal).
#[test]
fn control_characters_fail_in_string_fields_and_are_shown_escaped() {
    for bad in ["\u{0}", "\u{1b}[31m", "\n", "\t", "\u{7f}", "\r"] {
        for (sec, key) in [
            (Section::Body, "sstt"),
            (Section::Header, "tinb"),
            (Section::Payment, "iinn"),
            (Section::Body, "mu"),
        ] {
            let mut inv = sale();
            let path = put(
                &mut inv,
                sec,
                key,
                Value::from(format!("قطعات{bad}RED\u{200f}")),
            );
            let findings = validate(&inv, &Context::at(1795163400000));
            let f = findings
                .iter()
                .find(|f| f.field == path && f.rule == "field.control_char")
                .unwrap_or_else(|| panic!("{path} with {bad:?}: {findings:#?}"));
            assert_eq!(f.severity, Severity::Error);
            let ec = TABLES.field(sec, key).unwrap().1.ec.clone().unwrap();
            assert_eq!(f.code.as_deref(), Some(format!("01{ec}04").as_str()));
            assert!(f.message.en.contains(key), "{}", f.message.en);
            for m in [&f.message.en, &f.message.fa] {
                assert!(!m.chars().any(|c| c.is_control()), "raw: {m:?}");
                assert!(m.contains("\\u{"), "escaped: {m}");
            }
        }
    }
    // Whatever the rule, no finding quotes a control character raw.
    let mut inv = sale();
    inv["body"][0]["\u{1b}[2Jkey"] = Value::from(1);
    inv["header"]["tinb"] = Value::from("12\u{1b}[2J34");
    for f in validate(&inv, &Context::at(1795163400000)) {
        for m in [&f.field, &f.message.en, &f.message.fa] {
            assert!(!m.chars().any(|c| c.is_control()), "raw: {m:?}");
        }
    }
}

/// Format characters of Persian text (ZWNJ, ZWJ, RLM, LRM) are text, not control characters.
#[test]
fn persian_format_characters_are_accepted_in_text_fields() {
    let mut inv = sale();
    let path = put(
        &mut inv,
        Section::Body,
        "sstt",
        Value::from("می\u{200c}خواهم قطعه\u{200f} A\u{200e}B \u{200d}"),
    );
    assert_eq!(structural_error_at(&inv, &path), None);
}
