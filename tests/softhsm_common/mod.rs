//! Shared fixtures of the SoftHSM tests: one SoftHSM configuration per test binary, a fresh
//! token per test (unique label), identities made with OpenSSL. A missing SoftHSM fails the
//! test with the install hint; nothing is skipped.
#![allow(dead_code)]

use moadian::crypto::softhsm::SoftHsm;
use moadian::crypto::testcert::{make_identity, IdentityOptions, TestIdentity};
use moadian::crypto::SignerConfig;
use std::sync::atomic::{AtomicU32, Ordering};

pub const USER_PIN: &str = "1234";
pub const SO_PIN: &str = "87654321";

pub fn hsm() -> &'static SoftHsm {
    let h = SoftHsm::shared().unwrap_or_else(|e| {
        panic!("these tests need SoftHSM2 (a real PKCS#11 token stand-in): {e}")
    });
    // Marks of refused stored PINs go to the test directory, never to the user's home.
    if std::env::var_os("MOADIAN_STATE_DIR").is_none() {
        std::env::set_var("MOADIAN_STATE_DIR", h.dir.join("state"));
    }
    h
}

static N: AtomicU32 = AtomicU32::new(0);

/// A new, empty token with a unique label.
pub fn new_token(prefix: &str) -> String {
    let label = format!("{prefix}-{}", N.fetch_add(1, Ordering::SeqCst));
    hsm()
        .init_token(&label, SO_PIN, USER_PIN)
        .unwrap_or_else(|e| panic!("init token {label}: {e}"));
    label
}

/// Puts a new identity for `national_id` on `label` under CKA_ID `id`.
pub fn put_identity(label: &str, id: &[u8], opts: IdentityOptions) -> TestIdentity {
    let ident = make_identity(&opts).expect("identity");
    hsm()
        .import(label, USER_PIN, id, &ident.key, &ident.cert, None)
        .unwrap_or_else(|e| panic!("import onto {label}: {e}"));
    ident
}

pub fn config(label: &str) -> SignerConfig {
    SignerConfig {
        pkcs11_module: Some(hsm().module.clone()),
        token_label: Some(label.to_string()),
        ..Default::default()
    }
}
