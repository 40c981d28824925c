//! `moadian report`: invoices, amounts and VAT per Jalali month, failures explained — as a
//! terminal table, CSV, JSON or one self-contained HTML page (Persian, right to left).

use super::dates::{self, When};
use super::session::QueueTarget;
use super::Global;
use crate::report::{self, html, render};
use anyhow::Context as _;
use std::path::PathBuf;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: QueueTarget,
    /// First issue date to include: Jalali (1405/09/01) or Gregorian (2026-11-22), Tehran time.
    #[arg(long, value_name = "DATE", value_parser = dates::arg)]
    pub from: Option<When>,
    /// Last issue date to include (the whole day when no time is given).
    #[arg(long, value_name = "DATE", value_parser = dates::arg)]
    pub to: Option<When>,
    /// Output format (default: html when --out ends in .html, csv for .csv, json for .json,
    /// else table).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Totals per Jalali month or per season (فصل, the VAT return period).
    #[arg(long, value_enum, default_value = "month")]
    pub period: report::Grouping,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang.primary();
    let from = args.from.map(When::tehran_start);
    let to = args.to.map(When::tehran_end);
    // Reading the queue needs no server: only the queue path of the profile (or --queue).
    let queue_path = args.target.queue_path()?;
    if !super::session::is_postgres(&queue_path) && !queue_path.exists() {
        anyhow::bail!(
            "no queue at {} / صفی در {} نیست",
            queue_path.display(),
            queue_path.display()
        );
    }
    let entries = super::session::with_read_only_queue(&queue_path, |queue| {
        Ok(report::entries_from_queue(queue)?)
    })?;
    let now = chrono::Utc::now().timestamp_millis();
    let r = report::build_grouped(&entries, from, to, lang, now, args.period);
    let format = args.format.unwrap_or_else(|| {
        match args
            .out
            .as_ref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("html") | Some("htm") => Format::Html,
            Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            _ => Format::Table,
        }
    });
    let text = match format {
        Format::Table => render::table(&r, lang),
        Format::Csv => render::csv(&r, lang)?,
        Format::Json => render::json(&r)?,
        Format::Html => html::render(&r, lang),
    };
    match &args.out {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("{}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}
