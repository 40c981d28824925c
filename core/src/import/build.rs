//! Tables → invoices. Two layouts:
//!
//! * **two sheets**: a header sheet (one row per invoice) and an items sheet (one row per line),
//!   joined by the `invoice_no` column; an optional payments sheet joined the same way;
//! * **one row per line**: header columns repeated on every line of the same `invoice_no`
//!   (they must agree); without an `invoice_no` column every row is its own invoice.
//!
//! Every error names the sheet, the spreadsheet row and the column (letter and header).

use super::cells::convert;
use super::columns::{Column, Mapping, Section, INVOICE_NO};
use super::sheet::{Cell, Table};
use super::Imported;
use crate::lang::Message;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Spreadsheet column letter of a 0-based index (0 → A, 26 → AA).
pub fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Where a problem is: file, sheet, row, column.
#[derive(Debug, Clone)]
pub struct Place {
    pub file: String,
    pub sheet: String,
    pub row: Option<usize>,
    pub column: Option<(usize, String)>,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, sheet «{}»", self.file, self.sheet)?;
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        if let Some((c, h)) = &self.column {
            write!(
                f,
                ", column {} «{}»",
                column_letter(*c),
                super::limits::clip(h)
            )?;
        }
        Ok(())
    }
}

impl Place {
    /// Where, in Persian.
    pub fn fa(&self) -> String {
        let mut s = format!("فایل {}، برگه «{}»", self.file, self.sheet);
        if let Some(r) = self.row {
            s.push_str(&format!("، ردیف {r}"));
        }
        if let Some((c, h)) = &self.column {
            s.push_str(&format!(
                "، ستون {} «{}»",
                column_letter(*c),
                super::limits::clip(h)
            ));
        }
        s
    }
}

/// One problem, placed, in each language.
pub fn problem(place: &Place, msg: &Message) -> Message {
    Message::new(
        format!("{}: {}", place.fa(), msg.fa),
        format!("{place}: {}", msg.en),
    )
}

/// Several problems of one invoice: one per line, in each language.
pub fn joined(problems: &[Message]) -> Message {
    let side = |f: fn(&Message) -> &str| problems.iter().map(f).collect::<Vec<_>>().join("\n");
    Message::new(side(|m| &m.fa), side(|m| &m.en))
}

/// A table whose headers were resolved to columns.
struct Resolved<'a> {
    table: &'a Table,
    cols: Vec<Option<&'static Column>>,
    key_idx: Option<usize>,
}

fn resolve<'a>(file: &str, table: &'a Table, map: &Mapping) -> Result<Resolved<'a>, Vec<Message>> {
    let mut errors = Vec::new();
    let mut cols = Vec::new();
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    for (i, h) in table.headers.iter().enumerate() {
        let h = h.trim();
        if h.is_empty() || h.starts_with('#') {
            cols.push(None);
            continue;
        }
        let place = Place {
            file: file.into(),
            sheet: table.name.clone(),
            row: None,
            column: Some((i, h.to_string())),
        };
        match map.lookup(h) {
            Some(c) => {
                if let Some((_, first)) = seen.iter().find(|(k, _)| *k == c.key) {
                    errors.push(problem(
                        &place,
                        &Message::new(
                            format!(
                                "این ستون هم مانند ستون {} فیلد «{}» است",
                                column_letter(*first),
                                c.key
                            ),
                            format!(
                                "this column is field \"{}\" again (already column {})",
                                c.key,
                                column_letter(*first)
                            ),
                        ),
                    ));
                }
                seen.push((c.key, i));
                cols.push(Some(c));
            }
            None => {
                errors.push(problem(
                    &place,
                    &Message::new(
                        "این عنوان ستون شناخته نشد؛ نام فیلد رسمی (مثل fee) یا عنوان فارسی آن را بنویسید، در فایل نگاشت تعریفش کنید، یا برای نادیده گرفتن با # شروعش کنید",
                        "unknown column header; use the official field name (e.g. fee) or its Persian title, map it in a mapping file, or start it with # to ignore the column",
                    ),
                ));
                cols.push(None);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let key_idx = cols
        .iter()
        .position(|c| c.map(|c| c.key) == Some(INVOICE_NO));
    Ok(Resolved {
        table,
        cols,
        key_idx,
    })
}

/// One converted row: its number, the invoice key, and `(section, key, value)` fields.
struct Row {
    number: usize,
    key: Option<String>,
    fields: Vec<(Section, &'static str, Value, usize)>,
    /// Problems in this row's cells.
    errors: Vec<Message>,
}

fn key_text(c: &Cell) -> Option<String> {
    match c {
        Cell::Text(t) if !t.trim().is_empty() => Some(super::cells::ascii_digits(t.trim())),
        Cell::Number { text, .. } => Some(text.clone()),
        Cell::DateTime(t) => Some(t.to_string()),
        _ => None,
    }
}

fn convert_rows(file: &str, r: &Resolved, allowed: &[Section]) -> Vec<Row> {
    let mut out = Vec::new();
    for (number, cells) in &r.table.rows {
        let mut row = Row {
            number: *number,
            key: r.key_idx.and_then(|k| cells.get(k)).and_then(key_text),
            fields: Vec::new(),
            errors: Vec::new(),
        };
        let (fields, errors) = (&mut row.fields, &mut row.errors);
        for (i, cell) in cells.iter().enumerate() {
            let header = r.table.headers.get(i).map(|h| h.trim()).unwrap_or("");
            if header.is_empty() && !cell.is_empty() {
                errors.push(problem(
                    &Place {
                        file: file.into(),
                        sheet: r.table.name.clone(),
                        row: Some(*number),
                        column: Some((i, String::new())),
                    },
                    &Message::new(
                        "این خانه مقدار دارد ولی ستونش عنوان ندارد؛ عنوان ستون را بنویسید یا مقدار را پاک کنید (ستون بی‌عنوان نادیده گرفته نمی‌شود)",
                        "this cell has a value but its column has no header; name the column or clear the value (a column without a header is not silently ignored)",
                    ),
                ));
            }
        }
        for (i, col) in r.cols.iter().enumerate() {
            let Some(col) = col else { continue };
            if col.key == INVOICE_NO {
                continue;
            }
            let cell = cells.get(i).unwrap_or(&Cell::Empty);
            let place = || Place {
                file: file.into(),
                sheet: r.table.name.clone(),
                row: Some(*number),
                column: Some((i, r.table.headers[i].trim().to_string())),
            };
            if !allowed.contains(&col.section) {
                if !cell.is_empty() {
                    errors.push(problem(
                        &place(),
                        &Message::new(
                            format!("فیلد «{}» به این برگه تعلق ندارد؛ آن را به برگه {} ببرید", col.key, section_fa(col.section)),
                            format!("field \"{}\" does not belong on this sheet; move it to the {} sheet", col.key, section_en(col.section)),
                        ),
                    ));
                }
                continue;
            }
            match convert(cell, col.kind) {
                Ok(Some(v)) => fields.push((col.section, col.key, v, i)),
                Ok(None) => {}
                Err(m) => errors.push(problem(&place(), &m)),
            }
        }
        out.push(row);
    }
    out
}

fn section_en(s: Section) -> &'static str {
    match s {
        Section::Header => "header",
        Section::Body => "items",
        Section::Payment => "payments",
    }
}

fn section_fa(s: Section) -> &'static str {
    match s {
        Section::Header => "سرآمد",
        Section::Body => "اقلام",
        Section::Payment => "پرداخت",
    }
}

/// An invoice being assembled.
struct Draft {
    key: Option<String>,
    source: String,
    header: Map<String, Value>,
    body: Vec<Value>,
    payments: Vec<Value>,
    errors: Vec<Message>,
    /// For one-row layout: where each header field came from (row number).
    header_rows: Vec<(&'static str, usize)>,
    /// Rows that gave no line-item field.
    lineless_rows: Vec<usize>,
}

/// A row that should be a line item but has no line-item field.
fn no_line_item(file: &str, sheet: &str, row: usize) -> Message {
    problem(
        &Place {
            file: file.into(),
            sheet: sheet.into(),
            row: Some(row),
            column: None,
        },
        &Message::new(
            "این ردیف هیچ فیلدی از ردیف کالا/خدمت (مثل sstid، am، fee) ندارد؛ ردیف ناقص است و کنار گذاشته نمی‌شود. آن را کامل یا حذف کنید",
            "this row has no line-item field (such as sstid, am, fee); it is incomplete and is not silently dropped. Complete it or delete it",
        ),
    )
}

impl Draft {
    fn new(key: Option<String>, source: String) -> Self {
        Self {
            key,
            source,
            header: Map::new(),
            body: Vec::new(),
            payments: Vec::new(),
            errors: Vec::new(),
            header_rows: Vec::new(),
            lineless_rows: Vec::new(),
        }
    }

    fn finish(self) -> Imported {
        if !self.errors.is_empty() {
            return Imported {
                source: self.source,
                value: Err(joined(&self.errors)),
            };
        }
        let mut inv = Map::new();
        inv.insert("header".into(), Value::Object(self.header));
        inv.insert("body".into(), Value::Array(self.body));
        inv.insert("payments".into(), Value::Array(self.payments));
        Imported {
            source: self.source,
            value: Ok(Value::Object(inv)),
        }
    }
}

fn obj(fields: &[(Section, &'static str, Value, usize)], section: Section) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| f.0 == section)
        .map(|f| (f.1.to_string(), f.2.clone()))
        .collect()
}

/// One sheet, one row per line item, header columns repeated.
pub fn one_row_per_line(file: &str, table: &Table, map: &Mapping) -> Vec<Imported> {
    let r = match resolve(file, table, map) {
        Ok(r) => r,
        Err(e) => {
            return vec![Imported {
                source: format!("{file}#{}", table.name),
                value: Err(joined(&e)),
            }]
        }
    };
    let rows = convert_rows(
        file,
        &r,
        &[Section::Header, Section::Body, Section::Payment],
    );
    let mut drafts: Vec<Draft> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let idx = row.key.as_ref().and_then(|k| index.get(k).copied());
        let idx = idx.unwrap_or_else(|| {
            let src = match &row.key {
                Some(k) => format!("{file}#{}!{} (invoice {k})", table.name, row.number),
                None => format!("{file}#{}!{}", table.name, row.number),
            };
            drafts.push(Draft::new(row.key.clone(), src));
            if let Some(k) = &row.key {
                index.insert(k.clone(), drafts.len() - 1);
            }
            drafts.len() - 1
        });
        let d = &mut drafts[idx];
        d.errors.extend(row.errors.iter().cloned());
        for (section, key, v, col) in &row.fields {
            if *section == Section::Body {
                continue;
            }
            // Header and payment columns are invoice-level here: equal on every row.
            match d.header_rows.iter().find(|(k, _)| k == key) {
                None => {
                    d.header_rows.push((key, row.number));
                    if *section == Section::Header {
                        d.header.insert(key.to_string(), v.clone());
                    } else {
                        if d.payments.is_empty() {
                            d.payments.push(Value::Object(Map::new()));
                        }
                        if let Some(Value::Object(p)) = d.payments.first_mut() {
                            p.insert(key.to_string(), v.clone());
                        }
                    }
                }
                Some((_, first_row)) => {
                    let prev = if *section == Section::Header {
                        d.header.get(*key)
                    } else {
                        d.payments.first().and_then(|p| p.get(*key))
                    };
                    if prev != Some(v) {
                        let place = Place {
                            file: file.into(),
                            sheet: table.name.clone(),
                            row: Some(row.number),
                            column: Some((*col, table.headers[*col].trim().to_string())),
                        };
                        d.errors.push(problem(
                            &place,
                            &Message::new(
                                format!("مقدار «{key}» با ردیف {first_row} همین فاکتور فرق دارد؛ ستون‌های سرآمد در همه ردیف‌های یک فاکتور باید یکسان باشند"),
                                format!("\"{key}\" differs from row {first_row} of the same invoice; header columns must be equal on every line of one invoice"),
                            ),
                        ));
                    }
                }
            }
        }
        let item = obj(&row.fields, Section::Body);
        if !item.is_empty() {
            d.body.push(Value::Object(item));
        } else {
            d.lineless_rows.push(row.number);
        }
    }
    for d in &mut drafts {
        // A cancellation (ins 3) may have no lines; otherwise every row of this layout is a
        // line item, and a row that yields none would be a line silently lost.
        let ins3 = d.header.get("ins").and_then(Value::as_i64) == Some(3);
        if ins3 && d.body.is_empty() {
            continue;
        }
        for n in std::mem::take(&mut d.lineless_rows) {
            d.errors.push(no_line_item(file, &table.name, n));
        }
    }
    drafts.into_iter().map(Draft::finish).collect()
}

/// Header sheet + items sheet (+ optional payments sheet), joined by `invoice_no`.
pub fn two_sheets(
    file: &str,
    header: &Table,
    items: &Table,
    payments: Option<&Table>,
    map: &Mapping,
) -> Vec<Imported> {
    let whole = |e: Vec<Message>, t: &Table| {
        vec![Imported {
            source: format!("{file}#{}", t.name),
            value: Err(joined(&e)),
        }]
    };
    let rh = match resolve(file, header, map) {
        Ok(r) => r,
        Err(e) => return whole(e, header),
    };
    let ri = match resolve(file, items, map) {
        Ok(r) => r,
        Err(e) => return whole(e, items),
    };
    let rp = match payments.map(|p| resolve(file, p, map)) {
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => return whole(e, payments.unwrap_or(header)),
        None => None,
    };
    for r in [Some(&rh), Some(&ri), rp.as_ref()].into_iter().flatten() {
        if r.key_idx.is_none() {
            let place = Place {
                file: file.into(),
                sheet: r.table.name.clone(),
                row: None,
                column: None,
            };
            return vec![Imported {
                source: format!("{file}#{}", r.table.name),
                value: Err(problem(&place, &Message::new(
                    "ستون «شماره فاکتور» (invoice_no) که ردیف‌های برگه‌ها را به هم وصل می‌کند وجود ندارد",
                    "the «invoice_no» column that joins the sheets' rows is missing",
                ))),
            }];
        }
    }
    let hrows = convert_rows(file, &rh, &[Section::Header]);
    let mut drafts: Vec<Draft> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in &hrows {
        let place = Place {
            file: file.into(),
            sheet: header.name.clone(),
            row: Some(row.number),
            column: rh.key_idx.map(|k| (k, header.headers[k].clone())),
        };
        let src = format!(
            "{file}#{}!{} (invoice {})",
            header.name,
            row.number,
            row.key.clone().unwrap_or_default()
        );
        let mut d = Draft::new(row.key.clone(), src);
        match &row.key {
            None => d.errors.push(problem(
                &place,
                &Message::new("شماره فاکتور خالی است", "the invoice number is empty"),
            )),
            Some(k) => {
                if let Some(first) = index.get(k).map(|&i| &drafts[i]) {
                    d.errors.push(problem(
                        &place,
                        &Message::new(
                            format!("شماره فاکتور «{k}» تکراری است (همچنین {})", first.source),
                            format!(
                                "invoice number \"{k}\" appears twice (also {})",
                                first.source
                            ),
                        ),
                    ));
                }
            }
        }
        d.errors.extend(row.errors.iter().cloned());
        d.header = obj(&row.fields, Section::Header);
        if let Some(k) = &row.key {
            index.entry(k.clone()).or_insert(drafts.len());
        }
        drafts.push(d);
    }
    let mut orphans = Vec::new();
    for (r, section) in [(Some(&ri), Section::Body), (rp.as_ref(), Section::Payment)] {
        let Some(r) = r else { continue };
        let rows = convert_rows(file, r, &[section]);
        for row in rows {
            let place = Place {
                file: file.into(),
                sheet: r.table.name.clone(),
                row: Some(row.number),
                column: r.key_idx.map(|k| (k, r.table.headers[k].clone())),
            };
            let target = row
                .key
                .as_ref()
                .and_then(|k| index.get(k).copied())
                .map(|i| &mut drafts[i]);
            match target {
                Some(d) => {
                    d.errors.extend(row.errors.iter().cloned());
                    let o = obj(&row.fields, section);
                    if o.is_empty() {
                        d.errors.push(no_line_item(file, &r.table.name, row.number));
                    } else if section == Section::Body {
                        d.body.push(Value::Object(o));
                    } else {
                        d.payments.push(Value::Object(o));
                    }
                }
                None => orphans.push(Imported {
                    source: format!("{file}#{}!{}", r.table.name, row.number),
                    value: Err(problem(
                        &place,
                        &Message::new(
                            format!(
                                "شماره فاکتور «{}» در برگه «{}» نیست",
                                row.key.clone().unwrap_or_default(),
                                header.name
                            ),
                            format!(
                                "invoice number \"{}\" is not on sheet «{}»",
                                row.key.clone().unwrap_or_default(),
                                header.name
                            ),
                        ),
                    )),
                }),
            }
        }
    }
    for d in &mut drafts {
        let ins3 = d.header.get("ins").and_then(Value::as_i64) == Some(3);
        if d.body.is_empty() && !ins3 && d.errors.is_empty() {
            let place = Place {
                file: file.into(),
                sheet: items.name.clone(),
                row: None,
                column: None,
            };
            d.errors.push(problem(
                &place,
                &Message::new(
                    format!(
                        "فاکتور «{}» هیچ ردیف کالا/خدمتی ندارد",
                        d.key.clone().unwrap_or_default()
                    ),
                    format!(
                        "invoice \"{}\" has no item rows",
                        d.key.clone().unwrap_or_default()
                    ),
                ),
            ));
        }
    }
    let mut out: Vec<Imported> = drafts.into_iter().map(Draft::finish).collect();
    out.extend(orphans);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }
}
