//! The one interface through which anything is signed, and the one error type every signing
//! failure becomes. Each [`SignError`] says what happened and what to do next, in Persian and
//! English ([`SignError::message`]), and carries a stable check id ([`SignError::check_id`])
//! that the code catalogue and `moadian doctor` share.

use crate::lang::Message;

/// Why a signature (or the signer itself) could not be made. Each variant says what happened
/// and the fix; [`SignError::message`] gives the Persian and English text.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Anything without a dedicated variant (kept for callers that build free-form errors).
    #[error("{0}")]
    Other(String),
    /// The PKCS#11 module file is missing or cannot be loaded.
    #[error("the PKCS#11 module {path} could not be loaded ({detail}); install the token's middleware (ePass3003: libshuttle_p11v220.so / ShuttleCsp11_3003.dll) or pass its path with --pkcs11-module")]
    ModuleNotFound { path: String, detail: String },
    /// No token with the wanted label/serial is plugged in.
    #[error("no token {wanted} is present (tokens seen: {seen}); plug the token in, or check --token-label / token_serial")]
    TokenNotPresent { wanted: String, seen: String },
    /// The token went away while it was being used (unplugged, session invalidated).
    #[error("the token was removed or reset while signing ({detail}); plug it back in and run again — unsent invoices stay queued")]
    TokenRemoved { detail: String },
    /// The user PIN was wrong. Never retried automatically.
    #[error("the token PIN is incorrect; it was tried once and will not be retried. Enter the right PIN (after 5 wrong tries the ePass3003 locks)")]
    PinIncorrect,
    /// The user PIN is locked (too many wrong tries).
    #[error("the token's user PIN is locked after too many wrong tries; unlock it with the SO PIN in the token manager (admin version), or see the issuer")]
    PinLocked,
    /// The next wrong PIN would lock the token, and the user did not confirm the attempt.
    #[error("the token says the next wrong PIN locks it; no attempt was made. If you are sure of the PIN, run again with --allow-final-pin-try")]
    PinFinalTry,
    /// The PIN has expired or is the factory default that must be changed first.
    #[error("the token's PIN has expired or must be changed before use; change it in the token manager, then run again")]
    PinExpired,
    /// The PIN has a form the token refuses (length/characters).
    #[error("the token refuses the PIN's form (length or characters): {detail}")]
    PinInvalid { detail: String },
    /// No PIN could be obtained (no MOADIAN_PIN and no terminal to ask on).
    #[error("no PIN: set MOADIAN_PIN for unattended runs, or run on a terminal to be asked")]
    PinUnavailable,
    /// A PIN supplied from the environment failed earlier; the same PIN is not tried again.
    #[error("the stored PIN (MOADIAN_PIN) was refused by token {serial} on {when}; that same PIN will not be tried again (a different one will, once). Set MOADIAN_PIN to the right PIN, run once on a terminal, or allow the old one again with `{command}`")]
    StoredPinRefused {
        when: String,
        serial: String,
        command: String,
    },
    /// A `--key-id` / `key_id` that is not hex.
    #[error("--key-id {given:?} is not a CKA_ID: {}; give the hex CKA_ID `moadian token certs` shows (e.g. --key-id 01)", why.en)]
    BadKeyId { given: String, why: Message },
    /// Choosing the token, the certificate or its key failed: what was found, and the exact
    /// flag to choose otherwise.
    #[error("{} — {}", message.en, fix.en)]
    Choice {
        id: &'static str,
        message: Message,
        fix: Message,
    },
    /// A key file has no certificate.
    #[error("no certificate {what}")]
    CertificateNotFound { what: String },
    /// The certificate is not the taxpayer's.
    #[error("the certificate belongs to {found}, not to national ID {expected}; the server would reject it (4103 / 04132). Use the certificate of that taxpayer")]
    NoMatchingCertificate { expected: String, found: String },
    /// The token signs neither with SHA256-RSA-PKCS nor with raw RSA-PKCS.
    #[error("the token supports neither SHA256-RSA-PKCS nor RSA-PKCS signing; it cannot make RS256 signatures")]
    MechanismMissing,
    /// A key file could not be read or parsed.
    #[error("the key file {path} could not be used: {detail}")]
    KeyFile { path: String, detail: String },
    /// The key file is encrypted and the passphrase was wrong.
    #[error("the key file {path} is encrypted and the passphrase (MOADIAN_PIN or the prompt) did not open it")]
    KeyPassphrase { path: String },
    /// The private key does not belong to the certificate.
    #[error("the private key does not belong to the certificate {subject}; the server would answer 4131/4133. Use the certificate issued for this key")]
    KeyCertificateMismatch { subject: String },
    /// A certificate could not be parsed.
    #[error("the certificate could not be read: {0}")]
    Certificate(String),
    /// JOSE (JWS/JWE) building or parsing failed.
    #[error("JWS/JWE: {0}")]
    Jose(String),
    /// Verification of a JWS failed.
    #[error("the JWS does not verify: {0}")]
    Verify(String),
    /// A PKCS#11 call failed with a code that has no dedicated variant.
    #[error("the token answered {rv} to {function}; re-plug the token and try again")]
    Pkcs11 { function: String, rv: String },
    /// The certificate fails a preflight check (expired, not yet valid, key usage, …).
    #[error("{}{}", message.en, fix.as_ref().map(|f| format!(" — {}", f.en)).unwrap_or_default())]
    CertificateRejected {
        id: &'static str,
        message: Message,
        fix: Option<Message>,
    },
    /// The signer settings are incomplete or contradictory.
    #[error("signer settings: {0}")]
    Config(String),
}

impl SignError {
    /// The stable id of the check this error belongs to (shared with the code catalogue).
    pub fn check_id(&self) -> &'static str {
        match self {
            SignError::Other(_) => "sign.other",
            SignError::ModuleNotFound { .. } => "module.not_found",
            SignError::TokenNotPresent { .. } => "token.not_present",
            SignError::TokenRemoved { .. } => "token.removed",
            SignError::PinIncorrect => "pin.incorrect",
            SignError::PinLocked => "pin.locked",
            SignError::PinFinalTry => "pin.final_try",
            SignError::PinExpired => "pin.expired",
            SignError::PinInvalid { .. } => "pin.invalid",
            SignError::PinUnavailable => "pin.unavailable",
            SignError::StoredPinRefused { .. } => "pin.stored_refused",
            SignError::BadKeyId { .. } => "signer.config",
            SignError::Choice { id, .. } => id,
            SignError::CertificateNotFound { .. } => "cert.not_found",
            SignError::NoMatchingCertificate { .. } => "cert.national_id_mismatch",
            SignError::MechanismMissing => "module.mechanism_missing",
            SignError::KeyFile { .. } => "key.file",
            SignError::KeyPassphrase { .. } => "key.passphrase",
            SignError::KeyCertificateMismatch { .. } => "key.mismatch",
            SignError::Certificate(_) => "cert.unreadable",
            SignError::Jose(_) => "jose.error",
            SignError::Verify(_) => "jws.invalid",
            SignError::Pkcs11 { .. } => "token.error",
            SignError::CertificateRejected { id, .. } => id,
            SignError::Config(_) => "signer.config",
        }
    }

    /// What happened and the fix, in Persian and English.
    pub fn message(&self) -> Message {
        let en = self.to_string();
        let fa = match self {
            SignError::Other(s) => s.clone(),
            SignError::ModuleNotFound { path, detail } => format!(
                "ماژول PKCS#11 در مسیر {path} بارگذاری نشد ({detail}). نرم‌افزار توکن (برای ePass3003: libshuttle_p11v220.so یا ShuttleCsp11_3003.dll) را نصب کنید یا مسیر آن را با ‎--pkcs11-module‎ بدهید."
            ),
            SignError::TokenNotPresent { wanted, seen } => format!(
                "توکن {wanted} متصل نیست (توکن‌های دیده‌شده: {seen}). توکن را به رایانه وصل کنید یا برچسب/شماره سریال توکن را بررسی کنید."
            ),
            SignError::TokenRemoved { .. } => "توکن هنگام امضا جدا یا بازنشانی شد. توکن را دوباره وصل کنید و دوباره اجرا کنید؛ صورتحساب‌های ارسال‌نشده در صف می‌مانند.".into(),
            SignError::PinIncorrect => "رمز (PIN) توکن اشتباه است. فقط یک بار امتحان شد و دوباره امتحان نمی‌شود. رمز درست را وارد کنید (ePass3003 پس از ۵ بار رمز اشتباه قفل می‌شود).".into(),
            SignError::PinLocked => "رمز کاربری توکن به‌دلیل ورود اشتباه مکرر قفل شده است. با SO PIN در نرم‌افزار مدیریت توکن (نسخه ادمین) قفل را باز کنید یا به مرکز صدور مراجعه کنید.".into(),
            SignError::PinFinalTry => "توکن اعلام کرده است که رمز اشتباه بعدی آن را قفل می‌کند؛ هیچ تلاشی انجام نشد. اگر از رمز مطمئن هستید با ‎--allow-final-pin-try‎ دوباره اجرا کنید.".into(),
            SignError::PinExpired => "رمز توکن منقضی شده یا باید پیش از استفاده تغییر کند. رمز را در نرم‌افزار مدیریت توکن تغییر دهید و دوباره اجرا کنید.".into(),
            SignError::PinInvalid { .. } => "توکن قالب این رمز (طول یا نویسه‌ها) را نمی‌پذیرد.".into(),
            SignError::PinUnavailable => "رمز توکن در دسترس نیست: برای اجرای خودکار MOADIAN_PIN را تنظیم کنید یا برنامه را در ترمینال اجرا کنید تا رمز پرسیده شود.".into(),
            SignError::StoredPinRefused { when, serial, command } => format!(
                "رمز ذخیره‌شده (MOADIAN_PIN) در {when} توسط توکن {serial} رد شد و همان رمز دوباره امتحان نمی‌شود تا توکن قفل نشود (رمز دیگری یک بار امتحان می‌شود). MOADIAN_PIN را به رمز درست تغییر دهید، یک بار در ترمینال اجرا کنید، یا رمز قبلی را با دستور ‎{command}‎ دوباره مجاز کنید."
            ),
            SignError::BadKeyId { given, why } => format!(
                "مقدار ‎--key-id {given:?}‎ شناسه CKA_ID نیست: {}. شناسه هگز را همان‌طور که ‎moadian token certs‎ نشان می‌دهد بدهید (مثلاً ‎--key-id 01‎).",
                why.fa
            ),
            SignError::Choice { message, fix, .. } => format!("{} — {}", message.fa, fix.fa),
            SignError::CertificateNotFound { what } => format!("گواهی {what} پیدا نشد."),
            SignError::NoMatchingCertificate { expected, found } => format!(
                "گواهی متعلق به {found} است، نه شناسه/کد ملی {expected}. سامانه آن را رد می‌کند (خطای 4103 / 04132). گواهی همین مودی را به کار ببرید."
            ),
            SignError::MechanismMissing => "توکن نه SHA256-RSA-PKCS و نه RSA-PKCS را پشتیبانی می‌کند و نمی‌تواند امضای RS256 بسازد.".into(),
            SignError::KeyFile { path, detail } => format!("فایل کلید {path} قابل استفاده نیست: {detail}"),
            SignError::KeyPassphrase { path } => format!(
                "فایل کلید {path} رمزگذاری شده است و گذرواژه (MOADIAN_PIN یا پرسش) آن را باز نکرد."
            ),
            SignError::KeyCertificateMismatch { subject } => format!(
                "کلید خصوصی با گواهی {subject} جفت نیست؛ سامانه پاسخ 4131/4133 می‌دهد. گواهی صادرشده برای همین کلید را به کار ببرید."
            ),
            SignError::Certificate(d) => format!("گواهی خوانده نشد: {d}"),
            SignError::Jose(d) => format!("خطا در ساخت JWS/JWE: {d}"),
            SignError::Verify(d) => format!("امضای JWS معتبر نیست: {d}"),
            SignError::Pkcs11 { function, rv } => format!(
                "توکن به {function} پاسخ {rv} داد. توکن را جدا و دوباره وصل کنید و دوباره امتحان کنید."
            ),
            SignError::CertificateRejected { message, fix, .. } => format!(
                "{}{}",
                message.fa,
                fix.as_ref().map(|f| format!(" — {}", f.fa)).unwrap_or_default()
            ),
            SignError::Config(d) => format!("تنظیمات امضاکننده: {d}"),
        };
        Message::new(fa, en)
    }
}

/// Something that signs with the taxpayer's private key: a token through PKCS#11, or a key file.
///
/// Implementations are blocking (a token is a slow serial device); async callers use
/// `tokio::task::spawn_blocking`.
pub trait Signer: Send + Sync {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWS `RS256`) over `message`.
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;

    /// The signing certificate, DER. Goes into the JWS `x5c` header.
    fn certificate_der(&self) -> &[u8];
}

impl std::fmt::Debug for dyn Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Signer")
    }
}

impl<T: Signer + ?Sized> Signer for Box<T> {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign_rs256(message)
    }
    fn certificate_der(&self) -> &[u8] {
        (**self).certificate_der()
    }
}

impl<T: Signer + ?Sized> Signer for std::sync::Arc<T> {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign_rs256(message)
    }
    fn certificate_der(&self) -> &[u8] {
        (**self).certificate_der()
    }
}

/// The SHA-256 `DigestInfo` prefix (RFC 8017 §9.2): RSA-PKCS over `prefix || sha256(m)` equals
/// SHA256-RSA-PKCS over `m`. Used when a token lacks the combined mechanism.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// `DigestInfo(SHA-256, sha256(message))`, 51 bytes.
pub fn sha256_digest_info(message: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut v = Vec::with_capacity(51);
    v.extend_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    v.extend_from_slice(&sha2::Sha256::digest(message));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_is_51_bytes() {
        assert_eq!(sha256_digest_info(b"x").len(), 51);
    }

    /// The position of each variant. A `match` without a wildcard: a new variant does not
    /// compile until it has a number here, and the test below fails until it has an example.
    fn ordinal(e: &SignError) -> usize {
        match e {
            SignError::Other(_) => 0,
            SignError::ModuleNotFound { .. } => 1,
            SignError::TokenNotPresent { .. } => 2,
            SignError::TokenRemoved { .. } => 3,
            SignError::PinIncorrect => 4,
            SignError::PinLocked => 5,
            SignError::PinFinalTry => 6,
            SignError::PinExpired => 7,
            SignError::PinInvalid { .. } => 8,
            SignError::PinUnavailable => 9,
            SignError::StoredPinRefused { .. } => 10,
            SignError::BadKeyId { .. } => 11,
            SignError::Choice { .. } => 12,
            SignError::CertificateNotFound { .. } => 13,
            SignError::NoMatchingCertificate { .. } => 14,
            SignError::MechanismMissing => 15,
            SignError::KeyFile { .. } => 16,
            SignError::KeyPassphrase { .. } => 17,
            SignError::KeyCertificateMismatch { .. } => 18,
            SignError::Certificate(_) => 19,
            SignError::Jose(_) => 20,
            SignError::Verify(_) => 21,
            SignError::Pkcs11 { .. } => 22,
            SignError::CertificateRejected { .. } => 23,
            SignError::Config(_) => 24,
        }
    }
    const VARIANTS: usize = 25;

    fn one_of_each() -> Vec<SignError> {
        let m = |fa: &str, en: &str| Message::new(fa, en);
        vec![
            SignError::Other("خطا / error".into()),
            SignError::ModuleNotFound {
                path: "/x.so".into(),
                detail: "d".into(),
            },
            SignError::TokenNotPresent {
                wanted: "labelled \"a\"".into(),
                seen: "none".into(),
            },
            SignError::TokenRemoved { detail: "d".into() },
            SignError::PinIncorrect,
            SignError::PinLocked,
            SignError::PinFinalTry,
            SignError::PinExpired,
            SignError::PinInvalid { detail: "d".into() },
            SignError::PinUnavailable,
            SignError::StoredPinRefused {
                when: "2024-01-01T00:00:00Z".into(),
                serial: "S1".into(),
                command: "moadian token forget-failed-pin --token-serial S1".into(),
            },
            SignError::BadKeyId {
                given: "aéb".into(),
                why: m("نه", "no"),
            },
            SignError::Choice {
                id: "token.several",
                message: m("دو توکن", "two tokens"),
                fix: m("‎--token-serial‎", "--token-serial"),
            },
            SignError::CertificateNotFound {
                what: "for k.pem".into(),
            },
            SignError::NoMatchingCertificate {
                expected: "14003778990".into(),
                found: "individual 0012345679".into(),
            },
            SignError::MechanismMissing,
            SignError::KeyFile {
                path: "k.pem".into(),
                detail: "d".into(),
            },
            SignError::KeyPassphrase {
                path: "k.pem".into(),
            },
            SignError::KeyCertificateMismatch {
                subject: "CN=x".into(),
            },
            SignError::Certificate("d".into()),
            SignError::Jose("d".into()),
            SignError::Verify("d".into()),
            SignError::Pkcs11 {
                function: "C_Sign".into(),
                rv: "CKR_X".into(),
            },
            SignError::CertificateRejected {
                id: "cert.expired",
                message: m("منقضی", "expired"),
                fix: Some(m("تمدید", "renew")),
            },
            SignError::Config("d".into()),
        ]
    }

    #[test]
    fn every_error_has_persian_and_english() {
        let all = one_of_each();
        let mut seen = [false; VARIANTS];
        let persian = |s: &str| s.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
        for e in &all {
            seen[ordinal(e)] = true;
            let m = e.message();
            assert!(!m.en.trim().is_empty(), "{e:?}: no English");
            assert!(persian(&m.fa), "{e:?}: no Persian in {:?}", m.fa);
            assert!(
                !persian(&m.en) || matches!(e, SignError::Other(_)),
                "{e:?}: Persian in the English text {:?}",
                m.en
            );
            assert!(
                crate::crypto::checks::CHECK_IDS.contains(&e.check_id()),
                "{e:?}: check id {} is not in CHECK_IDS",
                e.check_id()
            );
        }
        let missing: Vec<usize> = (0..VARIANTS).filter(|i| !seen[*i]).collect();
        assert!(
            missing.is_empty(),
            "variants without an example: {missing:?}"
        );
        let e = SignError::PinFinalTry;
        assert!(e.message().en.contains("--allow-final-pin-try"));
        assert!(e.message().fa.contains("--allow-final-pin-try"));
        assert_eq!(e.check_id(), "pin.final_try");
    }
}
