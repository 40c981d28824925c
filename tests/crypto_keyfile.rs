//! The key-file signer reads every key form taxpayers are handed (PKCS#8 plain/encrypted,
//! PKCS#1, PKCS#12) and refuses a key that does not belong to its certificate; JWS made with
//! it verify; the JWE round-trips.

use moadian::crypto::jws::{self, JwsOptions};
use moadian::crypto::keyfile::KeyFileSigner;
use moadian::crypto::testcert::{make_identity, IdentityOptions, TestIdentity};
use moadian::crypto::{jwe, open_signer, Pin, PinSource, SignError, Signer, SignerConfig};
use openssl::symm::Cipher;
use std::path::PathBuf;

fn identity() -> TestIdentity {
    make_identity(&IdentityOptions::new("14003778990")).unwrap()
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn check_signs(s: &dyn Signer) {
    let t = jws::sign_compact(br#"{"header":{}}"#, s, &JwsOptions::default()).unwrap();
    let v = jws::verify_compact(&t, Some(time::OffsetDateTime::now_utc())).unwrap();
    assert_eq!(v.payload, br#"{"header":{}}"#);
}

#[test]
fn pkcs8_plain_pem_with_certificate() {
    let id = identity();
    let d = tempfile::tempdir().unwrap();
    let cfg = SignerConfig {
        key_file: Some(write(&d, "private.key", &id.key_pem())),
        cert_file: Some(write(&d, "cert.crt", &id.cert_pem())),
        ..Default::default()
    };
    let s = open_signer(&cfg, PinSource::None, None).unwrap();
    check_signs(&*s);
}

#[test]
fn pkcs8_encrypted_pem_uses_the_passphrase() {
    let id = identity();
    let d = tempfile::tempdir().unwrap();
    let enc = id
        .key
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"secret-pass")
        .unwrap();
    let key = write(&d, "key.pem", &enc);
    let cert = write(&d, "cert.der", &id.cert_der());
    let s = KeyFileSigner::open(
        &key,
        Some(&cert),
        &PinSource::Given(Pin::new("secret-pass")),
    )
    .unwrap();
    check_signs(&s);
    let wrong = KeyFileSigner::open(&key, Some(&cert), &PinSource::Given(Pin::new("nope")));
    assert!(matches!(wrong, Err(SignError::KeyPassphrase { .. })));
}

#[test]
fn pkcs1_pem() {
    let id = identity();
    let d = tempfile::tempdir().unwrap();
    let pem = id.key.rsa().unwrap().private_key_to_pem().unwrap();
    assert!(String::from_utf8_lossy(&pem).contains("BEGIN RSA PRIVATE KEY"));
    let key = write(&d, "key.pem", &pem);
    let cert = write(&d, "cert.txt", &id.cert_pem());
    check_signs(&KeyFileSigner::open(&key, Some(&cert), &PinSource::None).unwrap());
}

#[test]
fn pkcs12_carries_its_certificate() {
    let id = identity();
    let d = tempfile::tempdir().unwrap();
    let p12 = openssl::pkcs12::Pkcs12::builder()
        .name("sig")
        .pkey(&id.key)
        .cert(&id.cert)
        .build2("pfx-pass")
        .unwrap()
        .to_der()
        .unwrap();
    let key = write(&d, "token.pfx", &p12);
    let s = KeyFileSigner::open(&key, None, &PinSource::Given(Pin::new("pfx-pass"))).unwrap();
    assert_eq!(s.certificate_der(), id.cert_der());
    check_signs(&s);
}

#[test]
fn key_of_another_certificate_is_refused() {
    let a = identity();
    let b = identity();
    let d = tempfile::tempdir().unwrap();
    let key = write(&d, "a.key", &a.key_pem());
    let cert = write(&d, "b.crt", &b.cert_pem());
    let e = KeyFileSigner::open(&key, Some(&cert), &PinSource::None).unwrap_err();
    assert!(matches!(e, SignError::KeyCertificateMismatch { .. }), "{e}");
    assert_eq!(e.check_id(), "key.mismatch");
}

#[test]
fn certificate_given_as_key_says_so() {
    let a = identity();
    let d = tempfile::tempdir().unwrap();
    let key = write(&d, "cert-as-key.pem", &a.cert_pem());
    let e = KeyFileSigner::open(&key, None, &PinSource::None).unwrap_err();
    assert!(
        e.to_string().contains("certificate, not a private key"),
        "{e}"
    );
}

#[test]
fn key_without_certificate_asks_for_cert() {
    let a = identity();
    let d = tempfile::tempdir().unwrap();
    let key = write(&d, "private.key", &a.key_pem());
    let e = KeyFileSigner::open(&key, None, &PinSource::None).unwrap_err();
    assert!(matches!(e, SignError::CertificateNotFound { .. }), "{e}");
}

#[test]
fn jwe_round_trip() {
    let server = openssl::rsa::Rsa::generate(4096).unwrap();
    let spki = server.public_key_to_der().unwrap();
    let priv_der = server.private_key_to_der().unwrap();
    let id = identity();
    let s = KeyFileSigner::from_pem(&id.key_pem(), &id.cert_pem()).unwrap();
    let jws_text = jws::sign_compact(
        "{\"body\":[\"فولاد\"]}".as_bytes(),
        &s,
        &JwsOptions::default(),
    )
    .unwrap();
    let key = jwe::ServerKey::from_der(&spki, "kid-1").unwrap();
    let a = key.encrypt(&jws_text).unwrap();
    let b = key.encrypt(&jws_text).unwrap();
    assert_ne!(a, b, "fresh key and IV per invoice");
    let out = jwe::decrypt(&a, &priv_der).unwrap();
    assert_eq!(out.plaintext, jws_text.as_bytes());
    assert_eq!(out.kid.as_deref(), Some("kid-1"));
    assert_eq!(out.alg.as_deref(), Some("RSA-OAEP-256"));
    assert_eq!(out.enc.as_deref(), Some("A256GCM"));
    jws::verify_compact(std::str::from_utf8(&out.plaintext).unwrap(), None).unwrap();
    // Every JWE of the same thread decrypts, to this key or another, short or long.
    assert_eq!(
        jwe::decrypt(&b, &priv_der).unwrap().plaintext,
        jws_text.as_bytes()
    );
    let other = openssl::rsa::Rsa::generate(2048).unwrap();
    let other_key = jwe::ServerKey::from_der(&other.public_key_to_der().unwrap(), "k2").unwrap();
    for text in ["x".repeat(5000), jws_text.clone(), "a.b.c".to_string()] {
        let c = other_key.encrypt(&text).unwrap();
        let d = jwe::decrypt(&c, &other.private_key_to_der().unwrap()).unwrap();
        assert_eq!(d.plaintext, text.as_bytes());
        assert_eq!(d.kid.as_deref(), Some("k2"));
        let e = key.encrypt(&text).unwrap();
        assert_eq!(
            jwe::decrypt(&e, &priv_der).unwrap().plaintext,
            text.as_bytes()
        );
    }
}
