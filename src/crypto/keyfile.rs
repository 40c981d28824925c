//! The key-file signer: for taxpayers who hold their key as a file (what GICA/CSR tools and
//! accounting software produce) instead of on a token. Reads PKCS#8 PEM (plain or encrypted),
//! PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`, optionally with a legacy passphrase), DER PKCS#8, and
//! PKCS#12 (`.pfx`/`.p12`, which also carries the certificate). The certificate is PEM or DER,
//! whatever the file extension (GICA hands out `.crt` and `.txt`).

use super::pin::PinSource;
use super::prepared::{with_prepared, Slot};
use super::{SignError, Signer};
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::x509::X509;
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Signs with a private key held in memory (loaded from a file).
pub struct KeyFileSigner {
    key: PKey<Private>,
    cert_der: Vec<u8>,
    /// Tells this signer's prepared contexts (see [`PREPARED`]) from another signer's.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's RSA PKCS#1 v1.5 / SHA-256 signing context, prepared once for the signer
    /// (by id) it last signed with: preparing a context for each signature costs a few percent
    /// of the signature itself. The same context signs again and again (OpenSSL allows it).
    static PREPARED: Slot<PkeyCtx<Private>> = const { RefCell::new(None) };
}

impl std::fmt::Debug for KeyFileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFileSigner")
            .field("key", &"[REDACTED]")
            .field("cert_der_len", &self.cert_der.len())
            .finish()
    }
}

impl KeyFileSigner {
    /// Loads `key_path` (and `cert_path` unless the key file is PKCS#12). The passphrase of an
    /// encrypted key is asked from `pin` only when needed. Checks that key and certificate match.
    pub fn open(
        key_path: &Path,
        cert_path: Option<&Path>,
        pin: &PinSource,
    ) -> Result<Self, SignError> {
        let shown = key_path.display().to_string();
        let bytes = std::fs::read(key_path).map_err(|e| SignError::KeyFile {
            path: shown.clone(),
            detail: format!("cannot read it: {e}"),
        })?;
        let (key, bundled_cert) = load_key(&bytes, &shown, key_path, pin)?;
        let cert = match (cert_path, bundled_cert) {
            (Some(p), _) => load_certificate_file(p)?,
            (None, Some(c)) => c,
            (None, None) => {
                return Err(SignError::CertificateNotFound {
                    what: format!(
                        "for the key file {shown} (pass --cert FILE with the .crt the CA issued)"
                    ),
                })
            }
        };
        Self::from_parts(key, cert)
    }

    /// Builds a signer from an OpenSSL key and certificate, checking they belong together.
    pub fn from_parts(key: PKey<Private>, cert: X509) -> Result<Self, SignError> {
        let cert_pub = cert
            .public_key()
            .map_err(|e| SignError::Certificate(e.to_string()))?;
        if !key.public_eq(&cert_pub) {
            return Err(SignError::KeyCertificateMismatch {
                subject: subject_line(&cert),
            });
        }
        let cert_der = cert
            .to_der()
            .map_err(|e| SignError::Certificate(e.to_string()))?;
        Ok(KeyFileSigner {
            key,
            cert_der,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// A context that signs a SHA-256 digest with RSASSA-PKCS1-v1_5 (RS256).
    fn prepare(&self) -> Result<PkeyCtx<Private>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(&self.key)?;
        ctx.sign_init()?;
        ctx.set_rsa_padding(Padding::PKCS1)?;
        ctx.set_signature_md(Md::sha256())?;
        Ok(ctx)
    }

    /// From PEM texts (tests, the sandbox's test identity, the official guide's key).
    pub fn from_pem(key_pem: &[u8], cert_pem_or_der: &[u8]) -> Result<Self, SignError> {
        let (key, _) = load_key(key_pem, "(memory)", Path::new(""), &PinSource::None)?;
        let cert = parse_certificate(cert_pem_or_der).map_err(SignError::Certificate)?;
        Self::from_parts(key, cert)
    }
}

impl Signer for KeyFileSigner {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        // The low-level hasher: OpenSSL 3's one-shot `SHA256()` looks the algorithm up anew
        // on every call.
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(message);
        let digest = hasher.finish();
        let make = || {
            self.prepare()
                .map_err(|e| SignError::Other(format!("RSA signing setup failed: {e}")))
        };
        with_prepared(&PREPARED, self.id, make, |ctx| {
            let mut signature = Vec::with_capacity(self.key.size());
            ctx.sign_to_vec(&digest, &mut signature)
                .map_err(|e| SignError::Other(format!("RSA signing failed: {e}")))?;
            Ok(signature)
        })
    }

    fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }
}

/// What `doctor` says about a key file itself (not about the key): a warning with the fix when
/// group or others may read it, or when the key in it is not protected by a passphrase. A key
/// file is the taxpayer's signature; anyone who copies it can sign invoices in their name.
pub fn hygiene(path: &Path) -> Vec<super::checks::Check> {
    use super::checks::Check;
    use crate::lang::Message;
    let shown = path.display().to_string();
    let mut out = Vec::new();
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            out.push(Check::warn(
                "key.file_permissions",
                Message::new(
                    format!("فایل کلید {shown} را دیگران هم می‌توانند بخوانند (دسترسی {mode:03o})."),
                    format!(
                        "the key file {shown} is readable by group or others (mode {mode:03o})."
                    ),
                ),
                Message::new(
                    format!("دسترسی را فقط برای خودتان بگذارید: chmod 600 {shown}"),
                    format!("make it readable by you only: chmod 600 {shown}"),
                ),
            ));
        }
    }
    if let Ok(bytes) = std::fs::read(path) {
        if is_unprotected(&bytes, path) {
            out.push(Check::warn(
                "key.unprotected",
                Message::new(
                    format!("کلید خصوصی در {shown} با گذرواژه محافظت نشده است."),
                    format!("the private key in {shown} is not protected by a passphrase."),
                ),
                Message::new(
                    format!("آن را با گذرواژه رمز کنید: openssl pkcs8 -topk8 -v2 aes-256-cbc -in {shown} -out key.enc.pem ، سپس key.enc.pem را به کار ببرید و فایل قبلی را پاک کنید (یا کلید را روی توکن نگه دارید)"),
                    format!("encrypt it with a passphrase: openssl pkcs8 -topk8 -v2 aes-256-cbc -in {shown} -out key.enc.pem, use key.enc.pem and delete the plain file (or keep the key on a token)"),
                ),
            ));
        }
    }
    out
}

/// Whether the key file opens without any passphrase.
fn is_unprotected(bytes: &[u8], path: &Path) -> bool {
    let text = std::str::from_utf8(bytes).unwrap_or("");
    if text.contains("ENCRYPTED") {
        return false;
    }
    if text.contains("PRIVATE KEY-----") {
        return PKey::private_key_from_pem(bytes).is_ok();
    }
    let is_p12 = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"));
    if is_p12 || openssl::pkcs12::Pkcs12::from_der(bytes).is_ok() {
        return openssl::pkcs12::Pkcs12::from_der(bytes)
            .ok()
            .and_then(|p| p.parse2("").ok())
            .is_some_and(|p| p.pkey.is_some());
    }
    PKey::private_key_from_der(bytes).is_ok()
        || openssl::rsa::Rsa::private_key_from_der(bytes).is_ok()
}

fn load_key(
    bytes: &[u8],
    shown: &str,
    path: &Path,
    pin: &PinSource,
) -> Result<(PKey<Private>, Option<X509>), SignError> {
    let text = std::str::from_utf8(bytes).unwrap_or("");
    let kerr = |detail: String| SignError::KeyFile {
        path: shown.to_string(),
        detail,
    };
    let is_p12 = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"))
        .unwrap_or(false);
    if is_p12 || (!text.contains("-----BEGIN") && openssl::pkcs12::Pkcs12::from_der(bytes).is_ok())
    {
        return load_pkcs12(bytes, shown, pin);
    }
    if text.contains("-----BEGIN CERTIFICATE-----") && !text.contains("PRIVATE KEY-----") {
        return Err(kerr(
            "this is a certificate, not a private key; pass it with --cert and the key with --key"
                .into(),
        ));
    }
    if text.contains("-----BEGIN CERTIFICATE REQUEST-----") {
        return Err(kerr("this is a certificate request (CSR), not a private key; the key is the file that was made together with it (often private.key)".into()));
    }
    let encrypted =
        text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED");
    if text.contains("PRIVATE KEY-----") {
        let key = if encrypted {
            let pass = passphrase(pin, shown)?;
            PKey::private_key_from_pem_passphrase(bytes, pass.expose().as_bytes()).map_err(
                |_| SignError::KeyPassphrase {
                    path: shown.to_string(),
                },
            )?
        } else {
            PKey::private_key_from_pem(bytes)
                .map_err(|e| kerr(format!("not a readable PEM private key ({e})")))?
        };
        return Ok((check_rsa(key, shown)?, None));
    }
    // DER: PKCS#8, then PKCS#1.
    if let Ok(k) = PKey::private_key_from_der(bytes) {
        return Ok((check_rsa(k, shown)?, None));
    }
    if let Ok(rsa) = openssl::rsa::Rsa::private_key_from_der(bytes) {
        let k = PKey::from_rsa(rsa).map_err(|e| kerr(e.to_string()))?;
        return Ok((k, None));
    }
    Err(kerr(
        "not a private key in any known form (PKCS#8/PKCS#1 PEM or DER, PKCS#12 .pfx/.p12)".into(),
    ))
}

fn load_pkcs12(
    bytes: &[u8],
    shown: &str,
    pin: &PinSource,
) -> Result<(PKey<Private>, Option<X509>), SignError> {
    let p12 = openssl::pkcs12::Pkcs12::from_der(bytes).map_err(|e| SignError::KeyFile {
        path: shown.to_string(),
        detail: format!("not a PKCS#12 file ({e})"),
    })?;
    // Older .pfx files use RC2/3DES, which OpenSSL 3 keeps in its "legacy" provider.
    #[allow(clippy::let_underscore_must_use)]
    let _legacy = openssl::provider::Provider::try_load(None, "legacy", true).ok();
    let parsed = match p12.parse2("") {
        Ok(p) if p.pkey.is_some() => p,
        _ => {
            let pass = passphrase(pin, shown)?;
            p12.parse2(pass.expose())
                .map_err(|_| SignError::KeyPassphrase {
                    path: shown.to_string(),
                })?
        }
    };
    let key = parsed.pkey.ok_or_else(|| SignError::KeyFile {
        path: shown.to_string(),
        detail: "the PKCS#12 file holds no private key".into(),
    })?;
    Ok((check_rsa(key, shown)?, parsed.cert))
}

fn passphrase(pin: &PinSource, shown: &str) -> Result<super::pin::Pin, SignError> {
    match pin.obtain(&format!("key file {shown}"))? {
        Some((p, _)) => Ok(p),
        None => Err(SignError::KeyPassphrase {
            path: shown.to_string(),
        }),
    }
}

fn check_rsa(key: PKey<Private>, shown: &str) -> Result<PKey<Private>, SignError> {
    if key.id() != openssl::pkey::Id::RSA {
        return Err(SignError::KeyFile {
            path: shown.to_string(),
            detail: "the key is not RSA; the tax system signs with RS256 (RSA-2048)".into(),
        });
    }
    if key.bits() < 2048 {
        return Err(SignError::KeyFile {
            path: shown.to_string(),
            detail: format!(
                "the RSA key has {} bits; at least 2048 are needed",
                key.bits()
            ),
        });
    }
    Ok(key)
}

/// Reads a certificate file, PEM or DER.
pub fn load_certificate_file(path: &Path) -> Result<X509, SignError> {
    let bytes = std::fs::read(path).map_err(|e| SignError::KeyFile {
        path: path.display().to_string(),
        detail: format!("cannot read the certificate: {e}"),
    })?;
    parse_certificate(&bytes)
        .map_err(|d| SignError::Certificate(format!("{}: {d}", path.display())))
}

/// Parses a certificate given as PEM or DER.
pub fn parse_certificate(bytes: &[u8]) -> Result<X509, String> {
    if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        X509::from_pem(bytes).map_err(|e| format!("not a PEM certificate ({e})"))
    } else {
        X509::from_der(bytes).map_err(|e| format!("not a DER certificate ({e})"))
    }
}

fn subject_line(cert: &X509) -> String {
    cert.subject_name()
        .entries()
        .filter_map(|e| e.data().to_string().ok())
        .collect::<Vec<_>>()
        .join(", ")
}
