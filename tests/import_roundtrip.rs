//! Spreadsheets (XLSX in both layouts, CSV in both layouts, and the committed examples) import
//! to the same invoice JSON — and the same typed model — as the equivalent JSON file; errors
//! name the sheet, row and column.

use moadian::import::{self, load_file};
use moadian::invoice::Invoice;
use rust_xlsxwriter::Workbook;
use serde_json::Value;
use std::path::Path;

/// 1403/08/15 14:30 Tehran = 2024-11-05 11:00 UTC.
const D1: i64 = 1_730_804_400_000;
/// 1403/08/16 09:00 Tehran = 2024-11-06 05:30 UTC.
const D2: i64 = 1_730_871_000_000;
/// 1403/09/01 00:00 Tehran = 2024-11-20 20:30 UTC (midnight local is the day before in UTC).
const D3: i64 = 1_732_134_600_000;

/// The three invoices as JSON: what every spreadsheet below must import to.
fn expected() -> Vec<Value> {
    let text = format!(
        r#"[
      {{"header":{{"indatim":{D1},"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"tinb":"10100302746","setm":1}},
        "body":[{{"sstid":"2330001234567","sstt":"پیچ فولادی","am":2,"mu":"1627","fee":10000,"dis":500,"vra":9}},
                {{"sstid":"2330001234574","sstt":"خدمات نصب","am":1.5,"mu":"16103","fee":120000.25,"dis":0,"vra":10}}],
        "payments":[]}},
      {{"header":{{"indatim":{D2},"inty":2,"inp":1,"ins":1,"tins":"14003778990","setm":1}},
        "body":[{{"sstid":"0000000000017","sstt":"کالای ۲","am":3,"mu":"1627","fee":333,"dis":0,"vra":9}}],
        "payments":[]}},
      {{"header":{{"indatim":{D3},"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":1,"bid":"0012345678","bpc":"1234567890","setm":2}},
        "body":[{{"sstid":"2330001234567","sstt":"x","am":1,"mu":"1627","fee":123456789012345678,"dis":0,"vra":0}}],
        "payments":[]}}
    ]"#
    );
    serde_json::from_str::<Vec<Value>>(&text).expect("expected JSON")
}

const HEADER_COLS: [&str; 11] = [
    "شماره فاکتور",
    "تاریخ و زمان صدور صورتحساب",
    "نوع صورتحساب",
    "الگوی صورتحساب",
    "موضوع صورتحساب",
    "tins",
    "Buyer type",
    "tinb",
    "bid",
    "کد پستی خریدار",
    "روش تسویه / Settlement method (setm)",
];
const ITEM_COLS: [&str; 8] = [
    "invoice_no",
    "sstid",
    "sstt",
    "am",
    "واحد اندازه گیری",
    "Unit price",
    "dis",
    "vra",
];

fn header_rows() -> Vec<[&'static str; 11]> {
    vec![
        [
            "A-1",
            "1403/08/15 14:30",
            "1",
            "1",
            "1",
            "14003778990",
            "2",
            "10100302746",
            "",
            "",
            "1",
        ],
        [
            "A-2",
            "2024-11-06 09:00",
            "2",
            "1",
            "1",
            "14003778990",
            "",
            "",
            "",
            "",
            "1",
        ],
        [
            "A-3",
            "۱۴۰۳/۰۹/۰۱",
            "1",
            "1",
            "1",
            "14003778990",
            "1",
            "",
            "0012345678",
            "1234567890",
            "2",
        ],
    ]
}

fn item_rows() -> Vec<[&'static str; 8]> {
    vec![
        [
            "A-1",
            "2330001234567",
            "پیچ فولادی",
            "2",
            "1627",
            "10,000",
            "500",
            "9",
        ],
        [
            "A-2",
            "0000000000017",
            "کالای ۲",
            "3",
            "1627",
            "333",
            "0",
            "9",
        ],
        [
            "A-1",
            "2330001234574",
            "خدمات نصب",
            "1.50",
            "16103",
            "120000.25",
            "0",
            "10",
        ],
        [
            "A-3",
            "2330001234567",
            "x",
            "1",
            "1627",
            "123456789012345678",
            "0",
            "0",
        ],
    ]
}

fn sorted_by_date(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x["header"]["indatim"].as_i64());
    v
}

fn import_ok(path: &Path) -> Vec<Value> {
    let got = load_file(path);
    let mut out = Vec::new();
    for i in got {
        match i.value {
            Ok(v) => out.push(v),
            Err(e) => panic!("{}: {}", i.source, e.en),
        }
    }
    out
}

fn assert_same(got: Vec<Value>, what: &str) {
    let got = sorted_by_date(got);
    let want = sorted_by_date(expected());
    assert_eq!(got.len(), want.len(), "{what}: number of invoices");
    for (g, w) in got.iter().zip(&want) {
        // Same JSON (exact numbers, same strings) ...
        assert_eq!(g, w, "{what}: JSON differs\n got {g}\nwant {w}");
        // ... and the same typed model.
        let gm = Invoice::from_value(g).expect("model of imported");
        let wm = Invoice::from_value(w).expect("model of JSON");
        assert_eq!(gm, wm, "{what}: model differs");
    }
}

fn write_csv(path: &Path, headers: &[&str], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(headers).expect("csv header");
    for r in rows {
        w.write_record(r).expect("csv row");
    }
    w.flush().expect("flush");
}

#[test]
fn csv_two_files_import_like_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let h = dir.path().join("book.csv");
    let hr: Vec<Vec<String>> = header_rows()
        .iter()
        .map(|r| r.map(String::from).to_vec())
        .collect();
    let ir: Vec<Vec<String>> = item_rows()
        .iter()
        .map(|r| r.map(String::from).to_vec())
        .collect();
    write_csv(&h, &HEADER_COLS, &hr);
    write_csv(&dir.path().join("book.items.csv"), &ITEM_COLS, &ir);
    assert_same(import_ok(&h), "csv two files");
    // The items file alone is part of book.csv and yields nothing by itself.
    assert!(load_file(&dir.path().join("book.items.csv")).is_empty());
}

#[test]
fn csv_one_row_per_line_imports_like_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("lines.csv");
    let mut headers: Vec<&str> = HEADER_COLS.to_vec();
    headers.extend(&ITEM_COLS[1..]);
    let rows: Vec<Vec<String>> = item_rows()
        .iter()
        .map(|it| {
            let h = header_rows()
                .into_iter()
                .find(|h| h[0] == it[0])
                .expect("header");
            h.iter()
                .chain(it[1..].iter())
                .map(|s| s.to_string())
                .collect()
        })
        .collect();
    write_csv(&p, &headers, &rows);
    assert_same(import_ok(&p), "csv one row per line");
}

#[test]
fn xlsx_two_sheets_with_numeric_cells_import_like_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("book.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("سرآمد").expect("name");
    for (c, h) in HEADER_COLS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("w");
    }
    for (r, row) in header_rows().iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            // Small enums as numbers, like Excel users type them; ids as text.
            if matches!(c, 2 | 3 | 4 | 6 | 10) {
                ws.write_number((r + 1) as u32, c as u16, v.parse::<f64>().expect("n"))
                    .expect("w");
            } else {
                ws.write_string((r + 1) as u32, c as u16, *v).expect("w");
            }
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name("items").expect("name");
    for (c, h) in ITEM_COLS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("w");
    }
    for (r, row) in item_rows().iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            // Quantities, rates and ordinary prices as numeric cells (decimal fractions too);
            // the 18-digit price stays text, as the template formats every column.
            let numeric = matches!(c, 3 | 6 | 7) || (c == 5 && v.len() < 15 && !v.contains(','));
            if numeric {
                ws.write_number((r + 1) as u32, c as u16, v.parse::<f64>().expect("n"))
                    .expect("w");
            } else {
                ws.write_string((r + 1) as u32, c as u16, *v).expect("w");
            }
        }
    }
    wb.save(&p).expect("save");
    assert_same(import_ok(&p), "xlsx two sheets");
}

#[test]
fn xlsx_numeric_cell_with_too_many_digits_is_refused_with_place() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("bad.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("invoices").expect("name");
    for (c, h) in [
        "invoice_no",
        "indatim",
        "inty",
        "inp",
        "ins",
        "tins",
        "sstid",
        "am",
        "fee",
        "vra",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).expect("w");
    }
    let vals = [
        "1",
        "1403/08/15",
        "2",
        "1",
        "1",
        "14003778990",
        "2330001234567",
    ];
    for (c, v) in vals.iter().enumerate() {
        ws.write_string(1, c as u16, *v).expect("w");
    }
    ws.write_number(1, 7, 1.0).expect("w");
    ws.write_number(1, 8, 12345678901234567.0).expect("w");
    ws.write_number(1, 9, 9.0).expect("w");
    wb.save(&p).expect("save");
    let got = load_file(&p);
    assert_eq!(got.len(), 1);
    let e = &got[0].value.as_ref().expect_err("must refuse").en;
    assert!(e.contains("sheet «invoices»"), "{e}");
    assert!(e.contains("row 2"), "{e}");
    assert!(e.contains("column I «fee»"), "{e}");
    assert!(e.contains("15 significant digits"), "{e}");
}

#[test]
fn spreadsheet_errors_name_sheet_row_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let h = dir.path().join("err.csv");
    let mut hr: Vec<Vec<String>> = header_rows()
        .iter()
        .map(|r| r.map(String::from).to_vec())
        .collect();
    hr[1][1] = "1403/13/40".into(); // bad date, row 3 of the file
    let mut ir: Vec<Vec<String>> = item_rows()
        .iter()
        .map(|r| r.map(String::from).to_vec())
        .collect();
    ir[0][5] = "ten thousand".into(); // bad price, row 2 of the items file
    ir.push(
        ["A-9", "2330001234567", "?", "1", "1627", "1", "0", "9"]
            .map(String::from)
            .to_vec(),
    );
    write_csv(&h, &HEADER_COLS, &hr);
    write_csv(&dir.path().join("err.items.csv"), &ITEM_COLS, &ir);
    let got = load_file(&h);
    let errs: Vec<&String> = got
        .iter()
        .filter_map(|i| i.value.as_ref().err().map(|m| &m.en))
        .collect();
    let all = errs
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("sheet «err.csv», row 3, column B «تاریخ و زمان صدور صورتحساب»"),
        "{all}"
    );
    assert!(
        all.contains("sheet «err.items.csv», row 2, column F «Unit price»"),
        "{all}"
    );
    assert!(all.contains("row 6") && all.contains("\"A-9\""), "{all}");
    // The invoice with no problem still imports.
    assert!(got.iter().any(|i| i.value.is_ok()));
}

#[test]
fn unknown_column_is_reported_and_mapping_file_fixes_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("m.csv");
    write_csv(
        &p,
        &[
            "invoice_no",
            "indatim",
            "inty",
            "inp",
            "ins",
            "tins",
            "Kala",
            "am",
            "fee",
            "dis",
            "vra",
        ],
        &[[
            "1",
            "1403/08/15 14:30",
            "2",
            "1",
            "1",
            "14003778990",
            "2330001234567",
            "1",
            "5",
            "0",
            "9",
        ]
        .map(String::from)
        .to_vec()],
    );
    let e = load_file(&p)[0]
        .value
        .clone()
        .expect_err("unknown column")
        .en;
    assert!(e.contains("column G «Kala»"), "{e}");
    std::fs::write(
        dir.path().join("m.columns.toml"),
        "[columns]\nKala = \"sstid\"\n",
    )
    .expect("w");
    let v = load_file(&p)[0].value.clone().expect("mapped");
    assert_eq!(v["body"][0]["sstid"], "2330001234567");
    // A mapping to a field that does not exist: named in each language on its own side.
    std::fs::write(
        dir.path().join("m.columns.toml"),
        "[columns]\nKala = \"sstidd\"\n",
    )
    .expect("w");
    let e = load_file(&p)[0].value.clone().expect_err("unknown field");
    assert!(
        e.en.contains("\"sstidd\"") && e.en.contains("m.columns.toml"),
        "{}",
        e.en
    );
    assert!(!e.en.contains("نگاشت"), "English only: {}", e.en);
    assert!(
        e.fa.contains("sstidd") && e.fa.contains("نگاشت"),
        "{}",
        e.fa
    );
    assert!(!e.fa.contains("which is not"), "Persian only: {}", e.fa);
}

#[test]
fn committed_examples_import() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/spreadsheets"
    ));
    let mut n = 0;
    for name in [
        "two-sheet.xlsx",
        "one-row-per-line.xlsx",
        "two-sheet.csv",
        "one-row-per-line.csv",
    ] {
        let p = dir.join(name);
        assert!(p.is_file(), "missing example {}", p.display());
        let got = import_ok(&p);
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0]["body"].as_array().map(Vec::len), Some(2), "{name}");
        n += 1;
    }
    assert_eq!(n, 4);
    let _ = import::columns::COLUMNS.len();
}

#[test]
fn templates_in_every_layout_and_format_import_and_fill() {
    use moadian::import::template::{write_template, Format_, Layout};
    let dir = tempfile::tempdir().expect("tmp");
    for layout in [Layout::TwoSheet, Layout::OneRowPerLine] {
        for (format, ext) in [(Format_::Xlsx, "xlsx"), (Format_::Csv, "csv")] {
            let out = dir.path().join(format!("t-{layout:?}.{ext}"));
            let written = write_template(&out, layout, format, D1).expect("template");
            let two_csv = layout == Layout::TwoSheet && format == Format_::Csv;
            assert_eq!(written.len(), if two_csv { 2 } else { 1 });
            let mut got = import_ok(&out);
            assert_eq!(got.len(), 1, "{layout:?} {ext}");
            // The example is dated the given day at 09:00 Tehran.
            assert_eq!(
                got[0]["header"]["indatim"], 1_730_784_600_000i64,
                "{layout:?} {ext}"
            );
            let filled = moadian::import::fill::fill_invoice(&mut got[0]).expect("fill");
            assert!(filled.iter().any(|f| f.field == "header.tbill"));
            // 2 × 10000 − 500 + 10% → 21450; 1.5 × 120000 + 10% → 198000.
            assert_eq!(got[0]["header"]["tbill"].to_string(), "219450");
        }
    }
}

#[test]
fn xlsx_date_formatted_cells_are_tehran_local_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("dates.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let heads = [
        "invoice_no",
        "indatim",
        "inty",
        "inp",
        "ins",
        "tins",
        "sstid",
        "am",
        "fee",
        "dis",
        "vra",
    ];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("w");
    }
    // 2024-11-05 14:30 as Excel shows it (serial 45601 + 14.5/24), date-formatted.
    let f = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
    ws.write_number_with_format(1, 1, 45601.0 + 14.5 / 24.0, &f)
        .expect("w");
    for (c, v) in [
        "7",
        "",
        "2",
        "1",
        "1",
        "14003778990",
        "2330001234567",
        "1",
        "1000",
        "0",
        "9",
    ]
    .iter()
    .enumerate()
    {
        if c != 1 {
            ws.write_string(1, c as u16, *v).expect("w");
        }
    }
    wb.save(&p).expect("save");
    let got = import_ok(&p);
    assert_eq!(got[0]["header"]["indatim"], D1);
}
