//! `moadian run`: one scheduled pass — pick up the inbox, send what is queued, poll what is
//! pending, reconcile what is unknown. Safe from cron: a second concurrent run gets "queue
//! busy" and changes nothing. `--watch` repeats the pass until interrupted.
//!
//! Exit codes ([`pass_exit`]): 0 nothing of this pass needs anyone; 1 an invoice is not final
//! yet, waits for a person, or became INVALID or FAILED in this pass (or an inbox file failed,
//! or the signer stopped the run); 3 the tax server could not be reached (network down, or
//! failing past `--deadline`): the queue is intact.

use super::inbox;
use super::submit::{send_and_poll_timed, Session, Stop, Target};
use super::Global;
use crate::pipeline;
use moadian_queue::{InvoiceStatus, QueueError};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Repeat the pass every INTERVAL (e.g. 5m) until interrupted.
    #[arg(long, value_name = "INTERVAL", value_parser = humantime::parse_duration)]
    pub watch: Option<Duration>,
    /// Enqueue every finished *.json / *.jsonl / *.csv / *.xlsx in DIR first; files move to
    /// DIR/done when all their invoices are SUCCESS, to DIR/failed (with NAME.why.json) when any
    /// is INVALID, FAILED or needs attention, and stay while any is on its way.
    #[arg(long, value_name = "DIR", value_parser = inbox::inbox_dir)]
    pub inbox: Option<PathBuf>,
    /// An inbox file is taken only when its size and time are the same at two looks this far
    /// apart.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
    /// How long to wait for final statuses (default: one inquiry round, no waiting).
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    #[command(flatten)]
    pub pacing: super::pacing::PacingArgs,
    // (With --inbox: the rules' sending deadline for the files taken.)
    #[command(flatten)]
    pub deadline: super::validate::DeadlineArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List every invoice, not only those that need attention (all but SUCCESS).
    #[arg(long)]
    pub all: bool,
}

/// The exit code of one pass. What the pass owns makes it 1: an invoice still on its way or
/// waiting for a person (CONFLICT, NEEDS_ATTENTION), one that became INVALID or FAILED during
/// the pass (`failed_now`), an inbox file refused, sent to `failed/` or left unmoved. An
/// INVALID or FAILED invoice from an earlier command is still listed, but it made that command
/// exit 1 already and does not fail every pass after it. 3: the server was unreachable.
fn pass_exit(
    summary: &pipeline::Summary,
    failed_now: bool,
    settled: &inbox::Settlement,
    stop: Option<&Stop>,
) -> u8 {
    if let Some(s) = stop {
        return if s.outage {
            super::submit::EXIT_UNREACHABLE
        } else {
            super::submit::EXIT_INVOICES
        };
    }
    let waiting = summary.queued + summary.in_progress + summary.unknown;
    let person = summary.conflict + summary.needs_attention;
    let files = settled.refused.len() + settled.failed + settled.unmoved;
    if waiting + person + files > 0 || failed_now {
        super::submit::EXIT_INVOICES
    } else {
        super::submit::EXIT_OK
    }
}

/// Whether an invoice of `memory_id` became INVALID or FAILED at or after `since` (Unix ms).
fn failed_since(
    queue: &impl moadian_queue::Store,
    memory_id: &str,
    since: i64,
) -> anyhow::Result<bool> {
    for status in [InvoiceStatus::Invalid, InvoiceStatus::Failed] {
        let some = queue.list(&moadian_queue::ListFilter {
            status: Some(status),
            memory_id: Some(memory_id.to_string()),
            updated_since: Some(since),
            limit: Some(1),
            ..Default::default()
        })?;
        if !some.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let mut session = Session::open(&args.target).await?;
    session.apply_pacing(&args.pacing)?;
    session.deadline = args.deadline.clone();
    // One pass, nothing ever queued here, and no inbox to take from: say which file was looked
    // for (cron with another HOME, a mistyped --queue) rather than start an empty one. (A
    // `--watch` service waits for what others will queue.)
    let path = &session.queue_path;
    let once = args.inbox.is_none() && args.watch.is_none();
    if once && !super::session::is_postgres(path) && !path.exists() {
        let shown = super::session::shown(path);
        crate::say_err!(
            "{}",
            lang.text(&crate::lang::Message::new(
                format!("صفی در {shown} نیست: با این پیکربندی (HOME، MOADIAN_HOME، --queue یا profile) هنوز صورتحسابی در صف گذاشته نشده است؛ کاری برای انجام نیست. اگر صف جای دیگری است، همان را بدهید (--queue یا --profile)."),
                format!("no queue at {shown}: nothing has been queued with this setup (HOME, MOADIAN_HOME, --queue or profile) yet; nothing to do. If the queue is elsewhere, name it (--queue or --profile)."),
            ))
        );
        // The output a program reads is there all the same: an empty listing.
        let empty = pipeline::Report {
            invoices: Vec::new(),
            summary: pipeline::Summary::default(),
        };
        let out = super::status::Output::listing(args.json, args.all, lang);
        super::status::print_listing(&empty, None, &out)?;
        return Ok(0);
    }
    let queue = session.open_queue()?;
    let runner = match queue.acquire_runner_for(std::slice::from_ref(&session.profile.memory_id)) {
        Ok(r) => std::sync::Arc::new(r),
        Err(e @ QueueError::Busy { .. }) => {
            crate::say_err!("queue busy: {e}\n{}", e.persian());
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    loop {
        let started = chrono::Utc::now().timestamp_millis();
        let mut taken = Vec::new();
        if let Some(dir) = &args.inbox {
            let (d, settle) = (dir.clone(), args.settle);
            let files =
                tokio::task::spawn_blocking(move || inbox::finished_files(&d, settle, lang))
                    .await??;
            taken = inbox::take(&session, &runner.queue(), files, lang)?;
        }
        let progress = super::progress::Progress::new(!args.json, lang);
        let pass = send_and_poll_timed(&session, runner.clone(), args.wait, &progress).await?;
        progress.finish();
        let stopped: Option<Stop> = pass.stop;
        let settled = match &args.inbox {
            Some(dir) => inbox::settle(dir, &runner.queue(), taken, lang)?,
            None => inbox::Settlement::default(),
        };
        let refused = &settled.refused;
        let queue = runner.queue();
        let listing = super::status::WithRefused {
            listing: &pipeline::listing::QueueListing {
                store: &queue,
                memory_id: Some(session.profile.memory_id.clone()),
            },
            refused,
        };
        let message = stopped.as_ref().map(|s| &s.message);
        let Some(every) = args.watch else {
            let out = super::status::Output {
                timing: pass.timing,
                cpu: Some(pass.cpu),
                ..super::status::Output::listing(args.json, args.all, lang)
            };
            let summary = super::status::print_listing(&listing, message, &out)?;
            let failed_now = failed_since(&queue, &session.profile.memory_id, started)?;
            return Ok(pass_exit(&summary, failed_now, &settled, stopped.as_ref()));
        };
        let when = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        let line = super::status::summary_line(&pipeline::Listing::summary(&listing)?);
        crate::say_err!("{when}: {}", lang.text(&line));
        if let Some(m) = message {
            crate::say_err!("{}", super::status::stopped_text(lang, m));
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}
