//! The report as text: a terminal table, CSV (UTF-8 with BOM so Excel shows Persian) and JSON.

use super::{group, ins_name, status_name, Period, Report, Row, View};
use crate::lang::Lang;
use comfy_table::{presets::UTF8_FULL, Table};
use std::io::Write;

/// Invoices per drawn table: a long report is a series of tables, each with its header, so
/// no more than this many rows are held at once.
const TABLE_ROWS: usize = 500;

fn t(lang: Lang, fa: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fa => fa,
        Lang::En => en,
    }
}

fn opt(d: &Option<rust_decimal::Decimal>) -> String {
    d.as_ref().map(group).unwrap_or_default()
}

fn period_label(p: &Period, lang: Lang) -> String {
    if p.period == "total" {
        t(lang, "جمع کل", "total").to_string()
    } else {
        super::period_label(&p.period, lang)
    }
}

/// Terminal tables: invoices, then totals per month, then failures explained.
pub fn table(r: &Report, lang: Lang) -> String {
    let mut out = Vec::new();
    write_table(&r.view(), lang, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("UTF-8")
}

fn invoice_table(lang: Lang) -> Table {
    let mut inv = Table::new();
    inv.load_preset(UTF8_FULL);
    inv.set_header(vec![
        t(lang, "ردیف", "#"),
        t(lang, "تاریخ", "date"),
        t(lang, "شماره مالیاتی", "tax ID"),
        t(lang, "موضوع", "subject"),
        t(lang, "وضعیت", "status"),
        t(lang, "مبلغ پس از تخفیف", "after discount"),
        t(lang, "مالیات ارزش افزوده", "VAT"),
        t(lang, "مبلغ کل", "total"),
    ]);
    inv
}

fn invoice_cells(row: &Row, lang: Lang) -> Vec<String> {
    let mut status = status_name(&row.status, lang);
    if row.status == "SUCCESS" && !row.in_force && row.ins != Some(3) {
        status.push_str(t(lang, " (جایگزین/ابطال شده)", " (replaced/cancelled)"));
    }
    vec![
        row.id.to_string(),
        row.date.clone(),
        row.taxid.clone().unwrap_or_default(),
        ins_name(row.ins, lang).to_string(),
        status,
        opt(&row.tadis),
        opt(&row.tvam),
        opt(&row.tbill),
    ]
}

/// [`table`], written as the rows are read.
pub fn write_table(v: &View, lang: Lang, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut inv = invoice_table(lang);
    let mut held = 0;
    let mut drawn = false;
    v.rows.each(&mut |row| {
        inv.add_row(invoice_cells(&row, lang));
        held += 1;
        if held == TABLE_ROWS {
            writeln!(out, "{inv}")?;
            inv = invoice_table(lang);
            held = 0;
            drawn = true;
        }
        Ok(())
    })?;
    if held > 0 || !drawn {
        writeln!(out, "{inv}")?;
    }
    let mut per = Table::new();
    per.load_preset(UTF8_FULL);
    per.set_header(vec![
        if v.grouping == super::Grouping::Season {
            t(lang, "فصل", "season")
        } else {
            t(lang, "ماه", "month")
        },
        t(lang, "تعداد", "invoices"),
        t(lang, "پذیرفته", "success"),
        t(lang, "رد/نامعتبر", "failed"),
        t(lang, "در جریان", "pending"),
        t(lang, "فروش پس از تخفیف", "sales after discount"),
        t(lang, "مالیات ارزش افزوده", "VAT"),
        t(lang, "جمع صورتحساب‌ها", "invoice totals"),
    ]);
    for p in v.periods.iter().chain(std::iter::once(v.total)) {
        per.add_row(vec![
            period_label(p, lang),
            p.invoices.to_string(),
            p.success.to_string(),
            p.failed.to_string(),
            p.pending.to_string(),
            group(&p.tadis),
            group(&p.tvam),
            group(&p.tbill),
        ]);
    }
    writeln!(out, "{per}")?;
    let mut first = true;
    v.rows.each(&mut |row| {
        if row.problems.is_empty() {
            return Ok(());
        }
        if std::mem::take(&mut first) {
            out.write_all(t(lang, "خطاها:\n", "Failures:\n").as_bytes())?;
        }
        let who = row.taxid.clone().unwrap_or_else(|| row.source.clone());
        for p in &row.problems {
            writeln!(out, "  {who}  {}  {}", p.code, p.explanation)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A CSV cell made safe to open in a spreadsheet (OWASP «CSV injection»): a cell that starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula, so it gets a
/// leading `'`. A plain number (`-1200`, `12.5`) is left as it is — it is not a formula.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = matches!(s.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
    let number = {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let mut parts = digits.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Writes one record, every cell through [`csv_cell`].
fn record<W: std::io::Write, S: AsRef<str>>(
    w: &mut csv::Writer<W>,
    cells: impl IntoIterator<Item = S>,
) -> Result<(), csv::Error> {
    let cells: Vec<String> = cells
        .into_iter()
        .map(|c| csv_cell(c.as_ref()).into_owned())
        .collect();
    w.write_record(&cells)
}

/// CSV: one line per invoice (problems joined with ` | `), then the month totals. Cells that a
/// spreadsheet would take for a formula are neutralised ([`csv_cell`]).
pub fn csv(r: &Report, lang: Lang) -> anyhow::Result<String> {
    let mut out = Vec::new();
    write_csv(&r.view(), lang, &mut out)?;
    Ok(String::from_utf8(out)?)
}

/// [`csv`], written as the rows are read.
pub fn write_csv(v: &View, lang: Lang, out: &mut dyn Write) -> anyhow::Result<()> {
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id", "date", "period", "taxid", "ins", "irtaxid", "status", "in_force", "tadis", "tvam",
        "tbill", "problems", "source",
    ])?;
    v.rows.each(&mut |row| {
        let problems: Vec<String> = row
            .problems
            .iter()
            .map(|p| format!("{} {}", p.code, p.explanation))
            .collect();
        record(
            &mut w,
            [
                row.id.to_string(),
                row.date.clone(),
                row.period.clone(),
                row.taxid.clone().unwrap_or_default(),
                row.ins.map(|i| i.to_string()).unwrap_or_default(),
                row.irtaxid.clone().unwrap_or_default(),
                row.status.clone(),
                row.in_force.to_string(),
                row.tadis
                    .map(|d| d.normalize().to_string())
                    .unwrap_or_default(),
                row.tvam
                    .map(|d| d.normalize().to_string())
                    .unwrap_or_default(),
                row.tbill
                    .map(|d| d.normalize().to_string())
                    .unwrap_or_default(),
                problems.join(" | "),
                row.source.clone(),
            ],
        )?;
        Ok(())
    })?;
    w.write_record([""; 13])?;
    w.write_record([
        "period", "invoices", "success", "failed", "pending", "tadis", "tvam", "tbill", "", "", "",
        "", "",
    ])?;
    for p in v.periods.iter().chain(std::iter::once(v.total)) {
        record(
            &mut w,
            [
                if p.period == "total" {
                    t(lang, "جمع کل", "total").to_string()
                } else {
                    p.period.clone()
                },
                p.invoices.to_string(),
                p.success.to_string(),
                p.failed.to_string(),
                p.pending.to_string(),
                p.tadis.normalize().to_string(),
                p.tvam.normalize().to_string(),
                p.tbill.normalize().to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        )?;
    }
    w.flush()?;
    Ok(())
}

/// JSON: the report structure (amounts as decimal strings).
pub fn json(r: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(r)
}

/// [`json`], written as the rows are read.
pub fn write_json(v: &View, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(out, v)?;
    Ok(())
}
