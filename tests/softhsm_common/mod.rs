//! Shared fixtures of the SoftHSM tests: one SoftHSM configuration per test binary, a fresh
//! token per test (unique label), identities made with OpenSSL. A missing SoftHSM fails the
//! test with the install hint; nothing is skipped.
#![allow(dead_code)]

use moadian::crypto::softhsm::SoftHsm;
use moadian::crypto::testcert::{make_identity, IdentityOptions, TestIdentity};
use moadian::crypto::SignerConfig;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

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

/// SoftHSM 2.6 is not safe for tests that make tokens in several threads of one process at
/// once: one thread's search (C_FindObjectsInit) was seen reading the object files of another
/// thread's token while they were being written, and marking them invalid. The writer then got
/// CKR_GENERAL_ERROR from C_CreateObject, or its token lacked the certificate just written
/// (about once in 40 runs of `softhsm_signer`). So the tests of a binary take turns: a test
/// holds the turn from its first new token until its thread ends. Threads that a test starts
/// itself (concurrent sessions on its token) share its turn.
static TURN: Mutex<()> = Mutex::new(());

thread_local! {
    static HOLDING: RefCell<Option<MutexGuard<'static, ()>>> = const { RefCell::new(None) };
}

fn take_turn() {
    HOLDING.with(|h| {
        let mut h = h.borrow_mut();
        if h.is_none() {
            *h = Some(TURN.lock().unwrap_or_else(|p| p.into_inner()));
        }
    });
}

/// A new, empty token with a unique label.
pub fn new_token(prefix: &str) -> String {
    take_turn();
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

/// Puts only the private key of `ident` on `label` (no certificate).
pub fn put_key(label: &str, id: &[u8], ident: &TestIdentity) {
    hsm()
        .import_key(label, USER_PIN, id, &ident.key, None, None)
        .unwrap_or_else(|e| panic!("import key onto {label}: {e}"));
}

/// Puts only the certificate of `ident` on `label` (no key).
pub fn put_cert(label: &str, id: &[u8], ident: &TestIdentity) {
    hsm()
        .import_cert(label, USER_PIN, id, &ident.cert)
        .unwrap_or_else(|e| panic!("import certificate onto {label}: {e}"));
}

/// Puts the private key of `signs` on `label`, stating the public half of `claims`: a key
/// that pairs by public key with `claims`'s certificate but cannot sign for it.
pub fn put_lying_key(label: &str, id: &[u8], signs: &TestIdentity, claims: &TestIdentity) {
    hsm()
        .import_key(label, USER_PIN, id, &signs.key, Some(&claims.key), None)
        .unwrap_or_else(|e| panic!("import key onto {label}: {e}"));
}

/// A new identity (not on any token).
pub fn identity(national_id: &str) -> TestIdentity {
    make_identity(&IdentityOptions::new(national_id)).expect("identity")
}

/// An identity valid from `from_days` to `to_days` (days from now; negative = past).
pub fn identity_valid(national_id: &str, from_days: i64, to_days: i64) -> TestIdentity {
    let mut o = IdentityOptions::new(national_id);
    o.not_before_offset_secs = from_days * 86_400;
    o.not_after_offset_secs = to_days * 86_400;
    make_identity(&o).expect("identity")
}

/// The serial of the token labelled `label`.
pub fn serial_of(label: &str) -> String {
    let ctx = moadian::crypto::pkcs11::module::load(&hsm().module).unwrap();
    moadian::crypto::pkcs11::token::find_token(
        &ctx,
        Some(label),
        None,
        &moadian::crypto::pkcs11::LiveTokenInfo,
    )
    .unwrap()
    .1
    .serial
}

/// A SoftHSM token directory of its own, written by OpenSC's `pkcs11-tool` in child processes
/// (never loaded in this process): for token layouts the PKCS#11 API of this crate does not
/// write, such as a label cut in the middle of a character at 32 bytes. Use it through the
/// `moadian` binary with `SOFTHSM2_CONF` = [`ToolHsm::conf`].
pub struct ToolHsm {
    pub dir: tempfile::TempDir,
    pub conf: std::path::PathBuf,
}

impl ToolHsm {
    pub fn new() -> ToolHsm {
        let dir = tempfile::tempdir().expect("temp dir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap();
        ToolHsm { dir, conf }
    }

    fn tool(&self, args: &[&str]) -> String {
        let module = hsm().module.display().to_string();
        let out = std::process::Command::new("pkcs11-tool")
            .env("SOFTHSM2_CONF", &self.conf)
            .arg("--module")
            .arg(&module)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("these tests need OpenSC's pkcs11-tool: {e}"));
        assert!(
            out.status.success(),
            "pkcs11-tool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Initialises the next free slot with `label` as `pkcs11-tool` writes it: the UTF-8 bytes
    /// cut at 32, even in the middle of a character.
    pub fn init_token(&self, label: &str, index: usize) {
        self.tool(&[
            "--init-token",
            "--slot-index",
            &index.to_string(),
            "--label",
            label,
            "--so-pin",
            SO_PIN,
        ]);
        self.tool(&[
            "--init-pin",
            "--slot-index",
            &index.to_string(),
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ]);
    }

    /// Writes `ident`'s key and certificate under CKA_ID `id_hex` on the token at `index`.
    pub fn put_identity(&self, index: usize, id_hex: &str, ident: &TestIdentity) {
        let key = self.dir.path().join(format!("key-{id_hex}.der"));
        let cert = self.dir.path().join(format!("cert-{id_hex}.der"));
        std::fs::write(&key, ident.key.private_key_to_der().unwrap()).unwrap();
        std::fs::write(&cert, ident.cert_der()).unwrap();
        for (file, kind) in [(&key, "privkey"), (&cert, "cert")] {
            self.tool(&[
                "--slot-index",
                &index.to_string(),
                "--login",
                "--pin",
                USER_PIN,
                "--write-object",
                &file.display().to_string(),
                "--type",
                kind,
                "--id",
                id_hex,
            ]);
        }
    }
}
