//! The official examples of the connection guide (RC_TICS.IS_v1.5, copied into
//! `tests/data/official/`): with the sandbox clock pinned
//! to 2024-03-06 (the example certificate expired 2024-03-23) and the example's nonce known, the
//! sandbox accepts the guide's auth token once; the guide's signed invoice JWS verifies inside a
//! JWE made for the sandbox.

mod sandbox_support;

use moadian::sandbox::{SandboxConfig, TaxpayerConfig, EMITTED_CODES};
use sandbox_support::*;

/// Nonce inside the guide's example token (issued 2024-03-06T09:35:49.862Z).
const GUIDE_NONCE: &str = "91dc28af-4c95-47f0-9913-87f8162b1708-1709717749862";
/// 2024-03-06T09:36:00Z.
const PINNED: i64 = 1_709_717_760_000;

/// A compact JWS printed in the guide, copied into `tests/data/official/` (see its README).
fn guide_token(name: &str) -> String {
    let path = format!("{}/tests/data/official/{name}", env!("CARGO_MANIFEST_DIR"));
    let token = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "{path} holds a compact JWS");
    token
}

fn auth_token() -> String {
    guide_token("auth-token.jws")
}

fn pinned() -> SandboxConfig {
    SandboxConfig {
        pinned_clock_ms: Some(PINNED),
        seed_nonces: vec![GUIDE_NONCE.to_string()],
        ..SandboxConfig::default()
    }
}

#[tokio::test]
async fn official_example_token_is_accepted_once_at_2024_03_06() {
    let b = start_with(pinned()).await;
    let token = auth_token();
    let (s, v) = b
        .get_with("server-information", &format!("Bearer {token}"))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["publicKeys"][0]["algorithm"], "RSA");
    let t = v["serverTime"].as_i64().unwrap();
    assert!(
        (PINNED..PINNED + 60_000).contains(&t),
        "serverTime follows the pinned clock"
    );
    let (s, v) = b
        .get_with("server-information", &format!("Bearer {token}"))
        .await;
    assert_eq!((s, code(&v)), (401, "4102"), "the nonce is used up");
}

#[tokio::test]
async fn official_example_token_without_its_nonce_is_4102() {
    let b = start_with(SandboxConfig {
        pinned_clock_ms: Some(PINNED),
        ..SandboxConfig::default()
    })
    .await;
    let (s, v) = b
        .get_with("server-information", &format!("Bearer {}", auth_token()))
        .await;
    assert_eq!((s, code(&v)), (401, "4102"));
}

#[tokio::test]
async fn official_example_token_today_is_refused_its_certificate_expired() {
    let b = start_with(SandboxConfig {
        seed_nonces: vec![GUIDE_NONCE.to_string()],
        ..SandboxConfig::default()
    })
    .await;
    let (s, v) = b
        .get_with("server-information", &format!("Bearer {}", auth_token()))
        .await;
    assert_eq!((s, code(&v)), (401, "4131"));
}

#[tokio::test]
async fn official_signed_invoice_verifies_inside_a_sandbox_jwe() {
    // The guide's invoice JWS is signed with a personal certificate (serialNumber 0023457708,
    // valid 2023-10-18..2024-10-12) for memory ID A11216; register that signer for A11216.
    let mut taxpayers = TaxpayerConfig::demo();
    taxpayers[0]
        .authorized_national_ids
        .push("0023457708".into());
    let b = start_with(SandboxConfig {
        demo_taxpayer: false,
        taxpayers,
        ..pinned()
    })
    .await;
    let jws = guide_token("invoice.jws");
    let (spki, kid) = b.sandbox.server_key();
    let uid = new_uid();
    let packet = serde_json::json!({
        "payload": jwe(jws.as_bytes(), &spki, &jwe_header(Some(&kid)), 12),
        "header": {"requestTraceId": uid, "fiscalId": DEMO}
    });
    let (s, ack) = b.post_packets(vec![packet]).await;
    assert_eq!(s, 200, "{ack}");
    let r = b.final_status(&uid).await;
    let sandbox_codes: Vec<String> = error_codes(&r)
        .into_iter()
        .filter(|c| EMITTED_CODES.contains(&c.as_str()))
        .collect();
    assert!(
        sandbox_codes.is_empty(),
        "signature, signer and tax ID accepted: {r}"
    );
    let l = b.sandbox.ledger();
    assert_eq!(l.received("A1121604C220002F095011"), 1);
}

#[tokio::test]
async fn official_signed_invoice_with_its_own_signer_unregistered_is_04132() {
    let b = start_with(pinned()).await;
    let jws = guide_token("invoice.jws");
    let (spki, kid) = b.sandbox.server_key();
    let uid = new_uid();
    let packet = serde_json::json!({
        "payload": jwe(jws.as_bytes(), &spki, &jwe_header(Some(&kid)), 12),
        "header": {"requestTraceId": uid, "fiscalId": DEMO}
    });
    b.post_packets(vec![packet]).await;
    let r = b.final_status(&uid).await;
    assert_eq!(error_codes(&r), vec!["04132".to_string()], "{r}");
}
