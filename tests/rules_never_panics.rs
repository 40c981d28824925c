//! Robustness: the rules engine never panics, whatever JSON it is given — random values,
//! random invoice-shaped objects with the official keys holding random values, and random bytes
//! that happen to parse.

use moadian::rules::data::TABLES;
use moadian::rules::{validate, Context};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        "-?[0-9]{1,40}(\\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?"
            .prop_map(|s| serde_json::from_str(&s).unwrap_or(Value::Null)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        ".{0,30}".prop_map(Value::from),
        "[0-9A-Z]{0,25}".prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,8}", inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn keyed_object(n: usize) -> impl Strategy<Value = Value> {
    let keys: Vec<String> = TABLES.fields.iter().map(|f| f.key.clone()).collect();
    prop::collection::vec(
        (prop::sample::select(keys), prop_oneof![leaf(), json()]),
        0..n,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

fn invoice_like() -> impl Strategy<Value = Value> {
    (
        keyed_object(40),
        prop::collection::vec(keyed_object(30), 0..4),
        prop::collection::vec(keyed_object(10), 0..3),
    )
        .prop_map(|(h, b, p)| serde_json::json!({"header": h, "body": b, "payments": p}))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn random_json_never_panics(v in json(), at in any::<i64>()) {
        let _ = validate(&v, &Context::at(at));
    }

    #[test]
    fn random_invoice_shaped_values_never_panic(v in invoice_like(), at in any::<i64>()) {
        let f = validate(&v, &Context::at(at));
        for x in f {
            prop_assert!(!x.rule.is_empty());
        }
    }

    #[test]
    fn random_bytes_that_parse_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            let _ = validate(&v, &Context::at(0));
        }
    }
}

#[test]
fn extreme_numbers_never_panic() {
    let big = "79228162514264337593543950335";
    for field in [
        "am", "fee", "prdis", "dis", "adis", "vra", "vam", "tsstam", "cfee", "exr", "sovat", "cpr",
    ] {
        for n in [
            big,
            "-79228162514264337593543950335",
            "1e400",
            "0.000000000000000000000000001",
        ] {
            let text = format!(
                r#"{{"header":{{"inty":1,"inp":2,"ins":1,"setm":3,"cap":{n},"insp":{n},"tbill":{n},"tadis":{n},"indatim":{n}}},
                "body":[{{"{field}":{n},"am":{n},"fee":{n},"cfee":{n},"exr":{n},"cpr":{n},"sovat":{n}}}],"payments":[{{"pv":{n}}}]}}"#
            );
            let v: Value = serde_json::from_str(&text).expect("json");
            let _ = validate(&v, &Context::at(i64::MAX));
            let _ = validate(&v, &Context::at(i64::MIN));
        }
    }
}
