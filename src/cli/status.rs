//! `moadian status`: what the queue holds and where each invoice stands — and the table /
//! JSON / progress rendering that `submit` and `run` share.

use super::session::QueueTarget;
use super::submit::Refusal;
use super::Global;
use crate::lang::{Langs, Message};
use crate::pipeline::{self, Event, InvoiceReport, Observer, Report, ReportStatus};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: QueueTarget,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List every invoice, not only those that need attention (all but SUCCESS).
    #[arg(long)]
    pub all: bool,
    /// Show only invoices with this status (SUCCESS, FAILED, INVALID, QUEUED, IN_PROGRESS,
    /// UNKNOWN, NEEDS_ATTENTION).
    #[arg(long, value_name = "STATUS")]
    pub only: Option<String>,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    // Status never needs a server, a signer or the sandbox running: just the queue file.
    let path = args.target.queue_path()?;
    if !super::session::is_postgres(&path) && !path.exists() {
        anyhow::bail!(
            "the queue {} does not exist yet; enqueue or submit invoices first / صف {} هنوز ساخته نشده است",
            path.display(),
            path.display()
        );
    }
    let (mut report, leases) = super::session::with_read_only_queue(&path, |queue| {
        Ok((pipeline::report::build(queue, None, None)?, queue.leases()?))
    })?;
    if let Some(only) = &args.only {
        let want = only.to_ascii_uppercase();
        report.invoices.retain(|i| i.status.as_str() == want);
    }
    print_report(
        &report,
        &[],
        None,
        args.json,
        args.all || args.only.is_some(),
        lang,
    )?;
    if !args.json {
        print_leases(&leases, lang);
    }
    Ok(if report.all_success() { 0 } else { 1 })
}

/// Which runner holds which memory ID since when (a PostgreSQL queue shared by runners).
fn print_leases(leases: &[moadian_queue::postgres::lease::Lease], lang: Langs) {
    let utc = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| ms.to_string())
    };
    let now = chrono::Utc::now().timestamp_millis();
    for l in leases.iter().filter(|l| !l.runner.is_empty()) {
        let short = l.runner.get(..8).unwrap_or(&l.runner);
        let (state_fa, state_en) = if l.expires > now {
            ("", "")
        } else {
            (
                "؛ منقضی (اجراکنندهٔ دیگری می‌تواند آن را بگیرد)",
                "; expired (another runner may take it over)",
            )
        };
        let m = crate::lang::Message::new(
            format!(
                "اجراکننده {short} روی {} (فرایند {}) شناسهٔ حافظهٔ {} را از {} UTC در دست دارد؛ آخرین ضربان {} UTC{state_fa}",
                l.host,
                l.pid,
                l.memory_id,
                utc(l.since),
                utc(l.heartbeat)
            ),
            format!(
                "runner {short} on {} (pid {}) holds memory ID {} since {} UTC; last heartbeat {} UTC{state_en}",
                l.host,
                l.pid,
                l.memory_id,
                utc(l.since),
                utc(l.heartbeat)
            ),
        );
        println!("{}", lang.text(&m));
    }
}

fn status_text(s: ReportStatus, lang: Langs) -> String {
    match lang {
        Langs::En => s.as_str().to_string(),
        Langs::Fa | Langs::Both => format!("{} {}", s.as_str(), s.label().fa),
    }
}

fn problems_cell(i: &InvoiceReport, lang: Langs) -> String {
    const SHOWN: usize = 6;
    let mut lines = Vec::new();
    if let Some(n) = &i.note {
        lines.push(format!("= {}", lang.text(n)));
    }
    for e in &i.errors {
        lines.push(format!("✗ {}", e.short(lang)));
    }
    for w in &i.warnings {
        lines.push(format!("! {}", w.short(lang)));
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
    if let Some(next) = &i.next {
        lines.push(format!("… {}", lang.text(next)));
    }
    lines.join("\n")
}

fn short_taxid(t: &Option<String>) -> String {
    t.clone().unwrap_or_else(|| "—".into())
}

/// The counts of a report in one line, both languages: what `status` prints first and what
/// `run --watch` logs after each pass. CONFLICT and NEEDS_ATTENTION appear when there are any.
pub fn summary_line(s: &crate::pipeline::Summary) -> Message {
    let mut extra_fa = String::new();
    let mut extra_en = String::new();
    if s.conflict > 0 {
        extra_fa.push_str(&format!("، تعارض {}", s.conflict));
        extra_en.push_str(&format!(", {} CONFLICT", s.conflict));
    }
    if s.needs_attention > 0 {
        extra_fa.push_str(&format!("، نیازمند بررسی {}", s.needs_attention));
        extra_en.push_str(&format!(", {} NEEDS_ATTENTION", s.needs_attention));
    }
    let fa = format!(
        "جمع {}: موفق {}، ناموفق {}، نامعتبر {}، در صف {}، در حال پردازش {}، نامعلوم {}{extra_fa}",
        s.total, s.success, s.failed, s.invalid, s.queued, s.in_progress, s.unknown
    );
    let en = format!(
        "{} invoice{}: {} SUCCESS, {} FAILED, {} INVALID, {} QUEUED, {} IN_PROGRESS, {} UNKNOWN{extra_en}",
        s.total,
        super::plural(s.total as u64),
        s.success,
        s.failed,
        s.invalid,
        s.queued,
        s.in_progress,
        s.unknown
    );
    Message::new(fa, en)
}

/// Prints the report as a table (people) or JSON (programs; it also carries each invoice's uid
/// and reference number).
pub fn print_report(
    report: &Report,
    refused: &[Refusal],
    stopped: Option<&Message>,
    json: bool,
    all: bool,
    lang: Langs,
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
    // The summary first; then only the invoices that need attention (everything but SUCCESS),
    // unless `all`; every detail stays in --json and `moadian status --all`.
    let s = &report.summary;
    println!("{}", lang.text(&summary_line(s)));
    let shown: Vec<&InvoiceReport> = report
        .invoices
        .iter()
        .filter(|i| all || i.status != ReportStatus::Success)
        .collect();
    if !shown.is_empty() || !refused.is_empty() {
        let mut t = super::table::new(vec![
            lang.label("منبع", "Source"),
            lang.label("شماره مالیاتی", "Tax ID"),
            lang.label("وضعیت", "Status"),
            lang.label("خطاها و هشدارها", "Errors / warnings"),
        ]);
        for i in &shown {
            t.add_row(vec![
                i.source.clone(),
                short_taxid(&i.taxid),
                status_text(i.status, lang),
                problems_cell(i, lang),
            ]);
        }
        for r in refused {
            t.add_row(vec![
                r.source.clone(),
                "—".into(),
                lang.label("رد شد", "REFUSED"),
                lang.text(&r.error),
            ]);
        }
        println!("{t}");
    }
    let hidden = (report.invoices.len() - shown.len()) as u64;
    if hidden > 0 {
        println!(
            "{}",
            lang.text(&Message::new(
                format!("{hidden} صورتحساب موفق فهرست نشد؛ ‎--all‎ همه را نشان می‌دهد و ‎--json‎ همهٔ جزئیات را."),
                format!(
                    "{hidden} SUCCESS invoice{} not listed; --all lists every invoice, --json gives every detail.",
                    super::plural(hidden)
                ),
            ))
        );
    }
    if s.in_progress + s.unknown + s.queued > 0 {
        println!(
            "{}",
            lang.text(&Message::new(
                "ادامهٔ پیگیری: moadian run (یا همین فرمان را دوباره اجرا کنید؛ چیزی دوبار ارسال نمی‌شود)",
                "to follow up: moadian run (or run the same command again; nothing is sent twice)",
            ))
        );
    }
    if let Some(m) = stopped {
        eprintln!("{}: {}", lang.label("متوقف شد", "stopped"), lang.text(m));
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
            Event::Posting { count } => b.set_message(format!(
                "sending {count} invoice{}",
                super::plural(*count as u64)
            )),
            Event::Accepted { count } => b.set_message(format!("{count} acknowledged")),
            Event::Unknown { count } => {
                b.set_message(format!("{count} without answer (will reconcile)"))
            }
            Event::Waiting { open, seconds } => b.set_message(format!(
                "waiting {seconds:.0}s for {open} invoice{}",
                super::plural(*open as u64)
            )),
            Event::Polled { finalized } => b.set_message(format!("{finalized} final")),
            Event::Enqueued { total, invalid } => {
                b.set_message(format!("queued {total} ({invalid} invalid)"))
            }
        }
    }
}
