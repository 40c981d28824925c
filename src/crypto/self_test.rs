//! The test signature every signing command makes once, before anything else: a fixed message
//! signed with the chosen key and verified with the certificate's public key. It proves the
//! pair belongs together however it was found (a token's key that states the wrong public
//! half, a key file beside the wrong certificate).

use super::Signer;

/// The message of the test signature (never sent anywhere).
pub const PROBE: &[u8] = b"moadian self-test: does the key belong to the certificate?";

/// Signs [`PROBE`] and verifies it with the signer's certificate. `Err` says why not.
pub fn verify_pair(signer: &dyn Signer) -> Result<(), String> {
    let sig = signer.sign_rs256(PROBE).map_err(|e| e.to_string())?;
    let cert =
        openssl::x509::X509::from_der(signer.certificate_der()).map_err(|e| e.to_string())?;
    let key = cert.public_key().map_err(|e| e.to_string())?;
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)
        .map_err(|e| e.to_string())?;
    v.update(PROBE).map_err(|e| e.to_string())?;
    match v.verify(&sig) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => {
            Err("the signature does not verify with the certificate's public key".into())
        }
    }
}
