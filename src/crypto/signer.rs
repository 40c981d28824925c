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
    /// A PIN supplied from the environment failed earlier; a scheduled run will not try it again.
    #[error("the stored PIN (MOADIAN_PIN) was refused by the token on {when}; it will not be tried again. Run once on a terminal with the right PIN, or `moadian token forget-failed-pin`")]
    StoredPinRefused { when: String },
    /// The token holds no private key with the wanted CKA_ID.
    #[error("no private key {what} on the token; list them with `moadian token certs` and pass --key-id")]
    KeyNotFound { what: String },
    /// The token (or key file) has no certificate for the key.
    #[error("no certificate {what}; the certificate must sit on the token with the same CKA_ID as the key (or pass --cert FILE)")]
    CertificateNotFound { what: String },
    /// Several certificates and nothing to choose between them.
    #[error("the token holds {count} certificates and none was chosen; pass --key-id, or the taxpayer's national ID so the matching one is used")]
    SeveralCertificates { count: usize },
    /// No certificate on the token carries the expected national ID / code.
    #[error("no certificate on the token belongs to national ID {expected} (found: {found}); the server would reject it (4103 / 04132). Use the token of that taxpayer")]
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
            SignError::KeyNotFound { .. } => "key.not_found",
            SignError::CertificateNotFound { .. } => "cert.not_found",
            SignError::SeveralCertificates { .. } => "cert.several",
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
            SignError::StoredPinRefused { when } => format!(
                "رمز ذخیره‌شده (MOADIAN_PIN) در {when} توسط توکن رد شد و دوباره امتحان نمی‌شود تا توکن قفل نشود. یک بار در ترمینال با رمز درست اجرا کنید یا دستور ‎moadian token forget-failed-pin‎ را بزنید."
            ),
            SignError::KeyNotFound { what } => format!(
                "کلید خصوصی {what} روی توکن پیدا نشد. فهرست را با ‎moadian token certs‎ ببینید و ‎--key-id‎ را بدهید."
            ),
            SignError::CertificateNotFound { what } => format!(
                "گواهی {what} پیدا نشد. گواهی باید با همان CKA_ID کلید روی توکن باشد (یا با ‎--cert‎ فایل آن را بدهید)."
            ),
            SignError::SeveralCertificates { count } => format!(
                "روی توکن {count} گواهی هست و هیچ‌کدام انتخاب نشده است. ‎--key-id‎ یا شناسه ملی مودی را بدهید تا گواهی مطابق انتخاب شود."
            ),
            SignError::NoMatchingCertificate { expected, found } => format!(
                "هیچ گواهی روی توکن متعلق به شناسه/کد ملی {expected} نیست (یافته‌ها: {found}). سامانه آن را رد می‌کند (خطای 4103 / 04132). از توکن همین مودی استفاده کنید."
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

    #[test]
    fn every_error_has_persian_and_english() {
        let e = SignError::PinFinalTry;
        let m = e.message();
        assert!(m.en.contains("--allow-final-pin-try"));
        assert!(m.fa.contains("--allow-final-pin-try"));
        assert_eq!(e.check_id(), "pin.final_try");
    }
}
