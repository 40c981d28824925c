//! `moadian report`: invoices, amounts and VAT per Jalali month, failures explained — as a
//! terminal table, CSV, JSON or one self-contained HTML page (Persian, right to left).

use super::submit::{Session, Target};
use super::Global;
use crate::import::cells::parse_datetime_ms;
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
    pub target: Target,
    /// First issue date to include: Jalali (1405/09/01) or Gregorian (2026-11-22), Tehran time.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last issue date to include (the whole day when no time is given).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
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

fn parse_bound(s: &str, end_of_day: bool) -> anyhow::Result<i64> {
    let ms = parse_datetime_ms(s).map_err(|m| anyhow::anyhow!("{} / {}", m.en, m.fa))?;
    let has_time = s.trim().contains(':')
        || s.trim().len() >= 12 && s.trim().chars().all(|c| c.is_ascii_digit());
    Ok(if end_of_day && !has_time {
        ms + 86_400_000 - 1
    } else {
        ms
    })
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang.unwrap_or_default();
    let from = args
        .from
        .as_deref()
        .map(|s| parse_bound(s, false))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|s| parse_bound(s, true))
        .transpose()?;
    // Reading the queue needs no server: only the queue path of the profile (or --queue).
    let queue_path = match &args.target.queue {
        Some(q) => q.clone(),
        None if args.target.sandbox => crate::config::sandbox_dir().join("queue.sqlite"),
        None => Session::open(&args.target).await?.queue_path,
    };
    if !queue_path.exists() {
        anyhow::bail!(
            "no queue at {} / صفی در {} نیست",
            queue_path.display(),
            queue_path.display()
        );
    }
    let queue = moadian_queue::SqliteQueue::open_read_only(&queue_path)?;
    let entries = report::entries_from_queue(&queue)?;
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
