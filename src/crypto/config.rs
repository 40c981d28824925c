//! The signer settings a `moadian.toml` profile or the signer flags carry, and
//! [`open_signer`], the one call that turns them into a ready [`Signer`].

use super::cert::{check_certificate, CertInfo};
use super::checks::{Check, CheckStatus};
use super::keyfile::KeyFileSigner;
use super::pin::PinSource;
use super::pkcs11::Pkcs11Signer;
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
    /// Threads that sign at once (default: one per core). A token gets one session per
    /// thread when its module allows concurrent sessions, else one (signatures serialized).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_threads: Option<usize>,
}

/// How many threads sign: `sign_threads` when given (at least 1), else one per core.
pub fn sign_threads(given: Option<usize>) -> usize {
    given
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
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
/// Warnings (PIN count low, certificate expiring) are logged; use [`open_signer_with_report`]
/// to show them. Blocking: call from `spawn_blocking` in async code.
pub fn open_signer(
    cfg: &SignerConfig,
    pin: PinSource,
    expected_national_id: Option<&str>,
) -> Result<Box<dyn Signer>, SignError> {
    let (s, warnings) = open_signer_with_report(cfg, pin, expected_national_id)?;
    for w in &warnings {
        if w.status == CheckStatus::Ok {
            tracing::info!("{}", w.line(crate::lang::Lang::En));
        } else {
            tracing::warn!("{}", w.line(crate::lang::Lang::En));
        }
    }
    Ok(s)
}

/// [`open_signer`], also returning the warnings found while opening and, first of the `ok`
/// lines, `cert.chosen`: which certificate signs and why. A certificate that fails
/// a check (expired, not yet valid, national ID of someone else, key usage) is an error here:
/// nothing may be signed with it.
pub fn open_signer_with_report(
    cfg: &SignerConfig,
    pin: PinSource,
    expected_national_id: Option<&str>,
) -> Result<(Box<dyn Signer>, Vec<Check>), SignError> {
    let (signer, mut warnings): (Box<dyn Signer>, Vec<Check>) = if let Some(key) = &cfg.key_file {
        if cfg.token_label.is_some()
            || cfg.token_serial.is_some()
            || cfg.pkcs11_module.is_some()
            || cfg.key_id.is_some()
        {
            return Err(SignError::Config(
                "give either a key file (--key/--cert) or a token (--pkcs11-module, --token-label, --token-serial, --key-id), not both".into(),
            ));
        }
        let s = KeyFileSigner::open(key, cfg.cert_file.as_deref(), &pin)?;
        // The test signature (tokens make theirs while opening).
        super::self_test::verify_pair(&s).map_err(|_| SignError::KeyCertificateMismatch {
            subject: CertInfo::from_der(s.certificate_der())
                .map(|i| i.subject)
                .unwrap_or_default(),
        })?;
        let chosen = Check::ok(
            "cert.chosen",
            crate::lang::Message::new(
                format!("گواهی فایل {} به کار می‌رود.", shown_cert(cfg)),
                format!("signing with the certificate of {}.", shown_cert(cfg)),
            ),
        );
        (Box::new(s), vec![chosen])
    } else {
        if cfg.cert_file.is_some() {
            return Err(SignError::Config(
                "--cert FILE goes with --key FILE; with a token the certificate is read from the token (choose it with --key-id or --national-id)".into(),
            ));
        }
        let mut s = Pkcs11Signer::open(cfg, &pin, expected_national_id)?;
        s.open_sessions(sign_threads(cfg.sign_threads));
        let mut w = s.warnings().to_vec();
        w.push(chosen_on_token(&s));
        (Box::new(s), w)
    };
    let info = CertInfo::from_der(signer.certificate_der())?;
    let checks = check_certificate(&info, time::OffsetDateTime::now_utc(), expected_national_id);
    if let Some(bad) = checks.iter().find(|c| c.status == CheckStatus::Fail) {
        if bad.id == "cert.national_id_mismatch" {
            return Err(SignError::NoMatchingCertificate {
                expected: expected_national_id.unwrap_or_default().to_string(),
                found: info.holder_label(),
            });
        }
        return Err(SignError::CertificateRejected {
            id: bad.id,
            message: bad.message.clone(),
            fix: bad.fix.clone(),
        });
    }
    warnings.extend(checks.into_iter().filter(|c| c.status != CheckStatus::Ok));
    Ok((signer, warnings))
}

fn shown_cert(cfg: &SignerConfig) -> String {
    cfg.cert_file
        .as_ref()
        .or(cfg.key_file.as_ref())
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The `cert.chosen` line of a token signer: which certificate signs, on which token, and why.
pub fn chosen_on_token(s: &Pkcs11Signer) -> Check {
    let c = s.certificate();
    let holder = c
        .info
        .as_ref()
        .map(|i| i.holder_label())
        .unwrap_or_default();
    let kind = super::pkcs11::choice::CertKind::of(c).as_str();
    let t = s.token();
    let note = s.choice_note();
    Check::ok(
        "cert.chosen",
        crate::lang::Message::new(
            format!(
                "گواهی CKA_ID {} ({kind}، {holder}) روی توکن {:?} (سریال {}) — {}",
                c.id_hex, t.label, t.serial, note.fa
            ),
            format!(
                "certificate CKA_ID {} ({kind}, {holder}) on token {:?} (serial {}) — {}",
                c.id_hex, t.label, t.serial, note.en
            ),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_table_of_a_profile() {
        let t: SignerConfig = toml::from_str(
            r#"
            pkcs11_module = "/usr/lib/libshuttle_p11v220.so"
            token_label = "ePass3003"
            key_id = "0a1b"
            allow_final_pin_try = false
            "#,
        )
        .unwrap();
        assert!(t.uses_token());
        assert_eq!(t.key_id.as_deref(), Some("0a1b"));
        let k: SignerConfig =
            toml::from_str("key_file = \"private.key\"\ncert_file = \"cert.crt\"").unwrap();
        assert!(!k.uses_token());
        assert!(
            toml::from_str::<SignerConfig>("pin = \"1234\"").is_err(),
            "no PIN in files"
        );
    }
}
