//! Inquiry answers that mean the server did not register the invoice for a reason that is not
//! the invoice's: a key it could not decrypt with (04150/04152), or a fault inside the server
//! (05139/05151/05159). The attempt is REJECTED and the invoice queued again under the same tax
//! ID, a bounded number of times, instead of ending FAILED.

use crate::api::{Client, ServerCode};
use crate::pipeline::poll::codes_json;
use crate::pipeline::send::blocking;
use crate::pipeline::{PipelineError, Runner};
use moadian_queue::{Attempt, AttemptStatus, QueueError, RunnerStore, Store};
use std::sync::Arc;

/// FAILED only because the server could not decrypt the packet (04150 undecryptable, 04152
/// algorithm): what a change of the server's key produces.
pub fn key_rejection(errors: &[ServerCode]) -> bool {
    all_of(errors, &["04150", "04152"])
}

/// FAILED only by a fault inside the server (RC_TXPS.EC_V02 table 5: 05139 signature check,
/// 05151 decryption, 05159 signer permission: «این خطا به بسته ارسالی مربوط نیست و مشکل
/// داخلی سمت سرور میباشد»).
pub fn server_fault(errors: &[ServerCode]) -> bool {
    all_of(errors, &["05139", "05151", "05159"])
}

fn all_of(errors: &[ServerCode], codes: &[&str]) -> bool {
    !errors.is_empty() && errors.iter().all(|c| codes.contains(&c.code.as_str()))
}

/// The reason recorded when an attempt is queued again after a key change (read back to allow
/// one retry per key).
const KEY_RETRY_REASON: &str = "server key changed";

/// The reason recorded when an attempt is queued again after a fault inside the server.
const SERVER_FAULT_REASON: &str = "fault inside the server";

/// How many times one invoice is sent again after faults inside the server before its FAILED
/// stands (and `explain` says to try later).
const SERVER_FAULT_RETRIES: usize = 3;

/// The `detail` of this invoice's earlier requeues for `reason`, oldest first.
async fn earlier(
    runner: &Arc<Runner>,
    a: &Attempt,
    reason: &'static str,
) -> Result<Vec<serde_json::Value>, PipelineError> {
    let r = runner.clone();
    let invoice = a.invoice_id;
    let events = blocking(move || r.queue().events(invoice)).await??;
    Ok(events
        .into_iter()
        .filter(|e| e.kind == "not_registered")
        .filter_map(|e| e.detail)
        .filter(|d| d["reason"] == reason)
        .collect())
}

/// Records the attempt REJECTED (not registered) and queues the invoice again, same tax ID.
/// False when another runner settled the attempt meanwhile (nothing to send again here).
async fn requeue(
    runner: &Arc<Runner>,
    a: &Attempt,
    errors: &[ServerCode],
    detail: serde_json::Value,
) -> Result<bool, PipelineError> {
    let errs = codes_json(errors);
    let r = runner.clone();
    let uid = a.uid;
    match blocking(move || {
        r.requeue_not_registered(uid, AttemptStatus::Rejected, errs.as_ref(), &detail)
    })
    .await?
    {
        Ok(_) => Ok(true),
        Err(e @ QueueError::InvalidTransition { .. }) => {
            tracing::debug!(error = %e, "rejection of an attempt settled elsewhere: not sent again");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// After a key rejection: picks the server's key to encrypt to again (fetched once per round,
/// `key_now`) and queues the invoice again unless it was already re-encrypted to that very key
/// and rejected again. The key of its last retry, which the server has just refused, is passed
/// over while `server-information` offers another, so a list whose first key the server no
/// longer decrypts with does not end the invoice FAILED. Returns whether it was queued again.
pub async fn after_key_change(
    runner: &Arc<Runner>,
    client: &Client,
    a: &Attempt,
    errors: &[ServerCode],
    key_now: &mut Option<String>,
) -> Result<bool, PipelineError> {
    let tried: Vec<String> = earlier(runner, a, KEY_RETRY_REASON)
        .await?
        .iter()
        .filter_map(|d| d["key_id"].as_str().map(str::to_string))
        .collect();
    if let Some(refused) = tried.last() {
        client.avoid_key(refused);
    }
    if key_now.is_none() {
        client.invalidate_server_key();
    }
    let key_id = client
        .encryption_key()
        .await
        .map_err(PipelineError::Api)?
        .id;
    *key_now = Some(key_id.clone());
    if tried.contains(&key_id) {
        tracing::warn!(uid = %a.uid, key = %key_id, "rejected again after re-encryption to every key the server offers: final");
        return Ok(false);
    }
    let detail = serde_json::json!({"reason": KEY_RETRY_REASON, "key_id": key_id});
    let again = requeue(runner, a, errors, detail).await?;
    if again {
        tracing::info!(uid = %a.uid, "server key changed: re-encrypting and sending again with the same tax ID");
    }
    Ok(again)
}

/// After a fault inside the server: queues the invoice again, up to [`SERVER_FAULT_RETRIES`]
/// times. Returns whether it was queued again.
pub async fn after_server_fault(
    runner: &Arc<Runner>,
    a: &Attempt,
    errors: &[ServerCode],
) -> Result<bool, PipelineError> {
    let before = earlier(runner, a, SERVER_FAULT_REASON).await?.len();
    if before >= SERVER_FAULT_RETRIES {
        tracing::warn!(uid = %a.uid, tries = before + 1, "failed inside the server again: final");
        return Ok(false);
    }
    let detail = serde_json::json!({"reason": SERVER_FAULT_REASON});
    let again = requeue(runner, a, errors, detail).await?;
    if again {
        tracing::info!(uid = %a.uid, "failed inside the server (not the invoice): sending again with the same tax ID");
    }
    Ok(again)
}
