//! `moadian run`: one scheduled pass — pick up the inbox, send what is queued, poll what is
//! pending, reconcile what is unknown. Safe from cron: a second concurrent run gets "queue
//! busy" and changes nothing. `--watch` repeats the pass until interrupted.

use super::submit::{enqueue_paths, send_and_poll, Session, Target};
use super::Global;
use crate::pipeline;
use moadian_queue::{QueueError, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Repeat the pass every INTERVAL (e.g. 5m) until interrupted.
    #[arg(long, value_name = "INTERVAL", value_parser = humantime::parse_duration)]
    pub watch: Option<Duration>,
    /// Enqueue every *.json in DIR first, moving each processed file to DIR/done.
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// How long to wait for final statuses (default: one inquiry round, no waiting).
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List every invoice, not only those that need attention (all but SUCCESS).
    #[arg(long)]
    pub all: bool,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let session = Session::open(&args.target).await?;
    let queue = session.open_queue()?;
    let runner = match queue.acquire_runner() {
        Ok(r) => std::sync::Arc::new(r),
        Err(e @ QueueError::Busy { .. }) => {
            eprintln!("queue busy: {e}\n{}", e.persian());
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    loop {
        let mut refused = Vec::new();
        if let Some(dir) = &args.inbox {
            refused = pick_up_inbox(lang, &session, runner.queue(), dir)?;
        }
        let stopped = send_and_poll(&session, runner.clone(), args.wait, &pipeline::Silent).await?;
        let report =
            pipeline::report::build(runner.queue(), None, Some(&session.profile.memory_id))?;
        let Some(every) = args.watch else {
            super::status::print_report(
                &report,
                &refused,
                stopped.as_ref(),
                args.json,
                args.all,
                lang,
            )?;
            let open = report.summary.queued + report.summary.in_progress + report.summary.unknown;
            return Ok(u8::from(open > 0 || report.summary.failed > 0));
        };
        let s = &report.summary;
        let when = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        let line = crate::lang::Message::new(
            format!(
                "{when}: موفق {}، ناموفق {}، نامعتبر {}، در صف {}، در حال پردازش {}، نامعلوم {}",
                s.success, s.failed, s.invalid, s.queued, s.in_progress, s.unknown
            ),
            format!(
                "{when}: {} SUCCESS, {} FAILED, {} INVALID, {} QUEUED, {} IN_PROGRESS, {} UNKNOWN",
                s.success, s.failed, s.invalid, s.queued, s.in_progress, s.unknown
            ),
        );
        eprintln!("{}", lang.text(&line));
        if let Some(m) = &stopped {
            eprintln!("{}: {}", lang.label("متوقف شد", "stopped"), lang.text(m));
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}

/// Enqueues every `*.json` directly in `dir`, then moves it to `dir/done` (after the enqueue
/// committed: a crash in between re-reads the file next time, and the queue recognises it).
fn pick_up_inbox(
    lang: crate::lang::Langs,
    session: &Session,
    queue: &moadian_queue::SqliteQueue,
    dir: &Path,
) -> anyhow::Result<Vec<super::submit::Refusal>> {
    let done = dir.join("done");
    std::fs::create_dir_all(&done)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("json"))
        })
        .collect();
    files.sort();
    let mut refused = Vec::new();
    for f in files {
        for p in enqueue_paths(session, queue, std::slice::from_ref(&f), false, lang)? {
            if let super::submit::Placement::Refused(r) = p {
                refused.push(r);
            }
        }
        let name = f.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let mut target = done.join(&name);
        if target.exists() {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
            target = done.join(format!("{}.{stamp}", name.to_string_lossy()));
        }
        std::fs::rename(&f, &target)?;
    }
    let _ = queue.summary();
    Ok(refused)
}
