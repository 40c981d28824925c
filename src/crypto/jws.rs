//! The compact JWS of the auth token and of each invoice (protocol.md §3.2, §4.2):
//! RS256, `x5c`, `sigT`, `crit: ["sigT"]`.

use super::Signer;

/// Options of the JWS header.
#[derive(Debug, Clone, Default)]
pub struct JwsOptions {
    /// `sigT` as `yyyy-MM-ddTHH:mm:ssZ` (UTC); `None` = now.
    pub sig_t: Option<String>,
    /// Add the SDKs' `typ: jose` and `cty: text/plain` keys (six-key header).
    pub six_key_header: bool,
}

/// Signs `payload` (exact bytes) into a compact JWS.
pub fn sign_compact(
    payload: &[u8],
    signer: &dyn Signer,
    opts: &JwsOptions,
) -> Result<String, super::SignError> {
    let _ = (payload, signer, opts);
    Err(super::SignError::Other(
        "JWS signing is not built yet".into(),
    ))
}
