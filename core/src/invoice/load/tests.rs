//! Unit tests of the loader: every document shape, positions of errors, byte order marks,
//! exact numbers.

use super::*;
fn load(name: &str, text: &str) -> Vec<LoadedInvoice> {
    load_bytes(name, text.as_bytes().to_vec()).collect()
}

#[test]
fn one_object() {
    let v = load("a.json", "{\n  \"header\": {\"inty\": 1}\n}\n");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].source, "a.json#0");
    assert!(v[0].value.is_ok());
}

#[test]
fn array_of_objects() {
    let v = load(
        "a.json",
        r#" [ {"header":{"x":"a,]}"}}, {"header":{}} ,{"body":[[1],{}]}] "#,
    );
    assert_eq!(v.len(), 3);
    assert_eq!(v[2].source, "a.json#2");
    assert!(v.iter().all(|i| i.value.is_ok()));
    assert_eq!(v[0].value.as_ref().unwrap()["header"]["x"], "a,]}");
    assert!(load("e.json", "[]").is_empty());
}

#[test]
fn json_lines_in_a_json_file_and_bad_line_position() {
    let v = load(
        "l.json",
        "{\"header\":{}}\n\n{\"header\":\n{\"header\":{}}\n",
    );
    assert_eq!(v.len(), 3);
    assert!(v[0].value.is_ok());
    assert_eq!(v[1].source, "l.json#1");
    match &v[1].value {
        Err(LoadError::Syntax { line, .. }) => assert_eq!(*line, 3),
        other => panic!("{other:?}"),
    }
    assert!(v[2].value.is_ok());
}

#[test]
fn syntax_error_in_a_pretty_object_has_its_position() {
    let v = load("p.json", "{\n  \"header\": {\n    \"inty\": 1,\n  }\n}\n");
    assert_eq!(v.len(), 1);
    match &v[0].value {
        Err(LoadError::Syntax { line, column, .. }) => assert_eq!((*line, *column), (4, 3)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn array_syntax_error_position() {
    // The array is streamed: the invoice before the error is read, the error names its
    // position in the file, and reading stops there.
    let v = load(
        "b.json",
        "[\n {\"header\":{}},\n {\"header\": tru}\n, {\"header\":{}}]",
    );
    assert_eq!(v.len(), 2);
    assert!(v[0].value.is_ok());
    assert_eq!(v[1].source, "b.json#1");
    assert_eq!(v[1].value.as_ref().unwrap_err().position(), Some((3, 16)));
    // A broken structure between elements: its own position.
    let v = load("c.json", "[{\"header\":{}}\n {\"header\":{}}]");
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].value.as_ref().unwrap_err().position(), Some((2, 2)));
}

#[test]
fn non_objects_and_empty() {
    let v = load("n.json", "[1, \"x\", {}]");
    assert!(matches!(
        v[0].value,
        Err(LoadError::NotAnInvoice {
            found: "a number",
            ..
        })
    ));
    assert!(matches!(
        v[1].value,
        Err(LoadError::NotAnInvoice {
            found: "a string",
            ..
        })
    ));
    assert!(v[2].value.is_ok());
    let v = load("e.json", "  \n ");
    assert!(matches!(v[0].value, Err(LoadError::Empty { .. })));
}

#[test]
fn byte_order_mark_is_skipped() {
    let v: Vec<_> = load_bytes("bom.json", b"\xEF\xBB\xBF{\"header\":{}}".to_vec()).collect();
    assert!(v[0].value.is_ok());
}

#[test]
fn capitalised_keys_are_kept_as_written() {
    let v = load("c.json", r#"{"header":{"Indati2m":1,"Tax17":0}}"#);
    let h = &v[0].value.as_ref().unwrap()["header"];
    assert!(h.get("Indati2m").is_some() && h.get("Tax17").is_some());
}

#[test]
fn numbers_stay_exact() {
    let v = load(
        "x.json",
        r#"{"header":{"tbill":123456789012345678901234.5}}"#,
    );
    let h = &v[0].value.as_ref().unwrap()["header"];
    assert_eq!(h["tbill"].to_string(), "123456789012345678901234.5");
}
