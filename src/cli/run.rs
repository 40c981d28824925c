//! `moadian run`: one scheduled pass — pick up the inbox, send what is queued, poll what is
//! pending, reconcile what is unknown. Safe from cron: a second concurrent run gets "queue
//! busy" and changes nothing. `--watch` repeats the pass until interrupted.
//!
//! Exit codes: 0 every invoice of the memory ID is SUCCESS (or the queue holds none); 1 some invoice is INVALID, FAILED,
//! needs attention or is not final yet (or the signer stopped the run); 3 the tax server could
//! not be reached (network down, or failing past `--deadline`): the queue is intact.

use super::inbox;
use super::submit::{exit_code, send_and_poll_timed, Session, Stop, Target};
use super::Global;
use crate::pipeline;
use moadian_queue::QueueError;
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

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let mut session = Session::open(&args.target).await?;
    session.apply_pacing(&args.pacing)?;
    session.deadline = args.deadline.clone();
    let queue = session.open_queue()?;
    let runner = match queue.acquire_runner_for(std::slice::from_ref(&session.profile.memory_id)) {
        Ok(r) => std::sync::Arc::new(r),
        Err(e @ QueueError::Busy { .. }) => {
            eprintln!("queue busy: {e}\n{}", e.persian());
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    loop {
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
        let (refused, unmoved) = match &args.inbox {
            Some(dir) => inbox::settle(dir, &runner.queue(), taken, lang)?,
            None => (Vec::new(), 0),
        };
        let queue = runner.queue();
        let listing = super::status::WithRefused {
            listing: &pipeline::listing::QueueListing {
                store: &queue,
                memory_id: Some(session.profile.memory_id.clone()),
            },
            refused: &refused,
        };
        let message = stopped.as_ref().map(|s| &s.message);
        let Some(every) = args.watch else {
            let out = super::status::Output {
                json: args.json,
                all: args.all,
                only: None,
                timing: pass.timing,
                cpu: Some(pass.cpu),
                lang,
            };
            let summary = super::status::print_listing(&listing, message, &out)?;
            // A pass on a queue with nothing in it (cron on an empty inbox) has nothing wrong.
            let idle = summary.total == 0 && refused.is_empty() && stopped.is_none();
            let code = if idle {
                0
            } else {
                exit_code(&summary, refused.len(), stopped.as_ref())
            };
            // A file that could not be moved (each said above) is not a clean pass either.
            return Ok(if unmoved > 0 { code.max(1) } else { code });
        };
        let when = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        let line = super::status::summary_line(&pipeline::Listing::summary(&listing)?);
        eprintln!("{when}: {}", lang.text(&line));
        if let Some(m) = message {
            eprintln!("{}", super::status::stopped_text(lang, m));
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}
