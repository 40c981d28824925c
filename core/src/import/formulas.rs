//! Formula cells whose result was never stored. Excel and LibreOffice store the computed value
//! of every formula next to it (`<f>…</f><v>…</v>`); programs that write workbooks without
//! calculating store the formula alone, and a reader then sees an empty cell. Such a cell is
//! found here, with its sheet, row, column and formula, so the refusal can name it.
//!
//! The worksheet XML is scanned as a stream of tags, one at a time: memory stays small whatever
//! the sheet's size, and a shared formula's range is never expanded (the zip's sizes were
//! already checked by [`super::xlsx_guard`]).

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
/// The most bytes of one tag kept (attributes beyond are not needed).
const TAG_KEPT: usize = 4096;

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The value of attribute `name` (exact, prefix included) in the text of a tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let b = tag.as_bytes();
    let mut i = tag.find(|c: char| c.is_whitespace())?;
    while i < b.len() {
        while i < b.len() && (b[i] as char).is_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !(b[i] as char).is_whitespace() {
            i += 1;
        }
        let key = &tag[start..i];
        while i < b.len() && (b[i] == b'=' || (b[i] as char).is_whitespace()) {
            i += 1;
        }
        let q = *b.get(i)?;
        if q != b'"' && q != b'\'' {
            return None;
        }
        let vstart = i + 1;
        let vend = vstart + tag[vstart..].find(q as char)?;
        if key == name {
            return Some(unescape(&tag[vstart..vend]));
        }
        i = vend + 1;
    }
    None
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Column letters of a 0-based index: 0 → A, 25 → Z, 26 → AA.
fn column_letters(mut col: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
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

/// Each tag of an XML stream, with the text before it: `(tag without <>, text)`.
struct Tags<R: Read> {
    bytes: std::io::Bytes<BufReader<R>>,
}

impl<R: Read> Tags<R> {
    /// The next tag, and the text since the previous one (at most `keep_text` bytes kept).
    fn next(&mut self, keep_text: bool) -> Option<(String, Vec<u8>)> {
        let mut text = Vec::new();
        loop {
            match self.bytes.next()?.ok()? {
                b'<' => break,
                b if keep_text && text.len() < FORMULA_SHOWN * 4 => text.push(b),
                _ => {}
            }
        }
        let mut tag = Vec::new();
        loop {
            match self.bytes.next()?.ok()? {
                b'>' => break,
                b if tag.len() < TAG_KEPT => tag.push(b),
                _ => {}
            }
        }
        Some((String::from_utf8_lossy(&tag).into_owned(), text))
    }
}

fn tags<R: Read>(r: R) -> Tags<R> {
    Tags {
        bytes: BufReader::new(r).bytes(),
    }
}

/// The first formula without a stored value in the workbook at `path`, sheet by sheet in the
/// workbook's order; `None` when there is none or the workbook's parts cannot be found (the
/// workbook reader then says what is wrong).
pub fn first_uncached(path: &Path) -> Option<Uncached> {
    let file = std::fs::File::open(path).ok()?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).ok()?;
    // Sheet names and their relationship ids, in order.
    let mut sheets = Vec::new();
    {
        let mut t = tags(zip.by_name("xl/workbook.xml").ok()?);
        while let Some((tag, _)) = t.next(false) {
            let name = tag.split_whitespace().next().unwrap_or("");
            if local(name) == "sheet" {
                let rid = tag
                    .split_whitespace()
                    .filter_map(|a| a.split_once('='))
                    .find(|(k, _)| k.ends_with(":id"))
                    .and_then(|(k, _)| attr(&tag, k));
                if let (Some(n), Some(r)) = (attr(&tag, "name"), rid) {
                    sheets.push((n, r));
                }
            }
        }
    }
    let mut targets = std::collections::HashMap::new();
    {
        let mut t = tags(zip.by_name("xl/_rels/workbook.xml.rels").ok()?);
        while let Some((tag, _)) = t.next(false) {
            let name = tag.split_whitespace().next().unwrap_or("");
            if local(name) == "Relationship" {
                if let (Some(id), Some(target)) = (attr(&tag, "Id"), attr(&tag, "Target")) {
                    let part = match target.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{target}"),
                    };
                    targets.insert(id, part);
                }
            }
        }
    }
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

/// The first formula cell without `<v>` (or an inline string) in one worksheet's XML.
fn scan_sheet<R: Read>(r: R) -> Option<Uncached> {
    let mut t = tags(r);
    let (mut row, mut col) = (1u32, 0u32);
    let mut cell: Option<(u32, u32)> = None;
    let (mut has_f, mut has_v, mut in_f) = (false, false, false);
    let mut formula = Vec::new();
    while let Some((tag, text)) = t.next(in_f) {
        if in_f {
            formula.extend_from_slice(&text);
        }
        let closing = tag.starts_with('/');
        let self_closing = tag.ends_with('/');
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        match (local(name), closing) {
            ("row", false) => {
                if let Some(r) = attr(&tag, "r").and_then(|r| r.parse().ok()) {
                    row = r;
                }
                col = 0;
            }
            ("row", true) => {
                row += 1;
                col = 0;
            }
            ("c", false) => {
                let at = attr(&tag, "r")
                    .and_then(|r| parse_ref(&r))
                    .unwrap_or((row, col));
                col = at.1;
                if self_closing {
                    col += 1;
                } else {
                    cell = Some(at);
                    (has_f, has_v) = (false, false);
                    formula.clear();
                }
            }
            ("f", false) if cell.is_some() => {
                has_f = true;
                in_f = !self_closing;
            }
            ("f", true) => in_f = false,
            ("v" | "is", false) if cell.is_some() && !self_closing => has_v = true,
            ("c", true) => {
                if let Some((r, c)) = cell.take() {
                    if has_f && !has_v {
                        let text = unescape(&String::from_utf8_lossy(&formula));
                        let column = column_letters(c);
                        return Some(Uncached {
                            sheet: String::new(),
                            cell: format!("{column}{r}"),
                            row: r,
                            column,
                            formula: crate::import::limits::clip_to(text.trim(), FORMULA_SHOWN),
                        });
                    }
                }
                col += 1;
            }
            _ => {}
        }
    }
    None
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
