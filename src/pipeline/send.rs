//! sign → encrypt → send, pipelined: a blocking thread reads the queue a page (the send size)
//! at a time, a pool of threads (`--sign-threads`, one per core by default) signs each invoice
//! and encrypts it to the server key, and the async sender batches the packets (up to the
//! profile's batch size) and POSTs them — so the network never waits on the signer and the
//! signer never waits on the network. A token whose module allows one session signs one at a
//! time while the other threads encrypt. Each batch's attempts are committed to the queue before its POST
//! (invariant 2); its reference numbers are written as soon as the answer arrives, while the
//! next batch is begun and POSTed, and are in the queue before the round ends.

use crate::api::{ApiError, Client, Disposition, Packet, PacketHeader};
use crate::crypto::jwe::ServerKey;
use crate::crypto::jws::{sign_compact, JwsOptions};
use crate::crypto::SignError;
use crate::pipeline::{Event, Observer, PipelineError, Runner, StopReason};
use moadian_queue::{AfterRejection, Invoice, InvoiceId, InvoiceKey, QueueError, RunnerStore};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// What one send round did.
#[derive(Debug, Default)]
pub struct SendStats {
    /// Packets POSTed (attempts recorded).
    pub posted: usize,
    /// Acknowledged with a reference number.
    pub accepted: usize,
    /// POSTs whose outcome is unknown (to reconcile).
    pub unknown: usize,
    /// Refused before acceptance and queued again.
    pub requeued: usize,
    /// Invoices signed.
    pub signed: usize,
    /// Why sending stopped early, if it did.
    pub stopped: Option<StopReason>,
}

/// Most invoices handed to a signing thread, or from it to the sender, at once.
const CHUNK: usize = 32;
/// A signing thread holds its results no longer than this (progress and POSTs keep pace
/// with a slow signer); a key file signs a whole chunk in less.
const PASS_ON_AFTER: Duration = Duration::from_millis(20);

struct Ready {
    key: InvoiceKey,
    jwe: String,
}

/// Signs, encrypts and sends every QUEUED invoice of the client's memory ID.
pub async fn send_queued(
    runner: Arc<Runner>,
    client: Arc<Client>,
    batch_size: usize,
    threads: usize,
    jws_opts: JwsOptions,
    obs: &dyn Observer,
) -> Result<SendStats, PipelineError> {
    let mut stats = SendStats::default();
    let memory_id = client.memory_id().to_string();
    let batch_size = batch_size.clamp(1, crate::api::MAX_BATCH);

    // Anything to send at all? (Spares a server-information call and a signature.)
    let probe = {
        let r = runner.clone();
        let m = memory_id.clone();
        blocking(move || r.next_sendable(&m, 1, None)).await??
    };
    if probe.is_empty() {
        return Ok(stats);
    }
    let key = match client.encryption_key().await {
        Ok(k) => k,
        Err(e) => {
            stats.stopped = Some(StopReason::from_api(e));
            return Ok(stats);
        }
    };
    let server_key = Arc::new(ServerKey::from_der(&key.der, &key.id).map_err(PipelineError::Sign)?);

    let stop = Arc::new(AtomicBool::new(false));
    // A round dropped half-way (its task cancelled) stops the reader and the signing threads
    // at their next invoice too.
    let _stop_when_dropped = StopWhenDropped(stop.clone());
    let threads = threads.max(1);
    // Work and results travel a few invoices at a time (one lock, one hand-over and one wake
    // per chunk, not per invoice); small enough that every thread gets a share of a batch.
    let chunk = (batch_size / threads).clamp(1, CHUNK);
    let (ready_tx, mut ready_rx) =
        mpsc::channel::<Vec<Result<Ready, SignError>>>((batch_size.max(16) * 2).div_ceil(chunk));
    // Stage 1: read QUEUED invoices page by page (a page is the send size).
    let (work_tx, work_rx) =
        std::sync::mpsc::sync_channel::<Vec<Invoice>>(batch_size.max(16).div_ceil(chunk));
    let reader_thread = {
        let runner = runner.clone();
        let stop = stop.clone();
        let memory_id = memory_id.clone();
        tokio::task::spawn_blocking(move || -> Result<(), PipelineError> {
            let mut after: Option<InvoiceId> = None;
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let page = runner.next_sendable(&memory_id, batch_size, after)?;
                let Some(last) = page.last() else {
                    return Ok(());
                };
                after = Some(last.id);
                // Each chunk is a vector of its own size: a chunk split off the page would
                // keep the whole page's allocation alive while it waits to be signed.
                let mut page = page.into_iter();
                loop {
                    let part: Vec<Invoice> = page.by_ref().take(chunk).collect();
                    if part.is_empty() {
                        break;
                    }
                    if stop.load(Ordering::Relaxed) || work_tx.send(part).is_err() {
                        return Ok(());
                    }
                }
            }
        })
    };
    // Stage 2: `threads` workers sign (the signer allows that many at once; a token with one
    // session serializes them) and encrypt each invoice to the server key.
    let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let work_rx = work_rx.clone();
            let ready_tx = ready_tx.clone();
            let signer = client.signer().clone();
            let server_key = server_key.clone();
            let stop = stop.clone();
            let jws_opts = jws_opts.clone();
            std::thread::spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok(invoices) = next else { return };
                let mut done = Vec::with_capacity(invoices.len());
                let mut passed = Instant::now();
                let mut failed = false;
                for inv in invoices {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(payload) = inv.payload.as_deref() else {
                        continue;
                    };
                    let res =
                        sign_compact(payload.as_bytes(), &*signer, &jws_opts).and_then(|jws| {
                            server_key.encrypt(&jws).map(|jwe| Ready {
                                key: inv.key(),
                                jwe,
                            })
                        });
                    failed = res.is_err();
                    done.push(res);
                    if failed {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    // A slow signer (a token) passes each result on as it comes.
                    if passed.elapsed() >= PASS_ON_AFTER {
                        if ready_tx.blocking_send(std::mem::take(&mut done)).is_err() {
                            return;
                        }
                        passed = Instant::now();
                    }
                }
                if (!done.is_empty() && ready_tx.blocking_send(done).is_err()) || failed {
                    return;
                }
            })
        })
        .collect();
    drop(ready_tx);
    // Only the workers hold the queue of work: once they have all stopped (a signer failure),
    // the reader's next hand-over fails and it ends, instead of waiting on a full queue.
    drop(work_rx);

    // Stage 3: batch and POST.
    let mut batch: Vec<Ready> = Vec::with_capacity(batch_size);
    let mut signer_failure: Option<SignError> = None;
    // The previous batch's acceptances, being recorded while the next batch is begun and
    // POSTed (they are off the path between two POSTs; recorded before this round ends).
    let mut recording: Option<Recording> = None;
    loop {
        let next = ready_rx.recv().await;
        let closed = next.is_none();
        let mut signed = 0;
        let mut take = |results: Vec<Result<Ready, SignError>>,
                        batch: &mut Vec<Ready>,
                        failure: &mut Option<SignError>| {
            for r in results {
                match r {
                    Ok(r) => {
                        signed += 1;
                        batch.push(r);
                    }
                    Err(e) => {
                        *failure = Some(e);
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
        };
        if let Some(results) = next {
            take(results, &mut batch, &mut signer_failure);
        }
        // Take whatever else is already waiting, without blocking.
        while batch.len() < batch_size && signer_failure.is_none() {
            match ready_rx.try_recv() {
                Ok(results) => take(results, &mut batch, &mut signer_failure),
                Err(_) => break,
            }
        }
        if signed > 0 {
            stats.signed += signed;
            obs.event(&Event::Signed { count: signed });
        }
        // Whole batches (a chunk may carry the batch past its size), and the rest at the end.
        while signer_failure.is_none()
            && stats.stopped.is_none()
            && (batch.len() >= batch_size || (closed && !batch.is_empty()))
        {
            let rest = batch.split_off(batch_size.min(batch.len()));
            let items = std::mem::replace(&mut batch, rest);
            let posted = post_batch(
                &runner,
                &client,
                &memory_id,
                items,
                &mut stats,
                &mut recording,
                obs,
            );
            if let Some(reason) = posted.await? {
                stats.stopped = Some(reason);
                stop.store(true, Ordering::Relaxed);
            }
        }
        if closed || signer_failure.is_some() || stats.stopped.is_some() {
            break;
        }
    }
    if let Some(r) = recording.take() {
        r.finish(obs).await?;
    }
    stop.store(true, Ordering::Relaxed);
    drop(ready_rx);
    let joined = blocking(move || {
        for w in workers {
            let _ = w.join();
        }
    })
    .await;
    joined?;
    match reader_thread.await {
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(PipelineError::Task(e.to_string())),
        Ok(Ok(())) => {}
    }
    if let Some(e) = signer_failure {
        // Signed but unsent packets were never recorded as attempts: they stay QUEUED.
        stats.stopped = Some(StopReason::Signer(e));
    }
    Ok(stats)
}

/// Sets the stop flag when dropped.
struct StopWhenDropped(Arc<AtomicBool>);

impl Drop for StopWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One POST's acceptances being written to the queue on a blocking thread.
struct Recording {
    accepted: usize,
    task: tokio::task::JoinHandle<Result<(), moadian_queue::QueueError>>,
}

impl Recording {
    /// Waits until they are in the queue.
    async fn finish(self, obs: &dyn Observer) -> Result<(), PipelineError> {
        self.task
            .await
            .map_err(|e| PipelineError::Task(e.to_string()))??;
        obs.event(&Event::Accepted {
            count: self.accepted,
        });
        Ok(())
    }
}

/// Records the attempts, POSTs one batch and records what the answer says: a refusal or an
/// unknown outcome at once, the acceptances in `recording`, written while the next batch is
/// begun and POSTed (the previous batch's are awaited first). Returns a reason to stop sending
/// (server refusing, signer gone) or `None` to go on.
async fn post_batch(
    runner: &Arc<Runner>,
    client: &Client,
    memory_id: &str,
    items: Vec<Ready>,
    stats: &mut SendStats,
    recording: &mut Option<Recording>,
    obs: &dyn Observer,
) -> Result<Option<StopReason>, PipelineError> {
    let batch_id = Uuid::new_v4().to_string();
    let keys: Vec<InvoiceKey> = items.iter().map(|r| r.key).collect();
    // Invariant 2: the attempts are durable before anything leaves the machine.
    let attempts = {
        let r = runner.clone();
        let b = batch_id.clone();
        let k = keys.clone();
        match blocking(move || r.begin_attempt(&k, &b)).await? {
            Ok(a) => a,
            // Taken over while paused: nothing more is sent from here.
            Err(e @ QueueError::LeaseTaken { .. }) => return Ok(Some(StopReason::Queue(e))),
            // The queue's database is gone: nothing can be recorded, so nothing is sent.
            Err(e @ QueueError::PostgresDown(_)) => return Err(e.into()),
            Err(e) => {
                // One invoice changed under us (re-enqueued): record the others one by one.
                tracing::warn!(error = %e, "batch attempt refused; recording one by one");
                let mut v = Vec::new();
                for k in keys {
                    let r = runner.clone();
                    let b = batch_id.clone();
                    match blocking(move || r.begin_attempt(&[k], &b)).await? {
                        Ok(mut a) => v.append(&mut a),
                        Err(e @ QueueError::LeaseTaken { .. }) if v.is_empty() => {
                            return Ok(Some(StopReason::Queue(e)))
                        }
                        Err(e @ QueueError::PostgresDown(_)) => return Err(e.into()),
                        Err(_) => {}
                    }
                }
                v
            }
        }
    };
    if attempts.is_empty() {
        return Ok(None);
    }
    let mut jwe_of: HashMap<InvoiceId, String> =
        items.into_iter().map(|r| (r.key.id, r.jwe)).collect();
    // Each packet takes its JWE (an invoice has one attempt per batch): no copy.
    let packets: Vec<Packet> = attempts
        .iter()
        .filter_map(|a| {
            jwe_of.remove(&a.invoice_id).map(|jwe| Packet {
                payload: jwe,
                header: PacketHeader {
                    request_trace_id: a.uid.to_string(),
                    fiscal_id: memory_id.to_string(),
                },
            })
        })
        .collect();
    let uids: Vec<Uuid> = attempts.iter().map(|a| a.uid).collect();
    stats.posted += packets.len();
    obs.event(&Event::Posting {
        count: packets.len(),
    });
    let answer = client.send_invoices(packets).await;
    // The previous POST's acceptances were written meanwhile: in the queue before this
    // answer is recorded.
    if let Some(r) = recording.take() {
        r.finish(obs).await?;
    }
    match answer {
        Ok(resp) => {
            // An answer without a result for some uid may still carry the error envelope's
            // codes (HTTP 200 with `errors`): kept in the reason, never dropped.
            let codes = crate::api::codes_of(&resp.errors);
            let no_result = if codes.is_empty() {
                "no result for this uid in the POST answer".to_string()
            } else {
                let listed = crate::api::error::describe(&codes);
                let reason = format!(
                    "no result for this uid in the POST answer, which carried the errors {listed}"
                );
                tracing::warn!(codes = %listed, "the invoice POST was answered with errors and no result: recorded unknown, reconciled by inquiry / پاسخ ارسال صورتحساب خطا داشت و نتیجه نداشت: وضعیت نامعلوم ثبت شد و با استعلام روشن می‌شود");
                reason
            };
            let mut by_uid: HashMap<String, String> = HashMap::new();
            for r in resp.result {
                if let Some(reference) = r.reference_number.filter(|s| !s.is_empty()) {
                    by_uid.insert(r.uid.to_ascii_lowercase(), reference);
                }
            }
            let mut accepted = Vec::new();
            let mut missing = Vec::new();
            for uid in &uids {
                match by_uid.get(&uid.to_string()) {
                    Some(reference) => accepted.push((*uid, reference.clone())),
                    None => missing.push(*uid),
                }
            }
            stats.accepted += accepted.len();
            stats.unknown += missing.len();
            let n = accepted.len();
            let r = runner.clone();
            let task = tokio::task::spawn_blocking(move || {
                r.record_accepted_many(&accepted)?;
                if !missing.is_empty() {
                    r.mark_unknown_many(&missing, &no_result)?;
                }
                Ok(())
            });
            *recording = Some(Recording { accepted: n, task });
            Ok(None)
        }
        Err(e) => {
            let reason = format!("{e}");
            match e.disposition() {
                Disposition::Unknown => {
                    stats.unknown += uids.len();
                    let r = runner.clone();
                    blocking(move || r.mark_unknown_many(&uids, &reason)).await??;
                    obs.event(&Event::Unknown {
                        count: stats.unknown,
                    });
                    // Recorded as unknown: reconciled by inquiry, never resent. Go on with
                    // the next batch (each is recorded before it leaves).
                    tracing::warn!(error = %e, "answer of an invoice POST lost; will reconcile");
                    Ok(None)
                }
                Disposition::Retry | Disposition::Final => {
                    // Refused before acceptance (auth stage, envelope, signer gone):
                    // nothing was taken; the invoices go back to the queue.
                    stats.requeued += uids.len();
                    let errors =
                        serde_json::json!([{"code": e.code().unwrap_or(""), "message": reason}]);
                    let r = runner.clone();
                    blocking(move || {
                        r.record_rejected_before_acceptance(&uids, &errors, AfterRejection::Requeue)
                    })
                    .await??;
                    Ok(Some(StopReason::from_api(e)))
                }
            }
        }
    }
}

/// Runs a blocking queue call off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PipelineError::Task(e.to_string()))
}

impl StopReason {
    pub fn from_api(e: ApiError) -> Self {
        match e {
            ApiError::Sign(s) => StopReason::Signer(s),
            other => StopReason::Api(other),
        }
    }
}
