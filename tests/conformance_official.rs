//! Conformance with the official connection guide (RC_TICS.IS v1.5): with the guide's key,
//! header and payload bytes our signer reproduces the guide's auth token byte for byte; the
//! guide's signed invoice verifies against its x5c; our JWE header equals the guide's.
//! The vectors are copied in `tests/data/official/` (see its README); a missing file fails.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use moadian::crypto::jws::{self, JwsOptions};
use moadian::crypto::keyfile::KeyFileSigner;
use moadian::crypto::{jwe, Signer};
use time::macros::datetime;

fn data(name: &str) -> String {
    let p = format!("{}/tests/data/official/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| {
            panic!("official vector {p} is missing ({e}); it is part of the repository")
        })
        .trim()
        .to_string()
}

fn guide_signer() -> KeyFileSigner {
    KeyFileSigner::from_pem(
        data("guide-private-key.pem").as_bytes(),
        data("guide-certificate.pem").as_bytes(),
    )
    .expect("the guide's key and certificate load and match")
}

fn segment(token: &str, i: usize) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(token.split('.').nth(i).expect("segment"))
        .expect("base64url")
}

#[test]
fn official_auth_token_reproduced_byte_for_byte() {
    let official = data("auth-token.jws");
    let signer = guide_signer();
    // The payload bytes as the guide signed them (pretty-printed, CRLF line ends).
    let payload = segment(&official, 1);
    assert!(payload.starts_with(b"{\r\n  \"nonce\""));
    let opts = JwsOptions {
        sig_t: Some("2024-03-06T13:05:50Z".into()),
        six_key_header: false,
    };
    let ours = jws::sign_compact(&payload, &signer, &opts).expect("sign");
    // Our default header is the guide's header, byte for byte.
    assert_eq!(
        String::from_utf8(segment(&ours, 0)).unwrap(),
        String::from_utf8(segment(&official, 0)).unwrap()
    );
    assert_eq!(ours, official);
}

#[test]
fn official_auth_token_signature_from_signing_input() {
    let official = data("auth-token.jws");
    let (input, sig) = official.rsplit_once('.').unwrap();
    let ours = guide_signer().sign_rs256(input.as_bytes()).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.encode(ours), sig);
}

#[test]
fn official_auth_token_verifies_on_2024_03_06() {
    let v = jws::verify_compact(
        &data("auth-token.jws"),
        Some(datetime!(2024-03-06 13:05:50 UTC)),
    )
    .expect("verifies");
    assert_eq!(v.sig_t.as_deref(), Some("2024-03-06T13:05:50Z"));
    let keys: Vec<&str> = v.header.keys().map(String::as_str).collect();
    assert_eq!(keys, ["crit", "sigT", "x5c", "alg"]);
    // The certificate expired on 2024-03-23: verification at a later date refuses it.
    assert!(jws::verify_compact(
        &data("auth-token.jws"),
        Some(datetime!(2024-04-01 0:00 UTC))
    )
    .is_err());
}

#[test]
fn official_signed_invoice_verifies() {
    let v = jws::verify_compact(
        &data("invoice.jws"),
        Some(datetime!(2024-03-06 13:16:11 UTC)),
    )
    .expect("the guide's signed invoice verifies against its x5c");
    let inv: serde_json::Value = serde_json::from_slice(&v.payload).unwrap();
    assert_eq!(inv["header"]["taxid"], "A1121604C220002F095011");
    assert_eq!(inv["header"]["tbill"].to_string(), "21255");
}

#[test]
fn tampered_invoice_does_not_verify() {
    let official = data("invoice.jws");
    let mut parts: Vec<String> = official.split('.').map(String::from).collect();
    let mut payload = segment(&official, 1);
    let pos = payload.windows(5).position(|w| w == b"21255").unwrap();
    payload[pos] = b'3';
    parts[1] = URL_SAFE_NO_PAD.encode(payload);
    assert!(jws::verify_compact(&parts.join("."), None).is_err());
}

#[test]
fn our_auth_token_for_the_guides_nonce_verifies() {
    let signer = guide_signer();
    let opts = JwsOptions {
        sig_t: Some("2024-03-06T13:05:50Z".into()),
        six_key_header: true,
    };
    let t = jws::auth_token(
        "91dc28af-4c95-47f0-9913-87f8162b1708-1709717749862",
        "A11226",
        &signer,
        &opts,
    )
    .unwrap();
    let v = jws::verify_compact(&t, Some(datetime!(2024-03-06 13:05:50 UTC))).unwrap();
    assert_eq!(
        v.payload,
        br#"{"nonce":"91dc28af-4c95-47f0-9913-87f8162b1708-1709717749862","clientId":"A11226"}"#
    );
    assert_eq!(v.header["typ"], "jose");
    assert_eq!(v.header["cty"], "text/plain");
}

#[test]
fn our_jwe_header_equals_the_guides_and_shapes_match() {
    use base64::engine::general_purpose::STANDARD;
    let official = data("invoice.jwe");
    let server_key = STANDARD.decode(data("server-key.b64")).unwrap();
    let ours = jwe::encrypt(
        &data("invoice.jws"),
        &server_key,
        "6a2bcd88-a871-4245-a393-2843eafe6e02",
    )
    .unwrap();
    assert_eq!(ours.split('.').next(), official.split('.').next());
    for (i, len) in [(1usize, 512usize), (2, 12), (4, 16)] {
        assert_eq!(segment(&ours, i).len(), len, "part {i}");
        assert_eq!(segment(&official, i).len(), len, "official part {i}");
    }
}
