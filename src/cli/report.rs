//! `moadian report`: invoices, amounts and VAT per Jalali month, failures explained — as a
//! terminal table, CSV, JSON or one self-contained HTML page (Persian, right to left).

use super::dates::{self, When};
use super::session::QueueTarget;
use super::Global;
use crate::report::{self, html, render};
use std::io::Write;
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
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    pub from: Option<DateArg>,
    /// Last issue date to include (the whole day when no time is given).
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    pub to: Option<DateArg>,
    /// Output format (default: html when --out ends in .html, csv for .csv, json for .json,
    /// else table).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Totals per Jalali month or per season (فصل, the VAT return period).
    #[arg(long, value_enum, default_value = "month")]
    pub period: report::Grouping,
    /// Write to this file instead of standard output (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// A date as given and as read.
#[derive(Debug, Clone)]
pub struct DateArg {
    raw: String,
    when: When,
}

fn date_arg(s: &str) -> Result<DateArg, String> {
    dates::arg(s).map(|when| DateArg {
        raw: s.to_string(),
        when,
    })
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang.primary();
    let from = args.from.as_ref().map(|d| d.when.tehran_start());
    let to = args.to.as_ref().map(|d| d.when.tehran_end());
    if let (Some(f), Some(t), Some(a), Some(b)) = (from, to, &args.from, &args.to) {
        if f > t {
            let m = crate::lang::Message::new(
                format!("--from {} پس از --to {} است؛ گزارش این بازه خالی می‌بود. ترتیب تاریخ‌ها را درست کنید.", a.raw, b.raw),
                format!("--from {} is after --to {}; the report of that range would be empty. Put the dates in order.", a.raw, b.raw),
            );
            crate::say_err!("{}", super::status::stopped_text(global.lang, &m));
            return Ok(2);
        }
    }
    // `--out -`: standard output.
    let out = args.out.clone().filter(|p| p.as_os_str() != "-");
    // Reading the queue needs no server: only the queue path of the profile (or --queue).
    let queue_path = args.target.queue_path()?;
    if !super::session::is_postgres(&queue_path) && !queue_path.exists() {
        anyhow::bail!(
            "no queue at {} / صفی در {} نیست",
            queue_path.display(),
            queue_path.display()
        );
    }
    let format = args.format.unwrap_or_else(|| {
        match out
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
    let scope = report::Scope {
        from,
        to,
        lang,
        grouping: args.period,
    };
    // Read a page at a time and written as read: a queue of any size takes the memory of a
    // page and the totals. A file is written beside its name and renamed when complete, so
    // an interrupted report never leaves half a file under the name asked for.
    super::session::with_read_only_queue(&queue_path, |queue| {
        let now = chrono::Utc::now().timestamp_millis();
        let r = report::QueueReport::new(queue, scope, now)?;
        let write = |out: &mut dyn Write| -> anyhow::Result<()> {
            let v = r.view();
            match format {
                Format::Table => render::write_table(&v, lang, out),
                Format::Csv => render::write_csv(&v, lang, out),
                Format::Json => render::write_json(&v, out),
                Format::Html => html::write(&v, lang, out),
            }?;
            out.flush()?;
            Ok(())
        };
        match &out {
            Some(p) => {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                let part = p.with_file_name(format!(".{}.part", name.unwrap_or_default()));
                let written = std::fs::File::create(&part)
                    .map_err(anyhow::Error::from)
                    .and_then(|f| {
                        let mut w = std::io::BufWriter::new(f);
                        write(&mut w)?;
                        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                        Ok(())
                    })
                    .and_then(|()| Ok(std::fs::rename(&part, p)?));
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&part);
                    return Err(e.context(format!("cannot write {}", p.display())));
                }
                crate::say_err!("{}", p.display());
            }
            None => {
                let stdout = std::io::stdout();
                let mut w = std::io::BufWriter::new(stdout.lock());
                write(&mut w)?;
            }
        }
        Ok(())
    })?;
    Ok(0)
}
