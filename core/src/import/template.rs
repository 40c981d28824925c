//! Spreadsheet templates for accountants (`moadian template`): the columns one fills in by hand
//! (quantities, prices, discounts, rates; `--fill` computes the rest) with Persian and English
//! headers, in either layout, as XLSX or CSV; blank for `moadian template`, or with one example
//! invoice (the workbooks in `examples/spreadsheets/`). Every cell is text-formatted
//! so Excel keeps leading zeros and exact amounts.

use super::columns::{by_key, template_header, Column, COLUMNS};
use super::jalali;
use rust_xlsxwriter::{DataValidation, Format, Workbook};
use std::path::{Path, PathBuf};

/// Which layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// A header sheet and an items sheet joined by `invoice_no`.
    TwoSheet,
    /// One sheet, one row per line item, header columns repeated.
    OneRowPerLine,
}

/// File format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format_ {
    Xlsx,
    Csv,
}

/// Why a template could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot write {path}: {message} / فایل {path} نوشته نشد")]
    Write { path: String, message: String },
}

/// The header columns of the template, in order.
pub const HEADER_KEYS: &[&str] = &[
    "invoice_no",
    "indatim",
    "inty",
    "inp",
    "ins",
    "tins",
    "tob",
    "tinb",
    "bid",
    "bpc",
    "setm",
];
/// The item columns of the template, in order.
pub const ITEM_KEYS: &[&str] = &["sstid", "sstt", "am", "mu", "fee", "dis", "vra"];

/// Code columns get a drop-down list and a note saying what each code means.
const CODE_LISTS: &[(&str, &[&str], &str)] = &[
    ("inty", &["1", "2", "3"], "۱ نوع اول، ۲ نوع دوم، ۳ نوع سوم (پایانه فروشگاهی)\n1 type 1 (full buyer), 2 type 2, 3 type 3 (POS receipt)"),
    ("inp", &["1", "2", "3", "4", "5", "6", "7", "8", "9", "11", "13", "14"], "۱ فروش، ۲ ارز، ۳ طلا، ۴ پیمانکاری، ۵ قبوض، ۶ بلیت، ۷ صادرات، ۸ بارنامه، ۹ نفتی، ۱۱ بورس، ۱۳ بیمه، ۱۴ زنجیره\n1 sale, 2 currency, 3 gold, 4 contract, 5 bills, 6 ticket, 7 export, 8 lading, 9 petroleum, 11 exchange, 13 insurance, 14 chain"),
    ("ins", &["1", "2", "3", "4"], "۱ اصلی، ۲ اصلاحی، ۳ ابطالی، ۴ برگشت از فروش\n1 original, 2 correction, 3 cancellation, 4 sales return"),
    ("tob", &["1", "2", "3", "4"], "۱ حقیقی، ۲ حقوقی، ۳ مشارکت مدنی، ۴ اتباع غیرایرانی\n1 natural person, 2 legal person, 3 civil partnership, 4 foreign national"),
    ("setm", &["1", "2", "3"], "۱ نقدی، ۲ نسیه، ۳ نقدی و نسیه\n1 cash, 2 credit, 3 cash and credit"),
];

/// The example invoice: two lines, dated `date` (Jalali text, Tehran time).
fn example_rows(date: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let header = [
        "1001",
        date,
        "1",
        "1",
        "1",
        "14003778990",
        "2",
        "10100302746",
        "",
        "",
        "1",
    ]
    .map(String::from)
    .to_vec();
    let items = vec![
        [
            "2330001234567",
            "کالای نمونه / sample goods",
            "2",
            "1627",
            "10000",
            "500",
            "10",
        ],
        [
            "2330001234574",
            "خدمت نمونه / sample service",
            "1.5",
            "16103",
            "120000",
            "0",
            "10",
        ],
    ]
    .into_iter()
    .map(|r| r.map(String::from).to_vec())
    .collect();
    (header, items)
}

fn cols(keys: &[&str]) -> Vec<&'static Column> {
    keys.iter().filter_map(|k| by_key(k)).collect()
}

/// Today's date at 09:00 Tehran, Jalali text (the example's issue date).
pub fn example_date(now_ms: i64) -> String {
    match jalali::jalali_of_unix_ms(now_ms) {
        Some(j) => format!("{j} 09:00"),
        None => "1405/01/01 09:00".into(),
    }
}

/// One sheet to write: name, header cells, data rows.
type Sheet = (&'static str, Vec<String>, Vec<Vec<String>>);

/// What goes under the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Headers only: nothing that could be submitted by mistake (`moadian template`).
    Blank,
    /// One example invoice of two lines, dated `now_ms` (the workbooks in
    /// `examples/spreadsheets/`).
    Example,
}

/// The files a template at `out` consists of: `out`, and for the CSV two-sheet layout also
/// `NAME.items.csv` beside it.
pub fn template_files(out: &Path, layout: Layout, format: Format_) -> Vec<PathBuf> {
    let mut v = vec![out.to_path_buf()];
    if layout == Layout::TwoSheet && format == Format_::Csv {
        v.push(sibling_csv(out, "items"));
    }
    v
}

fn sibling_csv(out: &Path, name: &str) -> PathBuf {
    let stem = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".csv").unwrap_or(&stem).to_string();
    out.with_file_name(format!("{stem}.{name}.csv"))
}

/// Writes a template with the example invoice. Returns the files written (CSV two-sheet writes
/// two files).
pub fn write_template(
    out: &Path,
    layout: Layout,
    format: Format_,
    now_ms: i64,
) -> Result<Vec<PathBuf>, TemplateError> {
    write_template_rows(out, layout, format, now_ms, Rows::Example)
}

/// Writes a template, blank or with the example invoice.
pub fn write_template_rows(
    out: &Path,
    layout: Layout,
    format: Format_,
    now_ms: i64,
    rows: Rows,
) -> Result<Vec<PathBuf>, TemplateError> {
    let date = example_date(now_ms);
    let (hrow, mut irows) = example_rows(&date);
    if rows == Rows::Blank {
        irows.clear();
    }
    let hcols = cols(HEADER_KEYS);
    let icols = cols(ITEM_KEYS);
    let err = |p: &Path, e: String| TemplateError::Write {
        path: p.display().to_string(),
        message: e,
    };
    let sheets: Vec<Sheet> = match layout {
        Layout::TwoSheet => {
            let mut items = Vec::new();
            for r in &irows {
                let mut row = vec![hrow[0].clone()];
                row.extend(r.iter().cloned());
                items.push(row);
            }
            let mut ih = vec![template_header(hcols[0])];
            ih.extend(icols.iter().map(|c| template_header(c)));
            vec![
                (
                    "header",
                    hcols.iter().map(|c| template_header(c)).collect(),
                    if rows == Rows::Blank {
                        vec![]
                    } else {
                        vec![hrow.clone()]
                    },
                ),
                ("items", ih, items),
            ]
        }
        Layout::OneRowPerLine => {
            let headers = hcols
                .iter()
                .chain(icols.iter())
                .map(|c| template_header(c))
                .collect();
            let rows = irows
                .iter()
                .map(|r| hrow.iter().chain(r.iter()).cloned().collect())
                .collect();
            vec![("invoices", headers, rows)]
        }
    };
    match format {
        Format_::Csv => {
            let mut written = Vec::new();
            for (i, (name, headers, rows)) in sheets.iter().enumerate() {
                let path = if i == 0 {
                    out.to_path_buf()
                } else {
                    sibling_csv(out, name)
                };
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(headers)
                    .map_err(|e| err(&path, e.to_string()))?;
                for r in rows {
                    w.write_record(r).map_err(|e| err(&path, e.to_string()))?;
                }
                let mut bytes = "\u{feff}".as_bytes().to_vec();
                bytes.extend(w.into_inner().map_err(|e| err(&path, e.to_string()))?);
                std::fs::write(&path, bytes).map_err(|e| err(&path, e.to_string()))?;
                written.push(path);
            }
            Ok(written)
        }
        Format_::Xlsx => {
            let mut wb = Workbook::new();
            let text = Format::new().set_num_format("@");
            let bold = Format::new().set_bold().set_num_format("@").set_text_wrap();
            for (name, headers, rows) in &sheets {
                let ws = wb.add_worksheet();
                ws.set_name(*name).map_err(|e| err(out, e.to_string()))?;
                ws.set_right_to_left(true);
                for (c, h) in headers.iter().enumerate() {
                    let c = c as u16;
                    ws.set_column_format(c, &text)
                        .map_err(|e| err(out, e.to_string()))?;
                    ws.set_column_width(c, 24)
                        .map_err(|e| err(out, e.to_string()))?;
                    ws.write_string_with_format(0, c, h, &bold)
                        .map_err(|e| err(out, e.to_string()))?;
                }
                for (r, row) in rows.iter().enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        if v.is_empty() {
                            continue;
                        }
                        ws.write_string_with_format((r + 1) as u32, c as u16, v, &text)
                            .map_err(|e| err(out, e.to_string()))?;
                    }
                }
                ws.set_freeze_panes(1, 0)
                    .map_err(|e| err(out, e.to_string()))?;
                for (key, list, msg) in CODE_LISTS {
                    let Some(col) = by_key(key).map(template_header) else {
                        continue;
                    };
                    let Some(c) = headers.iter().position(|h| *h == col) else {
                        continue;
                    };
                    let dv = DataValidation::new()
                        .allow_list_strings(list)
                        .and_then(|d| d.set_input_title(*key))
                        .and_then(|d| d.set_input_message(*msg))
                        .map_err(|e| err(out, e.to_string()))?;
                    ws.add_data_validation(1, c as u16, 10_000, c as u16, &dv)
                        .map_err(|e| err(out, e.to_string()))?;
                }
            }
            let help = wb.add_worksheet();
            help.set_name("راهنما")
                .map_err(|e| err(out, e.to_string()))?;
            help.set_right_to_left(true);
            let lines = [
                "هر ستون رسمی صورتحساب را می‌توان افزود؛ عنوان فارسی، نام انگلیسی یا کلید رسمی پذیرفته است.",
                "Any official invoice field may be added as a column; its Persian title, English name or official key is accepted.",
                "تاریخ‌ها شمسی (۱۴۰۳/۰۸/۱۵ ۱۴:۳۰) یا میلادی، به وقت تهران. / Dates Jalali or Gregorian, Tehran time.",
                "مبالغ محاسبه‌شدنی را خالی بگذارید و moadian enqueue --fill بزنید. / Leave computed amounts empty and use --fill.",
                "",
            ];
            let mut r = 0u32;
            for l in lines {
                help.write_string(r, 0, l)
                    .map_err(|e| err(out, e.to_string()))?;
                r += 1;
            }
            for c in COLUMNS {
                help.write_string(r, 0, c.key)
                    .map_err(|e| err(out, e.to_string()))?;
                help.write_string(r, 1, c.fa)
                    .map_err(|e| err(out, e.to_string()))?;
                help.write_string(r, 2, c.en)
                    .map_err(|e| err(out, e.to_string()))?;
                r += 1;
            }
            help.set_column_width(0, 14)
                .map_err(|e| err(out, e.to_string()))?;
            help.set_column_width(1, 40)
                .map_err(|e| err(out, e.to_string()))?;
            help.set_column_width(2, 30)
                .map_err(|e| err(out, e.to_string()))?;
            wb.save(out).map_err(|e| err(out, e.to_string()))?;
            Ok(vec![out.to_path_buf()])
        }
    }
}
