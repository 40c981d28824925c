//! The simple endpoints: `nonce` (the only unauthenticated one), `server-information`,
//! `fiscal-information`, `taxpayer`, and stubs for `invoice-payment`, `taxpayer-info`,
//! `taxpayer-article6-status`. Shapes and codes as RC_TICS §5, §6, §9, §11.

use super::auth::Caller;
use super::clock::iso_nanos;
use super::errors::ApiError;
use super::state::{lock, AppState};
use axum::extract::{Query, State};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// Query parameters as sent, repeated keys kept (`uidList=a&uidList=b`).
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl axum::extract::FromRequestParts<AppState> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        match Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            Ok(Query(v)) => Ok(Params(v)),
            Err(e) => Err(ApiError::new("4147", state.now_ms()).detail(e.to_string())),
        }
    }
}

impl Params {
    /// The first non-empty value of `key` (case-sensitive, as the server).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every value of `key`: repeated keys and comma-joined values alike.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// GET `nonce?timeToLive=N` — 10..200 seconds, default 30 (4146 otherwise).
pub async fn nonce(State(state): State<AppState>, params: Params) -> Result<Json<Value>, ApiError> {
    let ttl = match params.get("timeToLive") {
        None => 30,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (10..=200).contains(&n) => n,
            _ => return Err(ApiError::new("4146", state.now_ms())),
        },
    };
    let (nonce, exp) = state.issue_nonce(ttl);
    Ok(Json(json!({"nonce": nonce, "expDate": iso_nanos(exp)})))
}

/// GET `server-information` — `serverTime` (with the clock-offset fault) and the sandbox key.
pub async fn server_information(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let (offset, retired_first) = {
        let f = lock(&state.faults);
        (f.clock_offset_ms, f.retired_key_first)
    };
    let (id, spki) = state.published_key();
    let key = |id: &str, spki: &[u8]| json!({"key": STANDARD.encode(spki), "id": id, "algorithm": "RSA", "purpose": 1});
    let mut keys = Vec::new();
    if let Some((rid, rspki)) = retired_first.then(|| state.retired_key()).flatten() {
        keys.push(key(&rid, &rspki));
    }
    keys.push(key(&id, &spki));
    Json(json!({
        "serverTime": state.now_ms().saturating_add(offset),
        "publicKeys": keys,
    }))
}

/// GET `fiscal-information?memoryId=…` — the caller's own memory IDs only (4160 otherwise).
pub async fn fiscal_information(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let now = state.now_ms();
    let memory_id = params.get("memoryId").unwrap_or(caller.client_id.as_str());
    if !super::registry::valid_memory_id(memory_id) {
        return Err(ApiError::new("4148", now));
    }
    if !state.registry.same_owner(memory_id, &caller.client_id) {
        return Err(ApiError::new("4160", now));
    }
    let Some(t) = state.registry.get(memory_id) else {
        return Err(ApiError::new("4160", now));
    };
    Ok(Json(json!({
        "nameTrade": t.memory_id,
        "fiscalStatus": t.fiscal_status.clone().unwrap_or_else(|| "ACTIVE".into()),
        "nationalId": t.national_id,
        "economicCode": t.economic_code,
    })))
}

fn economic_code_param(state: &AppState, params: &Params) -> Result<String, ApiError> {
    let now = state.now_ms();
    let Some(code) = params.get("economicCode") else {
        return Err(ApiError::new("4147", now).detail("economicCode missing"));
    };
    if !(code.len() == 10 || code.len() == 11 || code.len() == 14)
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ApiError::new("4171", now));
    }
    Ok(code.to_string())
}

/// GET `taxpayer?economicCode=…` — registered taxpayers are ACTIVE; unknown → 4170.
pub async fn taxpayer(
    State(state): State<AppState>,
    _caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let code = economic_code_param(&state, &params)?;
    let Some(t) = state.registry.by_economic_code(&code) else {
        return Err(ApiError::new("4170", state.now_ms()));
    };
    Ok(Json(json!({
        "nameTrade": t.name_trade.clone().unwrap_or_else(|| t.memory_id.clone()),
        "taxpayerStatus": "ACTIVE",
        "nationalId": t.national_id,
    })))
}

/// GET `taxpayer-info?economicCode=…` — stub: the `taxpayer` fields plus type.
pub async fn taxpayer_info(
    State(state): State<AppState>,
    _caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let code = economic_code_param(&state, &params)?;
    let Some(t) = state.registry.by_economic_code(&code) else {
        return Err(ApiError::new("4170", state.now_ms()));
    };
    let kind = if t.national_id.len() == 11 {
        "LEGAL"
    } else {
        "NATURAL"
    };
    Ok(Json(json!({
        "nameTrade": t.name_trade.clone().unwrap_or_else(|| t.memory_id.clone()),
        "taxpayerStatus": "ACTIVE",
        "taxpayerType": kind,
        "nationalId": t.national_id,
        "economicCode": t.economic_code,
    })))
}

/// GET `taxpayer-article6-status` — stub: always within the article-6 limit.
pub async fn article6_status(
    State(state): State<AppState>,
    _caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    economic_code_param(&state, &params)?;
    Ok(Json(json!({"article6RemainStatus": true})))
}

/// POST `invoice-payment` — stub: SUCCESS when the tax ID was accepted, FAILED otherwise.
pub async fn invoice_payment(
    State(state): State<AppState>,
    _caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let now = state.now_ms();
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return Err(ApiError::new("4147", now).detail("body is not JSON"));
    };
    let items: Vec<Value> = match v {
        Value::Array(a) => a,
        other => vec![other],
    };
    let store = lock(&state.store);
    let mut errors = Vec::new();
    for item in &items {
        let taxid = item
            .get("taxId")
            .or_else(|| item.get("taxid"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if store.accepted(taxid).is_none() {
            errors.push(
                json!({"code": "NOT_FOUND", "message": format!("صورتحساب {taxid} یافت نشد.")}),
            );
        }
    }
    let status = if errors.is_empty() {
        "SUCCESS"
    } else {
        "FAILED"
    };
    Ok(Json(json!({"requestStatus": status, "error": errors})))
}
