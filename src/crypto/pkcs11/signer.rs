//! The token signer: one session, one login, the key and certificate paired by public key
//! ([`super::choice`]), one test signature verified before use. The private key never leaves
//! the token; only `C_Sign` is asked of it.
//!
//! Mechanism: `SHA256-RSA-PKCS` when the token lists it, else `RSA-PKCS` over the SHA-256
//! `DigestInfo` (byte-identical signatures). Blocking: async callers use `spawn_blocking`.

use super::choice::{pair, select, Entry, Want};
use super::module::{self, map_error};
use super::objects::{private_keys, read_certificates, unhex, TokenCert};
use super::token::{
    list_tokens, matching_tokens, pin_policy, several_tokens, TokenInfoSource, TokenSummary,
};
use crate::crypto::checks::Check;
use crate::crypto::config::SignerConfig;
use crate::crypto::pin::{PinOrigin, PinSource};
use crate::crypto::{pin_guard, sha256_digest_info, SignError, Signer};
use crate::lang::Message;
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Signs on a PKCS#11 token.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    /// More sessions on the same token (same login), one per signing thread, when its module
    /// allows concurrent sessions: signatures then run side by side.
    extra: Vec<Mutex<Session>>,
    /// Turns to false when an extra session fails: everything signs on `session` then.
    extra_ok: AtomicBool,
    next: std::sync::atomic::AtomicUsize,
    ctx: cryptoki::context::Pkcs11,
    slot: Slot,
    key: ObjectHandle,
    key_id_hex: String,
    cert: TokenCert,
    note: Message,
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

/// Every token present and every certificate on it, as the choice saw them: for the token that
/// signs (logged in) with keys and the note of the choice; for the others the certificates only
/// (their keys are not visible without logging in to them).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInventory {
    pub token: TokenSummary,
    /// True for the token that was logged in to (its keys were looked at).
    pub logged_in: bool,
    /// Why this token is used, or why not.
    pub note: Message,
    pub certificates: Vec<Entry>,
}

/// The outcome of opening a token signer: what was found, and the signer or the refusal.
#[derive(Debug)]
pub struct Opened {
    pub tokens: Vec<TokenInventory>,
    pub signer: Result<Pkcs11Signer, SignError>,
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
        Self::inspect(cfg, pin, expected_national_id, info).signer
    }

    /// Opens the signer and keeps what was found on every token on the way, for `doctor`.
    ///
    /// The token: the one `token_label`/`token_serial` name, else the only one, else the one
    /// holding a certificate of `expected_national_id`. The pair: see [`super::choice`]. Then
    /// one test signature, verified with the certificate, before anything else is signed.
    pub fn inspect(
        cfg: &SignerConfig,
        pin: &PinSource,
        expected_national_id: Option<&str>,
        info: &dyn TokenInfoSource,
    ) -> Opened {
        let mut tokens = Vec::new();
        let signer = open_inner(cfg, pin, expected_national_id, info, &mut tokens);
        Opened { tokens, signer }
    }

    /// The token in use.
    pub fn token(&self) -> &TokenSummary {
        &self.token
    }
    /// The chosen certificate (CKA_ID, label, parsed info).
    pub fn certificate(&self) -> &TokenCert {
        &self.cert
    }
    /// Why this certificate was chosen (and what was skipped).
    pub fn choice_note(&self) -> &Message {
        &self.note
    }
    /// CKA_ID of the private key in use, hex (may differ from the certificate's).
    pub fn key_id_hex(&self) -> &str {
        &self.key_id_hex
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

fn token_name(t: &TokenSummary) -> String {
    format!("{:?} (serial {})", t.label, t.serial)
}

/// The certificates of a token, read without logging in.
fn public_entries(ctx: &Pkcs11, slot: Slot) -> Vec<Entry> {
    ctx.open_ro_session(slot)
        .ok()
        .and_then(|s| read_certificates(&s).ok())
        .map(|c| pair(c, None))
        .unwrap_or_default()
}

fn open_inner(
    cfg: &SignerConfig,
    pin: &PinSource,
    expected_national_id: Option<&str>,
    info: &dyn TokenInfoSource,
    tokens: &mut Vec<TokenInventory>,
) -> Result<Pkcs11Signer, SignError> {
    // User input is checked before the token is touched.
    let want_id = cfg.key_id.as_deref().map(unhex).transpose()?;
    let (module_path, ctx) = module::load_configured(cfg.pkcs11_module.as_deref())?;
    let expected = expected_national_id
        .map(str::trim)
        .filter(|n| !n.is_empty());
    // Every token present, with its certificates (public objects), for the listing.
    let present = list_tokens(&ctx, info)?;
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| map_error(e, "C_GetSlotList"))?;
    let by_name = cfg.token_label.is_some() || cfg.token_serial.is_some();
    for t in &present {
        let entries = slots
            .iter()
            .find(|s| s.id() == t.slot_id)
            .map(|s| public_entries(&ctx, *s))
            .unwrap_or_default();
        tokens.push(TokenInventory {
            token: t.clone(),
            logged_in: false,
            // Tokens the label/serial names get their own note once the choice is made.
            note: Message::new(
                "برچسب/سریال آن خواسته نشده است.",
                "not the token the label/serial names.",
            ),
            certificates: entries,
        });
    }
    let named = matching_tokens(
        &ctx,
        cfg.token_label.as_deref(),
        cfg.token_serial.as_deref(),
        info,
    )?;
    // Until one is chosen, the tokens named (every token, without label or serial) are
    // candidates.
    for inv in tokens.iter_mut() {
        if named.iter().any(|(_, t)| t.slot_id == inv.token.slot_id) {
            inv.note = if by_name {
                Message::new(
                    "برچسب/سریال آن خواسته شده است، ولی انتخاب نشد؛ چند توکن با آن برچسب/سریال متصل است.",
                    "the label/serial names it, but it was not chosen: several tokens match.",
                )
            } else {
                Message::new(
                    "یکی از چند توکن متصل؛ انتخاب نشد.",
                    "one of several tokens plugged in; not chosen.",
                )
            };
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let (slot, token) = if named.len() == 1 {
        named.into_iter().next().expect("one")
    } else {
        let holders: Vec<Vec<String>> = named
            .iter()
            .map(|(_, t)| {
                let inv = tokens.iter().find(|i| i.token.slot_id == t.slot_id);
                let mut ids: Vec<String> = inv
                    .map(|i| {
                        i.certificates
                            .iter()
                            .map(|e| e.national_id().unwrap_or("-").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                ids.sort();
                ids.dedup();
                ids
            })
            .collect();
        let summaries: Vec<TokenSummary> = named.iter().map(|(_, t)| t.clone()).collect();
        let Some(nid) = expected else {
            return Err(several_tokens(&summaries, cfg.token_label.as_deref(), None));
        };
        let with: Vec<usize> = (0..named.len())
            .filter(|i| holders[*i].iter().any(|h| h == nid))
            .collect();
        // The certificate used is the taxpayer's one valid today: a token holding only
        // certificates of `nid` that are not valid today (expired, not yet valid) is passed
        // over when another holds a valid one. (Keys are not visible before logging in.)
        let valid_today = |i: usize| {
            tokens
                .iter()
                .find(|inv| inv.token.slot_id == named[i].1.slot_id)
                .is_some_and(|inv| {
                    inv.certificates
                        .iter()
                        .any(|e| e.national_id() == Some(nid) && e.valid_at(now))
                })
        };
        let valid: Vec<usize> = with.iter().copied().filter(|i| valid_today(*i)).collect();
        let with = if valid.is_empty() { with } else { valid };
        match with.as_slice() {
            [one] => {
                for inv in tokens.iter_mut() {
                    if let Some(i) = named
                        .iter()
                        .position(|(_, t)| t.slot_id == inv.token.slot_id)
                    {
                        if i == *one {
                            continue;
                        }
                        inv.note = if holders[i].iter().any(|h| h == nid) {
                            Message::new(
                                format!("گواهی {nid} روی آن امروز معتبر نیست؛ توکن دیگری گواهی معتبر او را دارد."),
                                format!("its certificates of {nid} are not valid today; another token holds a valid one."),
                            )
                        } else {
                            Message::new(
                                format!("گواهی {nid} روی آن نیست."),
                                format!("holds no certificate of {nid}."),
                            )
                        };
                    }
                }
                named[*one].clone()
            }
            [] => {
                for inv in tokens.iter_mut() {
                    if named.iter().any(|(_, t)| t.slot_id == inv.token.slot_id) {
                        inv.note = Message::new(
                            format!("گواهی {nid} روی آن نیست."),
                            format!("holds no certificate of {nid}."),
                        );
                    }
                }
                let shown: Vec<String> = summaries
                    .iter()
                    .zip(&holders)
                    .map(|(t, h)| format!("{} with {}", token_name(t), h.join(", ")))
                    .collect();
                return Err(SignError::Choice {
                    id: "cert.national_id_mismatch",
                    message: Message::new(
                        format!(
                            "هیچ‌یک از توکن‌های متصل گواهی {nid} را ندارد: {}.",
                            shown.join("؛ ")
                        ),
                        format!(
                            "none of the tokens plugged in holds a certificate of {nid}: {}.",
                            shown.join("; ")
                        ),
                    ),
                    fix: Message::new(
                        format!("توکن {nid} را وصل کنید، یا شناسه ملی (‎--national-id‎ یا national_id پروفایل) را اصلاح کنید؛ سامانه امضای دیگران را رد می‌کند (4103 / 04132)."),
                        format!("plug in the token of {nid}, or correct the national ID (--national-id or the profile's national_id); the server refuses anyone else's signature (4103 / 04132)."),
                    ),
                });
            }
            several => {
                for inv in tokens.iter_mut() {
                    if let Some(i) = named
                        .iter()
                        .position(|(_, t)| t.slot_id == inv.token.slot_id)
                    {
                        if !several.contains(&i) {
                            inv.note = Message::new(
                                format!("گواهی معتبر {nid} روی آن نیست."),
                                format!("holds no valid certificate of {nid}."),
                            );
                        }
                    }
                }
                let s: Vec<TokenSummary> = several.iter().map(|i| summaries[*i].clone()).collect();
                let h: Vec<Vec<String>> = several.iter().map(|i| holders[*i].clone()).collect();
                return Err(several_tokens(
                    &s,
                    cfg.token_label.as_deref(),
                    Some((nid, h.as_slice())),
                ));
            }
        }
    };
    let inv_index = tokens.iter().position(|i| i.token.slot_id == token.slot_id);
    // The token chosen is said so, whatever happens next (a wrong PIN, a locked token).
    let mut failed = |e: SignError| {
        if let Some(i) = inv_index {
            let m = e.message();
            tokens[i].note = Message::new(
                format!("این توکن انتخاب شد، ولی ورود به آن انجام نشد: {}", m.fa),
                format!(
                    "this token was chosen, but logging in to it did not succeed: {}",
                    m.en
                ),
            );
        }
        e
    };
    // Invariant 5: the flags first, before any login.
    let warnings = pin_policy(&token.flags, cfg.allow_final_pin_try).map_err(&mut failed)?;
    let session = ctx
        .open_ro_session(slot)
        .map_err(|e| failed(map_error(e, "C_OpenSession")))?;
    login_once(&session, &token, pin).map_err(&mut failed)?;
    let certs = read_certificates(&session)?;
    let keys = private_keys(&session)?;
    let selection = select(
        pair(certs, Some(&keys)),
        &Want {
            key_id: want_id.as_deref(),
            national_id: expected,
            now,
            token: token_name(&token),
        },
    );
    let outcome = selection.outcome;
    let entries = selection.entries;
    if let Some(i) = inv_index {
        tokens[i].logged_in = true;
        tokens[i].certificates = entries.clone();
        tokens[i].note = match &outcome {
            Ok(_) => Message::new("این توکن به کار می‌رود.", "this token is used."),
            Err(e) => e.message(),
        };
    }
    let chosen = &entries[outcome?];
    let key = &keys[chosen.key_index.ok_or_else(|| SignError::Choice {
        id: "key.not_found",
        message: Message::new(
            "کلید خصوصی گواهی انتخاب‌شده دیده نمی‌شود.",
            "the private key of the chosen certificate is not visible.",
        ),
        fix: Message::new("دوباره اجرا کنید.", "run again."),
    })?];
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
    let signer = Pkcs11Signer {
        session: Mutex::new(session),
        extra: Vec::new(),
        extra_ok: AtomicBool::new(true),
        next: std::sync::atomic::AtomicUsize::new(0),
        ctx: ctx.clone(),
        slot,
        key: key.handle,
        key_id_hex: key.id_hex.clone(),
        cert: chosen.cert.clone(),
        note: chosen.note.clone(),
        digest_locally: AtomicBool::new(digest_locally),
        token,
        module: module_path,
        warnings,
    };
    // One test signature with the chosen pair, verified with the certificate, before anything
    // else is signed: a key that is not the certificate's never signs an invoice.
    crate::crypto::self_test::verify_pair(&signer).map_err(|detail| SignError::Choice {
        id: "key.mismatch",
        message: Message::new(
            format!(
                "امضای آزمایشی کلید CKA_ID {} با گواهی CKA_ID {} روی توکن {} تأیید نشد: {detail}",
                signer.key_id_hex,
                signer.cert.id_hex,
                token_name(&signer.token)
            ),
            format!(
                "a test signature of key CKA_ID {} does not verify with certificate CKA_ID {} on token {}: {detail}",
                signer.key_id_hex,
                signer.cert.id_hex,
                token_name(&signer.token)
            ),
        ),
        fix: Message::new(
            "کلید و گواهی روی توکن درست جفت نشده‌اند (کلید عمومی‌ای که کلید اعلام می‌کند با خودش نمی‌خواند)؛ نرم‌افزار مدیریت توکن یا مرکز صدور باید گواهی و کلید را دوباره بنویسد. هیچ امضایی با این جفت فرستاده نشد؛ سامانه آن را با 4131/4133 رد می‌کرد.",
            "the token's key and certificate are paired wrongly (the key's stated public half is not its own); have the token manager or the CA write key and certificate again. Nothing was signed with this pair; the server would refuse it (4131/4133).",
        ),
    })?;
    Ok(signer)
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
    if let Some((p, PinOrigin::Environment)) = &obtained {
        if let Some(when) = pin_guard::refused_same(&token.serial, p) {
            return Err(SignError::StoredPinRefused {
                when,
                serial: token.serial.clone(),
                command: pin_guard::forget_command(&token.serial),
            });
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
                if let Some((p, PinOrigin::Environment)) = &obtained {
                    pin_guard::record_refusal(&token.serial, p);
                }
            }
            Err(err)
        }
    }
}

impl Pkcs11Signer {
    /// Opens sessions up to `threads` in all (the login is the token's, shared by every
    /// session of this process) when the module reports that it allows more than one;
    /// otherwise keeps one, and concurrent signatures wait their turn. Returns the count.
    pub fn open_sessions(&mut self, threads: usize) -> usize {
        let allowed = match self
            .ctx
            .get_token_info(self.slot)
            .map(|t| t.max_session_count())
        {
            Ok(cryptoki::slot::Limit::Infinite) => threads,
            Ok(cryptoki::slot::Limit::Max(n)) => threads.min(usize::try_from(n).unwrap_or(1)),
            _ => 1,
        };
        while self.extra.len() + 1 < allowed {
            match self.ctx.open_ro_session(self.slot) {
                Ok(s) => self.extra.push(Mutex::new(s)),
                Err(e) => {
                    tracing::debug!(error = %e, "no further PKCS#11 session; signing on fewer");
                    break;
                }
            }
        }
        self.extra.len() + 1
    }

    /// The session to sign on: a free one if any, else the next in turn.
    fn pick(&self) -> std::sync::MutexGuard<'_, Session> {
        if self.extra.is_empty() || !self.extra_ok.load(Ordering::Relaxed) {
            return self.session.lock().unwrap_or_else(|p| p.into_inner());
        }
        let all = std::iter::once(&self.session).chain(&self.extra);
        for m in all {
            if let Ok(g) = m.try_lock() {
                return g;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % (self.extra.len() + 1);
        let m = if i == 0 {
            &self.session
        } else {
            &self.extra[i - 1]
        };
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sign_on(&self, session: &Session, message: &[u8]) -> Result<Vec<u8>, SignError> {
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
}

impl Signer for Pkcs11Signer {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if self.extra.is_empty() {
            let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
            return self.sign_on(&session, message);
        }
        let first = {
            let session = self.pick();
            self.sign_on(&session, message)
        };
        match first {
            Ok(sig) => Ok(sig),
            Err(e) if self.extra_ok.load(Ordering::Relaxed) => {
                // A further session may not do what the first does (a module's quirk): sign
                // on the first session from now on, and let it tell what is wrong.
                tracing::debug!(error = %e, "signing on a further session failed; one session from now on");
                self.extra_ok.store(false, Ordering::Relaxed);
                let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
                self.sign_on(&session, message)
            }
            Err(e) => Err(e),
        }
    }

    fn certificate_der(&self) -> &[u8] {
        &self.cert.der
    }
}
