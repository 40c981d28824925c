//! The token commands end to end against SoftHSM2: `token list`, `token certs`, `sign`
//! (the compact JWS on the last line), `doctor --offline` (ok, and a national ID mismatch that
//! fails with both IDs and the server code).

mod softhsm_common;
use assert_cmd::Command;
use moadian::crypto::jws;
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use softhsm_common::*;

fn moadian() -> Command {
    let mut c = Command::cargo_bin("moadian").expect("binary");
    c.env("SOFTHSM2_CONF", &hsm().conf)
        .env("MOADIAN_STATE_DIR", hsm().dir.join("state-cli"))
        .env_remove("MOADIAN_PIN")
        .env_remove("MOADIAN_LANG");
    c
}

fn token_with_company() -> String {
    let label = new_token("cli");
    put_identity(&label, &[0x42], IdentityOptions::new("14003778990"));
    label
}

const INVOICE: &str = r#"{
  "header": {"taxid": "A1121604C220002F095011", "indatim": 1683997837988, "tbill": 21255.0},
  "body": [{"sstid": "2710000138624", "sstt": "قطعات", "fee": 10000, "am": 2}],
  "payments": []
}"#;

#[test]
fn token_list_and_certs() {
    let label = token_with_company();
    let module = hsm().module.display().to_string();
    let out = moadian()
        .args(["token", "list", "--pkcs11-module", &module])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains(&format!("{label:?}")), "{text}");
    let out = moadian()
        .args([
            "--lang",
            "en",
            "token",
            "certs",
            "--pkcs11-module",
            &module,
            "--token-label",
            &label,
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("14003778990") && text.contains("CKA_ID 42") && text.contains("legal"),
        "{text}"
    );
    // Persian by default.
    let out = moadian()
        .args([
            "token",
            "certs",
            "--pkcs11-module",
            &module,
            "--token-label",
            &label,
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("حقوقی") && !text.contains("legal"), "{text}");
}

#[test]
fn sign_prints_the_jws_on_the_last_line() {
    let label = token_with_company();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("invoice.json");
    std::fs::write(&inv, INVOICE).unwrap();
    let module = hsm().module.display().to_string();
    let out = moadian()
        .env("MOADIAN_PIN", USER_PIN)
        .args([
            "sign",
            "--pkcs11-module",
            &module,
            "--token-label",
            &label,
            "--sigt",
            "2024-03-06T13:16:11Z",
        ])
        .arg(&inv)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let last = stdout.lines().last().expect("a line");
    let v = jws::verify_compact(last, None).expect("the printed JWS verifies");
    assert_eq!(v.sig_t.as_deref(), Some("2024-03-06T13:16:11Z"));
    // Compact, keys in file order, numbers exactly as written.
    let payload = String::from_utf8(v.payload).unwrap();
    assert!(payload.starts_with(r#"{"header":{"taxid":"A1121604C220002F095011","indatim":1683997837988,"tbill":21255.0}"#), "{payload}");
}

#[test]
fn sign_with_a_key_file() {
    let id = make_identity(&IdentityOptions::new("0012345679")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (k, c, inv) = (
        dir.path().join("private.key"),
        dir.path().join("cert.crt"),
        dir.path().join("i.json"),
    );
    std::fs::write(&k, id.key_pem()).unwrap();
    std::fs::write(&c, id.cert_pem()).unwrap();
    std::fs::write(&inv, INVOICE).unwrap();
    let out = moadian()
        .args(["sign", "--six-key", "--key"])
        .arg(&k)
        .arg("--cert")
        .arg(&c)
        .arg(&inv)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let v = jws::verify_compact(stdout.lines().last().unwrap(), None).unwrap();
    assert_eq!(v.header["typ"], "jose");
}

#[test]
fn doctor_offline_all_ok() {
    let label = token_with_company();
    let module = hsm().module.display().to_string();
    let out = moadian()
        .env("MOADIAN_PIN", USER_PIN)
        .args([
            "doctor",
            "--offline",
            "--memory-id",
            "A11216",
            "--national-id",
            "14003778990",
        ])
        .args(["--pkcs11-module", &module, "--token-label", &label])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for id in [
        "module.loaded",
        "token.present",
        "pin.ok",
        "login.ok",
        "cert.valid",
        "cert.national_id_matches",
        "key.matches",
    ] {
        assert!(text.contains(id), "{id} missing in:\n{text}");
    }
}

#[test]
fn doctor_national_id_mismatch_fails_with_both_ids() {
    let label = token_with_company();
    let module = hsm().module.display().to_string();
    let out = moadian()
        .env("MOADIAN_PIN", USER_PIN)
        .args([
            "--lang",
            "en",
            "doctor",
            "--offline",
            "--memory-id",
            "A11216",
            "--national-id",
            "10100302746",
        ])
        .args(["--pkcs11-module", &module, "--token-label", &label])
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("cert.national_id_mismatch"), "{text}");
    assert!(
        text.contains("10100302746") && text.contains("14003778990") && text.contains("4103"),
        "{text}"
    );
}

#[test]
fn doctor_without_pin_says_how_to_give_it() {
    let label = token_with_company();
    let module = hsm().module.display().to_string();
    let out = moadian()
        .args([
            "doctor",
            "--offline",
            "--national-id",
            "14003778990",
            "--pkcs11-module",
            &module,
            "--token-label",
            &label,
        ])
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("pin.unavailable") && text.contains("MOADIAN_PIN"),
        "{text}"
    );
}

#[test]
fn invariant_5_scheduled_run_does_not_retry_a_refused_stored_pin() {
    let label = token_with_company();
    let module = hsm().module.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("invoice.json");
    std::fs::write(&inv, INVOICE).unwrap();
    let state = dir.path().join("state");
    let sign = |pin: &str| {
        let out = moadian()
            .env("MOADIAN_STATE_DIR", &state)
            .env("MOADIAN_PIN", pin)
            .args([
                "--lang",
                "en",
                "sign",
                "--pkcs11-module",
                &module,
                "--token-label",
                &label,
            ])
            .arg(&inv)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = sign("0000");
    assert_eq!(code, Some(1));
    assert!(err.contains("pin.incorrect"), "{err}");
    // The next run with the same stored PIN does not touch the token.
    let (code, err) = sign("0000");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("pin.stored_refused") && err.contains("forget-failed-pin"),
        "{err}"
    );
    // The user clears the mark; the right stored PIN works again.
    let out = moadian()
        .args(["token", "list", "--pkcs11-module", &module, "--json"])
        .output()
        .unwrap();
    let tokens: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let serial = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["label"] == label.as_str())
        .unwrap()["serial"]
        .as_str()
        .unwrap()
        .to_string();
    moadian()
        .env("MOADIAN_STATE_DIR", &state)
        .args(["token", "forget-failed-pin", "--token-serial", &serial])
        .assert()
        .success();
    let (code, err) = sign(USER_PIN);
    assert_eq!(code, Some(0), "{err}");
}
