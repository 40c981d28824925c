//! The token signer: one session, one login, the key and certificate paired by CKA_ID.
//! The private key never leaves the token; only `C_Sign` is asked of it.
//!
//! Mechanism: `SHA256-RSA-PKCS` when the token lists it, else `RSA-PKCS` over the SHA-256
//! `DigestInfo` (byte-identical signatures). Blocking: async callers use `spawn_blocking`.

use super::module::{self, map_error};
use super::objects::{choose_certificate, private_keys, read_certificates, unhex, TokenCert};
use super::token::{find_token, pin_policy, TokenInfoSource, TokenSummary};
use crate::crypto::checks::Check;
use crate::crypto::config::SignerConfig;
use crate::crypto::pin::{PinOrigin, PinSource};
use crate::crypto::{pin_guard, sha256_digest_info, SignError, Signer};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, UserType};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Signs on a PKCS#11 token.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    cert: TokenCert,
    /// True when the token lacks SHA256-RSA-PKCS and we hash locally.
    digest_locally: AtomicBool,
    token: TokenSummary,
    module: PathBuf,
    warnings: Vec<Check>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("token", &self.token.label)
            .field("key_id", &self.cert.id_hex)
            .finish()
    }
}

impl Pkcs11Signer {
    /// Opens the token `cfg` names with the live token flags.
    pub fn open(
        cfg: &SignerConfig,
        pin: &PinSource,
        expected_national_id: Option<&str>,
    ) -> Result<Self, SignError> {
        Self::open_with(cfg, pin, expected_national_id, &super::token::LiveTokenInfo)
    }

    /// Opens the token with the PIN flags read through `info` (tests inject states here).
    pub fn open_with(
        cfg: &SignerConfig,
        pin: &PinSource,
        expected_national_id: Option<&str>,
        info: &dyn TokenInfoSource,
    ) -> Result<Self, SignError> {
        let (module_path, ctx) = module::load_configured(cfg.pkcs11_module.as_deref())?;
        let (slot, token) = find_token(
            &ctx,
            cfg.token_label.as_deref(),
            cfg.token_serial.as_deref(),
            info,
        )?;
        // Invariant 5: the flags first, before any login.
        let warnings = pin_policy(&token.flags, cfg.allow_final_pin_try)?;
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| map_error(e, "C_OpenSession"))?;
        login_once(&session, &token, pin)?;
        let certs = read_certificates(&session)?;
        let keys = private_keys(&session)?;
        let key_ids: Vec<Vec<u8>> = keys.iter().map(|(_, id)| id.clone()).collect();
        let want = cfg.key_id.as_deref().map(unhex).transpose()?;
        let now = time::OffsetDateTime::now_utc();
        let mut cert =
            choose_certificate(&certs, &key_ids, want.as_deref(), expected_national_id, now)?
                .clone();
        cert.has_private_key = Some(true);
        let key = keys
            .iter()
            .find(|(_, id)| *id == cert.id)
            .map(|(h, _)| *h)
            .ok_or_else(|| SignError::KeyNotFound {
                what: format!("with CKA_ID {}", cert.id_hex),
            })?;
        // Asked one mechanism at a time: listing them all makes cryptoki log every vendor
        // mechanism it does not know.
        let has = |m: MechanismType| ctx.get_mechanism_info(slot, m).is_ok();
        let digest_locally = if has(MechanismType::SHA256_RSA_PKCS) {
            false
        } else if has(MechanismType::RSA_PKCS) {
            true
        } else {
            return Err(SignError::MechanismMissing);
        };
        Ok(Pkcs11Signer {
            session: Mutex::new(session),
            key,
            cert,
            digest_locally: AtomicBool::new(digest_locally),
            token,
            module: module_path,
            warnings,
        })
    }

    /// The token in use.
    pub fn token(&self) -> &TokenSummary {
        &self.token
    }
    /// The chosen certificate (CKA_ID, label, parsed info).
    pub fn certificate(&self) -> &TokenCert {
        &self.cert
    }
    /// The module file in use.
    pub fn module_path(&self) -> &std::path::Path {
        &self.module
    }
    /// PIN warnings found while opening (count low, confirmed final try).
    pub fn warnings(&self) -> &[Check] {
        &self.warnings
    }
    /// True when signing goes through RSA-PKCS over a local SHA-256 DigestInfo.
    pub fn uses_digest_info_fallback(&self) -> bool {
        self.digest_locally.load(Ordering::Relaxed)
    }
}

/// Exactly one login attempt for the PIN the user gave; `UserAlreadyLoggedIn` is success.
fn login_once(session: &Session, token: &TokenSummary, pin: &PinSource) -> Result<(), SignError> {
    let obtained = if token.flags.protected_auth_path && matches!(pin, PinSource::None) {
        None
    } else {
        match pin.obtain(&format!("token {:?}", token.label))? {
            Some(p) => Some(p),
            None if token.flags.protected_auth_path => None,
            None => return Err(SignError::PinUnavailable),
        }
    };
    if let Some((_, PinOrigin::Environment)) = &obtained {
        if let Some(when) = pin_guard::refused_at(&token.serial) {
            return Err(SignError::StoredPinRefused { when });
        }
    }
    let auth = obtained.as_ref().map(|(p, _)| p.to_auth_pin());
    match session.login(UserType::User, auth.as_ref()) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
            pin_guard::clear(&token.serial);
            Ok(())
        }
        Err(e) => {
            let err = map_error(e, "C_Login");
            if matches!(err, SignError::PinIncorrect) {
                if let Some((_, PinOrigin::Environment)) = &obtained {
                    pin_guard::record_refusal(&token.serial);
                }
            }
            Err(err)
        }
    }
}

impl Signer for Pkcs11Signer {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        if !self.digest_locally.load(Ordering::Relaxed) {
            match session.sign(&Mechanism::Sha256RsaPkcs, self.key, message) {
                Ok(sig) => return Ok(sig),
                Err(Error::Pkcs11(RvError::MechanismInvalid, _)) => {
                    self.digest_locally.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(map_error(e, "C_Sign")),
            }
        }
        session
            .sign(&Mechanism::RsaPkcs, self.key, &sha256_digest_info(message))
            .map_err(|e| match map_error(e, "C_Sign") {
                SignError::MechanismMissing => SignError::MechanismMissing,
                other => other,
            })
    }

    fn certificate_der(&self) -> &[u8] {
        &self.cert.der
    }
}
