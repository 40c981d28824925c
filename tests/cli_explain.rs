//! `moadian explain` end to end: human output (snapshots), `--json` structure, exit codes.

use assert_cmd::Command;

fn moadian() -> Command {
    let mut c = Command::cargo_bin("moadian").expect("the moadian binary is built");
    c.env_remove("MOADIAN_LANG").env_remove("MOADIAN_LOG");
    c
}

fn stdout_of(args: &[&str]) -> (i32, String, String) {
    let out = moadian().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_04131_human_output() {
    let (code, out, _) = stdout_of(&["--lang", "both", "explain", "04131"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("explain_04131", out);
}

#[test]
fn explain_489_human_output() {
    let (code, out, _) = stdout_of(&["--lang", "both", "explain", "489"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("explain_489", out);
}

#[test]
fn explain_decoded_content_code_in_english() {
    let (code, out, _) = stdout_of(&["--lang", "en", "explain", "010504"]);
    assert_eq!(code, 0);
    assert!(out.contains("010504 (= 0100504)"), "{out}");
    assert!(out.contains("inno"), "{out}");
    assert!(!out.contains("سریال"), "--lang en prints no Persian: {out}");
    let (code, out, _) = stdout_of(&["--lang", "fa", "explain", "0104404"]);
    assert_eq!(code, 0);
    assert!(out.contains("vra") && out.contains("نرخ مالیات"), "{out}");
    assert!(
        !out.contains("Meaning"),
        "--lang fa prints no English headings: {out}"
    );
}

#[test]
fn explain_json_structure() {
    let (code, out, _) = stdout_of(&["explain", "04132", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["code"], "04132");
    assert_eq!(v["found"], "catalogue");
    assert_eq!(v["category"], "identity");
    assert_eq!(v["layer"], "transport");
    assert_eq!(v["retryable"], false);
    for k in ["title", "meaning"] {
        assert!(v[k]["fa"].as_str().is_some_and(|s| !s.is_empty()), "{k}.fa");
        assert!(v[k]["en"].as_str().is_some_and(|s| !s.is_empty()), "{k}.en");
    }
    assert!(v["causes"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(v["fix"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(v["prevented_by"]
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p == "doctor:cert.national_id_mismatch")));
    assert!(v["see_also"][0]["code"].is_string() && v["see_also"][0]["title"]["en"].is_string());

    let (code, out, _) = stdout_of(&["explain", "0303301", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["decoded"]["field"]["key"], "sstid");
    assert_eq!(v["decoded"]["check"], "matching");
    assert_eq!(v["decoded"]["severity"], "error");
}

#[test]
fn unknown_garbage_exits_1_with_help() {
    for g in ["hello", "99999999", "0910504", "!!"] {
        let (code, out, err) = stdout_of(&["explain", g]);
        assert_eq!(code, 1, "{g}: {out}{err}");
        assert!(err.contains("moadian explain --list"), "{g}: {err}");
    }
    let (code, out, _) = stdout_of(&["explain", "nonsense", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert!(v["found"].is_null());
    let (code, _, err) = stdout_of(&["--lang", "en", "explain", "Unable to load certificate"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("4136"),
        "text codes point to the certificate entry: {err}"
    );
}

#[test]
fn local_ids_and_list() {
    let (code, out, _) = stdout_of(&["--lang", "en", "explain", "pin.locked"]);
    assert_eq!(code, 0);
    assert!(out.contains("SO PIN"), "{out}");
    let (code, out, _) = stdout_of(&["--lang", "en", "explain", "--list", "--category", "token"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("pin.final_try")), "{out}");
    assert!(out.lines().all(|l| l.contains("token")), "{out}");
    let (code, _, _) = stdout_of(&["explain"]);
    assert_eq!(code, 2);
}

/// HTTP statuses a proxy or the server's front answers without a code of its own: 413 (the
/// request is too large) and 429 (too many requests) are explained, in both languages, with
/// what to do.
#[test]
fn explain_http_413_and_429() {
    for (code_, en_needles, retryable) in [
        ("413", &["too large", "batch_size"][..], false),
        ("429", &["too many requests", "Retry-After"][..], true),
    ] {
        let (code, out, err) = stdout_of(&["--lang", "en", "explain", code_]);
        assert_eq!(code, 0, "{code_}: {out}{err}");
        for n in en_needles {
            assert!(
                out.to_lowercase().contains(&n.to_lowercase()),
                "{code_} lacks {n}: {out}"
            );
        }
        let (code, out, _) = stdout_of(&["explain", code_, "--json"]);
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(v["found"], "catalogue", "{v}");
        assert_eq!(v["layer"], "http", "{v}");
        assert_eq!(v["retryable"], retryable, "{v}");
        for k in ["title", "meaning"] {
            assert!(v[k]["fa"].as_str().is_some_and(|s| !s.is_empty()), "{k}.fa");
            assert!(v[k]["en"].as_str().is_some_and(|s| !s.is_empty()), "{k}.en");
        }
    }
}
