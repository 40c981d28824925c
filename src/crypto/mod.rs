//! Signing and encryption: the [`Signer`] trait with its PKCS#11 (token) and key-file
//! backends, the invoice/auth JWS, the JWE to the tax server's key, and certificate checks.
//! The private key never leaves the signer.

pub mod jwe;
pub mod jws;
pub mod signer;

pub use signer::{SignError, Signer};
