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
