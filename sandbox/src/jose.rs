//! Server-side JOSE: verifying a compact JWS against the certificate in its own `x5c` header
//! (auth token and signed invoice alike) and decrypting the invoice JWE with the sandbox's key.
//! Uses josekit and openssl directly — never the client's crypto module — so the client and the
//! sandbox cannot share one mistake.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use josekit::jwe::{JweContext, RSA_OAEP_256};
use josekit::jws::alg::rsassa::RsassaJwsVerifier;
use josekit::jws::{JwsVerifier, RS256};
use openssl::asn1::Asn1Time;
use openssl::nid::Nid;
use openssl::x509::X509;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};

/// A JWS that verified.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    pub payload: Vec<u8>,
    pub header: Map<String, Value>,
    /// DER of the signing certificate (`x5c[0]`).
    pub cert_der: Vec<u8>,
    /// Subject serialNumber of the certificate: the national ID / code of its owner.
    pub national_id: Option<String>,
    /// `sigT` as Unix ms when one of the known forms parsed.
    pub sig_t_ms: Option<i64>,
}

/// Why a JWS was refused; each maps to one official code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwsFault {
    /// Not three base64url parts with a JSON header (4130 / 04130).
    Structure(String),
    /// No certificate in `x5c` (4135).
    NoX5c,
    /// `x5c[0]` is not a certificate (4136).
    BadX5c(String),
    /// Header not as the standard wants, signature does not verify, or certificate expired
    /// or not yet valid (4131 / 04131).
    Invalid(String),
}

impl JwsFault {
    pub fn detail(&self) -> String {
        match self {
            JwsFault::Structure(s) | JwsFault::BadX5c(s) | JwsFault::Invalid(s) => s.clone(),
            JwsFault::NoX5c => "x5c missing".to_string(),
        }
    }
}

/// base64url without padding; tolerates padding a client left on.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn header_of(token: &str) -> Result<Map<String, Value>, JwsFault> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().take(2).any(|p| p.is_empty()) {
        return Err(JwsFault::Structure(format!(
            "a compact JWS needs 3 parts, got {}",
            parts.len()
        )));
    }
    let raw = b64url_decode(parts[0])
        .ok_or_else(|| JwsFault::Structure("JWS header is not base64url".into()))?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwsFault::Structure(
            "JWS header is not a JSON object".into(),
        )),
    }
}

/// The base64 of an `x5c` entry as clients send it: line breaks and spaces kept from the PEM
/// file, or the whole PEM armour, are dropped (the real server accepts them).
fn x5c_base64(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A certificate met in an `x5c`, read once. A taxpayer signs every invoice with the same
/// certificate; parsing it and its key again for each JWS was most of the sandbox's work per
/// invoice.
struct Known {
    cert: X509,
    national_id: Option<String>,
    /// The RS256 verifier of its key, or why there is none (reported where the check is).
    verifier: Result<RsassaJwsVerifier, JwsFault>,
}

/// Certificates kept read ([`Known`]), the most recent last.
const KNOWN_CERTIFICATES: usize = 64;

/// Certificates read, each beside its DER.
type KnownCache = Vec<(Vec<u8>, Arc<Known>)>;

fn known(der: &[u8]) -> Result<Arc<Known>, JwsFault> {
    static CACHE: Mutex<KnownCache> = Mutex::new(Vec::new());
    let lock = || CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, k)) = lock().iter().find(|(d, _)| d == der) {
        return Ok(k.clone());
    }
    let cert = X509::from_der(der).map_err(|e| {
        JwsFault::BadX5c(format!(
            "JWS header x5c[0] is not an X.509 certificate: {e}"
        ))
    })?;
    let verifier = cert
        .public_key()
        .and_then(|k| k.public_key_to_der())
        .map_err(|e| JwsFault::BadX5c(format!("certificate key: {e}")))
        .and_then(|spki| {
            RS256
                .verifier_from_der(&spki)
                .map_err(|e| JwsFault::Invalid(format!("certificate key: {e}")))
        });
    let k = Arc::new(Known {
        national_id: national_id_of(&cert),
        cert,
        verifier,
    });
    let mut c = lock();
    if c.len() >= KNOWN_CERTIFICATES {
        c.remove(0);
    }
    c.push((der.to_vec(), k.clone()));
    Ok(k)
}

fn certificate_of(header: &Map<String, Value>) -> Result<(Arc<Known>, Vec<u8>), JwsFault> {
    let first = match header.get("x5c") {
        Some(Value::Array(a)) if !a.is_empty() => a[0].clone(),
        Some(Value::Array(_)) | None | Some(Value::Null) => return Err(JwsFault::NoX5c),
        Some(_) => return Err(JwsFault::BadX5c("JWS header x5c is not an array".into())),
    };
    let text = first
        .as_str()
        .ok_or_else(|| JwsFault::BadX5c("JWS header x5c[0] is not a string".into()))?;
    let cleaned = x5c_base64(text);
    let der = STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| JwsFault::BadX5c(format!("JWS header x5c[0] is not base64: {e}")))?;
    Ok((known(&der)?, der))
}

fn check_header(header: &Map<String, Value>) -> Result<Option<i64>, JwsFault> {
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        other => {
            return Err(JwsFault::Invalid(format!(
                "JWS header alg must be RS256, got {other:?}"
            )))
        }
    }
    // The guide (RC_TICS §5, §7) puts `crit` in every header, naming `sigT` and nothing else.
    match header.get("crit") {
        Some(Value::Array(names)) if names.len() == 1 && names[0] == "sigT" => {}
        None => {
            return Err(JwsFault::Invalid(
                r#"JWS header crit is missing; it must be ["sigT"]"#.into(),
            ))
        }
        Some(other) => {
            return Err(JwsFault::Invalid(format!(
                r#"JWS header crit must be ["sigT"], got {other}"#
            )))
        }
    }
    match header.get("sigT") {
        Some(Value::String(s)) => {
            let parsed = super::clock::parse_sig_t(s);
            if parsed.is_none() {
                tracing::warn!(sig_t = %s, "sigT in an unknown form; accepted as the real server does");
            }
            Ok(parsed)
        }
        Some(_) => Err(JwsFault::Invalid("JWS header sigT is not a string".into())),
        None => Err(JwsFault::Invalid(
            "JWS header sigT is missing (crit names it)".into(),
        )),
    }
}

/// The subject serialNumber (national ID / code) of a certificate.
pub fn national_id_of(cert: &X509) -> Option<String> {
    cert.subject_name()
        .entries_by_nid(Nid::SERIALNUMBER)
        .next()
        .and_then(|e| String::from_utf8(e.data().as_slice().to_vec()).ok())
}

fn check_validity(cert: &X509, now_ms: i64) -> Result<(), JwsFault> {
    let now = Asn1Time::from_unix(now_ms.div_euclid(1000))
        .map_err(|e| JwsFault::Invalid(format!("clock: {e}")))?;
    if cert.not_after() < now {
        return Err(JwsFault::Invalid(format!(
            "certificate expired on {}",
            cert.not_after()
        )));
    }
    if cert.not_before() > now {
        return Err(JwsFault::Invalid(format!(
            "certificate not valid before {}",
            cert.not_before()
        )));
    }
    Ok(())
}

/// Verifies a compact JWS (RS256) against its own `x5c` certificate at sandbox time `now_ms`.
/// Header keys in any order, four or six of them (`typ`/`cty` accepted), `crit: ["sigT"]`
/// required, `sigT` parsed leniently.
pub fn verify_compact(token: &str, now_ms: i64) -> Result<VerifiedJws, JwsFault> {
    let header = header_of(token)?;
    let (known, cert_der) = certificate_of(&header)?;
    let sig_t_ms = check_header(&header)?;
    check_validity(&known.cert, now_ms)?;
    let verifier = known.verifier.as_ref().map_err(Clone::clone)?;
    // The signature is checked over the token's own bytes; the header has been read and checked
    // above, field by field, as the real server does. (A JOSE library's own header parsing would
    // refuse an `x5c` that kept its PEM line breaks, which the real server accepts.)
    let parts: Vec<&str> = token.split('.').collect();
    let signing_input = &token[..parts[0].len() + 1 + parts[1].len()];
    let signature = b64url_decode(parts[2])
        .ok_or_else(|| JwsFault::Invalid("JWS signature is not base64url".into()))?;
    verifier
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| {
            JwsFault::Invalid("JWS signature does not verify with the x5c certificate's key".into())
        })?;
    let payload = b64url_decode(parts[1])
        .ok_or_else(|| JwsFault::Structure("JWS payload is not base64url".into()))?;
    Ok(VerifiedJws {
        payload,
        header,
        national_id: known.national_id.clone(),
        cert_der,
        sig_t_ms,
    })
}

/// Why a JWE was refused; each maps to one official transport code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JweFault {
    /// Not decryptable / malformed (04150).
    Undecryptable(String),
    /// Algorithm other than RSA-OAEP-256 + A256GCM (04152).
    Algorithm(String),
    /// IV not 96 bits (04153).
    Iv(usize),
}

/// The sandbox's decryption key.
pub struct Decrypter {
    inner: josekit::jwe::alg::rsaes::RsaesJweDecrypter,
    key_id: String,
}

impl std::fmt::Debug for Decrypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypter")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl Decrypter {
    /// From a PKCS#8 DER private key and the key id published in `server-information`.
    pub fn new(pkcs8_der: &[u8], key_id: &str) -> Result<Self, josekit::JoseError> {
        Ok(Self {
            inner: RSA_OAEP_256.decrypter_from_der(pkcs8_der)?,
            key_id: key_id.to_string(),
        })
    }

    /// Decrypts a compact JWE. A missing `kid` is tolerated (the real server is lenient); a
    /// `kid` naming another key cannot be decrypted (04150).
    pub fn decrypt(&self, jwe: &str) -> Result<Vec<u8>, JweFault> {
        let parts: Vec<&str> = jwe.trim().split('.').collect();
        if parts.len() != 5 {
            return Err(JweFault::Undecryptable(format!(
                "compact JWE needs 5 parts, got {}",
                parts.len()
            )));
        }
        let header: Map<String, Value> = b64url_decode(parts[0])
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .ok_or_else(|| JweFault::Undecryptable("header is not base64url JSON".into()))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let enc = header.get("enc").and_then(Value::as_str).unwrap_or("");
        if alg != "RSA-OAEP-256" || enc != "A256GCM" {
            return Err(JweFault::Algorithm(format!("alg {alg:?}, enc {enc:?}")));
        }
        let iv = b64url_decode(parts[2])
            .ok_or_else(|| JweFault::Undecryptable("IV is not base64url".into()))?;
        if iv.len() != 12 {
            return Err(JweFault::Iv(iv.len() * 8));
        }
        match header.get("kid") {
            None | Some(Value::Null) => {}
            Some(Value::String(k)) if *k == self.key_id => {}
            Some(other) => {
                return Err(JweFault::Undecryptable(format!("unknown kid {other}")));
            }
        }
        let ctx = JweContext::new();
        let (plain, _) = ctx
            .deserialize_compact(jwe.trim(), &self.inner)
            .map_err(|e| JweFault::Undecryptable(e.to_string()))?;
        Ok(plain)
    }
}
