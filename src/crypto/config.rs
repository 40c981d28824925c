//! The signer settings a `moadian.toml` profile or the signer flags carry, and
//! [`open_signer`], the one call that turns them into a ready [`Signer`].

use super::keyfile::KeyFileSigner;
use super::pin::PinSource;
use super::{SignError, Signer};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which key signs: a token (PKCS#11) or a key file. Embedded in `moadian.toml` profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignerConfig {
    /// Path of the token's PKCS#11 module; unset = the known ePass3003/ePass2003 names.
    pub pkcs11_module: Option<PathBuf>,
    /// Token label (as `moadian token list` shows it).
    pub token_label: Option<String>,
    /// Token serial number (alternative to the label).
    pub token_serial: Option<String>,
    /// CKA_ID of the key/certificate pair, hex (as `moadian token certs` shows it).
    pub key_id: Option<String>,
    /// Private key file (PKCS#8/PKCS#1 PEM, or PKCS#12 .pfx/.p12) instead of a token.
    pub key_file: Option<PathBuf>,
    /// Certificate file for `key_file` (not needed with PKCS#12).
    pub cert_file: Option<PathBuf>,
    /// Allow one login attempt even when the token says the next wrong PIN locks it.
    pub allow_final_pin_try: bool,
}

impl SignerConfig {
    /// True when this config names a token rather than a key file.
    pub fn uses_token(&self) -> bool {
        self.key_file.is_none()
    }
}

/// Opens the configured signer. For a token: finds it by label/serial, checks the PIN state,
/// logs in once, pairs key and certificate by CKA_ID and — when `expected_national_id` is
/// given and the token holds several certificates — picks the one with that national ID.
/// Blocking: call from `spawn_blocking` in async code.
pub fn open_signer(
    cfg: &SignerConfig,
    pin: PinSource,
    expected_national_id: Option<&str>,
) -> Result<Box<dyn Signer>, SignError> {
    let _ = expected_national_id;
    if let Some(key) = &cfg.key_file {
        if cfg.token_label.is_some() || cfg.token_serial.is_some() {
            return Err(SignError::Config(
                "give either a key file or a token, not both".into(),
            ));
        }
        let s = KeyFileSigner::open(key, cfg.cert_file.as_deref(), &pin)?;
        return Ok(Box::new(s));
    }
    Err(SignError::Config(
        "the PKCS#11 signer is not built yet; use --key FILE".into(),
    ))
}
