//! `moadian status`: what the queue holds and where each invoice stands — and the table /
//! JSON rendering that `submit` and `run` share.

use super::session::QueueTarget;
use super::submit::Refusal;
use super::Global;
use crate::lang::{Langs, Message};
use crate::pipeline::{self, InvoiceReport, Report, ReportStatus};
use std::io::Write;

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
    /// Show only invoices with this status: SUCCESS, FAILED, INVALID, QUEUED, IN_PROGRESS,
    /// UNKNOWN, CONFLICT or NEEDS_ATTENTION (any case).
    #[arg(long, value_name = "STATUS", value_parser = parse_only)]
    pub only: Option<String>,
}

/// A status name `--only` accepts, as the library names it; anything else is a usage error.
fn parse_only(raw: &str) -> Result<String, String> {
    pipeline::ReportStatus::parse(raw)
        .map(|s| s.as_str().to_string())
        .map_err(|m| m.to_string())
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
    let out = Output {
        only: args.only.clone(),
        ..Output::listing(args.json, args.all || args.only.is_some(), lang)
    };
    let (summary, leases) = super::session::with_read_only_queue(&path, |queue| {
        let listing = pipeline::listing::QueueListing {
            store: queue,
            memory_id: None,
        };
        let summary = print_listing(&listing, None, &out)?;
        Ok((summary, queue.leases()?))
    })?;
    if !args.json {
        print_leases(&leases, lang);
    }
    Ok(if summary.all_success() { 0 } else { 1 })
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

/// How a listing is printed.
pub struct Output {
    /// JSON instead of a table.
    pub json: bool,
    /// Every invoice, not only those that need attention.
    pub all: bool,
    /// Only invoices with this status (the summary still counts every one).
    pub only: Option<String>,
    /// How long this run's invoices took from acceptance to a final answer.
    pub timing: Option<pipeline::Timing>,
    /// The CPU time a pass took (`submit`, `run`), shown in JSON.
    pub cpu: Option<Cpu>,
    pub lang: Langs,
}

impl Output {
    /// A listing as `json` or a table, `all` rows or those that need attention, in `lang`;
    /// no status filter, timing or CPU line.
    pub fn listing(json: bool, all: bool, lang: Langs) -> Self {
        Self {
            json,
            all,
            only: None,
            timing: None,
            cpu: None,
            lang,
        }
    }
}

/// The CPU time a pass took.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cpu {
    /// The process's CPU time when the server had answered the pass's last POST (none when
    /// nothing was sent).
    pub until_accepted: Option<std::time::Duration>,
}

/// "final 1.2 s after acceptance (median of 1000; slowest 2.0 s)".
pub fn timing_line(t: &pipeline::Timing) -> Message {
    // Seconds with one decimal, in whole numbers (no float in the crate: invariant 1).
    let secs = |ms: u64| format!("{}.{}", ms / 1000, (ms % 1000) / 100);
    let (m, x) = (secs(t.median_ms), secs(t.max_ms));
    let n = t.finalized;
    Message::new(
        format!("وضعیت نهایی {m} ثانیه پس از پذیرش رسید (میانهٔ {n} صورتحساب؛ کندترین {x} ثانیه)"),
        format!("final {m} s after acceptance (median of {n}; slowest {x} s)"),
    )
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
    let out = Output::listing(json, all, lang);
    let listing = WithRefused {
        listing: report,
        refused,
    };
    print_listing(&listing, stopped, &out)?;
    Ok(())
}

/// A listing followed by refusals held in memory.
pub struct WithRefused<'a> {
    pub listing: &'a dyn pipeline::Listing,
    pub refused: &'a [Refusal],
}

impl pipeline::Listing for WithRefused<'_> {
    fn rows(&self, f: &mut dyn FnMut(InvoiceReport) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.listing.rows(f)
    }
    fn refused(&self, f: &mut dyn FnMut(Refusal) -> anyhow::Result<()>) -> anyhow::Result<()> {
        for r in self.refused {
            f(r.clone())?;
        }
        Ok(())
    }
    fn refused_count(&self) -> usize {
        self.refused.len()
    }
    fn summary(&self) -> anyhow::Result<pipeline::Summary> {
        self.listing.summary()
    }
}

/// Rows per drawn table: a long listing is drawn as consecutive tables of this many rows, so
/// it is written as it is read.
const TABLE_ROWS: usize = 1000;

/// Prints a listing as it is read: a table (people) or JSON (programs). Returns the summary.
pub fn print_listing(
    listing: &dyn pipeline::Listing,
    stopped: Option<&Message>,
    out: &Output,
) -> anyhow::Result<pipeline::Summary> {
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let want = out.only.as_ref().map(|o| o.to_ascii_uppercase());
    let wanted = |i: &InvoiceReport| want.as_deref().is_none_or(|o| i.status.as_str() == o);
    if out.json {
        let s = print_json(listing, stopped, out, &wanted, &mut w)?;
        w.flush()?;
        return Ok(s);
    }
    let lang = out.lang;
    // The summary first; then only the invoices that need attention (everything but SUCCESS),
    // unless `all`; every detail stays in --json and `moadian status --all`.
    let s = listing.summary()?;
    writeln!(w, "{}", lang.text(&summary_line(&s)))?;
    if let Some(t) = &out.timing {
        writeln!(w, "{}", lang.text(&timing_line(t)))?;
    }
    let all = out.all || want.is_some();
    let mut hidden = 0u64;
    let mut table: Option<comfy_table::Table> = None;
    let mut drawn = 0usize;
    let mut rows_in = 0usize;
    let mut add = |row: Vec<String>,
                   table: &mut Option<comfy_table::Table>,
                   rows_in: &mut usize,
                   w: &mut dyn Write|
     -> anyhow::Result<()> {
        let t = table.get_or_insert_with(|| {
            drawn += 1;
            if drawn == 1 {
                header_table(lang)
            } else {
                super::table::body()
            }
        });
        t.add_row(row);
        *rows_in += 1;
        if *rows_in >= TABLE_ROWS {
            if let Some(t) = table.take() {
                writeln!(w, "{t}")?;
            }
            *rows_in = 0;
        }
        Ok(())
    };
    listing.rows(&mut |i| {
        if !wanted(&i) {
            return Ok(());
        }
        if !all && i.status == ReportStatus::Success {
            hidden += 1;
            return Ok(());
        }
        let row = vec![
            i.source.clone(),
            short_taxid(&i.taxid),
            status_text(i.status, lang),
            problems_cell(&i, lang),
        ];
        add(row, &mut table, &mut rows_in, &mut w)
    })?;
    listing.refused(&mut |r| {
        let row = vec![
            r.source.clone(),
            "—".into(),
            lang.label("رد شد", "REFUSED"),
            lang.text(&r.error),
        ];
        add(row, &mut table, &mut rows_in, &mut w)
    })?;
    if let Some(t) = table.take() {
        writeln!(w, "{t}")?;
    }
    if hidden > 0 {
        writeln!(
            w,
            "{}",
            lang.text(&Message::new(
                format!("{hidden} صورتحساب موفق فهرست نشد؛ ‎--all‎ همه را نشان می‌دهد و ‎--json‎ همهٔ جزئیات را."),
                format!(
                    "{hidden} SUCCESS invoice{} not listed; --all lists every invoice, --json gives every detail.",
                    super::plural(hidden)
                ),
            ))
        )?;
    }
    if s.in_progress + s.unknown + s.queued > 0 {
        writeln!(
            w,
            "{}",
            lang.text(&Message::new(
                "ادامهٔ پیگیری: moadian run (یا همین فرمان را دوباره اجرا کنید؛ چیزی دوبار ارسال نمی‌شود)",
                "to follow up: moadian run (or run the same command again; nothing is sent twice)",
            ))
        )?;
    }
    w.flush()?;
    if let Some(m) = stopped {
        crate::say_err!("{}", stopped_text(lang, m));
    }
    Ok(s)
}

/// Why a pass stopped, as standard error says it: in the chosen language first, and always
/// in the other one too (as every error that ends a command), so it can be searched for and
/// reported whatever `--lang` was.
pub fn stopped_text(lang: crate::lang::Langs, m: &Message) -> String {
    let first = lang.primary();
    let other = match first {
        crate::Lang::Fa => crate::Lang::En,
        crate::Lang::En => crate::Lang::Fa,
    };
    let label = lang.label("متوقف شد", "stopped");
    if m.get(first) == m.get(other) {
        format!("{label}: {}", m.get(first))
    } else {
        format!("{label}: {}\n{}", m.get(first), m.get(other))
    }
}

fn header_table(lang: Langs) -> comfy_table::Table {
    super::table::new(vec![
        lang.label("منبع", "Source"),
        lang.label("شماره مالیاتی", "Tax ID"),
        lang.label("وضعیت", "Status"),
        lang.label("خطاها و هشدارها", "Errors / warnings"),
    ])
}

/// The JSON form, written as read: `{"invoices": [...], "summary": {...}, "refused": [...],
/// "to_final": {...}, "cpu_ms": {...}, "stopped": {...}}`, pretty-printed as one document. The
/// summary counts every row, the list holds the `wanted` ones.
fn print_json(
    listing: &dyn pipeline::Listing,
    stopped: Option<&Message>,
    out: &Output,
    wanted: &dyn Fn(&InvoiceReport) -> bool,
    w: &mut dyn Write,
) -> anyhow::Result<pipeline::Summary> {
    let mut s = pipeline::Summary::default();
    let mut first = true;
    write!(w, "{{\n  \"invoices\": [")?;
    listing.rows(&mut |i| {
        s.add(i.status);
        if wanted(&i) {
            writeln!(w, "{}", if first { "" } else { "," })?;
            first = false;
            write_indented(w, &serde_json::to_string_pretty(&i)?, 4)?;
        }
        Ok(())
    })?;
    if first {
        writeln!(w, "],")?;
    } else {
        writeln!(w, "\n  ],")?;
    }
    write!(w, "  \"summary\": ")?;
    write_indented_rest(w, &serde_json::to_string_pretty(&s)?, 2)?;
    if listing.refused_count() > 0 {
        write!(w, ",\n  \"refused\": [")?;
        let mut first = true;
        listing.refused(&mut |r| {
            writeln!(w, "{}", if first { "" } else { "," })?;
            first = false;
            write_indented(w, &serde_json::to_string_pretty(&r)?, 4)?;
            Ok(())
        })?;
        write!(w, "\n  ]")?;
    }
    if let Some(t) = &out.timing {
        let v = serde_json::json!({
            "finalized": t.finalized,
            "median_ms": t.median_ms,
            "max_ms": t.max_ms,
        });
        write!(w, ",\n  \"to_final\": ")?;
        write_indented_rest(w, &serde_json::to_string_pretty(&v)?, 2)?;
    }
    if let Some(c) = &out.cpu {
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        let v = serde_json::json!({
            "until_accepted": c.until_accepted.map(ms),
            "total": pipeline::process_cpu().map(ms),
        });
        write!(w, ",\n  \"cpu_ms\": ")?;
        write_indented_rest(w, &serde_json::to_string_pretty(&v)?, 2)?;
    }
    if let Some(m) = stopped {
        write!(w, ",\n  \"stopped\": ")?;
        write_indented_rest(w, &serde_json::to_string_pretty(m)?, 2)?;
    }
    writeln!(w, "\n}}")?;
    Ok(s)
}

/// `text` (pretty JSON: no raw newline inside a string) with every line indented by `n`.
fn write_indented(w: &mut dyn Write, text: &str, n: usize) -> std::io::Result<()> {
    write!(w, "{:n$}", "")?;
    write_indented_rest(w, text, n)
}

/// `text` with every line but the first indented by `n`.
fn write_indented_rest(w: &mut dyn Write, text: &str, n: usize) -> std::io::Result<()> {
    for (k, line) in text.split('\n').enumerate() {
        if k > 0 {
            write!(w, "\n{:n$}", "")?;
        }
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_a_pass_stopped_is_in_both_languages_whatever_lang() {
        let m = Message::new("سرور در دسترس نیست", "the server is down");
        assert_eq!(
            stopped_text(Langs::En, &m),
            "stopped: the server is down\nسرور در دسترس نیست"
        );
        assert_eq!(
            stopped_text(Langs::Fa, &m),
            "متوقف شد: سرور در دسترس نیست\nthe server is down"
        );
        let same = Message::new("x", "x");
        assert_eq!(stopped_text(Langs::En, &same), "stopped: x");
    }
}
