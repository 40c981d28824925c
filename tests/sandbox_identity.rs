//! The `--sandbox` test identity: generated once as key.pem/cert.pem with subject serialNumber
//! 14003778990 and "[Stamp]", accepted by the sandbox for the demo memory ID, and put on a real
//! SoftHSM token (PKCS#11) where the key signs and the certificate verifies it. Fails, never
//! skips, when SoftHSM is missing.

mod sandbox_support;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use moadian::sandbox::TestIdentity;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Verifier;
use openssl::x509::X509;
use sandbox_support::*;

#[tokio::test]
async fn the_test_identity_authenticates_at_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let id = TestIdentity::ensure(dir.path()).unwrap();
    let b = start().await;
    let ident = Ident {
        key: PKey::private_key_from_der(&id.key_pkcs8_der).unwrap(),
        cert_der: id.cert_der.clone(),
    };
    let token = b.token_for(&ident, DEMO).await;
    let (s, v) = b
        .get_with("server-information", &format!("Bearer {token}"))
        .await;
    assert_eq!(s, 200, "{v}");
}

#[test]
fn the_test_identity_goes_on_softhsm_once_and_signs_there() {
    let dir = tempfile::tempdir().unwrap();
    let id = TestIdentity::ensure(dir.path()).unwrap();
    let on = id
        .ensure_on_softhsm()
        .expect("SoftHSM2 must be installed (scripts/test.sh installs it)");
    let again = id
        .ensure_on_softhsm()
        .expect("second call reuses the token");
    assert_eq!(on.key_id, again.key_id);

    let ctx = moadian::crypto::pkcs11::module::load(&on.hsm.module).unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim() == on.label)
        .expect("the token is there");
    let session = ctx.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(on.user_pin.as_str())))
        .unwrap();
    let keys = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(on.key_id.clone()),
        ])
        .unwrap();
    assert_eq!(keys.len(), 1, "exactly one key under the id");
    let message = b"sandbox identity on SoftHSM";
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, keys[0], message)
        .unwrap();
    let cert = X509::from_der(&id.cert_der).unwrap();
    let public = cert.public_key().unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    v.update(message).unwrap();
    assert!(
        v.verify(&signature).unwrap(),
        "the token's key matches the certificate"
    );
}
