//! The token choice through the `moadian` binary, on SoftHSM2: user input never panics (every
//! signer flag with non-ASCII and malformed values through `sign`, `doctor` and `token`);
//! `sign` refuses a key that is not its certificate's and says which certificate it used;
//! `doctor` lists every certificate with its key, kind, national ID and validity and marks the
//! one used; a corrected MOADIAN_PIN is tried after a refused one, and the refusal shows the
//! exact command; a label cut at 32 bytes in the middle of a character is still found.

mod softhsm_common;
use assert_cmd::Command;
use moadian::crypto::testcert::IdentityOptions;
use softhsm_common::*;

const PERSON: &str = "0012345679";
const COMPANY: &str = "14003778990";

fn moadian() -> Command {
    let mut c = Command::cargo_bin("moadian").expect("binary");
    c.env("SOFTHSM2_CONF", &hsm().conf)
        .env("MOADIAN_STATE_DIR", hsm().dir.join("state-choice-cli"))
        .env_remove("MOADIAN_PIN")
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_LANG");
    c
}

fn run(c: &mut Command) -> (Option<i32>, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn invoice(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("i.json");
    std::fs::write(&p, r#"{"header":{"taxid":"A1"},"body":[]}"#).unwrap();
    p
}

#[test]
fn signer_flags_with_non_ascii_and_malformed_values_never_panic() {
    let label = new_token("fuzz");
    put_identity(&label, &[0x01], IdentityOptions::new(COMPANY));
    let module = hsm().module.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let inv = invoice(dir.path());
    let long = "f".repeat(4001);
    let values = [
        "aéb",
        "0۱2",
        "",
        " ",
        "\u{202e}01",
        "۰۱",
        "0x01",
        "z",
        long.as_str(),
    ];
    let flags = [
        "--key-id",
        "--token-label",
        "--token-serial",
        "--national-id",
        "--pkcs11-module",
        "--key",
        "--cert",
    ];
    let mut runs = 0;
    for flag in flags {
        for v in values {
            // The other signer flags point at a real token, so only this value is wrong.
            let base: Vec<&str> = match flag {
                "--pkcs11-module" => vec!["--token-label", label.as_str()],
                "--key" | "--cert" => vec![],
                "--token-label" | "--token-serial" => vec!["--pkcs11-module", module.as_str()],
                _ => vec![
                    "--pkcs11-module",
                    module.as_str(),
                    "--token-label",
                    label.as_str(),
                ],
            };
            let commands: Vec<Vec<&str>> = vec![
                vec!["sign"],
                vec!["doctor", "--offline"],
                vec!["token", "certs"],
            ];
            for cmd in commands {
                if cmd[0] == "token" && matches!(flag, "--key" | "--cert") {
                    continue;
                }
                let mut c = moadian();
                c.env("MOADIAN_PIN", USER_PIN).arg("--lang").arg("en");
                c.args(&cmd).args(&base).arg(flag).arg(v);
                if cmd[0] == "sign" {
                    c.arg(&inv);
                }
                let (code, out, err) = run(&mut c);
                runs += 1;
                let all = format!("{out}{err}");
                assert!(
                    !all.contains("panicked")
                        && !all.contains("internal error")
                        && code != Some(101),
                    "{cmd:?} {flag} {v:?} panicked: {all}"
                );
                assert!(
                    matches!(code, Some(0..=2)),
                    "{cmd:?} {flag} {v:?}: exit {code:?}: {all}"
                );
                if flag == "--key-id" && v != "0x01" {
                    assert_ne!(code, Some(0), "{cmd:?} {flag} {v:?} was accepted: {all}");
                    assert!(all.contains("--key-id"), "{cmd:?} {flag} {v:?}: {all}");
                }
            }
        }
    }
    assert!(runs > 100);
}

#[test]
fn sign_refuses_a_key_that_is_not_its_certificates_and_prints_no_jws() {
    let label = new_token("cli-lying");
    let company = identity(COMPANY);
    let other = identity(COMPANY);
    put_lying_key(&label, &[0x01], &other, &company);
    put_cert(&label, &[0x01], &company);
    let dir = tempfile::tempdir().unwrap();
    let module = hsm().module.display().to_string();
    let (code, out, err) = run(moadian()
        .env("MOADIAN_PIN", USER_PIN)
        .args([
            "--lang",
            "en",
            "sign",
            "--pkcs11-module",
            &module,
            "--token-label",
            &label,
        ])
        .arg(invoice(dir.path())));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.trim().is_empty(), "a JWS was printed: {out}");
    assert!(
        err.contains("key.mismatch") && err.contains("test signature"),
        "{err}"
    );
}

#[test]
fn sign_says_which_certificate_it_used() {
    let label = new_token("cli-said");
    put_identity(&label, &[0x01], IdentityOptions::new(PERSON));
    put_identity(&label, &[0x02], IdentityOptions::new(COMPANY));
    let dir = tempfile::tempdir().unwrap();
    let module = hsm().module.display().to_string();
    let (code, out, err) = run(moadian()
        .env("MOADIAN_PIN", USER_PIN)
        .args([
            "--lang",
            "en",
            "sign",
            "--pkcs11-module",
            &module,
            "--token-label",
            &label,
        ])
        .args(["--national-id", COMPANY])
        .arg(invoice(dir.path())));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("cert.chosen") && err.contains("CKA_ID 02") && err.contains("Stamp"),
        "{err}"
    );
    assert!(
        err.contains(&format!("the taxpayer's national ID ({COMPANY})")),
        "{err}"
    );
    assert_eq!(out.lines().count(), 1, "stdout holds the JWS only: {out}");
}

#[test]
fn doctor_lists_every_certificate_with_its_key_and_marks_the_one_used() {
    let label = new_token("cli-table");
    put_identity(&label, &[0x01], IdentityOptions::new(PERSON));
    let mut expired = IdentityOptions::new(COMPANY);
    expired.not_before_offset_secs = -400 * 86_400;
    expired.not_after_offset_secs = -86_400;
    put_identity(&label, &[0x02], expired);
    put_identity(&label, &[0x03], IdentityOptions::new(COMPANY));
    put_cert(&label, &[0x04], &identity("10100302746"));
    let module = hsm().module.display().to_string();
    let (code, out, err) = run(moadian()
        .env("MOADIAN_PIN", USER_PIN)
        .args([
            "--lang",
            "en",
            "doctor",
            "--offline",
            "--national-id",
            COMPANY,
        ])
        .args(["--pkcs11-module", &module, "--token-label", &label]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("4 certificate(s)"), "{out}");
    let used: Vec<&str> = out.lines().filter(|l| l.starts_with("=> ")).collect();
    assert_eq!(used.len(), 1, "{out}");
    assert!(
        used[0].contains("CKA_ID 03") && used[0].contains("Stamp"),
        "{out}"
    );
    for want in [
        "CKA_ID 01  Sign",
        "private key: present",
        "private key: MISSING",
        "used: the taxpayer's national ID (14003778990)",
        "skipped: belongs to 0012345679, not to the taxpayer",
        "skipped: expired on",
        "skipped: belongs to 10100302746",
        "national ID: legal 14003778990",
        "valid:",
    ] {
        assert!(out.contains(want), "{want:?} missing in:\n{out}");
    }
    assert!(out.contains("cert.chosen"), "{out}");
}

#[test]
fn issue_11_a_corrected_stored_pin_is_tried_and_the_refusal_shows_the_command() {
    let label = new_token("cli-pin");
    put_identity(&label, &[0x01], IdentityOptions::new(COMPANY));
    let serial = serial_of(&label);
    let module = hsm().module.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let inv = invoice(dir.path());
    let state = dir.path().join("state");
    let sign = |pin: &str| {
        run(moadian()
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
            .arg(&inv))
    };
    let (code, _, err) = sign("0000");
    assert_eq!(code, Some(1));
    assert!(err.contains("pin.incorrect"), "{err}");
    // The same wrong PIN is not tried again; the message holds the exact command.
    let (code, _, err) = sign("0000");
    assert_eq!(code, Some(1));
    assert!(err.contains("pin.stored_refused"), "{err}");
    assert!(
        err.contains(&format!(
            "moadian token forget-failed-pin --token-serial {serial}"
        )),
        "{err}"
    );
    // The corrected PIN is tried, and works. (The mark's 8-bit fingerprint under a random
    // salt matches the corrected PIN in one case of 256, by design; the mark is written again
    // until it does not, so that the test does not fail once in 256 runs.)
    use moadian::crypto::{pin_guard, Pin};
    while pin_guard::refused_same_in(&state, &serial, &Pin::new(USER_PIN)).is_some() {
        pin_guard::record_refusal_in(&state, &serial, &Pin::new("0000"));
    }
    let (code, _, err) = sign(USER_PIN);
    assert_eq!(code, Some(0), "{err}");
    // Refused again, then cleared without a serial: only one token has a mark.
    let (code, _, _) = sign("1111");
    assert_eq!(code, Some(1));
    let (code, out, err) = run(moadian()
        .env("MOADIAN_STATE_DIR", &state)
        .args(["token", "forget-failed-pin"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&serial), "{out}");
    let (code, _, err) = sign("1111");
    assert!(
        err.contains("pin.incorrect"),
        "tried again after forgetting: {err}"
    );
    assert_eq!(code, Some(1));
    // The mark never holds the PIN.
    for entry in std::fs::read_dir(&state).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("1111") && !text.contains(USER_PIN), "{text}");
    }
}

#[test]
fn a_label_cut_at_32_bytes_in_the_middle_of_a_character_is_found() {
    let tool = ToolHsm::new();
    let full = "Aتوکن شرکت بازرگانی نمونه";
    assert!(!full.is_char_boundary(32));
    tool.init_token(full, 0);
    tool.put_identity(0, "01", &identity(COMPANY));
    let module = hsm().module.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let inv = invoice(dir.path());
    let (code, out, err) = run(moadian()
        .env("SOFTHSM2_CONF", &tool.conf)
        .env("MOADIAN_PIN", USER_PIN)
        .args([
            "--lang",
            "en",
            "sign",
            "--pkcs11-module",
            &module,
            "--token-label",
            full,
        ])
        .args(["--national-id", COMPANY])
        .arg(&inv));
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = run(moadian().env("SOFTHSM2_CONF", &tool.conf).args([
        "token",
        "list",
        "--json",
        "--pkcs11-module",
        &module,
    ]));
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let shown = v[0]["label"].as_str().unwrap().to_string();
    assert!(
        shown.starts_with("Aتوکن") && shown.len() < full.len(),
        "{shown}"
    );
}
