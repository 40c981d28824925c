//! Authentication of every call but `nonce`: the Bearer token is a JWS over
//! `{"nonce","clientId"}` signed with the taxpayer's key and carrying its certificate in `x5c`
//! (RC_TICS §5). Checked in the official order: structure (4130), certificate (4135/4136),
//! header and signature (4131), UTF-8 (4134), payload shape (4101), memory ID format (4148),
//! nonce single use and expiry (4102), clientId known (4110), national ID of the certificate =
//! owner of the clientId (4103).

use super::errors::ApiError;
use super::jose::{verify_compact, JwsFault};
use super::registry::valid_memory_id;
use super::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde_json::Value;

/// The caller, once authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The memory ID in the token (`clientId`).
    pub client_id: String,
    /// National ID of the certificate's owner.
    pub national_id: String,
}

/// The token after `Bearer`, tolerating any run of whitespace (the official .NET SDK sends
/// two spaces) and a lowercase scheme.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let mut parts = value.split_whitespace();
    let scheme = parts.next()?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = parts.next()?;
    Some(token.to_string())
}

/// Authenticates a request's headers at sandbox time.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let now = state.now_ms();
    let err = |code: &str| ApiError::new(code, now);
    let Some(token) = bearer_token(headers) else {
        return Err(ApiError::unauthorized_empty(now));
    };
    let verified = verify_compact(&token, now).map_err(|f| match f {
        JwsFault::Structure(d) => err("4130").detail(d),
        JwsFault::NoX5c => err("4135"),
        JwsFault::BadX5c(d) => err("4136").detail(d),
        JwsFault::Invalid(d) => err("4131").detail(d),
    })?;
    let text = String::from_utf8(verified.payload.clone()).map_err(|_| err("4134"))?;
    let payload: Value = serde_json::from_str(&text).map_err(|_| err("4101"))?;
    let (Some(nonce), Some(client_id)) = (
        payload.get("nonce").and_then(Value::as_str),
        payload.get("clientId").and_then(Value::as_str),
    ) else {
        return Err(err("4101"));
    };
    if !valid_memory_id(client_id) {
        return Err(err("4148"));
    }
    if !state.consume_nonce(nonce) {
        return Err(err("4102"));
    }
    let Some(taxpayer) = state.registry.get(client_id) else {
        return Err(err("4110"));
    };
    let national_id = verified.national_id.unwrap_or_default();
    if !state.registry.may_sign(client_id, &national_id) {
        return Err(err("4103").detail(format!(
            "certificate {national_id:?}, owner of {client_id}: {}",
            taxpayer.national_id
        )));
    }
    Ok(Caller {
        client_id: client_id.to_string(),
        national_id,
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers)
    }
}
