//! A token that goes away in the middle of a batch: the next signature fails with
//! `token.removed` and a message that says to plug it back in — never a panic, never a retry
//! with the PIN. Own test binary: finalising the module ends every session of the process.

mod softhsm_common;
use moadian::crypto::pkcs11::{module, Pkcs11Signer};
use moadian::crypto::testcert::IdentityOptions;
use moadian::crypto::{Pin, PinSource, SignError, Signer};
use softhsm_common::*;

#[test]
fn token_removed_mid_batch_gives_a_clear_error() {
    let label = new_token("removed");
    put_identity(&label, &[0x01], IdentityOptions::new("14003778990"));
    let s =
        Pkcs11Signer::open(&config(&label), &PinSource::Given(Pin::new(USER_PIN)), None).unwrap();
    s.sign_rs256(b"invoice 1").unwrap();

    // The token is deleted from outside the process, as if pulled out.
    let out = std::process::Command::new("softhsm2-util")
        .args(["--delete-token", "--token", &label])
        .env("SOFTHSM2_CONF", &hsm().conf)
        .output()
        .expect("softhsm2-util runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = s.sign_rs256(b"invoice 2").unwrap_err();
    assert_eq!(e.check_id(), "token.removed", "{e}");

    // The module is shut down under the signer (every session dies, as on USB removal).
    module::unload(&hsm().module).unwrap();
    let e = s.sign_rs256(b"invoice 3").unwrap_err();
    assert!(matches!(e, SignError::TokenRemoved { .. }), "{e}");
    assert_eq!(e.check_id(), "token.removed");
    assert!(e.to_string().contains("plug it back in"));
    assert!(e.message().fa.contains("دوباره وصل کنید"));
}
