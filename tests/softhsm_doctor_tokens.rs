//! `doctor` and `sign` with several SoftHSM2 tokens plugged in, through the `moadian` binary:
//! the token chosen is the one holding the taxpayer's certificate valid today (a token with
//! only an expired one is passed over, and never suggested), and the listing of tokens names
//! the token that was chosen even when logging in to it fails.
//!
//! Each test uses a national ID of its own, so the tokens of the other test (same SoftHSM)
//! never hold a certificate it looks for.

mod softhsm_common;
use assert_cmd::Command;
use moadian::crypto::testcert::IdentityOptions;
use softhsm_common::*;

/// Only the token-choice test uses this ID.
const COMPANY: &str = "14003778990";
/// Only the doctor-notes test uses this ID.
const PERSON: &str = "0012345679";

fn moadian(pin: &str) -> Command {
    let mut c = Command::cargo_bin("moadian").expect("binary");
    c.env("SOFTHSM2_CONF", &hsm().conf)
        .env("MOADIAN_STATE_DIR", hsm().dir.join("state-doctor-tokens"))
        .env("MOADIAN_PIN", pin)
        .env_remove("MOADIAN_LANG");
    c
}

fn run(pin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = moadian(pin).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn doctor(pin: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let module = hsm().module.display().to_string();
    let mut args = vec![
        "--lang",
        "en",
        "doctor",
        "--offline",
        "--memory-id",
        "A11216",
        "--pkcs11-module",
        &module,
    ];
    args.extend_from_slice(extra);
    run(pin, &args)
}

/// The line of `doctor`'s token listing for the token with `serial`.
fn token_line(out: &str, serial: &str) -> String {
    out.lines()
        .find(|l| l.starts_with("token ") && l.contains(&format!("(serial {serial})")))
        .unwrap_or_else(|| panic!("no token line for serial {serial}: {out}"))
        .to_string()
}

#[test]
fn a_token_with_only_an_expired_certificate_is_passed_over_for_the_one_valid_today() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("i.json");
    std::fs::write(&inv, r#"{"header":{"taxid":"A1"},"body":[]}"#).unwrap();
    // Token A: only an expired certificate of the taxpayer, no key.
    let a = new_token("expired-only");
    put_cert(&a, &[0x01], &identity_valid(COMPANY, -400, -30));
    // Token B: the taxpayer's valid certificate and its key.
    let b = new_token("valid-pair");
    put_identity(&b, &[0x01], IdentityOptions::new(COMPANY));
    let (sa, sb) = (serial_of(&a), serial_of(&b));

    let (code, out, err) = doctor(USER_PIN, &["--national-id", COMPANY]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("token.several"), "{out}");
    assert!(
        out.contains(&format!("serial {sb}) is present")),
        "doctor uses the token holding the valid certificate: {out}"
    );
    assert!(
        token_line(&out, &sa).contains("not valid today"),
        "the expired-only token says why it was passed over: {out}"
    );

    let module = hsm().module.display().to_string();
    let inv_s = inv.display().to_string();
    let sign = |extra: &[&str]| {
        let mut args = vec!["--lang", "en", "sign", "--pkcs11-module", &module];
        args.extend_from_slice(extra);
        args.push(&inv_s);
        run(USER_PIN, &args)
    };
    let (code, out, err) = sign(&["--national-id", COMPANY]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("serial {sb}")), "{err}");
    assert!(out.lines().last().unwrap().split('.').count() == 3, "{out}");

    // A second token with a valid pair: now two qualify; the refusal lists and suggests only
    // tokens holding a valid certificate, never the expired-only one.
    let c = new_token("valid-pair-2");
    put_identity(&c, &[0x01], IdentityOptions::new(COMPANY));
    let sc = serial_of(&c);
    let (code, _, err) = sign(&["--national-id", COMPANY]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("token.several"), "{err}");
    assert!(err.contains(&sb) && err.contains(&sc), "{err}");
    assert!(
        !err.contains(&format!("--token-serial {sa}")),
        "the expired-only token is never suggested: {err}"
    );
    assert!(
        err.contains(&format!("--token-serial {sb}"))
            || err.contains(&format!("--token-serial {sc}")),
        "{err}"
    );
}

#[test]
fn doctor_names_the_token_it_chose_even_when_the_pin_is_wrong() {
    let label = new_token("notes");
    put_identity(&label, &[0x01], IdentityOptions::new(PERSON));
    let serial = serial_of(&label);
    const WRONG: &str = "9999";

    // The label names the token; the PIN is wrong.
    let (code, out, _) = doctor(WRONG, &["--token-label", &label, "--national-id", PERSON]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("[FAIL] pin.incorrect"), "{out}");
    let line = token_line(&out, &serial);
    assert!(
        !line.contains("not the token the label/serial names"),
        "the token the label names is the one chosen: {line}"
    );
    assert!(line.contains("chosen"), "{line}");

    // No label and no serial: the national ID chooses; no token is said to be other than the
    // one a label or serial names, since none was given.
    let (code, out, _) = doctor(WRONG, &["--national-id", PERSON]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        !out.contains("not the token the label/serial names"),
        "no label or serial was given: {out}"
    );
    assert!(token_line(&out, &serial).contains("chosen"), "{out}");

    // The right PIN: the login resets the token's count of wrong PINs; the report does not
    // keep warning about a low count.
    let (code, out, _) = doctor(
        USER_PIN,
        &["--token-label", &label, "--national-id", PERSON],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("login.ok"), "{out}");
    assert!(!out.contains("[warn] pin.count_low"), "{out}");
    assert!(
        token_line(&out, &serial).contains("this token is used"),
        "{out}"
    );
}
