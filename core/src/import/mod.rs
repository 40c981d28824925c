//! Import invoices from spreadsheets (XLSX, CSV) in Persian or English column names, with
//! Jalali or Gregorian dates, into the official invoice JSON; and `--fill`, which computes what
//! follows from the lines.
//!
//! Layouts (see [`build`]): two sheets (`header` + `items`, optional `payments`, joined by
//! `invoice_no`) or one row per line item. For CSV the two-sheet layout is two files:
//! `NAME.csv` (header rows) and `NAME.items.csv` (+ optional `NAME.payments.csv`) side by side.
//!
//! Column names: official keys (`indatim`), English names (`Issue date`), Persian titles
//! (`تاریخ و زمان صدور صورتحساب`), or the template's combined header. A mapping file adds one's
//! own names: `NAME.columns.toml` next to the spreadsheet, or `moadian-columns.toml` in its
//! folder, holding `"header as in my sheet" = "official_key"` lines.
//!
//! Dates: Jalali (`1403/08/15`, `1403/08/15 14:30`) or Gregorian (`2024-11-05 14:30`), read as
//! **Tehran local time** (UTC+03:30; +04:30 in the summer halves of 1387–1401 when Iran still
//! had daylight saving time), or RFC 3339 with an explicit offset, or Unix ms. Amounts are
//! exact decimals; XLSX numeric cells are read through their shortest round-trip text and
//! refused when they carry more than 15 significant digits. CSV files are UTF-8 (with or
//! without a byte-order mark) or, when the whole file is not UTF-8 and reads as plausible
//! Persian in it, Windows-1256 (Excel's plain CSV on Persian Windows); see [`encoding`].
//! Limits on sizes and cells: [`limits`].

pub mod build;
pub mod cells;
pub mod columns;
pub mod encoding;
pub mod fill;
pub mod formulas;
pub mod jalali;
pub mod limits;
pub mod referral;
pub mod sheet;
pub mod template;
mod xlsx_guard;

use crate::lang::Message;
use columns::{normalize, Mapping};
use limits::ReadOptions;
use std::path::{Path, PathBuf};

/// One invoice read from a spreadsheet: where it came from (`file.xlsx#sheet!row`) and its
/// official invoice JSON, or why it could not be read (naming sheet, row and column).
#[derive(Debug)]
pub struct Imported {
    pub source: String,
    pub value: Result<serde_json::Value, Message>,
}

fn whole_file_error(path: &Path, msg: Message) -> Vec<Imported> {
    vec![Imported {
        source: path.display().to_string(),
        value: Err(msg),
    }]
}

/// The mapping file that applies to a spreadsheet, if any.
pub fn mapping_file_for(path: &Path) -> Option<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name()?.to_string_lossy().into_owned();
    let stem = name
        .strip_suffix(".xlsx")
        .or_else(|| name.strip_suffix(".csv"))
        .unwrap_or(&name);
    [
        dir.join(format!("{stem}.columns.toml")),
        dir.join("moadian-columns.toml"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Reads every invoice of an `.xlsx` or `.csv` file, with the mapping file next to it (if any),
/// with the default [`ReadOptions`].
pub fn load_file(path: &Path) -> Vec<Imported> {
    load_file_opts(path, &ReadOptions::default())
}

/// [`load_file`] with the given encoding and limits.
pub fn load_file_opts(path: &Path, opts: &ReadOptions) -> Vec<Imported> {
    let map = match mapping_file_for(path) {
        Some(m) => match Mapping::with_file(&m) {
            Ok(m) => m,
            Err(e) => return whole_file_error(path, e.message()),
        },
        None => Mapping::default(),
    };
    load_file_with(path, &map, opts)
}

/// The sibling files of a CSV in the two-file layout (`NAME.items.csv`, `NAME.payments.csv`).
fn csv_siblings(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let stem = name.strip_suffix(".csv")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Some((
        dir.join(format!("{stem}.items.csv")),
        dir.join(format!("{stem}.payments.csv")),
    ))
}

fn sheet_role(name: &str) -> Option<&'static str> {
    let n = normalize(name);
    let is = |list: &[&str]| list.iter().any(|x| normalize(x) == n);
    if is(&[
        "header",
        "headers",
        "invoices",
        "سرآمد",
        "صورتحساب",
        "صورتحساب‌ها",
        "فاکتور",
        "فاکتورها",
    ]) {
        Some("header")
    } else if is(&["items", "body", "lines", "اقلام", "بدنه", "ردیف‌ها", "کالاها"])
    {
        Some("items")
    } else if is(&["payments", "payment", "پرداخت", "پرداخت‌ها"]) {
        Some("payments")
    } else if is(&["readme", "help", "راهنما"]) {
        Some("ignore")
    } else {
        None
    }
}

/// Reads every invoice of an `.xlsx` or `.csv` file with the given column names.
pub fn load_file_with(path: &Path, map: &Mapping, opts: &ReadOptions) -> Vec<Imported> {
    let file = path.display().to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".csv") {
        // A NAME.items.csv / NAME.payments.csv beside its NAME.csv is read with it.
        for suffix in [".items.csv", ".payments.csv"] {
            if let Some(stem) = name.strip_suffix(suffix) {
                if path.with_file_name(format!("{stem}.csv")).is_file() {
                    return Vec::new();
                }
            }
        }
        let header = match sheet::read_csv(path, opts) {
            Ok(t) => t,
            Err(e) => return whole_file_error(path, e.message()),
        };
        if let Some((items, payments)) = csv_siblings(path) {
            if items.is_file() {
                let items = match sheet::read_csv(&items, opts) {
                    Ok(t) => t,
                    Err(e) => return whole_file_error(path, e.message()),
                };
                let payments = if payments.is_file() {
                    match sheet::read_csv(&payments, opts) {
                        Ok(t) => Some(t),
                        Err(e) => return whole_file_error(path, e.message()),
                    }
                } else {
                    None
                };
                return build::two_sheets(&file, &header, &items, payments.as_ref(), map);
            }
        }
        return build::one_row_per_line(&file, &header, map);
    }
    let tables = match sheet::read_workbook(path, opts) {
        Ok(t) => t,
        Err(e) => return whole_file_error(path, e.message()),
    };
    let find = |role: &str| tables.iter().find(|t| sheet_role(&t.name) == Some(role));
    match (find("header"), find("items")) {
        (Some(h), Some(i)) => build::two_sheets(&file, h, i, find("payments"), map),
        _ => match tables
            .iter()
            .find(|t| sheet_role(&t.name) != Some("ignore"))
        {
            Some(t) => build::one_row_per_line(&file, t, map),
            None => whole_file_error(
                path,
                Message::new(
                    format!("فایل {file} هیچ برگه‌ای با صورتحساب ندارد"),
                    format!("{file}: no sheet with invoices"),
                ),
            ),
        },
    }
}
