//! POST `invoice`: the envelope checks answered at once (4143 more than 1000 packets, 4144 empty
//! or invalid JSON, 4145 missing payload/requestTraceId/fiscalId, 4162 requestTraceId not a UUID,
//! 4163 repeated requestTraceId — HTTP 400), otherwise the acknowledgement
//! `{"timestamp","result":[{uid, packetType:null, referenceNumber, data:null}]}` and the packets
//! are examined in the background ([`super::processing`]). The drop-connection faults act here.

use super::auth::Caller;
use super::config::{Faults, Rate};
use super::errors::ApiError;
use super::server::ConnHandle;
use super::state::{lock, AppState, InvoiceRecord, Work};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashSet;

/// The `requestTraceId` pattern of RC_TXPS.EC_V02 (4162).
pub fn is_uuid_like(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One packet that passed the envelope checks.
struct Packet {
    payload: String,
    uid: String,
    fiscal_id: String,
}

fn envelope(body: &[u8], now: i64) -> Result<Vec<Packet>, ApiError> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(ApiError::new("4144", now)),
    };
    if items.len() > 1000 {
        return Err(ApiError::new("4143", now));
    }
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut packets = Vec::with_capacity(items.len());
    for item in &items {
        let (Some(payload), Some(uid), Some(fiscal_id)) = (
            text(&item["payload"]),
            text(&item["header"]["requestTraceId"]),
            text(&item["header"]["fiscalId"]),
        ) else {
            return Err(ApiError::new("4145", now));
        };
        packets.push(Packet {
            payload,
            uid,
            fiscal_id,
        });
    }
    if let Some(bad) = packets.iter().find(|p| !is_uuid_like(&p.uid)) {
        return Err(ApiError::new("4162", now).detail(&bad.uid));
    }
    let mut seen = HashSet::new();
    for p in &packets {
        if !seen.insert(p.uid.to_ascii_lowercase()) {
            return Err(ApiError::new("4163", now).detail(&p.uid));
        }
    }
    Ok(packets)
}

/// Takes one from a "next N" knob: whether it was above zero.
pub(crate) fn take_one(next: &mut u32) -> bool {
    let some = *next > 0;
    if some {
        *next -= 1;
    }
    some
}

/// Whether a "next N" knob (taken from) or its rate (drawn) says yes.
fn decision(state: &AppState, knob: impl FnOnce(&mut Faults) -> (&mut u32, Rate)) -> bool {
    let mut f = lock(&state.faults);
    let (next, rate) = knob(&mut f);
    let next = take_one(next);
    drop(f);
    next || state.chance(rate)
}

/// Whether this POST rotates the encryption key on arrival.
fn rotate_decision(state: &AppState) -> bool {
    decision(state, |f| (&mut f.rotate_key_next, f.rotate_key_rate))
}

/// Whether this POST is answered 200 with an error envelope.
fn answer_errors_decision(state: &AppState) -> bool {
    decision(state, |f| (&mut f.errors_in_200_next, 0.0))
}

/// Whether this packet fails inside the server (05151).
fn internal_error_decision(state: &AppState) -> bool {
    decision(state, |f| (&mut f.internal_error_next, 0.0))
}

/// Whether this packet ends TIMEOUT.
fn timeout_decision(state: &AppState) -> bool {
    decision(state, |f| (&mut f.timeout_next, f.timeout_rate))
}

/// Whether this packet is acknowledged and then forgotten.
fn forget_decision(state: &AppState) -> bool {
    decision(state, |f| {
        (&mut f.forget_after_accept_next, f.forget_after_accept_rate)
    })
}

/// Whether this POST loses its connection (before / after recording), counting down the
/// "next N" knobs.
fn drop_decision(state: &AppState) -> (bool, bool) {
    let mut f = lock(&state.faults);
    let before = take_one(&mut f.drop_before_accept_next);
    let after = !before && take_one(&mut f.drop_after_accept_next);
    let (rb, ra) = (f.drop_before_accept_rate, f.drop_after_accept_rate);
    drop(f);
    let before = before || state.chance(rb);
    let after = !before && (after || state.chance(ra));
    (before, after)
}

pub async fn post_invoice(
    State(state): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Response {
    let now = state.now_ms();
    let packets = match envelope(&body, now) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if rotate_decision(&state) {
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.rotate_key()).await {
            Ok(Ok(id)) => tracing::info!(%id, "fault: encryption key rotated"),
            Ok(Err(e)) => tracing::warn!(error = %e, "fault: key rotation failed"),
            Err(e) => tracing::warn!(error = %e, "fault: key rotation failed"),
        }
    }
    if answer_errors_decision(&state) {
        // HTTP 200 with the error envelope and no result: nothing recorded.
        let e = json!({"timestamp": now, "requestTraceId": null,
            "errors": [{"code": "4145", "message": "sandbox fault: an error envelope in a 200 answer"}]});
        return Json(e).into_response();
    }
    let (drop_before, drop_after) = drop_decision(&state);
    if drop_before {
        lock(&state.store).ledger.faults.dropped_before_accept += 1;
        tracing::info!("fault: connection dropped before the invoices were recorded");
        conn.kill();
        return ApiError::new("5199", now).into_response();
    }
    let faults = state.faults();
    let mut result = Vec::with_capacity(packets.len());
    let mut work = Vec::with_capacity(packets.len());
    let forget: Vec<bool> = packets.iter().map(|_| forget_decision(&state)).collect();
    let timeouts: Vec<bool> = packets.iter().map(|_| timeout_decision(&state)).collect();
    {
        let mut store = lock(&state.store);
        for ((p, forget), timeout) in packets.into_iter().zip(forget).zip(timeouts) {
            let reference_number = uuid::Uuid::new_v4().to_string();
            if forget {
                // Acknowledged, never recorded: inquiries answer NOT_FOUND.
                store.ledger.faults.forgotten += 1;
                result.push(json!({
                    "uid": p.uid,
                    "packetType": null,
                    "referenceNumber": reference_number,
                    "data": null,
                }));
                continue;
            }
            if timeout {
                store.ledger.faults.timeouts += 1;
            }
            let delay = i64::try_from(faults.processing_delay_ms).unwrap_or(i64::MAX);
            let i = store.insert(
                InvoiceRecord {
                    uid: p.uid.clone(),
                    reference_number: reference_number.clone(),
                    fiscal_id: p.fiscal_id.clone(),
                    sender: caller.client_id.clone(),
                    received_ms: now,
                    visible_ms: now.saturating_add(delay),
                    stuck: faults.stuck_in_progress,
                    timeout,
                    outcome: None,
                },
                &p.payload,
            );
            result.push(json!({
                "uid": p.uid,
                "packetType": null,
                "referenceNumber": reference_number,
                "data": null,
            }));
            work.push((i, p.payload, p.fiscal_id));
        }
    }
    process_in_background(state.clone(), work);
    if drop_after {
        lock(&state.store).ledger.faults.dropped_after_accept += 1;
        tracing::info!("fault: connection dropped after the invoices were recorded");
        conn.kill();
    }
    Json(json!({"timestamp": now, "result": result})).into_response()
}

/// Examines the packets on the blocking pool, one chunk per core, then records the outcomes.
pub(super) fn process_in_background(state: AppState, work: Work) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = work.len().div_ceil(cores).max(1);
    let mut work = work;
    while !work.is_empty() {
        let rest = work.split_off(chunk.min(work.len()));
        let mine = std::mem::replace(&mut work, rest);
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            for (i, payload, fiscal_id) in mine {
                let outcome = if internal_error_decision(&state) {
                    super::processing::internal_error()
                } else {
                    state.examiner.examine(&payload, &fiscal_id, state.now_ms())
                };
                lock(&state.store).decide(i, outcome);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_pattern() {
        assert!(is_uuid_like("cf019c26-f235-11ed-a05b-0242ac120003"));
        assert!(is_uuid_like("CF019C26-F235-11ED-A05B-0242AC120003"));
        assert!(!is_uuid_like("cf019c26f23511eda05b0242ac120003"));
        assert!(!is_uuid_like("cf019c26-f235-11ed-a05b-0242ac12000g"));
    }

    #[test]
    fn envelope_codes() {
        let code = |b: &str| envelope(b.as_bytes(), 0).err().map(|e| e.code);
        assert_eq!(code(""), Some("4144".into()));
        assert_eq!(code("[]"), Some("4144".into()));
        assert_eq!(code("{}"), Some("4144".into()));
        assert_eq!(
            code(r#"[{"payload":"x","header":{"fiscalId":"A11216"}}]"#),
            Some("4145".into())
        );
        assert_eq!(
            code(r#"[{"payload":"x","header":{"requestTraceId":"nope","fiscalId":"A11216"}}]"#),
            Some("4162".into())
        );
        let one = r#"{"payload":"x","header":{"requestTraceId":"cf019c26-f235-11ed-a05b-0242ac120003","fiscalId":"A11216"}}"#;
        assert_eq!(code(&format!("[{one},{one}]")), Some("4163".into()));
        let many = vec![one; 1001].join(",");
        assert_eq!(code(&format!("[{many}]")), Some("4143".into()));
        assert!(envelope(format!("[{one}]").as_bytes(), 0).is_ok());
    }
}
