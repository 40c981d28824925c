//! `moadian doctor` online, against the project's own sandbox on 127.0.0.1 with a SoftHSM
//! token: the server is reachable, the clock agrees, the memory ID is active and accepts our
//! certificate; a memory ID owned by someone else fails with the server's refusal.

mod softhsm_common;
use assert_cmd::Command;
use moadian::crypto::testcert::IdentityOptions;
use moadian::sandbox::config::{SandboxConfig, TaxpayerConfig};
use moadian::sandbox::Sandbox;
use softhsm_common::*;

fn doctor(base: &str, label: &str, memory_id: &str, national_id: &str) -> (i32, String) {
    let module = hsm().module.display().to_string();
    let out = Command::cargo_bin("moadian")
        .unwrap()
        .env("SOFTHSM2_CONF", &hsm().conf)
        .env("MOADIAN_STATE_DIR", hsm().dir.join("state-online"))
        .env("MOADIAN_PIN", USER_PIN)
        .env("MOADIAN_RETRY_ATTEMPTS", "1")
        .args([
            "--lang",
            "en",
            "doctor",
            "--memory-id",
            memory_id,
            "--national-id",
            national_id,
        ])
        .args([
            "--pkcs11-module",
            &module,
            "--token-label",
            label,
            "--base-url",
            base,
        ])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn doctor_online_against_the_sandbox() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = SandboxConfig::default();
    cfg.taxpayers.push(TaxpayerConfig {
        memory_id: "B22222".into(),
        national_id: "10100302746".into(),
        economic_code: "10100302746".into(),
        name_trade: None,
        authorized_national_ids: vec![],
        fiscal_status: None,
    });
    let sandbox = rt.block_on(Sandbox::start(cfg)).expect("sandbox starts");
    let base = sandbox.base_url();
    let label = new_token("online");
    put_identity(&label, &[0x07], IdentityOptions::new("14003778990"));

    let (code, text) = doctor(&base, &label, "A11216", "14003778990");
    assert_eq!(code, 0, "{text}");
    for id in [
        "server.reachable",
        "clock.ok",
        "memory_id.status",
        "key.matches",
    ] {
        assert!(text.contains(id), "{id} missing:\n{text}");
    }

    // Memory ID of another taxpayer: our certificate is not authorised for it.
    let (code, text) = doctor(&base, &label, "B22222", "14003778990");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("[FAIL] memory_id"), "{text}");
    rt.block_on(sandbox.shutdown());
}
