//! poll and reconcile: ask the server about every attempt that has no final status — the
//! acknowledged ones (IN_PROGRESS) and the unknown ones (crash, timeout, lost answer) — by uid,
//! up to 100 a call, and record the answers (those of a sweep page in one transaction). An
//! unknown attempt is never resent: only the queue may declare it lost (NOT_FOUND after its
//! grace period), which queues it again.
//!
//! To spend few signatures on the token (each call costs one), a large backlog is probed with
//! its newest 100 attempts first; the rest is swept only once the probe is all final.

use crate::api::{Client, InquiryResult, InvoiceStatus, MAX_INQUIRY_IDS};
use crate::pipeline::resend_same;
use crate::pipeline::send::blocking;
use crate::pipeline::{Event, Observer, PipelineError, Runner};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use moadian_queue::{Attempt, Outcome, QueueError, RunnerStore, ServerStatus, Store, Transition};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How polling paces itself.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// Wait after sending before the first inquiry (the server validates asynchronously).
    pub first_delay: Duration,
    /// Wait between rounds grows ×1.5 from `first_delay` up to this.
    pub max_delay: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl PollOptions {
    /// Defaults overridden by `MOADIAN_POLL_FIRST_MS` / `MOADIAN_POLL_MAX_MS`.
    pub fn from_env() -> Self {
        let mut p = Self::default();
        if let Some(ms) = env_ms("MOADIAN_POLL_FIRST_MS") {
            p.first_delay = ms;
        }
        if let Some(ms) = env_ms("MOADIAN_POLL_MAX_MS") {
            p.max_delay = ms;
        }
        p
    }
}

/// A duration in milliseconds from the environment variable `name` (pacing knobs for tests and
/// slow links); `None` when unset or not a number.
pub fn env_ms(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_millis)
}

/// What polling found.
#[derive(Debug, Default, Clone)]
pub struct PollStats {
    pub rounds: usize,
    pub inquiries: usize,
    pub finalized: usize,
    /// Attempts declared lost and queued again (to be sent in the next round).
    pub requeued: usize,
    /// Attempts still without a final status.
    pub open: usize,
    /// Times from acceptance to a final answer of the attempts sent in this pass.
    pub learned: crate::pipeline::pace::Learned,
}

/// Attempts of `memory_id` without a final status: unknown ones first.
pub fn open_attempts<S: Store>(store: &S, memory_id: &str) -> Result<Vec<Attempt>, PipelineError> {
    let mut v = store.to_reconcile()?;
    v.extend(store.pending_polls(Duration::ZERO)?);
    v.retain(|a| a.memory_id == memory_id);
    v.sort_by_key(|a| a.uid);
    v.dedup_by_key(|a| a.uid);
    Ok(v)
}

/// One inquiry round over `attempts` (≤100 per call); records the answers, all of them in one
/// queue transaction (a sweep page is up to [`SWEEP_PAGE`]): one commit instead of one per
/// call. Answers already had are recorded before an inquiry's failure is returned.
async fn inquire_and_record(
    runner: &Arc<Runner>,
    client: &Client,
    attempts: &[Attempt],
    stats: &mut PollStats,
    learn_since_ms: i64,
) -> Result<bool, PipelineError> {
    let mut answered = Vec::with_capacity(attempts.len());
    let asked = inquire(
        runner,
        client,
        attempts,
        stats,
        learn_since_ms,
        &mut answered,
    )
    .await;
    if !answered.is_empty() {
        let said: Vec<ServerStatus> = answered.iter().map(|o| o.status).collect();
        let r = runner.clone();
        let transitions = blocking(move || r.record_outcome_many(&answered)).await??;
        for (t, said) in transitions.into_iter().zip(said) {
            match t {
                Ok(Transition::Moved { to, .. }) if to.is_final() => stats.finalized += 1,
                Ok(Transition::Requeued) => stats.requeued += 1,
                Ok(_) => {}
                // Settled since it was read (another runner of a PostgreSQL queue answered it
                // first, or took this one's memory ID over): the queue kept the answer as a
                // `conflicting_answer` event, and the status recorded there stands. A final
                // answer that disagrees with it is worth a look; a late TIMEOUT is not.
                Err(e @ QueueError::InvalidTransition { .. }) => {
                    if matches!(said, ServerStatus::Success | ServerStatus::Failed) {
                        tracing::warn!(error = %e, server = said.as_str(), "the server's final answer disagrees with the attempt's recorded status; kept as an event")
                    } else {
                        tracing::debug!(error = %e, "answer for an attempt settled elsewhere: not recorded")
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    asked
}

/// The inquiries of [`inquire_and_record`]: their answers are added to `answered`.
async fn inquire(
    runner: &Arc<Runner>,
    client: &Client,
    attempts: &[Attempt],
    stats: &mut PollStats,
    learn_since_ms: i64,
    answered: &mut Vec<Outcome>,
) -> Result<bool, PipelineError> {
    let mut all_final = true;
    let mut key_now: Option<String> = None;
    for chunk in inquiry_chunks(attempts) {
        let chunk = &chunk[..];
        let uids: Vec<String> = chunk.iter().map(|a| a.uid.to_string()).collect();
        let (start, end) = window(chunk);
        stats.inquiries += 1;
        let results = client
            .inquiry_by_uid(&uids, client.memory_id(), start, end)
            .await
            .map_err(PipelineError::Api)?;
        let by_uid: HashMap<String, &InquiryResult> = results
            .iter()
            .filter_map(|r| r.uid.as_ref().map(|u| (u.to_ascii_lowercase(), r)))
            .collect();
        let mut outcomes = Vec::with_capacity(chunk.len());
        for a in chunk {
            let outcome = match by_uid.get(&a.uid.to_string()) {
                // A SUCCESS that lists errors: neither is taken; kept as it is, said.
                Some(r) if r.contradicts_itself() => {
                    tracing::warn!(
                        uid = %a.uid,
                        taxid = a.taxid.as_deref().unwrap_or(""),
                        errors = ?r.errors(),
                        "the server answered SUCCESS with errors or success=false: nothing recorded, asked again next pass; check it in the portal (کارپوشه) / سامانه وضعیت موفق را همراه خطا داد: چیزی ثبت نشد و دور بعد دوباره پرسیده می‌شود؛ در کارپوشه بررسی کنید"
                    );
                    all_final = false;
                    continue;
                }
                // A word we do not know: keep the attempt as it is; never guess, but say so.
                Some(r) if matches!(r.status, InvoiceStatus::Other(_)) => {
                    tracing::warn!(
                        uid = %a.uid,
                        taxid = a.taxid.as_deref().unwrap_or(""),
                        status = r.status.as_str(),
                        "the server answered a status the connection guide does not list: nothing recorded, asked again next pass / سامانه وضعیتی خارج از فهرست راهنمای اتصال داد: چیزی ثبت نشد و دور بعد دوباره پرسیده می‌شود"
                    );
                    all_final = false;
                    continue;
                }
                Some(r) => {
                    let errors = r.errors();
                    if r.status == InvoiceStatus::Failed && resend_same::key_rejection(&errors) {
                        // The server could not decrypt: its key changed. Not registered, so
                        // the same tax ID is encrypted to the new key and sent again — once
                        // per key change.
                        if resend_same::after_key_change(runner, client, a, &errors, &mut key_now)
                            .await?
                        {
                            stats.requeued += 1;
                            all_final = false;
                            continue;
                        }
                    }
                    if r.status == InvoiceStatus::Failed
                        && resend_same::server_fault(&errors)
                        && resend_same::after_server_fault(runner, a, &errors).await?
                    {
                        stats.requeued += 1;
                        all_final = false;
                        continue;
                    }
                    Outcome {
                        uid: a.uid,
                        status: server_status(&r.status),
                        reference: r.reference_number.clone().filter(|s| !s.is_empty()),
                        errors: codes_json(&errors),
                        warnings: codes_json(&r.warnings()),
                    }
                }
                None => Outcome {
                    uid: a.uid,
                    status: ServerStatus::NotFound,
                    reference: None,
                    errors: None,
                    warnings: None,
                },
            };
            if !matches!(outcome.status, ServerStatus::Success | ServerStatus::Failed) {
                all_final = false;
            } else if a.created_at >= learn_since_ms {
                let accepted = a.sent_at.unwrap_or(a.created_at);
                stats
                    .learned
                    .record(accepted, Utc::now().timestamp_millis());
            }
            outcomes.push(outcome);
        }
        // A duplicate refusal of a tax ID we sent is checked by inquiry before it is FAILED.
        if crate::pipeline::settle::duplicates(client, chunk, &mut outcomes).await? > 0 {
            all_final = false;
        }
        answered.append(&mut outcomes);
    }
    Ok(all_final)
}

pub(crate) fn codes_json(codes: &[crate::api::ServerCode]) -> Option<serde_json::Value> {
    if codes.is_empty() {
        None
    } else {
        serde_json::to_value(codes).ok()
    }
}

fn server_status(s: &InvoiceStatus) -> ServerStatus {
    match s {
        InvoiceStatus::Success => ServerStatus::Success,
        InvoiceStatus::Failed => ServerStatus::Failed,
        InvoiceStatus::InProgress => ServerStatus::InProgress,
        InvoiceStatus::Timeout => ServerStatus::Timeout,
        InvoiceStatus::NotFound => ServerStatus::NotFound,
        // Unheard-of words are skipped before this (the attempt stays as it is).
        InvoiceStatus::Other(_) => ServerStatus::InProgress,
    }
}

/// Splits attempts (oldest first) into inquiries of at most 100 ids whose recording times
/// span at most six days, so each fits the one-week window (4164) around its own attempts —
/// an attempt older than a week is still looked for where it was sent, never declared lost
/// for lack of looking.
fn inquiry_chunks(attempts: &[Attempt]) -> Vec<Vec<Attempt>> {
    const SPAN_MS: i64 = 6 * 86_400_000;
    let mut sorted: Vec<Attempt> = attempts.to_vec();
    sorted.sort_by_key(|a| a.created_at);
    let mut out: Vec<Vec<Attempt>> = Vec::new();
    for a in sorted {
        match out.last_mut() {
            Some(c) if c.len() < MAX_INQUIRY_IDS && a.created_at - c[0].created_at <= SPAN_MS => {
                c.push(a)
            }
            _ => out.push(vec![a]),
        }
    }
    out
}

/// The inquiry window of a chunk: from ten minutes before its oldest attempt was recorded (a
/// clock ahead of the server's; preflight refuses five minutes of skew) to
/// twelve hours after its newest (capped at five minutes from now, for clock skew).
fn window(attempts: &[Attempt]) -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    let oldest = attempts.iter().map(|a| a.created_at).min().unwrap_or(0);
    let newest = attempts.iter().map(|a| a.created_at).max().unwrap_or(0);
    let from =
        DateTime::<Utc>::from_timestamp_millis(oldest).unwrap_or(now) - ChronoDuration::minutes(10);
    let end = (DateTime::<Utc>::from_timestamp_millis(newest).unwrap_or(now)
        + ChronoDuration::hours(12))
    .min(now + ChronoDuration::minutes(5));
    (from, end.max(from + ChronoDuration::minutes(1)))
}

/// What polling learns from: what is already known in this pass, and the attempts it may learn
/// from (created since `since_ms`: not the ones of earlier runs it reconciles).
#[derive(Clone, Copy)]
pub struct Learning<'a> {
    pub known: &'a crate::pipeline::pace::Learned,
    pub since_ms: i64,
}

/// Polls until every open attempt of the client's memory ID is final, something was queued
/// again (returns so it can be sent), or `deadline` passes. `deadline` = now → one round.
/// The first inquiry comes `first_delay` after sending, then the waits back off (×1.5 up to
/// `max_delay`); once some invoice sent since `learn_since_ms` is final, the server's typical
/// time (with what `learned` already knows) brings the next inquiry to when the newest open
/// invoice should be final.
pub async fn poll(
    runner: Arc<Runner>,
    client: &Client,
    deadline: Instant,
    opts: &PollOptions,
    wait_first: bool,
    learning: Learning<'_>,
    obs: &dyn Observer,
) -> Result<PollStats, PipelineError> {
    let Learning {
        known: learned,
        since_ms: learn_since_ms,
    } = learning;
    let mut stats = PollStats::default();
    let mut delay = opts.first_delay;
    let mut first = true;
    let memory_id = client.memory_id().to_string();
    loop {
        // How many are open, and the newest of them (the probe): never the whole backlog in
        // memory; the sweep below reads it a page at a time.
        let (open_n, probe) = {
            let r = runner.clone();
            let m = memory_id.clone();
            blocking(move || -> Result<_, PipelineError> {
                Ok((
                    r.queue().open_count(&m)?,
                    r.queue().newest_open(&m, MAX_INQUIRY_IDS)?,
                ))
            })
            .await??
        };
        stats.open = open_n;
        if open_n == 0 {
            return Ok(stats);
        }
        if wait_first || !first {
            let now = Instant::now();
            if now >= deadline && !first {
                return Ok(stats);
            }
            let mut known = learned.clone();
            known.merge(&stats.learned);
            let newest = probe
                .iter()
                .map(|a| a.sent_at.unwrap_or(a.created_at))
                .max()
                .unwrap_or(0);
            let floor = opts.first_delay / 4;
            if !first {
                delay = delay.mul_f64(1.5).min(opts.max_delay);
            }
            let step = delay;
            let wait = known.next_wait(step, floor, newest, Utc::now().timestamp_millis());
            let sleep = wait.min(deadline.saturating_duration_since(now));
            if !sleep.is_zero() {
                obs.event(&Event::Waiting {
                    open: open_n,
                    seconds: sleep.as_secs_f64(),
                });
                tokio::time::sleep(sleep).await;
            }
        }
        first = false;
        stats.rounds += 1;
        // Probe with the newest attempts; sweep the rest when the probe is all final.
        let probe_final =
            inquire_and_record(&runner, client, &probe, &mut stats, learn_since_ms).await?;
        // Sweep the rest when the probe is final, on the last round, and every 4th round.
        let last_round = Instant::now() >= deadline;
        if (probe_final || last_round || stats.rounds % 4 == 0) && open_n > probe.len() {
            let probed: std::collections::HashSet<uuid::Uuid> =
                probe.iter().map(|a| a.uid).collect();
            let mut cursor = Some(moadian_queue::OpenCursor::default());
            while let Some(c) = cursor {
                let (page, next) = {
                    let r = runner.clone();
                    let m = memory_id.clone();
                    blocking(move || r.queue().open_page(&m, c, SWEEP_PAGE)).await??
                };
                cursor = next;
                let rest: Vec<Attempt> = page
                    .into_iter()
                    .filter(|a| !probed.contains(&a.uid))
                    .collect();
                if !rest.is_empty() {
                    inquire_and_record(&runner, client, &rest, &mut stats, learn_since_ms).await?;
                }
            }
        }
        obs.event(&Event::Polled {
            finalized: stats.finalized,
        });
        if stats.requeued > 0 || Instant::now() >= deadline {
            let r = runner.clone();
            let m = memory_id.clone();
            stats.open = blocking(move || r.queue().open_count(&m)).await??;
            return Ok(stats);
        }
    }
}

/// Open attempts read per page of a sweep.
const SWEEP_PAGE: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(created_at: i64) -> Attempt {
        Attempt {
            uid: uuid::Uuid::new_v4(),
            invoice_id: moadian_queue::InvoiceId(1),
            taxid: None,
            memory_id: "A11216".into(),
            batch_id: "b".into(),
            invoice_revision: 1,
            status: moadian_queue::AttemptStatus::Unknown,
            reference: None,
            server_status: None,
            errors: None,
            warnings: None,
            created_at,
            sent_at: None,
            unknown_since: None,
            polled_at: None,
            updated_at: created_at,
        }
    }

    #[test]
    fn chunks_hold_100_ids_and_fit_a_week() {
        let day = 86_400_000;
        let mut v: Vec<Attempt> = (0..250).map(|i| attempt(1_700_000_000_000 + i)).collect();
        v.push(attempt(1_700_000_000_000 + 10 * day));
        let chunks = inquiry_chunks(&v);
        assert_eq!(chunks.len(), 4);
        assert!(chunks.iter().all(|c| c.len() <= MAX_INQUIRY_IDS));
        for c in &chunks {
            let (start, end) = window(c);
            assert!(end - start <= ChronoDuration::days(7), "{start} {end}");
        }
        // The old chunk's window lies around its own attempts, not around now.
        let (start, _) = window(&chunks[0]);
        assert!(start.timestamp_millis() < 1_700_000_000_000);
    }
}
