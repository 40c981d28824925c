//! Property ("fuzz") tests of everything that reads untrusted text: the JSON loader, the CSV
//! and XLSX importers, the Jalali date parser, the tax-ID decoder and the code decoder. Each is
//! bounded by its case count so the whole file runs in seconds; set `PROPTEST_CASES` to run
//! longer. Inputs that once broke a target are kept in `fuzz_inputs.proptest-regressions` and in
//! the `regressions` test below.
//!
//! The properties: no panic; every loading error names the file, and a JSON syntax error its
//! line and column; what is decoded re-encodes to the same text.

use moadian::import::limits::ReadOptions;
use moadian::invoice::load::{load_bytes, load_paths_with, LoadError};
use proptest::prelude::*;
use std::path::Path;

/// JSON-ish text: brackets, quotes, escapes, numbers, Persian letters, BOMs and newlines.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"header\"".to_string()),
        Just("\"body\"".to_string()),
        Just("\"tbill\"".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("\"\\".to_string()),
        Just("1e400".to_string()),
        Just("-0.00000000000000000001".to_string()),
        Just("123456789012345678901234".to_string()),
        Just("NaN".to_string()),
        Just("null".to_string()),
        Just("\u{feff}".to_string()),
        Just("\r\n".to_string()),
        Just("\n".to_string()),
        Just("\"پیچ\"".to_string()),
        "[a-z0-9 ]{0,4}",
    ];
    proptest::collection::vec(token, 0..64).prop_map(|v| v.concat())
}

fn check_loaded(name: &str, l: &moadian::invoice::LoadedInvoice) {
    assert!(l.source.starts_with(name), "{} vs {name}", l.source);
    if let Err(e) = &l.value {
        let m = e.message();
        assert!(m.en.contains(name) && m.fa.contains(name), "{m:?}");
        if let LoadError::Syntax { line, column, .. } = e {
            assert!(*line >= 1 && *column >= 1);
        }
    }
}

fn import_file(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let opts = ReadOptions {
        max_cells: 20_000,
        ..Default::default()
    };
    for l in load_paths_with(std::slice::from_ref(&p), opts) {
        assert!(
            l.source.starts_with(&p.display().to_string()),
            "{}",
            l.source
        );
        if let Err(e) = &l.value {
            let m = e.message();
            assert!(m.en.contains(name), "{name}: {}", m.en);
        }
    }
}

/// A small valid workbook to mutate.
fn workbook() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["invoice_no", "indatim", "sstt", "fee", "am"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "1").unwrap();
    ws.write_string(1, 1, "1403/08/15").unwrap();
    ws.write_string(1, 2, "پیچ").unwrap();
    ws.write_number(1, 3, 1000.0).unwrap();
    ws.write_number(1, 4, 2.0).unwrap();
    wb.save_to_buffer().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_loader_never_panics_and_errors_are_placed(text in jsonish()) {
        for name in ["f.json", "f.jsonl"] {
            for l in load_bytes(name, text.clone().into_bytes()) {
                check_loaded(name, &l);
            }
        }
    }

    #[test]
    fn json_loader_on_raw_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for l in load_bytes("r.json", bytes) {
            check_loaded("r.json", &l);
        }
    }

    #[test]
    fn csv_importer_never_panics(
        rows in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![
                Just(String::new()),
                Just("1403/08/15".to_string()),
                Just("1403/13/40 25:61".to_string()),
                Just("=1+2".to_string()),
                Just("\"a,\"\"b\"".to_string()),
                Just("۱۲۳٬۴۵۶".to_string()),
                Just("1e400".to_string()),
                "[-0-9.,;\"\t ]{0,8}",
                "\\PC{0,6}",
            ], 0..8),
            0..6),
        raw in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("invoice_no,indatim,sstt,fee,am,vra\n");
        for r in &rows {
            text += &r.join(",");
            text.push('\n');
        }
        import_file(dir.path(), "t.csv", text.as_bytes());
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&raw);
        import_file(dir.path(), "u.csv", &bytes);
    }

    #[test]
    fn xlsx_importer_never_panics_on_damaged_workbooks(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let good = workbook();
        let dir = tempfile::tempdir().unwrap();
        let mut bad = good.clone();
        for (i, b) in &flips {
            let at = i.index(bad.len());
            bad[at] = *b;
        }
        import_file(dir.path(), "flipped.xlsx", &bad);
        import_file(dir.path(), "cut.xlsx", &good[..cut.index(good.len())]);
    }

    #[test]
    fn jalali_date_parser_never_panics_and_roundtrips(
        raw in prop_oneof![
            "[0-9۰-۹/ :\\-]{0,20}",
            (1300i32..1500, 0u32..14, 0u32..33, 0u32..25, 0u32..61)
                .prop_map(|(y, m, d, h, mi)| format!("{y}/{m:02}/{d:02} {h:02}:{mi:02}")),
            "\\PC{0,12}",
        ]
    ) {
        if let Ok(ms) = moadian::import::cells::parse_datetime_ms(&raw) {
            // What was read is a real instant, shown back as a valid date.
            let shown = moadian::import::jalali::format_unix_ms(ms, true, false);
            prop_assert!(!shown.is_empty());
        }
        let _ = moadian::import::jalali::jalali_of_unix_ms(i64::MAX);
        let _ = moadian::import::jalali::jalali_of_unix_ms(i64::MIN);
    }

    #[test]
    fn taxid_decoder_never_panics_and_roundtrips(raw in prop_oneof![
        "[0-9A-Z]{22}",
        "[0-9A-Fa-z]{0,30}",
        "\\PC{0,24}",
    ]) {
        if let Ok(t) = moadian::invoice::TaxId::parse(&raw) {
            let parts = t.decode();
            let again = format!("{t}");
            prop_assert_eq!(again, raw.clone());
            let _ = format!("{parts:?}");
        }
        let _ = moadian::invoice::TaxId::parse_unchecked(&raw).map(|u| format!("{u:?}"));
    }

    #[test]
    fn code_decoder_never_panics(raw in prop_oneof![
        "[0-9]{7}",
        "[0-9]{1,9}",
        "[0-9A-Za-z.\\-]{0,12}",
        "\\PC{0,10}",
    ]) {
        if let Some(c) = moadian::codes::decode::decode(&raw) {
            let _ = format!("{c:?}");
        }
        let _ = moadian::codes::one_line(&raw, moadian::lang::Lang::Fa);
    }
}

/// Inputs found by the targets above (and by the hostile corpus), kept for good.
#[test]
fn regressions() {
    for text in [
        "\u{feff}",
        "[",
        "[{\"header\":{}},",
        "{\"a\":1,\"a\"",
        "{\"\u{feff}\":1}",
        "\n\n\n{\"x\":1e400}",
        "{\"header\":{\"tbill\":123456789012345678901234567890}}",
    ] {
        for l in load_bytes("reg.json", text.as_bytes().to_vec()) {
            check_loaded("reg.json", &l);
        }
    }
}
