//! Signing and encryption: the [`Signer`] trait with its PKCS#11 (token) and key-file
//! backends, the invoice/auth JWS, the JWE to the tax server's key, and certificate checks.
//! The private key never leaves the signer (architecture invariant 6).
//!
//! Entry point for the rest of the program: [`open_signer`] with a [`SignerConfig`] (what a
//! `moadian.toml` profile or the signer flags hold). Signing is blocking; async callers wrap
//! it in `tokio::task::spawn_blocking`.

pub mod cert;
pub mod checks;
pub mod config;
pub mod jwe;
pub mod jws;
pub mod keyfile;
pub mod pin;
pub mod pin_guard;
pub mod pkcs11;
mod prepared;
pub mod self_test;
pub mod signer;
pub mod softhsm;
pub mod testcert;

pub use config::{open_signer, SignerConfig};
pub use pin::{Pin, PinSource};
pub use signer::{sha256_digest_info, SignError, Signer};
