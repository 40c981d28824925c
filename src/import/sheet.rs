//! Raw tables out of CSV and XLSX files: a sheet name, a header row and data rows of cells, with
//! the spreadsheet row number of each row kept for error messages. Numbers from XLSX cells (which
//! the format stores as binary floating point) are turned into their shortest round-trip decimal
//! text, and flagged when they carry more digits than a double holds exactly.

use calamine::{Data, Reader};
use std::path::Path;

/// One cell as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    /// Text as typed (CSV cells, XLSX string cells).
    Text(String),
    /// An XLSX numeric cell: shortest decimal text that reads back to the same double, and
    /// whether the typed value may have been changed by the binary storage (more than 15
    /// significant digits, or an integer beyond 2^53).
    Number {
        text: String,
        inexact: bool,
    },
    /// An XLSX date-formatted cell, as the local date-time it shows.
    DateTime(chrono::NaiveDateTime),
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

/// A sheet: its name, header names and rows (1-based spreadsheet row numbers).
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub headers: Vec<String>,
    /// `(row number as the spreadsheet shows it, cells)`.
    pub rows: Vec<(usize, Vec<Cell>)>,
}

/// Why a file could not be read as tables.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("cannot read {path}: {message} / فایل {path} خوانده نشد: {message}")]
    Read { path: String, message: String },
    #[error("{path}: sheet «{sheet}» has no header row / برگه «{sheet}» سطر عنوان ندارد")]
    NoHeader { path: String, sheet: String },
}

/// Shortest round-trip decimal text of a double, and whether the value a person typed may not
/// be what is stored (more than 15 significant digits, or 10^15 and above).
pub fn f64_text(f: f64) -> (String, bool) {
    let text = format!("{f}");
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    // Excel keeps 15 significant digits; from 10^15 up a double cannot hold every unit and
    // fraction either, so such a cell may not be what was typed.
    let too_big = f.abs() >= 1e15;
    (text, significant > 15 || too_big || !f.is_finite())
}

fn excel_serial_to_datetime(f: f64) -> Option<chrono::NaiveDateTime> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let f = if f >= 60.0 { f } else { f + 1.0 };
    let ms = (f * 86_400_000.0).round() as i64;
    epoch.checked_add_signed(chrono::Duration::milliseconds(ms))
}

fn data_to_cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Number {
            text: i.to_string(),
            inexact: false,
        },
        Data::Float(f) => {
            let (text, inexact) = f64_text(*f);
            Cell::Number { text, inexact }
        }
        Data::Bool(b) => Cell::Text(if *b { "1" } else { "0" }.into()),
        Data::DateTime(dt) => match excel_serial_to_datetime(dt.as_f64()) {
            Some(t) => Cell::DateTime(t),
            None => Cell::Text(dt.as_f64().to_string()),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#ERROR {e:?}")),
    }
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Empty => String::new(),
        Cell::Text(t) => t.trim().to_string(),
        Cell::Number { text, .. } => text.clone(),
        Cell::DateTime(t) => t.to_string(),
    }
}

/// Turns a grid (first non-empty row = headers) into a table.
fn grid_to_table(
    path: &str,
    name: &str,
    grid: Vec<(usize, Vec<Cell>)>,
) -> Result<Table, SheetError> {
    let mut it = grid
        .into_iter()
        .skip_while(|(_, r)| r.iter().all(Cell::is_empty));
    let Some((_, header_cells)) = it.next() else {
        return Err(SheetError::NoHeader {
            path: path.into(),
            sheet: name.into(),
        });
    };
    let headers = header_cells.iter().map(cell_text).collect();
    let rows = it.filter(|(_, r)| !r.iter().all(Cell::is_empty)).collect();
    Ok(Table {
        name: name.into(),
        headers,
        rows,
    })
}

/// Every non-empty sheet of an XLSX (or XLS/ODS) workbook.
pub fn read_workbook(path: &Path) -> Result<Vec<Table>, SheetError> {
    let p = path.display().to_string();
    let mut wb = calamine::open_workbook_auto(path).map_err(|e| SheetError::Read {
        path: p.clone(),
        message: e.to_string(),
    })?;
    let mut tables = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).map_err(|e| SheetError::Read {
            path: p.clone(),
            message: format!("sheet «{name}»: {e}"),
        })?;
        if range.is_empty() {
            continue;
        }
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let grid: Vec<(usize, Vec<Cell>)> = range
            .rows()
            .enumerate()
            .map(|(i, row)| {
                let mut cells: Vec<Cell> = Vec::with_capacity(c0 as usize + row.len());
                cells.resize(c0 as usize, Cell::Empty);
                cells.extend(row.iter().map(data_to_cell));
                (r0 as usize + i + 1, cells)
            })
            .collect();
        tables.push(grid_to_table(&p, &name, grid)?);
    }
    Ok(tables)
}

/// CSV text: UTF-8 (with or without a byte-order mark), else Windows-1256 — what Excel's plain
/// «CSV» save writes on a Persian Windows.
pub fn decode_text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let bytes = e.into_bytes();
            let (text, _, _) = encoding_rs::WINDOWS_1256.decode(&bytes);
            text.into_owned()
        }
    }
}

/// A CSV file as one table named after the file. Accepts `,` or `;` or tab as separator
/// (whichever the header line has most of) and a UTF-8 byte-order mark.
pub fn read_csv(path: &Path) -> Result<Table, SheetError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| SheetError::Read {
        path: p.clone(),
        message: e.to_string(),
    })?;
    let text = decode_text(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first = text.lines().next().unwrap_or_default();
    let delim = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(text.as_bytes());
    let mut grid = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| SheetError::Read {
            path: p.clone(),
            message: format!("row {}: {e}", i + 1),
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(i + 1);
        grid.push((
            line,
            rec.iter()
                .map(|s| {
                    if s.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(s.to_string())
                    }
                })
                .collect(),
        ));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.clone());
    grid_to_table(&p, &name, grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_to_shortest_text() {
        assert_eq!(f64_text(0.1), ("0.1".to_string(), false));
        assert_eq!(f64_text(21255.0), ("21255".to_string(), false));
        assert_eq!(f64_text(1.23456789), ("1.23456789".to_string(), false));
        assert!(f64_text(12345678901234567.0).1);
        assert!(
            f64_text(4503600000000000.0).1,
            "≥ 10^15: units not trustworthy"
        );
        assert!(!f64_text(999999999999999.0).1);
        assert!(f64_text(0.1 + 0.2).1, "0.30000000000000004 has 17 digits");
    }

    #[test]
    fn csv_in_windows_1256_is_read() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode("شرح,مبلغ واحد\nپيچ,1000\n");
        // (Windows-1256 has the Arabic yeh ي, which Persian Windows uses for ی.)
        assert_eq!(decode_text(bytes.into_owned()), "شرح,مبلغ واحد\nپيچ,1000\n");
        assert_eq!(decode_text("ok".as_bytes().to_vec()), "ok");
    }
}
