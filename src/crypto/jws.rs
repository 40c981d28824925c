//! The compact JWS of the auth token and of each invoice (protocol.md §3.2, §4.2; official
//! connection guide RC_TICS.IS v1.5 §5-1-2 and §7-1-2): RS256, `x5c`, `sigT`, `crit: ["sigT"]`.
//!
//! The default header is the official guide's: exactly four keys in its order
//! `{"crit":["sigT"],"sigT":"…","x5c":["…"],"alg":"RS256"}`, serialised compactly — with it and
//! the guide's key our output equals the guide's tokens byte for byte. The SDKs' six-key form
//! (adds `typ: jose`, `cty: text/plain`) is an option.
//!
//! The compact serialisation is assembled here (it is three base64url segments); josekit is
//! used to verify (with `sigT` accepted as a critical header). josekit's own `JwsSigner` needs
//! an owned, clonable `'static` signer, which a borrowed `&dyn Signer` on a token is not.

use super::{SignError, Signer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::cell::RefCell;
use time::OffsetDateTime;

/// Options of the JWS header.
#[derive(Debug, Clone, Default)]
pub struct JwsOptions {
    /// `sigT` as `yyyy-MM-ddTHH:mm:ssZ` (UTC); `None` = now.
    pub sig_t: Option<String>,
    /// Add the SDKs' `typ: jose` and `cty: text/plain` keys (six-key header).
    pub six_key_header: bool,
}

/// `sigT` of a moment: UTC, `yyyy-MM-ddTHH:mm:ssZ`.
pub fn format_sig_t(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `sigT` of now.
pub fn sig_t_now() -> String {
    format_sig_t(OffsetDateTime::now_utc())
}

/// Parses a `sigT` value: `yyyy-MM-ddTHH:mm:ssZ`, also the guide's local-time form with a
/// `+0330` suffix (`2023-05-13T14:14:47Z+0330`) and RFC 3339.
pub fn parse_sig_t(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Some(local) = s.strip_suffix("Z+0330") {
        let t = OffsetDateTime::parse(&format!("{local}+03:30"), &Rfc3339).ok()?;
        return Some(t);
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The protected header JSON (exact bytes that get base64url-encoded).
pub fn header_json(cert_der: &[u8], sig_t: &str, six_key_header: bool) -> String {
    let mut h = Map::new();
    h.insert(
        "crit".into(),
        Value::Array(vec![Value::String("sigT".into())]),
    );
    h.insert("sigT".into(), Value::String(sig_t.into()));
    h.insert(
        "x5c".into(),
        Value::Array(vec![Value::String(STANDARD.encode(cert_der))]),
    );
    if six_key_header {
        h.insert("typ".into(), Value::String("jose".into()));
        h.insert("cty".into(), Value::String("text/plain".into()));
    }
    h.insert("alg".into(), Value::String("RS256".into()));
    Value::Object(h).to_string()
}

/// The base64url header this thread last encoded, with what it was made of: invoices signed
/// in the same second by the same certificate share it (it holds the whole certificate).
struct EncodedHeader {
    cert_der: Vec<u8>,
    sig_t: String,
    six_key_header: bool,
    b64: String,
}

thread_local! {
    static HEADER: RefCell<Option<EncodedHeader>> = const { RefCell::new(None) };
}

/// Appends the base64url of [`header_json`] to `out`.
fn push_header_b64(out: &mut String, cert_der: &[u8], sig_t: &str, six_key_header: bool) {
    HEADER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = match &*slot {
            Some(h) => {
                h.sig_t != sig_t || h.six_key_header != six_key_header || h.cert_der != cert_der
            }
            None => true,
        };
        if fresh {
            let header = header_json(cert_der, sig_t, six_key_header);
            *slot = Some(EncodedHeader {
                cert_der: cert_der.to_vec(),
                sig_t: sig_t.to_string(),
                six_key_header,
                b64: URL_SAFE_NO_PAD.encode(header.as_bytes()),
            });
        }
        if let Some(h) = &*slot {
            out.push_str(&h.b64);
        }
    })
}

/// Signs `payload` (exact bytes) into a compact JWS.
pub fn sign_compact(
    payload: &[u8],
    signer: &dyn Signer,
    opts: &JwsOptions,
) -> Result<String, SignError> {
    let sig_t = match &opts.sig_t {
        Some(s) => {
            if parse_sig_t(s).is_none() {
                return Err(SignError::Config(format!(
                    "sigT {s:?} is not a time like 2024-03-06T13:05:50Z"
                )));
            }
            s.clone()
        }
        None => sig_t_now(),
    };
    let cert_der = signer.certificate_der();
    let mut out =
        String::with_capacity((cert_der.len() * 4 / 3 + 120 + payload.len()) * 4 / 3 + 350 + 8);
    push_header_b64(&mut out, cert_der, &sig_t, opts.six_key_header);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut out);
    let signature = signer.sign_rs256(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
    Ok(out)
}

/// The auth token (protocol.md §3.1): a JWS over `{"nonce":"…","clientId":"<memory ID>"}`.
pub fn auth_token(
    nonce: &str,
    client_id: &str,
    signer: &dyn Signer,
    opts: &JwsOptions,
) -> Result<String, SignError> {
    let mut p = Map::new();
    p.insert("nonce".into(), Value::String(nonce.into()));
    p.insert("clientId".into(), Value::String(client_id.into()));
    sign_compact(Value::Object(p).to_string().as_bytes(), signer, opts)
}

/// A JWS that verified against its own `x5c` certificate.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header, keys in received order.
    pub header: Map<String, Value>,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The signing certificate (first `x5c` entry), DER.
    pub certificate_der: Vec<u8>,
    /// `sigT` as sent.
    pub sig_t: Option<String>,
}

/// Verifies a compact JWS against the certificate in its `x5c` (RS256, `crit: ["sigT"]`
/// accepted; four- or six-key header, any order). When `at` is given, the certificate must be
/// valid at that moment (use the `sigT` or now). Does not check the CA chain.
pub fn verify_compact(jws: &str, at: Option<OffsetDateTime>) -> Result<VerifiedJws, SignError> {
    let verr = |s: &str| SignError::Verify(s.to_string());
    let mut parts = jws.trim().split('.');
    let (h64, _p64, _s64) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => (h, p, s),
        _ => {
            return Err(verr(
                "not a compact JWS (three dot-separated parts expected)",
            ))
        }
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(h64)
        .map_err(|_| verr("the header is not base64url"))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header_bytes).map_err(|_| verr("the header is not JSON"))?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(verr("alg must be RS256"));
    }
    let x5c = header
        .get("x5c")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .ok_or_else(|| verr("no x5c certificate in the header (server code 4135)"))?;
    let cert_der = STANDARD
        .decode(x5c)
        .map_err(|_| verr("x5c is not standard base64 (server code 4136)"))?;
    let spki = {
        use x509_parser::prelude::FromDer;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&cert_der)
            .map_err(|_| verr("x5c is not an X.509 certificate (server code 4136)"))?;
        if let Some(at) = at {
            let v = cert.validity();
            let ts = at.unix_timestamp();
            if ts < v.not_before.timestamp() || ts > v.not_after.timestamp() {
                return Err(SignError::Verify(format!(
                    "the certificate is not valid at {} (valid {} to {})",
                    format_sig_t(at),
                    v.not_before,
                    v.not_after
                )));
            }
        }
        cert.public_key().raw.to_vec()
    };
    let verifier = josekit::jws::RS256
        .verifier_from_der(&spki)
        .map_err(|e| SignError::Verify(format!("certificate key unusable: {e}")))?;
    let mut ctx = josekit::jws::JwsContext::new();
    ctx.add_acceptable_critical("sigT");
    let (payload, _) = ctx
        .deserialize_compact(jws.trim(), &verifier)
        .map_err(|e| SignError::Verify(format!("signature check failed: {e}")))?;
    let sig_t = header.get("sigT").and_then(Value::as_str).map(String::from);
    Ok(VerifiedJws {
        header,
        payload,
        certificate_der: cert_der,
        sig_t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_t_format() {
        let t = OffsetDateTime::from_unix_timestamp(1709730350).unwrap();
        assert_eq!(format_sig_t(t), "2024-03-06T13:05:50Z");
        assert_eq!(parse_sig_t("2024-03-06T13:05:50Z"), Some(t));
        assert!(parse_sig_t("2023-05-13T14:14:47Z+0330").is_some());
        assert!(parse_sig_t("yesterday").is_none());
    }

    #[test]
    fn default_header_has_the_guides_four_keys_in_order() {
        let h = header_json(b"\x30\x00", "2024-03-06T13:05:50Z", false);
        assert_eq!(
            h,
            r#"{"crit":["sigT"],"sigT":"2024-03-06T13:05:50Z","x5c":["MAA="],"alg":"RS256"}"#
        );
        let six = header_json(b"\x30\x00", "2024-03-06T13:05:50Z", true);
        assert!(six.contains(r#""typ":"jose","cty":"text/plain","alg":"RS256"}"#));
    }

    /// The header kept from the previous invoice is used only for the same certificate,
    /// `sigT` and header form; anything else encodes it anew.
    #[test]
    fn the_kept_header_is_the_one_asked_for() {
        let cases: [(&[u8], &str, bool); 6] = [
            (b"\x30\x00", "2024-03-06T13:05:50Z", false),
            (b"\x30\x00", "2024-03-06T13:05:50Z", false),
            (b"\x30\x00", "2024-03-06T13:05:51Z", false),
            (b"\x30\x00", "2024-03-06T13:05:51Z", true),
            (b"\x30\x01", "2024-03-06T13:05:51Z", true),
            (b"\x30\x00", "2024-03-06T13:05:50Z", false),
        ];
        for (cert, sig_t, six) in cases {
            let mut out = String::new();
            push_header_b64(&mut out, cert, sig_t, six);
            assert_eq!(out, URL_SAFE_NO_PAD.encode(header_json(cert, sig_t, six)));
        }
    }
}
