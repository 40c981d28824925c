//! Preflight: everything that can be checked before an invoice leaves the machine, in the order
//! a person would fix it — module loads, token present, PIN state, login, certificate found and
//! valid, its national ID is the memory ID owner's, the key matches the certificate (a test
//! signature verified with the certificate's key); online also the server is reachable, the
//! clock agrees with `serverTime`, and the memory ID's status and owner. `moadian doctor` prints
//! the result; the pipeline runs it before each submission and stops on any failure.
//!
//! The online part goes through [`ServerProbe`], implemented by [`crate::api::Client`].

use crate::crypto::cert::{check_certificate, CertInfo};
use crate::crypto::checks::{any_failed, Check, CheckStatus};
use crate::crypto::keyfile::KeyFileSigner;
use crate::crypto::pkcs11::signer::TokenInventory;
use crate::crypto::pkcs11::token::TokenInfoSource as _;
use crate::crypto::pkcs11::{module, token, LiveTokenInfo, Pkcs11Signer};
use crate::crypto::{PinSource, SignError, Signer, SignerConfig};
use crate::lang::Message;
use std::future::Future;
use std::sync::Arc;

/// Clock skew that draws a warning / a failure (the server rejects invoices dated in the
/// future, and inquiries misbehave with 5 minutes of skew).
pub const SKEW_WARN_SECS: i64 = 60;
pub const SKEW_FAIL_SECS: i64 = 300;

/// What the server says about a memory ID.
#[derive(Debug, Clone, Default)]
pub struct MemoryIdStatus {
    pub status: Option<String>,
    pub national_id: Option<String>,
    pub name: Option<String>,
}

/// Why a server call of preflight failed.
#[derive(Debug, Clone)]
pub enum ProbeError {
    /// No answer: network, DNS, TLS, timeout.
    Unreachable(String),
    /// The server answered with an error (e.g. 4103: the certificate is not the memory ID
    /// owner's).
    Refused(String),
    /// Something answered, but not as the tax API does (HTTP 404/405 without the API's error
    /// envelope, or a success that is not the API's JSON): the endpoint is wrong.
    NotTheApi(String),
}

/// The server calls preflight needs. Both are authenticated (signed with our certificate),
/// so a refusal also tells whether the server accepts the certificate for this memory ID.
pub trait ServerProbe: Sync {
    /// `serverTime` of `server-information`, epoch milliseconds.
    fn server_time_ms(&self) -> impl Future<Output = Result<i64, ProbeError>> + Send;
    /// `fiscal-information` of the memory ID.
    fn memory_id_status(
        &self,
        memory_id: &str,
    ) -> impl Future<Output = Result<MemoryIdStatus, ProbeError>> + Send;
}

fn probe_error(e: crate::api::ApiError) -> ProbeError {
    // A probe sends nothing that matters: what the nonce met is the answer.
    let e = match e {
        crate::api::ApiError::NotSent { step } => *step,
        e => e,
    };
    match e {
        // The network or the server is down (refused connection, no answer, 5xx / 5xxx):
        // nothing to say about the memory ID or the certificate.
        e if e.is_outage() => ProbeError::Unreachable(e.to_string()),
        e @ (crate::api::ApiError::Server {
            status: 404 | 405, ..
        }
        | crate::api::ApiError::Decode { .. })
            if e.code().is_none() =>
        {
            ProbeError::NotTheApi(e.to_string())
        }
        other => ProbeError::Refused(other.to_string()),
    }
}

impl ServerProbe for crate::api::Client {
    async fn server_time_ms(&self) -> Result<i64, ProbeError> {
        // The unsigned nonce first: an address that answers, but not as the API (a login
        // page, a wrong path), is told apart from an outage at once. Inside a signed call a
        // failed nonce is retried as the network's fault, since nothing was sent yet.
        self.nonce().await.map_err(probe_error)?;
        self.server_information()
            .await
            .map(|i| i.server_time)
            .map_err(probe_error)
    }
    async fn memory_id_status(&self, memory_id: &str) -> Result<MemoryIdStatus, ProbeError> {
        self.fiscal_information(memory_id)
            .await
            .map(|f| MemoryIdStatus {
                status: f.fiscal_status,
                national_id: f.national_id,
                name: f.name_trade,
            })
            .map_err(probe_error)
    }
}

/// The outcome: the checks in order and, when the signer opened, the signer (ready to use).
pub struct Preflight {
    pub checks: Vec<Check>,
    pub signer: Option<Arc<dyn Signer>>,
    /// Every token present and every certificate on it, with the choice's notes (empty for a
    /// key file, or when the module did not load).
    pub tokens: Vec<TokenInventory>,
}

impl std::fmt::Debug for Preflight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preflight")
            .field("checks", &self.checks)
            .field("signer", &self.signer.is_some())
            .finish()
    }
}

impl Preflight {
    pub fn failed(&self) -> bool {
        any_failed(&self.checks)
    }
}

fn msg(fa: impl Into<String>, en: impl Into<String>) -> Message {
    Message::new(fa, en)
}

/// The offline checks (blocking: token calls). Opens the signer on the way.
pub fn signer_checks(
    cfg: &SignerConfig,
    pin: &PinSource,
    expected_national_id: Option<&str>,
) -> Preflight {
    let mut checks = Vec::new();
    let mut tokens = Vec::new();
    let signer: Arc<dyn Signer> = if let Some(key) = &cfg.key_file {
        match KeyFileSigner::open(key, cfg.cert_file.as_deref(), pin) {
            Ok(s) => {
                checks.push(Check::ok(
                    "key.file",
                    msg(
                        format!("فایل کلید {} خوانده شد.", key.display()),
                        format!("key file {} loaded.", key.display()),
                    ),
                ));
                Arc::new(s)
            }
            Err(e) => return stop(checks, &e, tokens),
        }
    } else {
        match token_steps(cfg, pin, expected_national_id, &mut checks, &mut tokens) {
            Ok(s) => s,
            Err(e) => return stop(checks, &e, tokens),
        }
    };
    let now = time::OffsetDateTime::now_utc();
    match CertInfo::from_der(signer.certificate_der()) {
        Ok(info) => {
            checks.push(Check::ok(
                "cert.found",
                msg(
                    format!("گواهی: {} ({})", info.subject, info.holder_label()),
                    format!("certificate: {} ({})", info.subject, info.holder_label()),
                ),
            ));
            checks.extend(check_certificate(&info, now, expected_national_id));
        }
        Err(e) => checks.push(Check::from_error(&e)),
    }
    if cfg.key_file.is_some() {
        checks.push(key_matches(&*signer));
    } else {
        // The token signer made its test signature while opening; it refuses to open otherwise.
        checks.push(Check::ok(
            "key.matches",
            msg(
                "امضای آزمایشی با کلید عمومی گواهی تأیید شد.",
                "a test signature verifies with the certificate's key.",
            ),
        ));
    }
    Preflight {
        checks,
        signer: Some(signer),
        tokens,
    }
}

fn stop(mut checks: Vec<Check>, e: &SignError, tokens: Vec<TokenInventory>) -> Preflight {
    checks.push(Check::from_error(e));
    Preflight {
        checks,
        signer: None,
        tokens,
    }
}

fn token_steps(
    cfg: &SignerConfig,
    pin: &PinSource,
    expected_national_id: Option<&str>,
    checks: &mut Vec<Check>,
    tokens: &mut Vec<TokenInventory>,
) -> Result<Arc<dyn Signer>, SignError> {
    if cfg.cert_file.is_some() {
        return Err(SignError::Config(
            "--cert FILE goes with --key FILE; with a token the certificate is read from the token (choose it with --key-id or --national-id)".into(),
        ));
    }
    if let Some(k) = &cfg.key_id {
        crate::crypto::pkcs11::objects::unhex(k)?;
    }
    let (path, ctx) = module::load_configured(cfg.pkcs11_module.as_deref())?;
    let lib = ctx
        .get_library_info()
        .map(|i| i.manufacturer_id().trim().to_string())
        .unwrap_or_default();
    checks.push(Check::ok(
        "module.loaded",
        msg(
            format!("ماژول PKCS#11 بارگذاری شد: {} ({lib})", path.display()),
            format!("PKCS#11 module loaded: {} ({lib})", path.display()),
        ),
    ));
    let opened = Pkcs11Signer::inspect(cfg, pin, expected_national_id, &LiveTokenInfo);
    *tokens = opened.tokens;
    let used = tokens.iter().find(|t| t.logged_in).map(|t| t.token.clone());
    let named: Vec<&TokenInventory> = tokens
        .iter()
        .filter(|t| {
            cfg.token_label
                .as_deref()
                .is_none_or(|l| token::label_matches(&t.token.label, l))
                && cfg
                    .token_serial
                    .as_deref()
                    .is_none_or(|s| t.token.serial == s.trim())
        })
        .collect();
    let tok = match (&used, named.as_slice()) {
        (Some(t), _) => t.clone(),
        (None, [one]) => one.token.clone(),
        // No token was chosen: the refusal says what is plugged in.
        _ => return opened.signer.map(|s| Arc::new(s) as Arc<dyn Signer>),
    };
    checks.push(Check::ok(
        "token.present",
        msg(
            format!("توکن {:?} (سریال {}) متصل است.", tok.label, tok.serial),
            format!("token {:?} (serial {}) is present.", tok.label, tok.serial),
        ),
    ));
    // A good login resets the count of wrong PINs the flags showed before it: the warning
    // read before the login goes once the token no longer reports the count low.
    let count_reset = tok.flags.count_low
        && !tok.flags.final_try
        && opened.signer.is_ok()
        && ctx
            .get_slots_with_token()
            .ok()
            .and_then(|slots| slots.into_iter().find(|s| s.id() == tok.slot_id))
            .and_then(|slot| LiveTokenInfo.pin_flags(&ctx, slot).ok())
            .is_some_and(|f| !f.count_low);
    match token::pin_policy(&tok.flags, cfg.allow_final_pin_try) {
        Ok(warnings) if count_reset => {
            checks.extend(warnings.into_iter().filter(|w| w.id != "pin.count_low"));
            checks.push(Check::ok(
                "pin.ok",
                msg(
                    "از آخرین ورود موفق رمز اشتباهی وارد شده بود؛ این ورود موفق بود و شمارش رمزهای اشتباه توکن از نو شروع شد.",
                    "a wrong PIN had been entered since the last good login; this login succeeded, and the token's count of wrong PINs is reset.",
                ),
            ));
        }
        Ok(warnings) if warnings.is_empty() => checks.push(Check::ok(
            "pin.ok",
            msg(
                "وضعیت رمز توکن عادی است.",
                "the token's PIN state is normal.",
            ),
        )),
        Ok(warnings) => checks.extend(warnings),
        Err(_) => {}
    }
    match opened.signer {
        Ok(s) => {
            checks.push(Check::ok(
                "login.ok",
                msg(
                    format!("ورود به توکن موفق بود؛ کلید CKA_ID {}.", s.key_id_hex()),
                    format!("logged in; key CKA_ID {}.", s.key_id_hex()),
                ),
            ));
            checks.push(crate::crypto::config::chosen_on_token(&s));
            Ok(Arc::new(s))
        }
        Err(e) => {
            let id = e.check_id();
            if used.is_some() && (id.starts_with("cert.") || id.starts_with("key.")) {
                checks.push(Check::ok(
                    "login.ok",
                    msg("ورود به توکن موفق بود.", "logged in to the token."),
                ));
            }
            Err(e)
        }
    }
}

/// Signs a test message and verifies it with the certificate's public key.
pub fn key_matches(signer: &dyn Signer) -> Check {
    match crate::crypto::self_test::verify_pair(signer) {
        Ok(()) => Check::ok(
            "key.matches",
            msg(
                "امضای آزمایشی با کلید عمومی گواهی تأیید شد.",
                "a test signature verifies with the certificate's key.",
            ),
        ),
        Err(e) => Check::fail(
            "key.mismatch",
            msg(
                format!("کلید خصوصی با گواهی جفت نیست: {e}"),
                format!("the private key does not belong to the certificate: {e}"),
            ),
            msg(
                "گواهی صادرشده برای همین کلید را به کار ببرید؛ وگرنه سامانه 4131/4133 می‌دهد.",
                "use the certificate issued for this key; otherwise the server answers 4131/4133.",
            ),
        ),
    }
}

/// The online checks: server reachable, clock skew, memory ID status and owner.
pub async fn server_checks<P: ServerProbe>(
    probe: &P,
    memory_id: &str,
    expected_national_id: Option<&str>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let local_before = time::OffsetDateTime::now_utc();
    match probe.server_time_ms().await {
        Err(ProbeError::Unreachable(e)) => {
            checks.push(unreachable(&e));
            return checks;
        }
        Err(ProbeError::Refused(e)) => {
            checks.push(Check::ok(
                "server.reachable",
                msg("سرور سامانه پاسخ داد.", "the tax server answered."),
            ));
            checks.push(refused(memory_id, &e));
            return checks;
        }
        Err(ProbeError::NotTheApi(e)) => {
            checks.push(not_the_api(&e));
            return checks;
        }
        Ok(server_ms) => {
            checks.push(Check::ok(
                "server.reachable",
                msg("سرور سامانه پاسخ داد.", "the tax server answered."),
            ));
            let local_after = time::OffsetDateTime::now_utc();
            let local_mid_ms = (local_before.unix_timestamp_nanos() / 2
                + local_after.unix_timestamp_nanos() / 2)
                / 1_000_000;
            checks.push(skew_check(local_mid_ms as i64 - server_ms));
        }
    }
    match probe.memory_id_status(memory_id).await {
        Err(ProbeError::Unreachable(e)) => checks.push(unreachable(&e)),
        Err(ProbeError::Refused(e)) => checks.push(refused(memory_id, &e)),
        Err(ProbeError::NotTheApi(e)) => checks.push(not_the_api(&e)),
        Ok(st) => {
            let status = st.status.clone().unwrap_or_else(|| "?".into());
            checks.push(memory_id_status_check(
                memory_id,
                &status,
                st.name.as_deref().unwrap_or_default(),
            ));
            if let (Some(owner), Some(exp)) = (st.national_id.as_deref(), expected_national_id) {
                if owner.trim() != exp.trim() {
                    checks.push(Check::fail(
                        "memory_id.owner_mismatch",
                        msg(
                            format!("صاحب شناسه حافظه {memory_id} در سامانه {owner} است، نه {exp}."),
                            format!("the server says memory ID {memory_id} belongs to {owner}, not {exp}."),
                        ),
                        msg(
                            "شناسه ملی پروفایل را اصلاح کنید؛ وگرنه سامانه 4103/04132 می‌دهد.",
                            "fix the profile's national ID; otherwise the server answers 4103/04132.",
                        ),
                    ));
                }
            }
        }
    }
    checks
}

/// The check of the status `fiscal-information` gave the memory ID. The connection guide
/// (RC_TICS §9-2) names ACTIVE, DEACTIVATED, NOT_ALLOCATED (not allocated),
/// TEMPORARY_UNAUTHORIZE (temporarily unauthorized: past the article 6 limit),
/// PERMANENT_UNAUTHORIZE (permanently unauthorized) and ARTICLE_2_SUBJECT. A memory ID that is
/// inactive, not allocated or permanently unauthorized fails; a temporary stop is a warning.
pub fn memory_id_status_check(memory_id: &str, status: &str, name: &str) -> Check {
    let upper = status.trim().to_ascii_uppercase();
    if upper.contains("PERMANENT_UNAUTHORI") {
        return Check::fail(
            "memory_id.status",
            msg(
                format!("شناسه حافظه {memory_id} در سامانه «غیرمجاز دائم» است ({status}): سامانه صورتحساب‌های آن را نمی‌پذیرد."),
                format!("memory ID {memory_id} is permanently unauthorized ({status}): the tax system does not take its invoices."),
            ),
            msg(
                "با اداره امور مالیاتی محل پرونده تماس بگیرید؛ تا وضعیت برطرف نشده، با این شناسه حافظه صورتحساب نفرستید.",
                "contact your tax office (اداره امور مالیاتی) of the tax file; send no invoice with this memory ID until the status is lifted.",
            ),
        );
    }
    if upper.contains("NOT_ALLOCATED") {
        return Check::fail(
            "memory_id.status",
            msg(
                format!("شناسه حافظه {memory_id} به این مودی تخصیص نیافته است ({status})."),
                format!("memory ID {memory_id} is not allocated to this taxpayer ({status})."),
            ),
            msg(
                "شناسه حافظه را در کارپوشه بررسی کنید (اشتباه نوشته نشده باشد)؛ اگر شناسه‌ای به شما تخصیص نیافته، از کارپوشه درخواست کنید یا با اداره امور مالیاتی تماس بگیرید.",
                "check the memory ID in کارپوشه (is it typed right?); if none is allocated to you, request one there or contact your tax office (اداره امور مالیاتی).",
            ),
        );
    }
    if upper.contains("TEMPORARY_UNAUTHORI") {
        return Check::warn(
            "memory_id.status",
            msg(
                format!("شناسه حافظه {memory_id} در سامانه «غیرمجاز موقت» است ({status})، معمولاً به دلیل عبور از حد مجاز فروش ماده ۶."),
                format!("memory ID {memory_id} is temporarily unauthorized ({status}), usually for passing the article 6 sales limit."),
            ),
            msg(
                "وضعیت را در کارپوشه ببینید و با اداره امور مالیاتی تماس بگیرید؛ تا برطرف شدن آن ممکن است صورتحساب‌ها رد شوند.",
                "look at the status in کارپوشه and contact your tax office (اداره امور مالیاتی); invoices may be refused until it is lifted.",
            ),
        );
    }
    if upper.contains("INACTIVE") || upper.contains("DEACTIV") || upper.contains("SUSPEND") {
        return Check::fail(
            "memory_id.status",
            msg(
                format!("شناسه حافظه {memory_id} فعال نیست ({status})."),
                format!("memory ID {memory_id} is not active ({status})."),
            ),
            msg(
                "وضعیت حافظه را در کارپوشه پیگیری کنید.",
                "sort out the memory ID's status in کارپوشه.",
            ),
        );
    }
    Check::ok(
        "memory_id.status",
        msg(
            format!("شناسه حافظه {memory_id}: {status} ({name})"),
            format!("memory ID {memory_id}: {status} ({name})"),
        ),
    )
}

/// The failed check of a server that cannot be reached or keeps failing (network, 5xx).
fn unreachable(e: &str) -> Check {
    Check::fail(
        "server.unreachable",
        msg(
            format!("سرور سامانه در دسترس نیست یا خطای داخلی می‌دهد (مشکل شبکه یا سرور است، نه صورتحساب‌ها، شناسه حافظه یا گواهی): {e}"),
            format!("the tax server is not reachable or is failing (a network or server problem, not your invoices, memory ID or certificate): {e}"),
        ),
        msg(
            "اتصال اینترنت را بررسی کنید (سامانه فقط از نشانی‌های ایران در دسترس است) و بعداً دوباره امتحان کنید؛ صف دست‌نخورده می‌ماند.",
            "check the network (the API answers Iranian addresses only) and try again later; the queue is kept as it is.",
        ),
    )
}

/// The failed check of an address that answers, but not as the tax API.
fn not_the_api(e: &str) -> Check {
    Check::fail(
        "server.not_the_api",
        msg(
            format!("این نشانی پاسخ می‌دهد اما مانند API سامانه مودیان نه (مشکل از نشانی است، نه شناسه حافظه یا گواهی): {e}"),
            format!("this address answers, but not as the tax API does (the address is wrong, not your memory ID or certificate): {e}"),
        ),
        msg(
            "‎--endpoint‎ (یا endpoint پروفایل) را بررسی کنید: production، tax-sandbox، یا نشانی‌ای که `moadian sandbox serve` چاپ می‌کند، با مسیر کامل تا /api/v2/ (یا معادل آن).",
            "check --endpoint (or the profile's endpoint): production, tax-sandbox, or the URL `moadian sandbox serve` prints, whole, path included.",
        ),
    )
}

fn refused(memory_id: &str, e: &str) -> Check {
    Check::fail(
        "memory_id.status",
        msg(
            format!("سامانه درخواست امضاشده برای شناسه حافظه {memory_id} را نپذیرفت: {e}"),
            format!("the server refused a signed request for memory ID {memory_id}: {e}"),
        ),
        msg(
            "شناسه حافظه و گواهی را در کارپوشه بررسی کنید (4103: گواهی متعلق به صاحب حافظه نیست)؛ کد را با `moadian explain` ببینید.",
            "check the memory ID and the certificate in کارپوشه (4103: the certificate is not the memory ID owner's); look the code up with `moadian explain`.",
        ),
    )
}

/// The clock check for `skew_ms` = local − server.
pub fn skew_check(skew_ms: i64) -> Check {
    let secs = skew_ms / 1000;
    let (fa, en) = (
        format!("اختلاف ساعت این رایانه با سرور {secs} ثانیه است."),
        format!("this computer's clock is {secs} s off the server's."),
    );
    let fix = msg(
        "ساعت رایانه را با اینترنت همگام کنید (NTP)؛ ساعت نادرست باعث رد صورتحساب (تاریخ آینده) و خطای استعلام می‌شود.",
        "sync the clock (NTP); a wrong clock gets invoices refused (future date) and breaks inquiries.",
    );
    if secs.abs() >= SKEW_FAIL_SECS {
        Check::fail("clock.skew", msg(fa, en), fix)
    } else if secs.abs() >= SKEW_WARN_SECS {
        Check::warn("clock.skew", msg(fa, en), fix)
    } else {
        Check::ok("clock.ok", msg(fa, en))
    }
}

/// The whole preflight. The signer part runs on `spawn_blocking`; the online part only when
/// `probe` is given (it usually wraps the signer the offline part opened — see `doctor`).
pub async fn run_offline(
    cfg: SignerConfig,
    pin: PinSource,
    expected_national_id: Option<String>,
) -> Preflight {
    let joined = tokio::task::spawn_blocking(move || {
        signer_checks(&cfg, &pin, expected_national_id.as_deref())
    })
    .await;
    joined.unwrap_or_else(|e| Preflight {
        checks: vec![Check::fail(
            "sign.other",
            msg(format!("خطای داخلی: {e}"), format!("internal error: {e}")),
            msg("دوباره اجرا کنید.", "run again."),
        )],
        signer: None,
        tokens: Vec::new(),
    })
}

/// True when a check of this status should stop a submission.
pub fn blocks_submission(c: &Check) -> bool {
    c.status == CheckStatus::Fail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outage() -> crate::api::ApiError {
        crate::api::ApiError::Outage {
            last: Box::new(crate::api::ApiError::Connect {
                url: "http://127.0.0.1:1/nonce".into(),
                detail: "Connection refused".into(),
            }),
            lasted: std::time::Duration::from_secs(19),
        }
    }

    /// A server down past the deadline is said to be a network or server problem once, and
    /// nothing says it will be retried after it was given up.
    #[test]
    fn an_outage_is_explained_once() {
        let ProbeError::Unreachable(e) = probe_error(outage()) else {
            panic!("an outage is unreachable")
        };
        for text in [
            unreachable(&e).line(crate::Lang::En),
            super::super::StopReason::Api(outage()).message().en,
        ] {
            assert_eq!(text.matches("not your invoices").count(), 1, "{text}");
            assert!(!text.contains("will retry"), "{text}");
            assert!(text.contains("19 s"), "{text}");
        }
    }

    /// An address that answers 404 without the API's error envelope is not the tax API.
    #[test]
    fn a_404_without_an_error_code_is_not_the_api() {
        let e = crate::api::ApiError::Server {
            url: "http://127.0.0.1:9/wrong/nonce".into(),
            status: 404,
            codes: vec![],
            trace_id: None,
            body: None,
            retry_after: None,
        };
        assert!(matches!(probe_error(e), ProbeError::NotTheApi(_)));
    }

    #[test]
    fn skew_thresholds() {
        assert_eq!(skew_check(2_000).id, "clock.ok");
        assert_eq!(skew_check(-90_000).status, CheckStatus::Warn);
        assert_eq!(skew_check(400_000).status, CheckStatus::Fail);
    }
}
