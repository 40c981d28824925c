//! Hostile and broken input files get a clear error naming file and position; nothing is
//! silently changed or dropped, and the limits hold: CSV encoding, cell counts, lines that
//! yield no item, duplicate JSON keys, file and field sizes, XLSX zip bombs.

use moadian::import::limits::ReadOptions;
use moadian::invoice::load::{load_bytes, load_paths, load_paths_with, LoadError};
use std::io::Write;
use std::path::{Path, PathBuf};

const HEAD: &str = "invoice_no,indatim,inty,inp,ins,tins,tob,sstid,sstt,mu,am,fee,vra";

fn line(no: &str, sstt: &str, fee: &str) -> String {
    format!("{no},1403/08/15 10:00,2,1,1,14003778990,2,2710000138624,{sstt},164,1,{fee},10")
}

fn all_errors(path: &Path, opts: ReadOptions) -> Vec<(String, String)> {
    load_paths_with(&[path.to_path_buf()], opts)
        .filter_map(|l| l.value.err().map(|e| (l.source, e.message().en)))
        .collect()
}

// ---- 1. CSV encoding ---------------------------------------------------------------------

#[test]
fn utf8_csv_with_one_bad_byte_is_an_error_not_windows_1256() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.csv");
    let mut bytes = format!("{HEAD}\n{}\n", line("1", "پیچ و مهره فولادی", "1000")).into_bytes();
    let second = line("1", "واشر", "2000");
    let at = bytes.len() + second.find("واشر").unwrap();
    bytes.extend_from_slice(second.replace("واشر", "وا\u{1}شر").as_bytes());
    // Replace the control byte by a byte that is never UTF-8.
    let i = bytes.iter().position(|&b| b == 1).unwrap();
    bytes[i] = 0xFF;
    bytes.push(b'\n');
    std::fs::write(&p, &bytes).unwrap();
    let got: Vec<_> = load_paths(std::slice::from_ref(&p)).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    let err = got[0]
        .value
        .as_ref()
        .expect_err("not silently decoded")
        .message();
    assert!(err.en.contains("line 3"), "{}", err.en);
    assert!(
        err.en.contains(&format!("byte offset {i}")),
        "{} ({at})",
        err.en
    );
    assert!(err.en.contains("bad.csv"));
}

#[test]
fn windows_1256_csv_is_read_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("win.csv");
    let text = format!("{HEAD}\n{}\n", line("1", "پيچ و مهره", "1000"));
    let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(&text);
    std::fs::write(&p, &bytes).unwrap();
    let got: Vec<_> = load_paths(std::slice::from_ref(&p)).collect();
    assert_eq!(got.len(), 1);
    let v = got[0].value.as_ref().expect("read");
    assert_eq!(v["body"][0]["sstt"], "پيچ و مهره");
    assert!(got[0].source.contains("Windows-1256"), "{}", got[0].source);
}

#[test]
fn encoding_option_overrides_detection() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("win.csv");
    let text = format!("{HEAD}\n{}\n", line("1", "پيچ", "1000"));
    std::fs::write(&p, encoding_rs::WINDOWS_1256.encode(&text).0).unwrap();
    let opts = ReadOptions {
        encoding: Some(moadian::import::encoding::CsvEncoding::Utf8),
        ..Default::default()
    };
    let errs = all_errors(&p, opts);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].1.contains("not valid UTF-8"), "{errs:?}");
}

// ---- 2. Structure ------------------------------------------------------------------------

#[test]
fn a_truncated_csv_row_is_an_error_with_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.csv");
    let full = line("1", "پیچ", "1000");
    let cut: String = full.split(',').take(7).collect::<Vec<_>>().join(",");
    std::fs::write(&p, format!("{HEAD}\n{full}\n{cut}\n")).unwrap();
    let errs = all_errors(&p, ReadOptions::default());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].1.contains("row 3") && errs[0].1.contains("7 cells") && errs[0].1.contains("13"),
        "{errs:?}"
    );
}

#[test]
fn a_row_with_an_extra_cell_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("extra.csv");
    std::fs::write(&p, format!("{HEAD}\n{},5\n", line("1", "پیچ", "1000"))).unwrap();
    let errs = all_errors(&p, ReadOptions::default());
    assert!(
        errs[0].1.contains("row 2") && errs[0].1.contains("14 cells"),
        "{errs:?}"
    );
}

#[test]
fn a_spreadsheet_row_without_line_item_fields_is_an_error_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lines.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let heads: Vec<&str> = HEAD.split(',').collect();
    let rows = [
        line("7", "پیچ", "1000"),
        // Same invoice, header columns only: the line item's cells are empty.
        "7,1403/08/15 10:00,2,1,1,14003778990,2,,,,,,".to_string(),
    ];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.split(',').enumerate() {
            if !cell.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, cell).unwrap();
            }
        }
    }
    wb.save(&p).unwrap();
    let errs = all_errors(&p, ReadOptions::default());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].1.contains("row 3") && errs[0].1.contains("no line-item field"),
        "{errs:?}"
    );
}

#[test]
fn a_value_under_a_column_without_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nohead.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEAD.split(',').enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    for (c, cell) in line("1", "پیچ", "1000").split(',').enumerate() {
        ws.write_string(1, c as u16, cell).unwrap();
    }
    ws.write_string(1, 14, "500").unwrap();
    wb.save(&p).unwrap();
    let errs = all_errors(&p, ReadOptions::default());
    assert!(
        errs.len() == 1 && errs[0].1.contains("row 2, column O") && errs[0].1.contains("no header"),
        "{errs:?}"
    );
}

#[test]
fn duplicate_json_keys_are_an_error_with_line_and_column() {
    // EC_V02 table 7 row 1: «فیلد … تکرار شده است».
    let one = "{\"header\": {\"tbill\": 100,\n  \"inty\": 1, \"tbill\": 999}}\n";
    let v: Vec<_> = load_bytes("d.json", one.as_bytes().to_vec()).collect();
    match &v[0].value {
        Err(
            e @ LoadError::DuplicateKey {
                line, column, key, ..
            },
        ) => {
            assert_eq!((*line, key.as_str()), (2, "\"tbill\""));
            assert!(*column >= 14 && *column <= 22, "{column}");
            assert!(e.message().fa.contains("تکرار شده است"));
        }
        other => panic!("{other:?}"),
    }
    // In an array, in JSON Lines and one after another: each with its position.
    let arr = "[\n{\"header\":{}},\n{\"body\":[{\"am\":1,\"am\":2}]}\n]";
    let v: Vec<_> = load_bytes("a.json", arr.as_bytes().to_vec()).collect();
    assert!(v[0].value.is_ok());
    assert!(
        matches!(
            &v[1].value,
            Err(LoadError::DuplicateKey {
                line: 3,
                column: 21,
                ..
            })
        ),
        "{v:?}"
    );
    let lines = "{\"header\":{}}\n{\"header\":{},\"header\":{}}\n";
    let v: Vec<_> = load_bytes("l.jsonl", lines.as_bytes().to_vec()).collect();
    assert!(v[0].value.is_ok());
    assert!(
        matches!(&v[1].value, Err(LoadError::DuplicateKey { line: 2, .. })),
        "{v:?}"
    );
    // Keys that differ only in case are different keys (the rules warn about them).
    let ok = "{\"header\":{\"indati2m\":1,\"Indati2m\":1}}";
    assert!(load_bytes("c.json", ok.as_bytes().to_vec()).all(|l| l.value.is_ok()));
}

#[test]
fn exact_numbers_and_key_order_survive_the_duplicate_check() {
    let text = r#"{"header":{"tbill":123456789012345678901.25,"b":1,"a":2}}"#;
    let v: Vec<_> = load_bytes("n.json", text.as_bytes().to_vec()).collect();
    let v = v[0].value.as_ref().unwrap();
    assert_eq!(v["header"]["tbill"].to_string(), "123456789012345678901.25");
    let keys: Vec<_> = v["header"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["tbill", "b", "a"]);
}

// ---- 3. Limits ---------------------------------------------------------------------------

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReadOptions {
        max_file_bytes: 1024,
        ..Default::default()
    };
    // A pretty-printed object is read whole: a file over the limit is refused.
    let big = format!("{{\n\"header\": {{\"x\": \"{}\"}}\n}}\n", "y".repeat(2000));
    let p = write(dir.path(), "big.json", big.as_bytes());
    let errs = all_errors(&p, opts.clone());
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].1.contains("big.json") && errs[0].1.contains("--max-file-mib"),
        "{errs:?}"
    );
    // A JSON Lines line over the limit is an error of that line; the others still load.
    let lines = format!(
        "{{\"header\":{{}}}}\n{{\"x\":\"{}\"}}\n{{\"header\":{{}}}}\n",
        "y".repeat(5000)
    );
    let p = write(dir.path(), "l.jsonl", lines.as_bytes());
    let got: Vec<_> = load_paths_with(&[p], opts).collect();
    assert_eq!(got.len(), 3);
    assert!(got[0].value.is_ok() && got[2].value.is_ok());
    assert!(
        matches!(
            &got[1].value,
            Err(LoadError::TooLarge { line: Some(2), .. })
        ),
        "{got:?}"
    );
}

#[test]
fn a_json_array_is_streamed_each_invoice_bounded_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReadOptions {
        max_file_bytes: 1024,
        ..Default::default()
    };
    // 2000 invoices, 28 times the limit: every one is read.
    let big = format!("[{}]", vec!["{\"header\":{}}"; 2000].join(",\n"));
    assert!(big.len() > 20 * 1024);
    let p = write(dir.path(), "big.json", big.as_bytes());
    let got: Vec<_> = load_paths_with(&[p], opts.clone()).collect();
    assert_eq!(got.len(), 2000);
    assert!(got.iter().all(|l| l.value.is_ok()));
    assert_eq!(got[1999].source.rsplit('#').next(), Some("1999"));
    // One element over the limit is an error of that invoice (with its line), skipped
    // without being kept; the ones around it still load.
    let arr = format!(
        "[\n{{\"header\":{{}}}},\n  {{\"x\":[\"{}\", {{\"y\": \"]}}\"}}]}},\n{{\"header\":{{}}}}\n]",
        "y".repeat(5000)
    );
    let p = write(dir.path(), "one-big.json", arr.as_bytes());
    let got: Vec<_> = load_paths_with(&[p], opts).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].value.is_ok() && got[2].value.is_ok());
    assert!(
        matches!(
            &got[1].value,
            Err(LoadError::TooLarge { line: Some(3), .. })
        ),
        "{got:?}"
    );
}

#[test]
fn a_long_field_is_an_error_that_shows_at_most_200_characters() {
    let dir = tempfile::tempdir().unwrap();
    let long = "ب".repeat(5 << 20);
    let text = format!("{{\"header\":{{}},\"body\":[{{\"sstt\":\"{long}\"}}]}}");
    let p = write(dir.path(), "long.json", text.as_bytes());
    let got: Vec<_> = load_paths(&[p]).collect();
    let m = got[0].value.as_ref().expect_err("too long").message();
    assert!(
        m.en.contains("body[0].sstt") && m.en.contains("limit of 1000"),
        "{}",
        m.en
    );
    assert!(m.en.chars().count() < 400 && m.fa.chars().count() < 400);
    // A 5 MB key is clipped in the duplicate-key message too.
    let key = "k".repeat(5 << 20);
    let text = format!("{{\"{key}\":1,\"{key}\":2}}");
    let v: Vec<_> = load_bytes("k.json", text.into_bytes()).collect();
    let m = v[0].value.as_ref().expect_err("dup").message();
    assert!(m.en.chars().count() < 600, "{}", m.en.len());
}

/// An XLSX whose one sheet inflates to `size` bytes of spaces (a tiny zip, a big sheet).
fn zip_bomb(path: &Path, size: usize) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("[Content_Types].xml", opts).unwrap();
    z.write_all(b"<?xml version=\"1.0\"?><Types/>").unwrap();
    z.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        z.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    z.finish().unwrap();
}

#[test]
fn an_xlsx_zip_bomb_is_refused_before_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.xlsx");
    zip_bomb(&p, 200 << 20);
    assert!(std::fs::metadata(&p).unwrap().len() < (1 << 20));
    let errs = all_errors(&p, ReadOptions::default());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].1.contains("--max-xlsx-mib") && errs[0].1.contains("bomb.xlsx"),
        "{errs:?}"
    );
}

/// A small workbook whose cells all point at one long shared string: the text the cells hold
/// counts against `--max-xlsx-mib` like the parts' decompressed size, so it is refused (naming
/// the sheet, the row and the limit) instead of being copied into every cell.
#[test]
fn an_xlsx_repeating_one_long_shared_string_is_refused_by_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("amplified.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEAD.split(',').enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    let long = "ب".repeat(999);
    for r in 1..=200u32 {
        for c in 0..HEAD.split(',').count() as u16 {
            ws.write_string(r, c, &long).unwrap();
        }
    }
    wb.save(&p).unwrap();
    assert!(std::fs::metadata(&p).unwrap().len() < 200_000);
    let opts = ReadOptions {
        max_xlsx_bytes: 1 << 20,
        ..Default::default()
    };
    let errs = all_errors(&p, opts);
    let first = errs
        .first()
        .map(|e| e.1.chars().take(600).collect::<String>());
    assert_eq!(errs.len(), 1, "{} errors, the first: {first:?}", errs.len());
    assert!(
        errs[0].1.contains("--max-xlsx-mib")
            && errs[0].1.contains("text")
            && errs[0].1.contains("row")
            && errs[0].1.contains("amplified.xlsx"),
        "{errs:?}"
    );
}

#[test]
fn an_xlsx_over_the_cell_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cells.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEAD.split(',').enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    // One far-away cell would make a row 16,384 cells wide.
    ws.write_string(1, 16_000, "x").unwrap();
    wb.save(&p).unwrap();
    let opts = ReadOptions {
        max_cells: 10_000,
        ..Default::default()
    };
    let errs = all_errors(&p, opts);
    assert!(
        errs.len() == 1 && errs[0].1.contains("--max-cells"),
        "{errs:?}"
    );
}
