//! The JWE that wraps each signed invoice for the tax server (protocol.md §4.3; official guide
//! §7-1-3): RSA-OAEP-256 key wrap + A256GCM, a fresh 32-byte key and 12-byte IV per invoice,
//! `kid` of the server key. Header in the guide's order `{"alg","enc","kid"}`.
//!
//! [`ServerKey`] parses the server key once for a batch; [`encrypt`] is the one-shot form.
//! Encryption is done with OpenSSL directly (the RSA-OAEP wrap of the content key is the
//! only costly step); [`decrypt`], for the sandbox and tests, uses josekit — so every test
//! round trip also checks our output against an independent JOSE implementation.

use super::prepared::{with_prepared, Slot};
use super::SignError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use openssl::md::Md;
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The tax server's encryption key (from `server-information`), parsed once, with the
/// protected header already encoded (it is the same for every invoice to this key).
pub struct ServerKey {
    key: PKey<Public>,
    kid: String,
    /// base64url of `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"…"}` — also the GCM AAD.
    header_b64: String,
    /// Tells this key's prepared contexts (see [`PREPARED`]) from another key's.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's RSA-OAEP-256 context, prepared once for the server key (by id) it last
    /// wrapped a content key to, instead of once per invoice.
    static PREPARED: Slot<PkeyCtx<Public>> = const { RefCell::new(None) };

    /// This thread's AES-256-GCM context with the cipher already fetched (OpenSSL 3 looks the
    /// algorithm up again on every fresh context): each invoice only sets its key and IV.
    static GCM: Slot<CipherCtx> = const { RefCell::new(None) };
}

/// AES-256-GCM of `plaintext` under `key` and the 96-bit `iv` with `aad`, the ciphertext
/// appended to `out`; returns the 128-bit tag. On this thread's prepared context.
fn seal_gcm(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<[u8; 16], openssl::error::ErrorStack> {
    assert!(
        key.len() == 32 && iv.len() == 12,
        "AES-256-GCM takes a 256-bit key, a 96-bit IV"
    );
    let make = || {
        let mut ctx = CipherCtx::new()?;
        ctx.encrypt_init(Some(Cipher::aes_256_gcm()), None, None)?;
        Ok(ctx)
    };
    // One GCM context serves every key: each use sets its own.
    with_prepared(&GCM, 0, make, |ctx| {
        let mut tag = [0u8; 16];
        ctx.encrypt_init(None, Some(key), Some(iv))?;
        ctx.cipher_update(aad, None)?;
        ctx.cipher_update_vec(plaintext, out)?;
        ctx.cipher_final_vec(out)?;
        ctx.tag(&mut tag)?;
        Ok(tag)
    })
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
        let key = PKey::public_key_from_der(der)
            .or_else(|_| openssl::rsa::Rsa::public_key_from_der_pkcs1(der).and_then(PKey::from_rsa))
            .map_err(|e| {
                SignError::Jose(format!("the server key is not an RSA public key: {e}"))
            })?;
        if key.id() != openssl::pkey::Id::RSA || key.bits() < 2048 {
            return Err(SignError::Jose(format!(
                "the server key must be RSA of at least 2048 bits (it has {} bits)",
                key.bits()
            )));
        }
        let mut h = serde_json::Map::new();
        h.insert("alg".into(), "RSA-OAEP-256".into());
        h.insert("enc".into(), "A256GCM".into());
        h.insert("kid".into(), kid.into());
        let header_b64 = URL_SAFE_NO_PAD.encode(serde_json::Value::Object(h).to_string());
        Ok(ServerKey {
            key,
            kid: kid.to_string(),
            header_b64,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// A context that wraps a content key with RSA-OAEP-256 (SHA-256 and MGF1-SHA-256).
    fn prepare(&self) -> Result<PkeyCtx<Public>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(&self.key)?;
        ctx.encrypt_init()?;
        ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
        ctx.set_rsa_oaep_md(Md::sha256())?;
        ctx.set_rsa_mgf1_md(Md::sha256())?;
        Ok(ctx)
    }

    /// The key id that goes into `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Encrypts the compact JWS of an invoice into a compact JWE: a fresh random 256-bit
    /// content key wrapped with RSA-OAEP-256, a fresh 96-bit IV, AES-256-GCM with the encoded
    /// header as AAD.
    pub fn encrypt(&self, jws: &str) -> Result<String, SignError> {
        let oerr =
            |e: openssl::error::ErrorStack| SignError::Jose(format!("JWE encryption failed: {e}"));
        // The content key (32 bytes) and the IV (12 bytes), from one call to the CSPRNG.
        let mut fresh = secrecy::zeroize::Zeroizing::new([0u8; 44]);
        openssl::rand::rand_bytes(&mut fresh[..]).map_err(oerr)?;
        let (cek, iv) = fresh.split_at(32);
        let mut wrapped = Vec::with_capacity(self.key.size());
        with_prepared(
            &PREPARED,
            self.id,
            || self.prepare(),
            |ctx| ctx.encrypt_to_vec(cek, &mut wrapped),
        )
        .map_err(oerr)?;
        let mut ciphertext = Vec::with_capacity(jws.len() + 16);
        let tag = seal_gcm(
            cek,
            iv,
            self.header_b64.as_bytes(),
            jws.as_bytes(),
            &mut ciphertext,
        )
        .map_err(oerr)?;
        let mut out = String::with_capacity(
            self.header_b64.len() + (wrapped.len() + ciphertext.len() + 28) * 4 / 3 + 8,
        );
        out.push_str(&self.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&wrapped, &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(iv, &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&ciphertext, &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut out);
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The prepared context, used again and again on one thread, seals exactly as a fresh
    /// one-shot AES-256-GCM does, whatever the lengths.
    #[test]
    fn the_prepared_gcm_context_seals_like_a_fresh_one() {
        let aad = b"eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0";
        for (i, len) in [0usize, 1, 15, 16, 17, 1000, 4097, 3]
            .into_iter()
            .enumerate()
        {
            let key = [i as u8 ^ 0x5a; 32];
            let iv = [i as u8; 12];
            let plain: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
            let mut out = Vec::new();
            let tag = seal_gcm(&key, &iv, aad, &plain, &mut out).unwrap();
            let mut want_tag = [0u8; 16];
            let want = openssl::symm::encrypt_aead(
                openssl::symm::Cipher::aes_256_gcm(),
                &key,
                Some(&iv),
                aad,
                &plain,
                &mut want_tag,
            )
            .unwrap();
            assert_eq!(out, want, "ciphertext, {len} bytes");
            assert_eq!(tag, want_tag, "tag, {len} bytes");
        }
    }
}
