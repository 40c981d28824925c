//! The JWE that wraps each signed invoice for the tax server (protocol.md §4.3; official guide
//! §7-1-3): RSA-OAEP-256 key wrap + A256GCM, a fresh 32-byte key and 12-byte IV per invoice,
//! `kid` of the server key. Header in the guide's order `{"alg","enc","kid"}`.
//!
//! [`ServerKey`] parses the server key once for a batch; [`encrypt`] is the one-shot form.
//! [`decrypt`] is for the sandbox and tests (the real server holds its own key).

use super::SignError;

/// The tax server's encryption key (from `server-information`), parsed once.
pub struct ServerKey {
    encrypter: josekit::jwe::alg::rsaes::RsaesJweEncrypter,
    kid: String,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey").field("kid", &self.kid).finish()
    }
}

impl ServerKey {
    /// `der`: SPKI (or PKCS#1) DER of the server key, as `server-information` gives it
    /// base64-decoded; `kid`: its `id`.
    pub fn from_der(der: &[u8], kid: &str) -> Result<Self, SignError> {
        let encrypter = josekit::jwe::RSA_OAEP_256
            .encrypter_from_der(der)
            .map_err(|e| SignError::Jose(format!("the server key is unusable: {e}")))?;
        Ok(ServerKey {
            encrypter,
            kid: kid.to_string(),
        })
    }

    /// The key id that goes into `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Encrypts the compact JWS of an invoice into a compact JWE.
    pub fn encrypt(&self, jws: &str) -> Result<String, SignError> {
        let mut h = josekit::jwe::JweHeader::new();
        h.set_algorithm("RSA-OAEP-256");
        h.set_content_encryption("A256GCM");
        h.set_key_id(self.kid.clone());
        josekit::jwe::serialize_compact(jws.as_bytes(), &h, &self.encrypter)
            .map_err(|e| SignError::Jose(format!("JWE encryption failed: {e}")))
    }
}

/// Encrypts the compact JWS `jws` to the server key `server_key_der` (SPKI DER) with key id `kid`.
pub fn encrypt(jws: &str, server_key_der: &[u8], kid: &str) -> Result<String, SignError> {
    ServerKey::from_der(server_key_der, kid)?.encrypt(jws)
}

/// A decrypted JWE: the inner JWS text and the protected header.
#[derive(Debug, Clone)]
pub struct DecryptedJwe {
    pub plaintext: Vec<u8>,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub enc: Option<String>,
}

/// Decrypts a compact JWE with the server's private key (PKCS#8/PKCS#1 DER or PEM).
/// Refuses anything but RSA-OAEP-256 + A256GCM with a 96-bit IV (server codes 04152, 04153).
pub fn decrypt(jwe: &str, private_key: &[u8]) -> Result<DecryptedJwe, SignError> {
    use base64::Engine as _;
    let iv_len = jwe
        .split('.')
        .nth(2)
        .and_then(|iv| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(iv)
                .ok()
        })
        .map(|v| v.len());
    if iv_len != Some(12) {
        return Err(SignError::Jose(
            "the JWE IV must be 96 bits (server code 04153)".into(),
        ));
    }
    let decrypter = if private_key.starts_with(b"-----") {
        josekit::jwe::RSA_OAEP_256.decrypter_from_pem(private_key)
    } else {
        josekit::jwe::RSA_OAEP_256.decrypter_from_der(private_key)
    }
    .map_err(|e| SignError::Jose(format!("the private key is unusable: {e}")))?;
    let (plaintext, header) =
        josekit::jwe::deserialize_compact(jwe.trim(), &decrypter).map_err(|e| {
            SignError::Jose(format!(
                "the JWE cannot be decrypted (server code 04150): {e}"
            ))
        })?;
    let enc = header.content_encryption().map(String::from);
    if enc.as_deref() != Some("A256GCM") {
        return Err(SignError::Jose(
            "the JWE must use A256GCM (server code 04152)".into(),
        ));
    }
    Ok(DecryptedJwe {
        plaintext,
        kid: header.key_id().map(String::from),
        alg: header.algorithm().map(String::from),
        enc,
    })
}
