//! Several tokens plugged in at once, on SoftHSM2 through the `moadian` binary: the national
//! ID chooses among tokens; when nothing does, the refusal lists every token with its serial
//! and gives the exact flag (`--token-serial SERIAL`), suggesting `--token-label` only when it
//! was not given and the labels differ. One sequential test: it needs to know every token of
//! this binary's SoftHSM.

mod softhsm_common;
use assert_cmd::Command;
use moadian::crypto::testcert::IdentityOptions;
use softhsm_common::*;

const PERSON: &str = "0012345679";
const COMPANY: &str = "14003778990";

fn moadian() -> Command {
    let mut c = Command::cargo_bin("moadian").expect("binary");
    c.env("SOFTHSM2_CONF", &hsm().conf)
        .env("MOADIAN_STATE_DIR", hsm().dir.join("state-tokens"))
        .env("MOADIAN_PIN", USER_PIN)
        .env_remove("MOADIAN_LANG");
    c
}

fn sign(extra: &[&str], invoice: &std::path::Path) -> (Option<i32>, String, String) {
    let module = hsm().module.display().to_string();
    let out = moadian()
        .args(["--lang", "en", "sign", "--pkcs11-module", &module])
        .args(extra)
        .arg(invoice)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn several_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("i.json");
    std::fs::write(&inv, r#"{"header":{"taxid":"A1"},"body":[]}"#).unwrap();
    // Two tokens with different labels: a person's and a company's.
    let a = new_token("alpha");
    put_identity(&a, &[0x01], IdentityOptions::new(PERSON));
    let b = new_token("beta");
    put_identity(&b, &[0x01], IdentityOptions::new(COMPANY));
    let (sa, sb) = (serial_of(&a), serial_of(&b));
    // The national ID chooses the token.
    let (code, out, err) = sign(&["--national-id", COMPANY], &inv);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!("serial {sb}")),
        "sign says which token and certificate: {err}"
    );
    assert!(
        err.contains("cert.chosen") && err.contains(COMPANY),
        "{err}"
    );
    assert!(out.lines().last().unwrap().split('.').count() == 3, "{out}");
    // Nothing chooses: both serials shown, the exact flags, no "signer settings".
    let (code, _, err) = sign(&[], &inv);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("token.several"), "{err}");
    assert!(err.contains(&sa) && err.contains(&sb), "{err}");
    assert!(err.contains("--token-serial"), "{err}");
    assert!(
        err.contains("--token-label") && err.contains("--national-id"),
        "{err}"
    );
    assert!(!err.contains("signer settings"), "{err}");
    // The chosen serial works.
    let (code, _, err) = sign(&["--token-serial", &sa], &inv);
    assert_eq!(code, Some(0), "{err}");
    // A national ID no token holds: each token is listed with whose certificates it has.
    let (code, _, err) = sign(&["--national-id", "10100302746"], &inv);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("none of the tokens") && err.contains(PERSON) && err.contains(COMPANY),
        "{err}"
    );

    // Two tokens with the same label.
    let twin = format!("twin-{}", std::process::id());
    hsm().init_token(&twin, SO_PIN, USER_PIN).unwrap();
    put_identity(&twin, &[0x01], IdentityOptions::new(PERSON));
    let first = serial_of(&twin);
    hsm().init_token(&twin, SO_PIN, USER_PIN).unwrap();
    // (The second twin stays empty.)
    let ctx = moadian::crypto::pkcs11::module::load(&hsm().module).unwrap();
    let twins: Vec<_> =
        moadian::crypto::pkcs11::token::list_tokens(&ctx, &moadian::crypto::pkcs11::LiveTokenInfo)
            .unwrap()
            .into_iter()
            .filter(|t| t.label == twin)
            .collect();
    assert_eq!(twins.len(), 2);
    let second = twins
        .iter()
        .find(|t| t.serial != first)
        .unwrap()
        .serial
        .clone();
    let (code, _, err) = sign(&["--token-label", &twin], &inv);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&first) && err.contains(&second), "{err}");
    assert!(err.contains("--token-serial"), "{err}");
    assert!(
        !err.contains("--token-label"),
        "the label was given already; it cannot tell them apart: {err}"
    );
    // The national ID tells them apart: only the first twin holds the person's certificate.
    let (code, _, err) = sign(&["--token-label", &twin, "--national-id", PERSON], &inv);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("serial {first}")), "{err}");
    // And `token certs` lists every certificate on every token.
    let module = hsm().module.display().to_string();
    let out = moadian()
        .args(["--lang", "en", "token", "certs", "--pkcs11-module", &module])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for s in [&sa, &sb, &first, &second] {
        assert!(text.contains(&format!("serial {s}")), "{s} missing: {text}");
    }
}
