//! Raw tables out of CSV and XLSX files: a sheet name, a header row and data rows of cells, with
//! the spreadsheet row number of each row kept for error messages. Numbers from XLSX cells (which
//! the format stores as binary floating point) are turned into their shortest round-trip decimal
//! text, and flagged when they carry more digits than a double holds exactly.

use super::encoding::{decode, CsvEncoding};
use super::limits::ReadOptions;
use crate::lang::Message;
use calamine::{Data, Reader};
use std::io::Read;
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

/// Why a file could not be read as tables. Its text, in each language, is [`SheetError::message`].
#[derive(Debug)]
pub enum SheetError {
    Read {
        path: String,
        message: String,
    },
    NoHeader {
        path: String,
        sheet: String,
    },
    Shape {
        path: String,
        sheet: String,
        row: usize,
        found: usize,
        expected: usize,
    },
    FormulaWithoutValue {
        path: String,
        sheet: String,
        cell: String,
        row: u32,
        column: String,
        formula: String,
    },
    /// Refused before reading (too large, a zip bomb, not decodable): what and why.
    Limit {
        path: String,
        message: Message,
    },
}

/// English, then Persian: the one-line form (logs, `to_string`).
impl std::fmt::Display for SheetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.message().fmt(f)
    }
}

impl std::error::Error for SheetError {}

impl SheetError {
    /// The error in each language.
    pub fn message(&self) -> Message {
        match self {
            SheetError::Limit { path, message } => Message::new(
                format!("{path}: {}", message.fa),
                format!("{path}: {}", message.en),
            ),
            SheetError::Read { path, message } => Message::new(
                format!("فایل {path} خوانده نشد: {message}"),
                format!("cannot read {path}: {message}"),
            ),
            SheetError::NoHeader { path, sheet } => Message::new(
                format!("فایل {path}، برگه «{sheet}» سطر عنوان ندارد"),
                format!("{path}: sheet «{sheet}» has no header row"),
            ),
            SheetError::Shape {
                path,
                sheet,
                row,
                found,
                expected,
            } => Message::new(
                format!("فایل {path}، برگه «{sheet}»، ردیف {row}: این ردیف {found} خانه دارد و سطر عنوان {expected}؛ خانه‌ای جا افتاده یا جداکننده‌ای اضافه است"),
                format!("{path}, sheet «{sheet}», row {row}: the row has {found} cells, the header has {expected}; a cell is missing or a separator is extra"),
            ),
            SheetError::FormulaWithoutValue {
                path,
                sheet,
                cell,
                row,
                column,
                formula,
            } => {
                let (ffa, fen) = if formula.is_empty() {
                    (
                        "فرمول مشترک با خانهٔ دیگر".to_string(),
                        "a formula shared with another cell".to_string(),
                    )
                } else {
                    (format!("={formula}"), format!("={formula}"))
                };
                Message::new(
                    format!("فایل {path}، برگه «{sheet}»، خانه {cell} (ردیف {row}، ستون {column}): این خانه فرمول ({ffa}) دارد ولی مقدار محاسبه‌شده ندارد؛ فایل را برنامه‌ای ذخیره کرده است که فرمول را حساب نمی‌کند. آن را در Excel یا LibreOffice باز و ذخیره کنید تا مقدار نوشته شود، یا به جای فرمول خود مقدار را بنویسید"),
                    format!("{path}, sheet «{sheet}», cell {cell} (row {row}, column {column}): the cell holds a formula ({fen}) without a computed value — the file was saved by a program that does not calculate. Open it in Excel or LibreOffice and save it so the value is stored, or type the value instead of the formula"),
                )
            }
        }
    }
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

fn data_to_cell(d: Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s),
        Data::Int(i) => Cell::Number {
            text: i.to_string(),
            inexact: false,
        },
        Data::Float(f) => {
            let (text, inexact) = f64_text(f);
            Cell::Number { text, inexact }
        }
        Data::Bool(b) => Cell::Text(if b { "1" } else { "0" }.into()),
        Data::DateTime(dt) => match excel_serial_to_datetime(dt.as_f64()) {
            Some(t) => Cell::DateTime(t),
            None => Cell::Text(dt.as_f64().to_string()),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s),
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

/// Every non-empty sheet of an XLSX workbook, within the limits of `opts`: the zip's parts are
/// checked ([`super::xlsx_guard`]) before anything is inflated, and cells are read one at a
/// time and counted, so a zip bomb or a sheet of a million far-apart cells is refused early.
pub fn read_workbook(path: &Path, opts: &ReadOptions) -> Result<Vec<Table>, SheetError> {
    let p = path.display().to_string();
    let read_err = |message: String| SheetError::Read {
        path: p.clone(),
        message,
    };
    super::xlsx_guard::check(path, opts).map_err(|e| SheetError::Limit {
        path: p.clone(),
        message: e,
    })?;
    // A formula without its computed value reads as an empty cell: named here instead.
    if let Some(u) = super::formulas::first_uncached(path) {
        return Err(SheetError::FormulaWithoutValue {
            path: p.clone(),
            sheet: u.sheet,
            cell: u.cell,
            row: u.row,
            column: u.column,
            formula: u.formula,
        });
    }
    let file = std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?;
    let mut wb: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::BufReader::new(file)).map_err(|e| read_err(e.to_string()))?;
    let mut tables = Vec::new();
    let mut cells_seen: u64 = 0;
    // The text the cells hold: a shared string is stored once in the file but copied into every
    // cell that points at it, so it is counted per cell, against the same limit as the parts.
    let mut text_bytes: u64 = 0;
    for name in wb.sheet_names() {
        let mut reader = wb
            .worksheet_cells_reader(&name)
            .map_err(|e| read_err(format!("sheet «{name}»: {e}")))?;
        let mut rows: std::collections::BTreeMap<u32, Vec<Cell>> = Default::default();
        loop {
            let cell = match reader.next_cell() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(read_err(format!("sheet «{name}»: {e}"))),
            };
            let (r, c) = cell.get_position();
            let data: Data = cell.get_value().clone().into();
            if matches!(data, Data::Empty) {
                continue;
            }
            if let Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) = &data {
                text_bytes += s.len() as u64;
            }
            if text_bytes > opts.max_xlsx_bytes {
                let mib = opts.max_xlsx_bytes >> 20;
                return Err(SheetError::Limit {
                    path: p.clone(),
                    message: Message::new(
                        format!(
                            "خانه‌های برگه «{name}» تا سطر {} بیش از {mib} مگابایت متن دارند (یک متن بلند در خانه‌های بسیار تکرار شده است؛ سقف --max-xlsx-mib)",
                            r + 1
                        ),
                        format!(
                            "the cells of sheet «{name}» hold more than {mib} MiB of text by row {} (one long text repeated in very many cells; limit --max-xlsx-mib)",
                            r + 1
                        ),
                    ),
                });
            }
            let row = rows.entry(r).or_default();
            let needed = c as usize + 1;
            if row.len() < needed {
                cells_seen += (needed - row.len()) as u64;
                row.resize(needed, Cell::Empty);
            }
            if cells_seen > opts.max_cells {
                return Err(SheetError::Limit {
                    path: p.clone(),
                    message: Message::new(
                        format!(
                            "برگه «{name}» تا سطر {} بیش از {} خانه دارد (سقف --max-cells)",
                            r + 1,
                            opts.max_cells
                        ),
                        format!(
                            "sheet «{name}» holds more than {} cells by row {} (limit --max-cells)",
                            opts.max_cells,
                            r + 1
                        ),
                    ),
                });
            }
            row[c as usize] = data_to_cell(data);
        }
        drop(reader);
        if rows.is_empty() {
            continue;
        }
        let grid: Vec<(usize, Vec<Cell>)> = rows
            .into_iter()
            .map(|(r, cells)| (r as usize + 1, cells))
            .collect();
        tables.push(grid_to_table(&p, &name, grid)?);
    }
    Ok(tables)
}

/// Reads a whole file, refusing one larger than `max` bytes (before reading it).
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, SheetError> {
    let p = path.display().to_string();
    let read_err = |e: std::io::Error| SheetError::Read {
        path: p.clone(),
        message: e.to_string(),
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(size.min(max + 1) as usize);
    f.take(max + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > max {
        return Err(SheetError::Limit {
            path: p.clone(),
            message: too_large(max),
        });
    }
    Ok(bytes)
}

/// "larger than the limit" in both languages.
pub fn too_large(max: u64) -> Message {
    Message::new(
        format!(
            "فایل از سقف {} مگابایت بزرگ‌تر است؛ آن را به چند فایل بشکنید یا سقف را با --max-file-mib بالا ببرید",
            max >> 20
        ),
        format!(
            "the file is larger than the limit of {} MiB; split it, or raise the limit with --max-file-mib",
            max >> 20
        ),
    )
}

/// A CSV file as one table named after the file (and after its encoding, when it is not
/// UTF-8). Accepts `,` or `;` or tab as separator (whichever the header line has most of) and a
/// UTF-8 byte-order mark. Every row must have as many cells as the header.
pub fn read_csv(path: &Path, opts: &ReadOptions) -> Result<Table, SheetError> {
    let p = path.display().to_string();
    let bytes = read_bounded(path, opts.max_file_bytes)?;
    let (text, encoding) = decode(bytes, opts.encoding).map_err(|e| SheetError::Limit {
        path: p.clone(),
        message: e.message(),
    })?;
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
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.clone());
    if encoding != CsvEncoding::Utf8 || opts.encoding.is_some() {
        // Never a silent choice: the encoding is part of every source of this file.
        name = format!("{name} ({})", encoding.name());
    }
    let mut grid: Vec<(usize, Vec<Cell>)> = Vec::new();
    let mut width: Option<usize> = None;
    // A record's line is counted from its byte offset: the csv crate's own line count leaves
    // out the blank lines it skips (and CRLF ends), so it does not match what an editor or
    // Excel shows. The offset is where the reader stood, before those blank lines: they are
    // stepped over here (a record never starts with a line end).
    let (mut seen_byte, mut seen_line) = (0usize, 1usize);
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| SheetError::Read {
            path: p.clone(),
            message: format!("row {}: {e}", i + 1),
        })?;
        let start = rec.position().map(|p| {
            let b = text.as_bytes();
            let mut at = p.byte() as usize;
            while at < b.len() && (b[at] == b'\r' || b[at] == b'\n') {
                at += 1;
            }
            at
        });
        let line = match start {
            Some(byte) if byte >= seen_byte && byte <= text.len() => {
                seen_line += text.as_bytes()[seen_byte..byte]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                seen_byte = byte;
                seen_line
            }
            _ => i + 1,
        };
        let cells: Vec<Cell> = rec
            .iter()
            .map(|s| {
                if s.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(s.to_string())
                }
            })
            .collect();
        let blank = cells.iter().all(Cell::is_empty);
        match width {
            None if !blank => width = Some(cells.len()),
            Some(w) if !blank && cells.len() != w => {
                return Err(SheetError::Shape {
                    path: p.clone(),
                    sheet: name,
                    row: line,
                    found: cells.len(),
                    expected: w,
                })
            }
            _ => {}
        }
        grid.push((line, cells));
    }
    grid_to_table(&p, &name, grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row numbers are the lines a text editor (or Excel) shows, whatever ends the lines:
    /// Excel writes CRLF.
    #[test]
    fn csv_row_numbers_are_the_same_with_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = Vec::new();
        for (name, nl) in [("lf.csv", "\n"), ("crlf.csv", "\r\n")] {
            let p = dir.path().join(name);
            let text = ["sstt,fee", "a,1", "", "b,2", "\"c\nd\",3"].join(nl) + nl;
            std::fs::write(&p, text).unwrap();
            let t = read_csv(&p, &ReadOptions::default()).unwrap();
            rows.push(t.rows.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        }
        assert_eq!(rows[0], [2, 4, 5], "LF");
        assert_eq!(rows[1], [2, 4, 5], "CRLF");
    }

    /// `example` with the XML of `part` changed by `edit`, written to `to`.
    fn rewrite_xlsx(example: &str, to: &Path, part: &str, edit: &dyn Fn(String) -> String) {
        use std::io::Write as _;
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/spreadsheets")
            .join(example);
        let mut zin = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
        let mut zout = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
        for i in 0..zin.len() {
            let mut f = zin.by_index(i).unwrap();
            let name = f.name().to_string();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            if name == part {
                text = edit(text);
            }
            zout.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zout.write_all(text.as_bytes()).unwrap();
        }
        zout.finish().unwrap();
    }

    /// A formula whose result was never stored (files written by programs that do not
    /// calculate): the error names the file, sheet, row, column and the formula, and says how
    /// to store the value. A formula with its stored result reads as that value.
    #[test]
    fn a_formula_without_a_stored_value_is_named_with_its_cell() {
        let dir = tempfile::tempdir().unwrap();
        let cell = r#"<c r="P2" s="1" t="s"><v>27</v></c>"#;
        let p = dir.path().join("nocache.xlsx");
        rewrite_xlsx(
            "one-row-per-line.xlsx",
            &p,
            "xl/worksheets/sheet1.xml",
            &|x| {
                assert!(x.contains(cell), "the example's fee cell");
                x.replace(cell, r#"<c r="P2" s="1"><f>5000*2</f></c>"#)
            },
        );
        let err = read_workbook(&p, &ReadOptions::default())
            .expect_err("a formula without a value is refused")
            .to_string();
        for want in [
            "nocache.xlsx",
            "P2",
            "row 2",
            "column P",
            "5000*2",
            "formula",
            "LibreOffice",
        ] {
            assert!(err.contains(want), "{want:?} missing: {err}");
        }
        let sheet = calamine::open_workbook::<calamine::Xlsx<_>, _>(&p)
            .unwrap()
            .sheet_names()[0]
            .clone();
        assert!(err.contains(&format!("«{sheet}»")), "{err}");

        let p = dir.path().join("cached.xlsx");
        rewrite_xlsx(
            "one-row-per-line.xlsx",
            &p,
            "xl/worksheets/sheet1.xml",
            &|x| x.replace(cell, r#"<c r="P2" s="1"><f>5000*2</f><v>10000</v></c>"#),
        );
        let t = read_workbook(&p, &ReadOptions::default()).unwrap();
        let fee = t[0].rows[0].1[15].clone();
        assert_eq!(
            fee,
            Cell::Number {
                text: "10000".into(),
                inexact: false
            }
        );
    }

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
}
