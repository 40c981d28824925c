//! `moadian submit`: validate, queue, sign, send and follow invoices to a final status.
//! Also home of the enqueue and send-and-poll steps `enqueue`, `run` and the referral commands
//! share; choosing the taxpayer, queue, signer and client is [`super::session`].

pub use super::session::{CountingSigner, Session, Target, SANDBOX_TOKEN_LABEL};
use super::Global;
use crate::pipeline::{self, PassOptions, PollOptions};
use moadian_queue::{Content, Enqueued, InvoiceId, QueueError, RunnerStore};
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
    /// Invoice files or directories: JSON (one invoice, an array, or JSON Lines), XLSX or CSV.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let mut session = Session::open(&args.target).await?;
    session.input = args.input.options();
    session.apply_pacing(&args.pacing)?;
    let queue = session.open_queue()?;
    let runner =
        Arc::new(queue.acquire_runner_for(std::slice::from_ref(&session.profile.memory_id))?);
    let placements = enqueue_paths(&session, &runner.queue(), &args.paths, args.fill, lang)?;
    let progress = super::status::Progress::new(!args.json);
    let stopped = send_and_poll(&session, runner.clone(), args.wait, &progress).await?;
    progress.finish();
    let (report, refused) = placements_report(&runner.queue(), placements)?;
    let message = stopped.as_ref().map(|s| &s.message);
    super::status::print_report(&report, &refused, message, args.json, args.all, lang)?;
    Ok(exit_code(&report, refused.len(), stopped.as_ref()))
}

/// An input the queue refused (not an invoice row): source and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    pub source: String,
    pub error: crate::lang::Message,
}

/// Where one input ended up.
#[derive(Debug)]
pub enum Placement {
    /// A queue row (new or replaced).
    Queue(InvoiceId),
    /// The same invoice (same content) was already in the queue: nothing new enqueued. With
    /// the input's own source.
    Already(InvoiceId, String),
    /// Refused: its tax ID holds another invoice, with other content, that is SUCCESS or in
    /// flight. Never sent.
    Conflict(pipeline::InvoiceReport),
    /// Invalid and not recorded: its tax ID belongs to another input's row in the queue, which
    /// an invalid copy must not overwrite. Reported from its own findings.
    Local(pipeline::InvoiceReport),
    /// The queue refused it.
    Refused(Refusal),
}

/// load → prepare → validate → enqueue, one [`Placement`] per input in input order. Inputs
/// found valid go first, so an invalid input that reuses a valid one's tax ID can never
/// overwrite it (it is reported INVALID on its own and never sent).
pub fn enqueue_paths(
    session: &Session,
    queue: &impl moadian_queue::Store,
    paths: &[PathBuf],
    fill: bool,
    lang: crate::lang::Langs,
) -> anyhow::Result<Vec<Placement>> {
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
    let now = chrono::Utc::now().timestamp_millis();
    let mut inputs = pipeline::load_inputs_with(paths, &session.input);
    if fill {
        for i in &mut inputs {
            if let Ok(v) = &mut i.value {
                match crate::import::fill::fill_invoice(v) {
                    // What was computed goes to standard error, so `--json` output stays one
                    // object on standard output.
                    Ok(filled) if !filled.is_empty() => {
                        let list: Vec<String> = filled
                            .iter()
                            .map(|f| format!("{} = {}", f.field, f.value))
                            .collect();
                        let head = lang.label("محاسبه شد", "filled");
                        eprintln!("{}: {head}: {}", i.source, list.join(", "));
                    }
                    Ok(_) => {}
                    Err(e) => i.value = Err(e),
                }
            }
        }
    }
    let n = inputs.len();
    let items: Vec<moadian_queue::NewInvoice<'static>> = inputs
        .into_iter()
        .map(|input| pipeline::prepare(input, &memory_id, now))
        .collect();
    // One tax ID, several inputs: the last locally valid one is taken (a later export of the
    // same invoice); the others are reported as superseded and never sent.
    let mut winner: std::collections::HashMap<String, (usize, bool)> =
        std::collections::HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Content::Numbered { taxid, invalid, .. } = &item.content {
            let valid = !invalid;
            let e = winner.entry(taxid.clone()).or_insert((i, valid));
            if valid || !e.1 {
                *e = (i, valid);
            }
        }
    }
    let mut out: Vec<Option<Placement>> = (0..n).map(|_| None).collect();
    let mut later = Vec::new();
    let mut chunk = Vec::new();
    let mut chunk_idx = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if let Content::Numbered {
            taxid, findings, ..
        } = &item.content
        {
            let (w, _) = winner[taxid];
            if w != i {
                out[i] = Some(Placement::Local(superseded(
                    &item.source,
                    taxid,
                    findings.as_ref(),
                )));
                continue;
            }
        }
        if matches!(item.content, Content::Numbered { invalid: true, .. }) {
            later.push((i, item));
            continue;
        }
        chunk.push(item);
        chunk_idx.push(i);
        if chunk.len() == 1000 {
            place(
                queue,
                std::mem::take(&mut chunk),
                &std::mem::take(&mut chunk_idx),
                &mut out,
            )?;
        }
    }
    place(queue, chunk, &chunk_idx, &mut out)?;
    for (i, item) in later {
        if let Content::Numbered {
            taxid, findings, ..
        } = &item.content
        {
            if let Some(existing) = queue.find_by_taxid(taxid)? {
                if existing.source != item.source {
                    out[i] = Some(Placement::Local(pipeline::report::local_invalid(
                        &item.source,
                        Some(taxid),
                        findings.as_ref(),
                    )));
                    continue;
                }
            }
        }
        place(queue, vec![item], &[i], &mut out)?;
    }
    Ok(out.into_iter().flatten().collect())
}

/// The row of an input whose tax ID another input of the same submission carries.
fn superseded(
    source: &str,
    taxid: &str,
    findings: Option<&serde_json::Value>,
) -> pipeline::InvoiceReport {
    let mut r = pipeline::report::local_invalid(source, Some(taxid), findings);
    let (fa, en) = (
        format!("شماره مالیاتی {taxid} در ورودی دیگری از همین ارسال هم آمده است و آن یکی ارسال شد؛ این یکی ارسال نشد. شماره مالیاتی یکتاست."),
        format!("the tax ID {taxid} is also carried by another input of this submission, which was taken; this one was not sent. A tax ID is unique."),
    );
    r.errors.push(pipeline::report::CodeLine {
        code: None,
        field: Some("header.taxid".into()),
        rule: Some("taxid.duplicate_input".into()),
        message: crate::lang::Message::new(fa, en),
        server_message: None,
    });
    r
}

fn place(
    queue: &impl moadian_queue::Store,
    items: Vec<moadian_queue::NewInvoice<'static>>,
    idx: &[usize],
    out: &mut [Option<Placement>],
) -> anyhow::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let sources: Vec<String> = items.iter().map(|i| i.source.clone()).collect();
    let placed = queue.enqueue_batch(items)?;
    for ((r, i), input) in placed.into_iter().zip(idx).zip(sources) {
        out[*i] = Some(match r {
            Enqueued::Inserted(p) | Enqueued::Replaced(p) => Placement::Queue(p.id),
            Enqueued::Unchanged(p) => Placement::Already(p.id, input),
            Enqueued::Refused { source, error } => match &error {
                QueueError::TaxIdSucceeded { invoice, .. }
                | QueueError::TaxIdInFlight { invoice, .. } => Placement::Already(*invoice, source),
                QueueError::TaxIdConflict { .. } => {
                    Placement::Conflict(pipeline::report::conflict(&source, &error))
                }
                _ => Placement::Refused(Refusal {
                    source,
                    error: crate::lang::Message::new(error.persian(), error.to_string()),
                }),
            },
        });
    }
    Ok(())
}

/// The report of a submission: one row per input, in input order (a queue row shown once).
pub fn placements_report(
    queue: &impl moadian_queue::Store,
    placements: Vec<Placement>,
) -> anyhow::Result<(pipeline::Report, Vec<Refusal>)> {
    let ids: Vec<InvoiceId> = placements
        .iter()
        .filter_map(|p| match p {
            Placement::Queue(id) | Placement::Already(id, _) => Some(*id),
            _ => None,
        })
        .collect();
    let mut by_id: std::collections::HashMap<InvoiceId, pipeline::InvoiceReport> =
        std::collections::HashMap::new();
    {
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        let rows = queue.list(&moadian_queue::ListFilter {
            ids: Some(sorted),
            ..Default::default()
        })?;
        let rep = pipeline::report::build(queue, Some(rows.iter().map(|r| r.id).collect()), None)?;
        for (row, r) in rows.iter().zip(rep.invoices) {
            by_id.insert(row.id, r);
        }
    }
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    for p in placements {
        match p {
            Placement::Queue(id) => {
                if let Some(r) = by_id.remove(&id) {
                    rows.push(r);
                }
            }
            Placement::Already(id, source) => {
                if let Some(mut r) = by_id.remove(&id) {
                    r.note = Some(already_note(queue, id, &r)?);
                    r.source = source;
                    rows.push(r);
                }
            }
            Placement::Local(r) | Placement::Conflict(r) => rows.push(r),
            Placement::Refused(r) => refused.push(r),
        }
    }
    Ok((pipeline::report::assemble(rows), refused))
}

/// "already SUCCESS, sent on … (from …); not sent again" for an input the queue already held.
fn already_note(
    queue: &impl moadian_queue::Store,
    id: InvoiceId,
    r: &pipeline::InvoiceReport,
) -> anyhow::Result<crate::lang::Message> {
    let inv = queue.get(id)?;
    let from = inv.as_ref().map(|i| i.source.clone()).unwrap_or_default();
    let sent = match inv.and_then(|i| i.last_attempt) {
        Some(uid) => queue.attempt(uid)?.map(|a| a.created_at),
        None => None,
    };
    let when = sent.map(|ms| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    });
    let status = r.status.as_str();
    Ok(match when {
        Some(w) => crate::lang::Message::new(
            format!("پیش‌تر {status} است، ارسال در {w} (از {from})؛ همان صورتحساب است و دوباره ارسال نشد"),
            format!("already {status}, sent on {w} (from {from}); the same invoice, not sent again"),
        ),
        None => crate::lang::Message::new(
            format!("پیش‌تر با وضعیت {status} در صف است (از {from})؛ همان صورتحساب است و دوباره در صف قرار نگرفت"),
            format!("already in the queue as {status} (from {from}); the same invoice, not enqueued again"),
        ),
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
pub fn exit_code(report: &pipeline::Report, refused: usize, stop: Option<&Stop>) -> u8 {
    match stop {
        Some(s) if s.outage => EXIT_UNREACHABLE,
        Some(_) => EXIT_INVOICES,
        None if report.all_success() && refused == 0 => EXIT_OK,
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
) -> anyhow::Result<Option<Stop>> {
    let memory_id = session.profile.memory_id.clone();
    let work = {
        let r = runner.clone();
        let m = memory_id.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let queued = !r.next_sendable(&m, 1, None)?.is_empty();
            let open = !pipeline::poll::open_attempts(&r.queue(), &m)?.is_empty();
            Ok(queued || open)
        })
        .await??
    };
    if !work {
        return Ok(None);
    }
    let (signer, client) = match session.connect_checked().await? {
        Ok(sc) => sc,
        Err(f) => {
            return Ok(Some(Stop {
                message: f.message,
                outage: f.outage,
            }))
        }
    };
    let opts = PassOptions {
        batch_size: session.profile.batch(),
        wait,
        poll: poll_options(session),
        ..PassOptions::default()
    };
    let stats = pipeline::run_pass(runner, client, &opts, obs).await?;
    tracing::info!(
        signatures = signer.count(),
        posted = stats.send.posted,
        inquiries = stats.poll.inquiries,
        "pass done"
    );
    Ok(stats.stopped.map(|s| Stop {
        message: s.message(),
        outage: s.is_outage(),
    }))
}

/// Polling pace: quick against the local sandbox, patient against the real server; the
/// `--poll-*` flags and profile keys applied.
pub fn poll_options(session: &Session) -> PollOptions {
    session.poll.clone()
}
