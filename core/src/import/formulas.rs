//! Formula cells whose result was never stored. Excel and LibreOffice store the computed value
//! of every formula next to it (`<f>…</f><v>…</v>`); programs that write workbooks without
//! calculating store the formula alone, and a reader then sees an empty cell. Such a cell is
//! found here, with its sheet, row, column and formula, so the refusal can name it.
//!
//! The worksheet XML is read as a stream of events (quick-xml, the parser the workbook reader
//! uses): memory stays small whatever the sheet's size, and a shared formula's range is never
//! expanded (the zip's sizes were already checked by [`super::xlsx_guard`]).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::io::{BufReader, Read};
use std::path::Path;

/// A formula cell without a stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncached {
    pub sheet: String,
    /// As the sheet shows it: `P2`.
    pub cell: String,
    /// 1-based.
    pub row: u32,
    /// Letters: `P`.
    pub column: String,
    /// The formula as written (without `=`); empty for a cell sharing another cell's formula.
    pub formula: String,
}

/// The most characters of a formula kept for the message.
const FORMULA_SHOWN: usize = 120;

/// The value of attribute `name` (its local name: `r:id` is `id`) of a tag.
fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            // Office Open XML parts are UTF-8.
            let raw = String::from_utf8_lossy(&a.value).into_owned();
            quick_xml::escape::unescape(&raw)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Calls `f` with every opening (or empty) tag of an XML part, in order.
fn each_tag<R: Read>(part: R, mut f: impl FnMut(&BytesStart<'_>)) -> Option<()> {
    let mut reader = Reader::from_reader(BufReader::new(part));
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) => f(&e),
            Event::Eof => return Some(()),
            _ => {}
        }
        buf.clear();
    }
}

/// Column letters of a 0-based index: 0 → A, 25 → Z, 26 → AA.
fn column_letters(col: u32) -> String {
    super::build::column_letter(col as usize)
}

/// `P2` → (row 2, column index 15).
fn parse_ref(r: &str) -> Option<(u32, u32)> {
    let letters: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let digits = &r[letters.len()..];
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let mut col: u32 = 0;
    for c in letters.bytes() {
        col = col * 26 + u32::from(c.to_ascii_uppercase() - b'A' + 1);
    }
    Some((digits.parse().ok()?, col - 1))
}

/// The first formula without a stored value in the workbook at `path`, sheet by sheet in the
/// workbook's order; `None` when there is none or the workbook's parts cannot be found (the
/// workbook reader then says what is wrong).
pub fn first_uncached(path: &Path) -> Option<Uncached> {
    let file = std::fs::File::open(path).ok()?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).ok()?;
    // Sheet names and their relationship ids, in order.
    let mut sheets = Vec::new();
    each_tag(zip.by_name("xl/workbook.xml").ok()?, |e| {
        if e.local_name().as_ref() == b"sheet" {
            if let (Some(n), Some(r)) = (attr(e, b"name"), attr(e, b"id")) {
                sheets.push((n, r));
            }
        }
    })?;
    let mut targets = std::collections::HashMap::new();
    each_tag(zip.by_name("xl/_rels/workbook.xml.rels").ok()?, |e| {
        if e.local_name().as_ref() == b"Relationship" {
            if let (Some(id), Some(target)) = (attr(e, b"Id"), attr(e, b"Target")) {
                let part = match target.strip_prefix('/') {
                    Some(abs) => abs.to_string(),
                    None => format!("xl/{target}"),
                };
                targets.insert(id, part);
            }
        }
    })?;
    for (sheet, rid) in sheets {
        let Some(part) = targets.get(&rid) else {
            continue;
        };
        let Ok(f) = zip.by_name(part) else {
            continue;
        };
        if let Some(mut u) = scan_sheet(f) {
            u.sheet = sheet;
            return Some(u);
        }
    }
    None
}

/// A cell being read: where it is, and what it holds so far.
#[derive(Default)]
struct Open {
    at: (u32, u32),
    has_f: bool,
    has_v: bool,
    in_f: bool,
    formula: String,
}

/// The first formula cell without `<v>` (or an inline string) in one worksheet's XML.
fn scan_sheet<R: Read>(part: R) -> Option<Uncached> {
    let mut reader = Reader::from_reader(BufReader::new(part));
    let mut buf = Vec::new();
    let (mut row, mut col) = (1u32, 0u32);
    let mut cell: Option<Open> = None;
    loop {
        let event = reader.read_event_into(&mut buf).ok()?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.local_name().as_ref() {
                    b"row" => {
                        if let Some(r) = attr(e, b"r").and_then(|r| r.parse().ok()) {
                            row = r;
                        }
                        col = 0;
                    }
                    b"c" => {
                        let at = attr(e, b"r")
                            .and_then(|r| parse_ref(&r))
                            .unwrap_or((row, col));
                        col = at.1;
                        if empty {
                            col += 1;
                        } else {
                            cell = Some(Open {
                                at,
                                ..Open::default()
                            });
                        }
                    }
                    b"f" => {
                        if let Some(c) = cell.as_mut() {
                            c.has_f = true;
                            c.in_f = !empty;
                        }
                    }
                    b"v" | b"is" if !empty => {
                        if let Some(c) = cell.as_mut() {
                            c.has_v = true;
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let Some(c) = cell.as_mut().filter(|c| c.in_f) {
                    if c.formula.len() < FORMULA_SHOWN * 4 {
                        c.formula.push_str(&t.decode().ok()?);
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = cell.as_mut().filter(|c| c.in_f) {
                    let name = r.decode().ok()?;
                    match r.resolve_char_ref().ok().flatten() {
                        Some(ch) => c.formula.push(ch),
                        None => c.formula.push_str(
                            quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""),
                        ),
                    }
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"row" => {
                    row += 1;
                    col = 0;
                }
                b"f" => {
                    if let Some(c) = cell.as_mut() {
                        c.in_f = false;
                    }
                }
                b"c" => {
                    if let Some(c) = cell.take() {
                        if c.has_f && !c.has_v {
                            let (r, k) = c.at;
                            let column = column_letters(k);
                            return Some(Uncached {
                                sheet: String::new(),
                                cell: format!("{column}{r}"),
                                row: r,
                                column,
                                formula: crate::import::limits::clip_to(
                                    c.formula.trim(),
                                    FORMULA_SHOWN,
                                ),
                            });
                        }
                    }
                    col += 1;
                }
                _ => {}
            },
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_and_letters() {
        assert_eq!(parse_ref("P2"), Some((2, 15)));
        assert_eq!(parse_ref("AA10"), Some((10, 26)));
        assert_eq!(column_letters(15), "P");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
    }

    #[test]
    fn only_formulas_without_values_are_found() {
        let xml = |c: &str| {
            format!(r#"<worksheet><sheetData><row r="3">{c}</row></sheetData></worksheet>"#)
        };
        assert_eq!(
            scan_sheet(xml(r#"<c r="B3"><f>1+1</f><v>2</v></c>"#).as_bytes()),
            None
        );
        assert_eq!(
            scan_sheet(xml(r#"<c r="B3" s="1"/><c r="C3"><v>2</v></c>"#).as_bytes()),
            None
        );
        let u = scan_sheet(
            xml(r#"<c r="B3"><v>1</v></c><x:c r="C3"><x:f>A3&amp;"x"</x:f></x:c>"#).as_bytes(),
        )
        .unwrap();
        assert_eq!((u.cell.as_str(), u.row, u.column.as_str()), ("C3", 3, "C"));
        assert_eq!(u.formula, "A3&\"x\"");
        let u = scan_sheet(xml(r#"<c r="D3"><f t="shared" si="0"/></c>"#).as_bytes()).unwrap();
        assert_eq!((u.cell.as_str(), u.formula.as_str()), ("D3", ""));
    }
}
