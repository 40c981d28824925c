//! The one interface through which anything is signed.

/// Why a signature could not be made. Each variant says what happened and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{0}")]
    Other(String),
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
