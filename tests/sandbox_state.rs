//! The sandbox remembers like the real server: with a state file its key, received invoices,
//! statuses, reference numbers and ledger survive a restart, so a queue and the server it sent
//! to never disagree because the server forgot. The built-in `--sandbox` keeps its state beside
//! its queue: every CLI call is a new process (a restart), and `inquire`, `cancel` then `run`
//! behave as against the real server.

mod sandbox_support;

use moadian::sandbox::{Sandbox, SandboxConfig};
use sandbox_support::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn with_state(path: &Path) -> SandboxConfig {
    SandboxConfig {
        state_file: Some(path.to_path_buf()),
        ..SandboxConfig::default()
    }
}

#[tokio::test]
async fn statuses_references_key_and_ledger_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("server.sqlite");
    let b = start_with(with_state(&state)).await;
    let inv = invoice(DEMO, b.now() - 60_000, 7);
    let taxid = inv["header"]["taxid"].as_str().unwrap().to_string();
    let uid = new_uid();
    let (s, v) = b.post_packets(vec![b.packet(&inv, &uid)]).await;
    assert_eq!(s, 200, "{v}");
    let first = b.final_status(&uid).await;
    assert_eq!(first["status"], "SUCCESS", "{first}");
    let key = b.sandbox.server_key();
    let ledger = b.sandbox.ledger();
    b.sandbox.shutdown().await;

    let b = start_with(with_state(&state)).await;
    assert_eq!(b.sandbox.server_key(), key, "the server key is kept");
    assert_eq!(b.sandbox.ledger(), ledger, "the ledger is kept");
    let again = b.final_status(&uid).await;
    assert_eq!(again["status"], "SUCCESS", "{again}");
    assert_eq!(again["referenceNumber"], first["referenceNumber"]);
    // The same tax ID again is still a duplicate after the restart.
    let uid2 = new_uid();
    let (s, v) = b.post_packets(vec![b.packet(&inv, &uid2)]).await;
    assert_eq!(s, 200, "{v}");
    let dup = b.final_status(&uid2).await;
    assert_eq!(dup["status"], "FAILED", "{dup}");
    assert_eq!(b.sandbox.ledger().succeeded(&taxid), 1);
    assert_eq!(b.sandbox.ledger().received(&taxid), 2);
}

#[tokio::test]
async fn the_default_key_is_4096_bits_and_a_state_file_of_another_kind_is_refused() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (spki, _) = sandbox.server_key();
    let key = openssl::pkey::PKey::public_key_from_der(&spki).unwrap();
    assert_eq!(
        key.bits(),
        4096,
        "like the real server's key (512-byte wrapped key)"
    );
    sandbox.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("not-a-sandbox.sqlite");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
         INSERT INTO meta VALUES ('kind', 'something else');",
    )
    .unwrap();
    drop(conn);
    let err = Sandbox::start(SandboxConfig {
        server_key_bits: 2048,
        ..with_state(&other)
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("not-a-sandbox.sqlite"), "{err}");
    assert!(err.contains("sandbox reset"), "{err}");
}

/// Runs the binary with the built-in sandbox under `home` (fast polls, a 2048-bit sandbox key).
fn moadian(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .arg("--lang")
        .arg("en")
        .args(args)
        .env("MOADIAN_HOME", home)
        .env("MOADIAN_SANDBOX_DELAY_MS", "50")
        .env("MOADIAN_SANDBOX_KEY_BITS", "2048")
        .env("MOADIAN_POLL_FIRST_MS", "100")
        .env("MOADIAN_POLL_MAX_MS", "300")
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_LANG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("moadian runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str, err: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}\n{err}"))
}

#[test]
fn built_in_sandbox_remembers_between_commands_inquire_cancel_run_reset() {
    moadian::crypto::softhsm::module_path()
        .unwrap_or_else(|e| panic!("`--sandbox` signs on SoftHSM2 here: {e}"));
    let home = tempfile::tempdir().unwrap();
    let sale = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/invoices/valid/t1-p1-sale.json"
    );
    let (code, out, err) = moadian(
        home.path(),
        &["submit", "--sandbox", "--json", "--wait", "60s", sale],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let row = &json(&out, &err)["invoices"][0];
    assert_eq!(row["status"], "SUCCESS", "{row}");
    let taxid = row["taxid"].as_str().expect("taxid").to_string();

    // A new process: the server still knows the invoice.
    let (code, out, err) = moadian(
        home.path(),
        &["inquire", "--sandbox", "--json", "--taxid", &taxid],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let found = json(&out, &err);
    assert_eq!(found[0]["invoiceStatus"], "APPROVED", "{found:#}\n{err}");

    let (code, out, err) = moadian(home.path(), &["cancel", "--sandbox", &taxid]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = moadian(
        home.path(),
        &["run", "--sandbox", "--json", "--wait", "60s"],
    );
    assert_eq!(code, 0, "the cancellation reaches SUCCESS: {out}\n{err}");
    let run = json(&out, &err);
    let rows = run["invoices"].as_array().expect("invoices");
    assert!(
        rows.iter().all(|r| r["status"] == "SUCCESS"),
        "nothing stuck or failed after the restarts: {run:#}"
    );

    let state = home.path().join("sandbox/queue.sandbox-state.sqlite");
    assert!(
        state.exists(),
        "state beside the queue: {}",
        state.display()
    );
    let (code, out, _) = moadian(home.path(), &["sandbox", "reset"]);
    assert_eq!(
        code, 2,
        "without --yes and without a terminal nothing is removed"
    );
    assert!(out.contains("queue.sandbox-state.sqlite"), "{out}");
    assert!(state.exists());
    let (code, out, err) = moadian(home.path(), &["sandbox", "reset", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!state.exists());
    assert!(!home.path().join("sandbox/queue.sqlite").exists());
}
