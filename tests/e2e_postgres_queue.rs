//! End to end through a PostgreSQL queue: `moadian submit --sandbox --queue postgres://…` signs
//! on SoftHSM, sends to the built-in sandbox and brings every valid example to SUCCESS; run
//! again it sends nothing; `status`, `report` and `inquire` read the same queue. A password in
//! the URL never appears in any output. Needs the server `scripts/test.sh` starts
//! (`MOADIAN_TEST_POSTGRES_URL`); fails, never skips, without it.

mod pg_support;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SECRET: &str = "e2e-Pw-never-shown";

fn moadian(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(args)
        .env("MOADIAN_HOME", home)
        .env("MOADIAN_SANDBOX_DELAY_MS", "50")
        .env("MOADIAN_POLL_FIRST_MS", "100")
        .env("MOADIAN_POLL_MAX_MS", "300")
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_LANG")
        .output()
        .expect("moadian runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains(SECRET),
            "the password appeared on {what} of moadian {args:?}:\n{text}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn json(out: &str, err: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"))
}

#[test]
fn submit_sandbox_through_a_postgres_queue_reaches_success_once() {
    moadian::crypto::softhsm::module_path()
        .unwrap_or_else(|e| panic!("`submit --sandbox` signs on SoftHSM2 here: {e}"));
    let home = tempfile::tempdir().unwrap();
    let url = pg_support::schema_url("e2e", Some(SECRET));
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/invoices");
    let submit = [
        "--lang",
        "en",
        "submit",
        "--sandbox",
        "--json",
        "--wait",
        "60s",
        "--queue",
        &url,
        examples,
    ];
    let (code, out, err) = moadian(home.path(), &submit);
    assert_eq!(code, 1, "the invalid examples make the exit code 1\n{err}");
    let first = json(&out, &err);
    let mut valid = Vec::new();
    for r in first["invoices"].as_array().expect("invoices") {
        let source = r["source"].as_str().unwrap();
        let status = r["status"].as_str().unwrap();
        if source.contains("/valid/") || source.contains("official-example.json") {
            assert_eq!(status, "SUCCESS", "{r:#}\n{err}");
            valid.push((
                source.to_string(),
                r["taxid"].as_str().unwrap().to_string(),
                r["uid"].clone(),
                r["reference"].clone(),
            ));
        }
        assert_ne!(status, "UNKNOWN", "{r:#}");
        assert_ne!(status, "QUEUED", "{r:#}");
    }
    assert!(valid.len() >= 3, "the valid examples: {valid:?}");

    // Again: nothing is sent twice — the same uids and reference numbers.
    let (_, out, err) = moadian(home.path(), &submit);
    let second = json(&out, &err);
    for (source, taxid, uid, reference) in &valid {
        let r = second["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["source"] == source.as_str())
            .unwrap_or_else(|| panic!("{source} in the second report"));
        assert_eq!(r["status"], "SUCCESS", "{r:#}");
        assert_eq!(r["taxid"], taxid.as_str());
        assert_eq!(&r["uid"], uid, "{taxid} was not sent again");
        assert_eq!(&r["reference"], reference);
    }

    // status, report and inquire read the same PostgreSQL queue.
    let (_, out, err) = moadian(
        home.path(),
        &["--lang", "en", "status", "--queue", &url, "--json"],
    );
    let status = json(&out, &err);
    let success = status["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "SUCCESS")
        .count();
    assert_eq!(success, valid.len(), "{status:#}");
    let (code, out, err) = moadian(home.path(), &["report", "--queue", &url, "--format", "csv"]);
    assert_eq!(code, 0, "{out}{err}");
    for (_, taxid, _, _) in &valid {
        assert!(
            out.contains(taxid.as_str()),
            "{taxid} in the report:\n{out}"
        );
    }
    let (code, out, err) = moadian(
        home.path(),
        &[
            "--lang",
            "en",
            "inquire",
            "--sandbox",
            "--queue",
            &url,
            "--json",
            "--taxid",
            &valid[0].1,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&valid[0].1), "{out}\n{err}");
    assert!(out.contains("APPROVED"), "{out}\n{err}");
}
