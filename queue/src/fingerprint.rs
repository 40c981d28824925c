//! An invoice's identity is its content: a canonical fingerprint of the invoice JSON, the same
//! however the numbers were written (`2` = `2.0` = `2.00`, `1e3` = `1000`) and whatever the
//! key order, with the tax ID and `inno` left out (they are what the queue allocates, so an
//! input without them matches the numbered invoice it became).
//!
//! The queue stores the fingerprint in `invoices.dedup_key` (schema v3 backfills it for rows
//! stored before) and compares canonical contents to explain a conflict field by field.

use serde_json::Value;
use sha2::Digest;
use std::collections::BTreeMap;

/// The header keys the queue allocates; never part of the content.
const ALLOCATED: [&str; 2] = ["taxid", "inno"];

/// Invoice JSON in canonical form: object keys sorted, numbers as exact normalised decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canon {
    Null,
    Bool(bool),
    /// Normalised decimal: `-` sign if negative, significant digits, `e<exp>` if exp ≠ 0.
    Num(String),
    Str(String),
    Arr(Vec<Canon>),
    Obj(BTreeMap<String, Canon>),
}

/// An exact decimal in one spelling: `2`, `2.0`, `2.00`, `2e0` and `0.2e1` all give `2`;
/// `10000.00` gives `1e4`. Text that is not a JSON number is kept as it is.
pub fn normalise_number(text: &str) -> String {
    let mut out = String::new();
    normalise_number_into(text, &mut out);
    out
}

/// [`normalise_number`], appended to `out`.
fn normalise_number_into(text: &str, out: &mut String) {
    let t = text.trim();
    let (neg, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => match rest[i + 1..].parse::<i64>() {
            Ok(e) => (&rest[..i], e),
            Err(_) => return out.push_str(t),
        },
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return out.push_str(t);
    }
    let Some(mut exp) = i64::try_from(frac.len())
        .ok()
        .and_then(|n| exp.checked_sub(n))
    else {
        return out.push_str(t);
    };
    // The digits are `int` then `frac`, read as one run: leading zeros dropped, trailing zeros
    // moved into the exponent.
    let digits = || int.bytes().chain(frac.bytes());
    let total = int.len() + frac.len();
    let leading = digits().take_while(|&b| b == b'0').count();
    if leading == total {
        return out.push('0');
    }
    let trailing = digits().rev().take_while(|&b| b == b'0').count();
    exp += trailing as i64;
    if neg {
        out.push('-');
    }
    out.extend(
        digits()
            .skip(leading)
            .take(total - leading - trailing)
            .map(char::from),
    );
    if exp != 0 {
        out.push('e');
        out.push_str(&exp.to_string());
    }
}

fn canon(v: &Value) -> Canon {
    match v {
        Value::Null => Canon::Null,
        Value::Bool(b) => Canon::Bool(*b),
        Value::Number(n) => Canon::Num(normalise_number(&n.to_string())),
        Value::String(s) => Canon::Str(s.clone()),
        Value::Array(a) => Canon::Arr(a.iter().map(canon).collect()),
        Value::Object(o) => Canon::Obj(o.iter().map(|(k, v)| (k.clone(), canon(v))).collect()),
    }
}

/// The canonical content of an invoice: the allocated `header.taxid` / `header.inno` removed.
pub fn content(invoice: &Value) -> Canon {
    let mut c = canon(invoice);
    if let Canon::Obj(top) = &mut c {
        if let Some(Canon::Obj(h)) = top.get_mut("header") {
            for k in ALLOCATED {
                h.remove(k);
            }
        }
    }
    c
}

fn write(c: &Canon, out: &mut String) {
    match c {
        Canon::Null => out.push_str("null"),
        Canon::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Canon::Num(n) => out.push_str(n),
        Canon::Str(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Canon::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Canon::Obj(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(x, out);
            }
            out.push('}');
        }
    }
}

/// The canonical text of a canonical value (sorted keys, normalised numbers, no spaces).
pub fn text(c: &Canon) -> String {
    let mut s = String::new();
    write(c, &mut s);
    s
}

/// The fingerprint of an invoice issued under `memory_id`: `c1:` + SHA-256 (hex) of the memory
/// ID and the canonical content.
pub fn of_invoice(memory_id: &str, invoice: &Value) -> String {
    let mut h = sha2::Sha256::new();
    h.update(memory_id.as_bytes());
    h.update(b"\n");
    h.update(canonical_text(invoice).as_bytes());
    format!("c1:{:x}", h.finalize())
}

/// `text(&content(invoice))`, written in one walk without building the canonical tree.
fn canonical_text(invoice: &Value) -> String {
    let mut out = String::with_capacity(1024);
    write_value(invoice, Place::Top, &mut out);
    out
}

/// Where a value sits: the allocated keys are left out of the top-level `header` only.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Top,
    Header,
    Inner,
}

fn write_value(v: &Value, place: Place, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => normalise_number_into(n.as_str(), out),
        Value::String(s) => write_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, Place::Inner, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut entries: Vec<(&String, &Value)> = o
                .iter()
                .filter(|(k, _)| place != Place::Header || !ALLOCATED.contains(&k.as_str()))
                .collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                let inner = if place == Place::Top && k == "header" {
                    Place::Header
                } else {
                    Place::Inner
                };
                write_value(x, inner, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal, escaped exactly as serde_json writes it.
fn write_str(s: &str, out: &mut String) {
    // Most keys and values need no escaping: a quote, a backslash or a control character does.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::String(s.to_string()).to_string());
    }
}

/// As [`of_invoice`] from stored JSON text; `None` when it is not a JSON object with a header.
pub fn of_payload(memory_id: &str, payload: &str) -> Option<String> {
    let v: Value = serde_json::from_str(payload).ok()?;
    v.get("header")
        .filter(|h| h.is_object())
        .map(|_| of_invoice(memory_id, &v))
}

/// Where two invoices differ, as field paths (`header.tbill`, `body[0].sstt`), at most `limit`
/// of them (the allocated tax ID and `inno` never count).
pub fn differing_fields(a: &Value, b: &Value, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    diff(&content(a), &content(b), String::new(), &mut out, limit);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn diff(a: &Canon, b: &Canon, path: String, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit || a == b {
        return;
    }
    match (a, b) {
        (Canon::Obj(x), Canon::Obj(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (l, r) = (
                    x.get(k).unwrap_or(&Canon::Null),
                    y.get(k).unwrap_or(&Canon::Null),
                );
                if x.contains_key(k) != y.contains_key(k) && l == r {
                    out.push(join(&path, k));
                } else {
                    diff(l, r, join(&path, k), out, limit);
                }
                if out.len() >= limit {
                    return;
                }
            }
        }
        (Canon::Arr(x), Canon::Arr(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff(l, r, format!("{path}[{i}]"), out, limit);
            }
        }
        _ => out.push(if path.is_empty() {
            "(invoice)".into()
        } else {
            path
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_exact_decimals_in_one_spelling() {
        for (a, b) in [
            ("2", "2.0"),
            ("2", "2.00"),
            ("10000", "10000.00"),
            ("10000", "1e4"),
            ("0.5", "5e-1"),
            ("0", "-0.000"),
            ("-12.50", "-1.25e1"),
        ] {
            assert_eq!(normalise_number(a), normalise_number(b), "{a} vs {b}");
        }
        assert_ne!(normalise_number("2"), normalise_number("20"));
        assert_ne!(
            normalise_number("0.1"),
            normalise_number("0.10000000000000001")
        );
        assert_eq!(normalise_number("10000.00"), "1e4");
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn formatting_key_order_and_allocated_fields_do_not_count() {
        let a = parse(
            r#"{"header":{"indatim":1,"taxid":"X","inno":"1"},"body":[{"am":2,"fee":10000}]}"#,
        );
        let b = parse(r#"{"body":[{"fee":10000.00,"am":2.0}],"header":{"indatim":1}}"#);
        assert_eq!(of_invoice("A1", &a), of_invoice("A1", &b));
        assert_ne!(of_invoice("A1", &a), of_invoice("B2", &a));
        assert!(differing_fields(&a, &b, 10).is_empty());
    }

    /// The one-walk canonical text is the canonical tree's text, for any JSON.
    #[test]
    fn one_walk_text_is_the_canonical_trees_text() {
        let fixed = [
            r#"{"header":{"taxid":"X","inno":"1","tbill":10000.00,"z":"a\"b\\c\u0001é"},"body":[{"taxid":"kept","am":2.50}]}"#,
            r#"{"header":[{"taxid":"X"}],"b":{"header":{"inno":"kept"}}}"#,
            r#"[{"header":{"taxid":"X"}}, 1e3, -0.000, 12.5e-3, "x"]"#,
            r#"{"ب":1,"a":2,"A":3,"":null,"aa":true,"a\u007f":false}"#,
            r#"{"n":[0, 100, 1.0e+2, 0.0001, -5E2, 123456789012345678901234567890.000]}"#,
        ];
        for f in fixed {
            let v = parse(f);
            assert_eq!(canonical_text(&v), text(&content(&v)), "{f}");
        }
    }

    /// The spelling this module wrote before numbers were normalised without a copy.
    fn normalise_number_before(text: &str) -> String {
        let t = text.trim();
        let (neg, rest) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => match rest[i + 1..].parse::<i64>() {
                Ok(e) => (&rest[..i], e),
                Err(_) => return t.to_string(),
            },
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return t.to_string();
        }
        let Some(mut exp) = i64::try_from(frac.len())
            .ok()
            .and_then(|n| exp.checked_sub(n))
        else {
            return t.to_string();
        };
        let digits: String = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        let trimmed = digits.trim_end_matches('0');
        if trimmed.is_empty() {
            return "0".into();
        }
        exp += (digits.len() - trimmed.len()) as i64;
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        out.push_str(trimmed);
        if exp != 0 {
            out.push('e');
            out.push_str(&exp.to_string());
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn numbers_are_spelled_as_before(t in "[-+ ]?[0-9]{0,8}(\\.[0-9]{0,8})?([eE][-+]?[0-9]{0,20})?|[-0-9.eE+x ]{0,10}") {
            proptest::prop_assert_eq!(normalise_number(&t), normalise_number_before(&t));
        }
    }

    proptest::proptest! {
        #[test]
        fn one_walk_text_matches_for_random_json(v in json_value(3)) {
            let top = serde_json::json!({"header": v.clone(), "body": [v.clone()], "x": v});
            proptest::prop_assert_eq!(canonical_text(&top), text(&content(&top)));
        }
    }

    fn json_value(depth: u32) -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let number = prop_oneof![
            "-?(0|[1-9][0-9]{0,12})(\\.[0-9]{1,6})?([eE][-+]?[0-9]{1,2})?",
            Just("0.000".to_string()),
            Just("100".to_string()),
        ]
        .prop_map(|t| serde_json::from_str::<Value>(&t).unwrap());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number,
            "[a-z\"\\\\\\x00-\\x1f\\x7fé€ ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(depth, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("taxid".to_string()),
                            Just("inno".to_string()),
                            "[a-zA-Z\"é]{0,4}"
                        ],
                        inner
                    ),
                    0..5
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn differing_fields_are_named() {
        let a = json!({"header": {"tbill": 100, "taxid": "X"}, "body": [{"sstt": "a", "am": 1}]});
        let b = json!({"header": {"tbill": 120, "taxid": "X"}, "body": [{"sstt": "b", "am": 1}]});
        assert_eq!(
            differing_fields(&a, &b, 10),
            vec!["body[0].sstt".to_string(), "header.tbill".to_string()]
        );
        assert_eq!(differing_fields(&a, &b, 1).len(), 1);
    }
}
