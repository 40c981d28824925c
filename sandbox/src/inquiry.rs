//! The inquiry endpoints (RC_TICS §8, §10): `inquiry-by-uid` (fiscalId required),
//! `inquiry-by-reference-id`, `inquiry` (time range, status filter, paging) and
//! `inquiry-invoice-status` (by tax ID). Limits: at most 100 ids (4141), `start` before `end`
//! (4140), a window of at most one week (4164), status one of SUCCESS/FAILED/IN_PROGRESS/TIMEOUT
//! (4142); without `start`/`end` the last 24 hours. Anything unknown or outside the window is
//! NOT_FOUND.

use super::api::Params;
use super::auth::Caller;
use super::clock::parse_query_time;
use super::errors::ApiError;
use super::state::{lock, AppState, InvoiceRecord};
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// The searched window `[start, end]` in sandbox ms.
fn window(params: &Params, now: i64) -> Result<(i64, i64), ApiError> {
    let parse = |key: &str| -> Result<Option<i64>, ApiError> {
        match params.get(key) {
            None => Ok(None),
            Some(s) => parse_query_time(s)
                .map(Some)
                .ok_or_else(|| ApiError::new("4147", now).detail(format!("{key}={s}"))),
        }
    };
    let (start, end) = match (parse("start")?, parse("end")?) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, now),
        (None, Some(e)) => (e - DAY_MS, e),
        (None, None) => (now - DAY_MS, now),
    };
    if start > end {
        return Err(ApiError::new("4140", now));
    }
    if end - start > WEEK_MS {
        return Err(ApiError::new("4164", now));
    }
    Ok((start, end))
}

fn ids(params: &Params, key: &str, now: i64) -> Result<Vec<String>, ApiError> {
    let v = params.all(key);
    if v.is_empty() {
        return Err(ApiError::new("4147", now).detail(format!("{key} missing")));
    }
    if v.len() > 100 {
        return Err(ApiError::new("4141", now));
    }
    Ok(v)
}

fn not_found(uid: Option<&str>, reference: Option<&str>, fiscal_id: Option<&str>) -> Value {
    json!({
        "referenceNumber": reference,
        "uid": uid,
        "status": "NOT_FOUND",
        "data": {},
        "packetType": null,
        "fiscalId": fiscal_id,
        "sign": "",
    })
}

fn in_window(rec: &InvoiceRecord, (start, end): (i64, i64)) -> bool {
    (start..=end).contains(&rec.received_ms)
}

/// GET `inquiry-by-uid?uidList=…&fiscalId=…[&start&end]`.
pub async fn by_uid(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let now = state.now_ms();
    let uids = ids(&params, "uidList", now)?;
    let Some(fiscal_id) = params.get("fiscalId") else {
        return Err(ApiError::new("4147", now).detail("fiscalId missing"));
    };
    if !super::registry::valid_memory_id(fiscal_id) {
        return Err(ApiError::new("4148", now));
    }
    if state.registry.get(fiscal_id).is_some()
        && !state.registry.same_owner(fiscal_id, &caller.client_id)
    {
        return Err(ApiError::new("4160", now));
    }
    let win = window(&params, now)?;
    if inquiry_fails(&state) {
        lock(&state.store).ledger.faults.server_errors += 1;
        return Err(ApiError::new(&state.faults().error_code, now));
    }
    let faults = state.faults();
    let store = lock(&state.store);
    let out = uids
        .iter()
        .map(|uid| match store.by_uid(fiscal_id, uid) {
            Some(rec) if in_window(rec, win) && state.visible_to(rec, &caller.client_id) => {
                state.inquiry_json(rec, &faults)
            }
            _ => not_found(Some(uid), None, Some(fiscal_id)),
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// GET `inquiry-by-reference-id?referenceIds=…[&start&end]`.
pub async fn by_reference(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let now = state.now_ms();
    let refs = ids(&params, "referenceIds", now)?;
    let win = window(&params, now)?;
    let faults = state.faults();
    let store = lock(&state.store);
    let out = refs
        .iter()
        .map(|r| match store.by_reference(r) {
            Some(rec) if in_window(rec, win) && state.visible_to(rec, &caller.client_id) => {
                state.inquiry_json(rec, &faults)
            }
            _ => not_found(None, Some(r), None),
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// GET `inquiry?start&end&status&pageNumber&pageSize` — the caller's invoices, oldest first.
pub async fn by_time(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let now = state.now_ms();
    let status = params.get("status").map(str::to_string);
    if let Some(s) = &status {
        if !["SUCCESS", "FAILED", "IN_PROGRESS", "TIMEOUT"].contains(&s.as_str()) {
            return Err(ApiError::new("4142", now));
        }
    }
    let number = |key: &str, default: usize| -> Result<usize, ApiError> {
        match params.get(key) {
            None => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| ApiError::new("4147", now).detail(format!("{key}={s}"))),
        }
    };
    let page = number("pageNumber", 1)?.max(1);
    let size = number("pageSize", 10)?;
    if !(1..=100).contains(&size) {
        return Err(ApiError::new("4147", now).detail("pageSize must be 1..100"));
    }
    let win = window(&params, now)?;
    let faults = state.faults();
    let store = lock(&state.store);
    let out: Vec<Value> = store
        .invoices
        .iter()
        .filter(|r| in_window(r, win) && state.visible_to(r, &caller.client_id))
        .filter(|r| {
            status
                .as_deref()
                .is_none_or(|s| state.visible_status(r, &faults) == s)
        })
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|r| state.inquiry_json(r, &faults))
        .collect();
    Ok(Json(Value::Array(out)))
}

/// GET `inquiry-invoice-status?taxIds=…` — status in کارپوشه of accepted invoices.
pub async fn invoice_status(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let now = state.now_ms();
    let taxids = ids(&params, "taxIds", now)?;
    let denied = state.faults().taxid_inquiry_denied;
    let store = lock(&state.store);
    let out = taxids
        .iter()
        .map(|t| match store.accepted(t) {
            _ if denied => json!({
                "taxId": t, "invoiceStatus": null, "article6Status": null, "error": "ACCESS_DENIED",
            }),
            Some(rec) if state.registry.same_owner(&rec.fiscal_id, &caller.client_id) => json!({
                "taxId": t, "invoiceStatus": "APPROVED", "article6Status": "NOT_EXCEEDED", "error": null,
            }),
            Some(_) => json!({
                "taxId": t, "invoiceStatus": null, "article6Status": null, "error": "ACCESS_DENIED",
            }),
            None => json!({
                "taxId": t, "invoiceStatus": null, "article6Status": null, "error": "NOT_FOUND",
            }),
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// Whether this inquiry by uid is answered with a server error, counting down
/// `inquiry_errors_after`.
fn inquiry_fails(state: &AppState) -> bool {
    let mut f = lock(&state.faults);
    match f.inquiry_errors_after {
        Some(0) => true,
        Some(n) => {
            f.inquiry_errors_after = Some(n - 1);
            false
        }
        None => false,
    }
}
