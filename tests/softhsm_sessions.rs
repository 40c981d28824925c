//! Signing on every core a token allows: SoftHSM allows concurrent sessions, so the signer
//! opens one per signing thread (the login is shared) and signatures from several threads at
//! once all verify and equal a key file's (PKCS#1 v1.5 is deterministic).

mod softhsm_common;
use moadian::crypto::keyfile::KeyFileSigner;
use moadian::crypto::pkcs11::Pkcs11Signer;
use moadian::crypto::testcert::IdentityOptions;
use moadian::crypto::{Pin, PinSource, Signer};
use softhsm_common::*;
use std::sync::Arc;

#[test]
fn one_session_per_thread_and_every_signature_is_right() {
    let label = new_token("sessions");
    let id = put_identity(&label, &[0x01], IdentityOptions::new("14003778990"));
    let mut s = Pkcs11Signer::open(
        &config(&label),
        &PinSource::Given(Pin::new(USER_PIN)),
        Some("14003778990"),
    )
    .unwrap();
    assert_eq!(s.open_sessions(4), 4, "SoftHSM allows concurrent sessions");
    let s = Arc::new(s);
    let file = Arc::new(KeyFileSigner::from_pem(&id.key_pem(), &id.cert_pem()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            let file = file.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let m = format!("thread {t} message {i}");
                    let sig = s.sign_rs256(m.as_bytes()).unwrap();
                    assert_eq!(sig, file.sign_rs256(m.as_bytes()).unwrap(), "{m}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn one_thread_asked_keeps_one_session() {
    let label = new_token("session1");
    put_identity(&label, &[0x01], IdentityOptions::new("14003778990"));
    let mut s = Pkcs11Signer::open(
        &config(&label),
        &PinSource::Given(Pin::new(USER_PIN)),
        Some("14003778990"),
    )
    .unwrap();
    assert_eq!(s.open_sessions(1), 1);
    assert!(s.sign_rs256(b"x").is_ok());
}
