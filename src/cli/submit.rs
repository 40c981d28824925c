//! `moadian submit`: validate, queue, sign, send and follow invoices to a final status.
//! Also home of the enqueue and send-and-poll steps `enqueue`, `run` and the referral commands
//! share (the work itself is [`crate::pipeline`]); choosing the taxpayer, queue, signer and client is [`super::session`].

pub use super::session::{CountingSigner, Session, Target, SANDBOX_TOKEN_LABEL};
use super::Global;
use crate::pipeline::{self, PassOptions, PollOptions};
use moadian_queue::{RunnerStore, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `submit` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// How long to wait for final statuses after sending (e.g. 90s, 10m; 0 = don't wait).
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List every invoice, not only those that need attention (all but SUCCESS).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub pacing: super::pacing::PacingArgs,
    /// Compute what follows from the lines (prdis, adis, vam, tsstam, totals) before validating.
    #[arg(long)]
    pub fill: bool,
    #[command(flatten)]
    pub input: crate::import::limits::InputArgs,
    #[command(flatten)]
    pub deadline: super::validate::DeadlineArgs,
    /// Invoice files or directories: JSON (one invoice, an array, or JSON Lines), XLSX or CSV.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let mut session = Session::open(&args.target).await?;
    session.input = args.input.options();
    session.deadline = args.deadline.clone();
    session.apply_pacing(&args.pacing)?;
    let queue = session.open_queue()?;
    let runner =
        Arc::new(queue.acquire_runner_for(std::slice::from_ref(&session.profile.memory_id))?);
    let placements = enqueue_paths(&session, &runner.queue(), &args.paths, args.fill, lang)?;
    let progress = super::progress::Progress::new(!args.json, lang);
    let pass = send_and_poll_timed(&session, runner.clone(), args.wait, &progress).await?;
    progress.finish();
    let stopped = pass.stop;
    let queue = runner.queue();
    let listing = placements.listing(&queue);
    let message = stopped.as_ref().map(|s| &s.message);
    let out = super::status::Output {
        timing: pass.timing,
        cpu: Some(pass.cpu),
        ..super::status::Output::listing(args.json, args.all, lang)
    };
    let summary = super::status::print_listing(&listing, message, &out)?;
    Ok(exit_code(&summary, placements.refused, stopped.as_ref()))
}

pub use crate::pipeline::{Placements, Refusal};

/// load → fill → prepare → validate → enqueue, streamed ([`pipeline::ingest`]); what `--fill`
/// computed goes to standard error, so `--json` output stays one object on standard output.
pub fn enqueue_paths(
    session: &Session,
    queue: &impl moadian_queue::Store,
    paths: &[PathBuf],
    fill: bool,
    lang: crate::lang::Langs,
) -> anyhow::Result<Placements> {
    for p in paths {
        if !p.exists() {
            anyhow::bail!(
                "{} does not exist / مسیر {} وجود ندارد",
                p.display(),
                p.display()
            );
        }
    }
    let memory_id = crate::invoice::MemoryId::parse(&session.profile.memory_id)
        .map_err(|e| anyhow::anyhow!("memory_id of the profile: {}", e.message().en))?;
    let opts = pipeline::IngestOptions {
        memory_id: &memory_id,
        rules: session
            .deadline
            .context(chrono::Utc::now().timestamp_millis()),
        fill,
        read: session.input.clone(),
    };
    let head = lang.label("محاسبه شد", "filled");
    pipeline::ingest::enqueue_paths(queue, paths, &opts, &mut |source, filled| {
        let list: Vec<String> = filled
            .iter()
            .map(|f| format!("{} = {}", f.field, f.value))
            .collect();
        crate::say_err!("{source}: {head}: {}", list.join(", "));
    })
}

/// Why a pass stopped early: the message in both languages, and whether the tax server or the
/// network was down (exit code [`EXIT_UNREACHABLE`]).
#[derive(Debug, Clone)]
pub struct Stop {
    pub message: crate::lang::Message,
    pub outage: bool,
}

/// Exit code of `run` / `submit` when every invoice reached SUCCESS.
pub const EXIT_OK: u8 = 0;
/// Exit code when some invoice is INVALID, FAILED, conflicting, needs attention or is not
/// final yet (or the signer / preflight stopped the run).
pub const EXIT_INVOICES: u8 = 1;
/// Exit code when the run stopped because the tax server could not be reached (network down
/// or server failing past `--deadline`); the queue is intact.
pub const EXIT_UNREACHABLE: u8 = 3;

/// The exit code of a pass: 3 when it stopped for an outage, else 0 only when every invoice
/// reached SUCCESS and nothing was refused.
pub fn exit_code(summary: &pipeline::Summary, refused: usize, stop: Option<&Stop>) -> u8 {
    match stop {
        Some(s) if s.outage => EXIT_UNREACHABLE,
        Some(_) => EXIT_INVOICES,
        None if summary.all_success() && refused == 0 => EXIT_OK,
        None => EXIT_INVOICES,
    }
}

/// Opens the signer only if there is something to send or follow, runs the pass, and returns
/// why it stopped early (if it did), in both languages. Every pass ends with a WAL checkpoint,
/// so between passes (`run --watch` included) the main queue file alone is complete.
pub async fn send_and_poll(
    session: &Session,
    runner: Arc<moadian_queue::AnyRunner>,
    wait: Duration,
    obs: &dyn pipeline::Observer,
) -> anyhow::Result<Option<Stop>> {
    Ok(send_and_poll_timed(session, runner, wait, obs).await?.stop)
}

/// What a pass leaves to show.
#[derive(Default)]
pub struct PassShown {
    /// Why it stopped early, if it did.
    pub stop: Option<Stop>,
    /// How long its invoices took from acceptance to a final answer (when some became final).
    pub timing: Option<pipeline::Timing>,
    /// The CPU it took.
    pub cpu: super::status::Cpu,
}

/// [`send_and_poll`], with how long the invoices of the pass took from acceptance to a final
/// answer and what CPU time getting them accepted took.
pub async fn send_and_poll_timed(
    session: &Session,
    runner: Arc<moadian_queue::AnyRunner>,
    wait: Duration,
    obs: &dyn pipeline::Observer,
) -> anyhow::Result<PassShown> {
    let out = one_pass(session, runner.clone(), wait, obs).await;
    let done = tokio::task::spawn_blocking(move || match runner.queue().as_sqlite() {
        Some(q) => q.checkpoint(),
        // A PostgreSQL queue has no file to checkpoint.
        None => Ok(true),
    })
    .await;
    if !matches!(done, Ok(Ok(true))) {
        tracing::debug!("WAL checkpoint after the pass did not complete; the next one will");
    }
    out
}

async fn one_pass(
    session: &Session,
    runner: Arc<moadian_queue::AnyRunner>,
    wait: Duration,
    obs: &dyn pipeline::Observer,
) -> anyhow::Result<PassShown> {
    let memory_id = session.profile.memory_id.clone();
    let work = {
        let r = runner.clone();
        let m = memory_id.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let queued = !r.next_sendable(&m, 1, None)?.is_empty();
            let open = r.queue().open_count(&m)? > 0;
            Ok(queued || open)
        })
        .await??
    };
    if !work {
        return Ok(PassShown::default());
    }
    let (signer, client) = match session.connect_checked().await? {
        Ok(sc) => sc,
        Err(f) => {
            return Ok(PassShown {
                stop: Some(Stop {
                    message: f.message,
                    outage: f.outage,
                }),
                ..PassShown::default()
            })
        }
    };
    let opts = PassOptions {
        batch_size: session.profile.batch(),
        wait,
        poll: poll_options(session),
        sign_threads: session.sign_threads(),
        ..PassOptions::default()
    };
    let stats = pipeline::run_pass(runner, client, &opts, obs).await?;
    tracing::info!(
        signatures = signer.count(),
        posted = stats.send.posted,
        inquiries = stats.poll.inquiries,
        rounds = stats.poll.rounds,
        "pass done"
    );
    Ok(PassShown {
        timing: stats.poll.learned.timing(),
        cpu: super::status::Cpu {
            until_accepted: stats.accepted_cpu,
        },
        stop: stats.stopped.map(|s| Stop {
            message: s.message(),
            outage: s.is_outage(),
        }),
    })
}

/// Polling pace: quick against the local sandbox, patient against the real server; the
/// `--poll-*` flags and profile keys applied.
pub fn poll_options(session: &Session) -> PollOptions {
    session.poll.clone()
}
