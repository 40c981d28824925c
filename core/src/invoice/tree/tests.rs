//! The tree: what it keeps, what it refuses, and that the quick scan and serde_json agree.

use super::*;

#[test]
fn borrows_keeps_order_and_exact_numbers() {
    let text = br#"{"b":1.10,"a":"x\"y","n":null,"l":[12345678901234567890123,true]}"#;
    let j = Json::parse(text).unwrap();
    let o = j.as_object().unwrap();
    assert_eq!(o.keys().collect::<Vec<_>>(), ["b", "a", "n", "l"]);
    assert!(matches!(o.get("b"), Some(Json::Number(n)) if n.as_str() == "1.10"));
    assert_eq!(j.get("a").and_then(Json::as_str), Some("x\"y"));
    assert!(j.get("n").unwrap().is_null());
    let l = j.get("l").and_then(Json::as_array).unwrap();
    assert!(matches!(&l[0], Json::Number(n) if n.as_str() == "12345678901234567890123"));
    let v: serde_json::Value = serde_json::from_slice(text).unwrap();
    assert_eq!(Json::from(&v), j);
}

#[test]
fn keys_compare_as_bytes() {
    let keys = [
        "",
        "a",
        "b",
        "ab",
        "ba",
        "abc",
        "acc",
        "abd",
        "tinb",
        "tins",
        "indatim",
        "indatiM",
        "indati2m",
        "Indati2m",
        "sstid_abcdefghi",
        "sstid_abcdefghj",
        "0123456789abcdef",
        "0123456789abcdeg",
        "a longer key than sixteen",
        "a longer key than sixteeN",
    ];
    for a in keys {
        for b in keys {
            assert_eq!(same_key(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
        }
    }
}

#[test]
fn refuses_a_repeated_key_where_it_is() {
    let e = Json::parse(b"{\"a\":{\"x\":1,\n\"x\":2}}").unwrap_err();
    assert!(e.to_string().starts_with("duplicate key \"x\""), "{e}");
    assert_eq!((e.line(), e.column()), (2, 3));
    // The same key in two objects is fine.
    assert!(Json::parse(br#"[{"x":1},{"x":2}]"#).is_ok());
}

#[test]
fn the_private_number_key_is_not_a_way_in() {
    assert!(Json::parse(br#"{"$serde_json::private::Number":"abc"}"#).is_err());
    assert!(Json::parse(br#"{"$serde_json::private::Number":"12"}"#).is_err());
    assert!(Json::parse(br#"[12, -0.5e3]"#).is_ok());
}

/// The quick scan and serde_json on one text: the same tree, or the same error at the same
/// place. Returns whether the scan answered by itself.
fn agree(text: &[u8]) -> bool {
    let quick = scan::parse(text);
    let slow = Json::parse_by_serde(text);
    match (&quick, &slow) {
        (Some(q), Ok(s)) => assert_eq!(q, s, "{}", String::from_utf8_lossy(text)),
        (Some(q), Err(e)) => panic!(
            "scan took {} as {q:?}, serde_json refuses it: {e}",
            String::from_utf8_lossy(text)
        ),
        (None, _) => {}
    }
    // And through the one entry point.
    match (Json::parse(text), slow) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(
            (a.to_string(), a.line(), a.column()),
            (b.to_string(), b.line(), b.column())
        ),
        (a, b) => panic!("{}: {a:?} vs {b:?}", String::from_utf8_lossy(text)),
    }
    quick.is_some()
}

#[test]
fn the_quick_scan_reads_numbers_as_serde_json_keeps_them() {
    // Read by the scan itself, exactly as serde_json keeps them: an exponent as `e` and a sign.
    for (text, kept) in [
        ("0", "0"),
        ("-0", "-0"),
        ("20000", "20000"),
        ("-17", "-17"),
        ("18446744073709551615", "18446744073709551615"),
        ("18446744073709551616", "18446744073709551616"),
        ("-9223372036854775809", "-9223372036854775809"),
        (
            "123456789012345678901234567890.50",
            "123456789012345678901234567890.50",
        ),
        ("1.10", "1.10"),
        ("0.000", "0.000"),
        ("1e3", "1e+3"),
        ("1E3", "1e+3"),
        ("1e+3", "1e+3"),
        ("1E-3", "1e-3"),
        ("-2.50e-07", "-2.50e-07"),
        ("0E0", "0e+0"),
        ("1e999999999999", "1e+999999999999"),
    ] {
        let doc = format!("{{\"n\":{text},\"l\":[{text}]}}");
        assert!(agree(doc.as_bytes()), "{text}");
        let j = Json::parse(doc.as_bytes()).unwrap();
        assert!(
            matches!(j.get("n"), Some(Json::Number(n)) if n.as_str() == kept),
            "{text}"
        );
        assert!(agree(text.as_bytes()), "{text}");
    }
    // Not numbers: serde_json says why.
    for text in [
        "01", "-", "-a", "1.", "1.e3", ".5", "1e", "1e+", "+1", "1.2.3", "0x10", "- 1",
    ] {
        assert!(!agree(format!("[{text}]").as_bytes()), "{text}");
    }
}

#[test]
fn the_quick_scan_reads_texts_and_keys_as_serde_json_does() {
    for text in [
        r#"{"a\"b":"x","a\\b":"y\/z"}"#,
        r#"{"\u0061":1}"#,
        r#"{"k":"\b\f\n\r\t\u0000\u001f\u00e9\u06F0\uFFFF"}"#,
        r#"{"k":"\ud83d\ude00 and \uD83D\uDE00"}"#,
        "{\"شرح\":\"فولاد صنعت «قطعات»\"}",
        r#"{"k":"\u0041","K":"\u0041"}"#,
        " \t\r\n{ \"a\" : [ 1 , true , false , null , { } , [ ] ] } \n",
        r#""just a text""#,
        "[]",
        "{}",
        r#"{"":""}"#,
    ] {
        assert!(agree(text.as_bytes()), "{text}");
    }
}

#[test]
fn what_the_quick_scan_leaves_to_serde_json_is_reported_by_it() {
    for text in [
        // A repeated key, also when written with an escape.
        r#"{"a":1,"a":2}"#,
        r#"{"a":1,"\u0061":2}"#,
        r#"{"x":{"b":1,"c":2,"b":3}}"#,
        // serde_json's private number key (in first place or later).
        r#"{"$serde_json::private::Number":"12"}"#,
        r#"{"a":1,"$serde_json::private::Number":"12"}"#,
        // Lone or broken surrogates, bad escapes, control characters, bad UTF-8.
        r#"["\ud800"]"#,
        r#"["\udc00"]"#,
        r#"["\ud800\u0041"]"#,
        r#"["\ud800x"]"#,
        r#"["\x"]"#,
        r#"["\u12"]"#,
        r#"["\u12g4"]"#,
        "[\"a\tb\"]",
        "[\"a\nb\"]",
        // Structure.
        "",
        "   ",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "[1 2]",
        "[1",
        "{\"a\":1",
        "nul",
        "nulls",
        "truee",
        "[1]x",
        "{} {}",
        "\u{feff}{}",
        "[NaN]",
        "[Infinity]",
    ] {
        assert!(!agree(text.as_bytes()), "{text}");
    }
    assert!(!agree(b"[\"\xff\"]"));
    assert!(!agree(b"[\"\xc3\"]"));
    // Deep nesting: up to the scan's depth it answers, beyond it serde_json (whose limit is 127).
    for depth in [1, 50, 100, 101, 126, 127, 128, 200] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(agree(text.as_bytes()), depth <= 100, "{depth}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Texts made of JSON's pieces, good and bad, in any order.
    #[test]
    fn the_quick_scan_agrees_with_serde_json_on_any_pieces(
        pieces in proptest::collection::vec(proptest::sample::select(vec![
            "{", "}", "[", "]", ",", ":", " ", "\n", "\"", "\"a\"", "\"b\"", "\"a\":", "\"\\\"\"",
            "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"ب\"", "\\", "0", "1", "-", ".",
            "e", "E", "+", "12.50", "1e5", "-0", "null", "true", "false", "nul", "x", "\t",
            "{\"a\":1}", "[1,2]", "\"$serde_json::private::Number\"",
        ]), 0..24)
    ) {
        agree(pieces.concat().as_bytes());
    }

    /// An invoice line with a few bytes changed, removed or added.
    #[test]
    fn the_quick_scan_agrees_with_serde_json_on_a_damaged_invoice(
        edits in proptest::collection::vec((0usize..400, 0u8..4, proptest::sample::select(
            b"{}[],:\"\\ \n0123456789.eE+-abnrtuflsx\x01\xc3\xa9\xd8".to_vec()
        )), 1..4)
    ) {
        let mut text = INVOICE.as_bytes().to_vec();
        for (at, how, byte) in edits {
            let at = at % (text.len() + 1);
            match how {
                0 if at < text.len() => text[at] = byte,
                1 if at < text.len() => { text.remove(at); }
                _ => text.insert(at, byte),
            }
        }
        agree(&text);
    }
}

const INVOICE: &str = r#"{"header":{"taxid":"A11216049A2000000001E3","inno":"0000000001","indatim":1764450000000,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2},"body":[{"sstid":"2710000138624","sstt":"فولاد \"صنعت\" قطعات","mu":"164","am":2.5E1,"fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}],"payments":[]}"#;

#[test]
fn an_invoice_is_read_by_the_quick_scan() {
    assert!(agree(INVOICE.as_bytes()));
}
