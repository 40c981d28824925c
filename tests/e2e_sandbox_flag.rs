//! The README's first command, `moadian submit --sandbox examples/invoices`: it makes the test
//! identity, starts the sandbox in-process, signs on SoftHSM, and reports every example — the
//! valid ones SUCCESS, the invalid ones INVALID with their errors and never sent, the one the
//! server refuses FAILED with its code explained. Run twice, the second run sends nothing (same
//! uids and reference numbers).

use serde_json::Value;
use std::process::Command;

fn submit(home: &std::path::Path) -> (i32, Value, String) {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/invoices");
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args([
            "--lang",
            "en",
            "submit",
            "--sandbox",
            "--json",
            "--wait",
            "60s",
            examples,
        ])
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
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), v, stderr)
}

#[test]
fn submit_sandbox_examples_valid_success_invalid_never_sent_twice_nothing() {
    // The sandbox's token lives under MOADIAN_HOME; SoftHSM must be installed (no skipping).
    moadian::crypto::softhsm::module_path()
        .unwrap_or_else(|e| panic!("`submit --sandbox` signs on SoftHSM2 here: {e}"));
    let home = tempfile::tempdir().unwrap();
    let (code, first, err) = submit(home.path());
    assert_eq!(code, 1, "the invalid examples make the exit code 1\n{err}");
    let rows = first["invoices"].as_array().expect("invoices");
    let mut valid = 0;
    let mut rejected = 0;
    for r in rows {
        let source = r["source"].as_str().unwrap();
        let file = source.split('#').next().unwrap();
        let status = r["status"].as_str().unwrap();
        if source.contains("/server-rejected/") {
            rejected += 1;
            assert_eq!(status, "FAILED", "{r:#}\n{err}");
            let errors = r["errors"].as_array().expect("errors");
            assert!(
                errors.iter().any(|e| e["code"] == "0300901"),
                "the server's code for a seller that is not this taxpayer: {r:#}"
            );
        }
        if source.contains("/valid/") || file.ends_with("official-example.json") {
            valid += 1;
            assert_eq!(status, "SUCCESS", "{r:#}\n{err}");
            assert!(r["reference"].is_string());
        }
        if source.contains("/invalid/") {
            // Invalid examples must stay invalid whatever today's date is.
            assert_eq!(status, "INVALID", "{r:#}");
        }
        if status == "INVALID" {
            assert!(
                r["uid"].is_null(),
                "an INVALID invoice is never sent: {r:#}"
            );
            assert!(!r["errors"].as_array().unwrap().is_empty(), "{r:#}");
        }
        assert_ne!(status, "UNKNOWN", "{r:#}");
        assert_ne!(status, "QUEUED", "{r:#}");
    }
    assert!(valid >= 2, "the examples hold valid invoices");
    assert_eq!(rejected, 1, "one example is refused by the server");
    assert!(first["summary"]["invalid"].as_u64().unwrap() > 0);
    // The process's CPU time: until the server had accepted what this pass sent, and in all.
    let cpu = &first["cpu_ms"];
    let (until, total) = (cpu["until_accepted"].as_u64(), cpu["total"].as_u64());
    assert!(
        matches!((until, total), (Some(u), Some(t)) if u > 0 && u <= t),
        "{cpu:#}"
    );

    let (_, second, err) = submit(home.path());
    assert_eq!(first["summary"], second["summary"], "{err}");
    // Nothing was sent, so nothing was accepted.
    assert!(
        second["cpu_ms"]["until_accepted"].is_null(),
        "{:#}",
        second["cpu_ms"]
    );
    assert!(
        second["cpu_ms"]["total"].as_u64().is_some(),
        "{:#}",
        second["cpu_ms"]
    );
    for (a, b) in rows.iter().zip(second["invoices"].as_array().unwrap()) {
        assert_eq!(a["source"], b["source"]);
        assert_eq!(a["uid"], b["uid"], "nothing is sent a second time");
        assert_eq!(a["reference"], b["reference"]);
    }
}
