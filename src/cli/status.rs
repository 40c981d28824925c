//! `moadian status`: what the queue holds and where each invoice stands — and the table /
//! JSON / progress rendering that `submit` and `run` share.

use super::submit::{Refusal, Session, Target};
use super::Global;
use crate::lang::{Lang, Message};
use crate::pipeline::{self, Event, InvoiceReport, Observer, Report, ReportStatus};
use comfy_table::{presets::UTF8_FULL, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressStyle};
use moadian_queue::SqliteQueue;
use std::io::IsTerminal;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show only invoices with this status (SUCCESS, FAILED, INVALID, QUEUED, IN_PROGRESS,
    /// UNKNOWN, NEEDS_ATTENTION).
    #[arg(long, value_name = "STATUS")]
    pub only: Option<String>,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang.unwrap_or_default();
    let mut target = args.target.clone();
    // Status never needs the sandbox server running: just its queue.
    let session = if target.sandbox && target.queue.is_none() {
        target.queue = Some(crate::config::sandbox_dir().join("queue.sqlite"));
        None
    } else if target.sandbox {
        None
    } else {
        Some(Session::open(&target).await?)
    };
    let path = match (&target.queue, &session) {
        (Some(q), _) => q.clone(),
        (None, Some(s)) => s.queue_path.clone(),
        (None, None) => anyhow::bail!("no queue file"),
    };
    if !path.exists() {
        anyhow::bail!(
            "the queue {} does not exist yet; enqueue or submit invoices first / صف {} هنوز ساخته نشده است",
            path.display(),
            path.display()
        );
    }
    let queue = SqliteQueue::open_read_only(&path)?;
    let mut report = pipeline::report::build(&queue, None, None, lang)?;
    if let Some(only) = &args.only {
        let want = only.to_ascii_uppercase();
        report.invoices.retain(|i| i.status.as_str() == want);
    }
    print_report(&report, &[], None, args.json, lang)?;
    Ok(if report.all_success() { 0 } else { 1 })
}

fn status_text(s: ReportStatus, lang: Lang) -> String {
    let fa = match s {
        ReportStatus::Success => "موفق",
        ReportStatus::Failed => "ناموفق",
        ReportStatus::Invalid => "نامعتبر (ارسال نشد)",
        ReportStatus::Queued => "در صف",
        ReportStatus::InProgress => "در حال پردازش",
        ReportStatus::Unknown => "نامعلوم (پیگیری می‌شود)",
        ReportStatus::NeedsAttention => "نیازمند بررسی",
    };
    match lang {
        Lang::Fa => format!("{} {fa}", s.as_str()),
        Lang::En => s.as_str().to_string(),
    }
}

fn problems_cell(i: &InvoiceReport) -> String {
    const SHOWN: usize = 6;
    let mut lines = Vec::new();
    for e in &i.errors {
        lines.push(format!("✗ {}", e.short()));
    }
    for w in &i.warnings {
        lines.push(format!("! {}", w.short()));
    }
    if lines.len() > SHOWN {
        let more = lines.len() - SHOWN;
        lines.truncate(SHOWN);
        lines.push(format!("… {more} more (--json shows all)"));
    }
    let codes: Vec<&str> = i
        .errors
        .iter()
        .chain(&i.warnings)
        .filter_map(|c| c.code.as_deref())
        .collect();
    if let Some(first) = codes.first() {
        lines.push(format!("→ moadian explain {first}"));
    }
    if let Some(next) = i.next.as_deref().filter(|n| !n.is_empty()) {
        lines.push(format!("… {next}"));
    }
    lines.join("\n")
}

fn short_taxid(t: &Option<String>) -> String {
    t.clone().unwrap_or_else(|| "—".into())
}

/// Prints the report as a table (people) or JSON (programs; it also carries each invoice's uid
/// and reference number).
pub fn print_report(
    report: &Report,
    refused: &[Refusal],
    stopped: Option<&Message>,
    json: bool,
    lang: Lang,
) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::to_value(report)?;
        if let Some(o) = v.as_object_mut() {
            if !refused.is_empty() {
                o.insert("refused".into(), serde_json::to_value(refused)?);
            }
            if let Some(m) = stopped {
                o.insert("stopped".into(), serde_json::to_value(m)?);
            }
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !std::io::stdout().is_terminal() {
        // Logs and cron mail: wrap at a readable width instead of one line per row.
        t.set_width(140);
    }
    let header = match lang {
        Lang::Fa => vec!["منبع", "شماره مالیاتی", "وضعیت", "خطاها و هشدارها"],
        Lang::En => vec!["Source", "Tax ID", "Status", "Errors / warnings"],
    };
    t.set_header(header);
    for i in &report.invoices {
        t.add_row(vec![
            i.source.clone(),
            short_taxid(&i.taxid),
            status_text(i.status, lang),
            problems_cell(i),
        ]);
    }
    for r in refused {
        t.add_row(vec![
            r.source.clone(),
            "—".into(),
            "REFUSED".into(),
            r.error.clone(),
        ]);
    }
    println!("{t}");
    let s = &report.summary;
    match lang {
        Lang::Fa => println!(
            "جمع {}: موفق {}، ناموفق {}، نامعتبر {}، در صف {}، در حال پردازش {}، نامعلوم {}، نیازمند بررسی {}",
            s.total, s.success, s.failed, s.invalid, s.queued, s.in_progress, s.unknown, s.needs_attention
        ),
        Lang::En => println!(
            "{} invoice{}: {} SUCCESS, {} FAILED, {} INVALID, {} QUEUED, {} IN_PROGRESS, {} UNKNOWN, {} NEEDS_ATTENTION",
            s.total,
            super::plural(s.total as u64),
            s.success, s.failed, s.invalid, s.queued, s.in_progress, s.unknown, s.needs_attention
        ),
    }
    if s.in_progress + s.unknown + s.queued > 0 {
        println!(
            "{}",
            match lang {
                Lang::Fa => "ادامهٔ پیگیری: moadian run (یا همین فرمان را دوباره اجرا کنید؛ چیزی دوبار ارسال نمی‌شود)",
                Lang::En => "to follow up: moadian run (or run the same command again; nothing is sent twice)",
            }
        );
    }
    if let Some(m) = stopped {
        eprintln!("stopped: {}", m.get(lang));
    }
    Ok(())
}

/// Progress bars on a terminal; nothing otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(wanted: bool) -> Self {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Self { bar }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn event(&self, e: &Event) {
        let Some(b) = &self.bar else { return };
        match e {
            Event::Signed { .. } => {
                b.inc(1);
                b.set_message(format!("signed {}", b.position()));
            }
            Event::Posting { count } => b.set_message(format!("sending {count} invoices")),
            Event::Accepted { count } => b.set_message(format!("{count} acknowledged")),
            Event::Unknown { count } => {
                b.set_message(format!("{count} without answer (will reconcile)"))
            }
            Event::Waiting { open, seconds } => {
                b.set_message(format!("waiting {seconds:.0}s for {open} invoices"))
            }
            Event::Polled { finalized } => b.set_message(format!("{finalized} final")),
            Event::Enqueued { total, invalid } => {
                b.set_message(format!("queued {total} ({invalid} invalid)"))
            }
        }
    }
}
