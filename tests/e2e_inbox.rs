//! `run --inbox` only takes finished files and never hides a failure (issue #10): a JSON Lines
//! file still being appended to is left alone until it stops changing; a file with an INVALID
//! invoice goes to `failed/` with `NAME.why.json` and `run` exits non-zero; `*.part` files and
//! symbolic links are never read; a `done/` that is a symbolic link stops the run.

mod e2e_support;
use e2e_support::*;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_still_being_written_is_not_taken_half() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let file = inbox.join("day.jsonl");
    let t = indatim();
    // A writer appends one invoice line every 100 ms for as long as the first run runs.
    let running = Arc::new(AtomicBool::new(true));
    let writer = {
        let (file, running) = (file.clone(), running.clone());
        std::thread::spawn(move || {
            let mut taxids = Vec::new();
            let mut serial = 1;
            while running.load(Ordering::SeqCst) || taxids.len() < 3 {
                let (taxid, v) = invoice(serial, t);
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&file)
                    .unwrap();
                writeln!(f, "{v}").unwrap();
                drop(f);
                taxids.push(taxid);
                serial += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            taxids
        })
    };
    // Wait until the file exists, then run while it grows.
    while !file.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let inbox_s = inbox.to_str().unwrap();
    let (code, report, err) = env
        .run_json(&["run", "--inbox", inbox_s, "--settle", "1s"])
        .await;
    running.store(false, Ordering::SeqCst);
    let taxids = writer.join().unwrap();
    assert!(err.contains("still being written"), "{err}");
    assert_eq!(report["summary"]["total"], 0, "nothing taken: {report:#}");
    // No invoice in the queue yet and nothing wrong: the file is read by a later pass.
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        env.sandbox.ledger().packets_received,
        0,
        "nothing half-sent"
    );
    assert!(file.exists(), "the growing file stays in the inbox");

    // Finished now: the next pass takes every line.
    let (code, report, err) = env
        .run_json(&[
            "run", "--inbox", inbox_s, "--settle", "200ms", "--wait", "20s",
        ])
        .await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    assert_eq!(report["summary"]["success"], taxids.len());
    assert!(inbox.join("done").join("day.jsonl").exists());
    assert_exactly_once(&env.sandbox, &taxids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_files_go_to_failed_with_reasons_and_run_exits_non_zero() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("inbox");
    let good = write_invoices(&inbox, 1, 1);
    let (bad_taxid, mut bad) = invoice(50, indatim());
    bad["header"]["tbill"] = serde_json::json!(99999);
    std::fs::write(inbox.join("bad.json"), bad.to_string()).unwrap();
    // Written under a temporary name: never read.
    std::fs::write(inbox.join("later.json.part"), "{").unwrap();
    // A link: never followed.
    let outside = env.path("outside.json");
    let (_, other) = invoice(60, indatim());
    std::fs::write(&outside, other.to_string()).unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join("link.json")).unwrap();

    let inbox_s = inbox.to_str().unwrap();
    let (code, report, err) = env
        .run_json(&[
            "run", "--inbox", inbox_s, "--settle", "200ms", "--wait", "20s",
        ])
        .await;
    assert_eq!(code, 1, "an INVALID invoice: exit 1\n{report:#}\n{err}");
    assert_eq!(statuses(&report)[&good[0]], "SUCCESS");
    assert!(inbox.join("done").join("inv-000001.json").exists());
    let failed = inbox.join("failed");
    assert!(failed.join("bad.json").exists(), "{err}");
    let why: serde_json::Value =
        serde_json::from_slice(&std::fs::read(failed.join("bad.json.why.json")).unwrap()).unwrap();
    assert_eq!(why["invoices"][0]["taxid"], bad_taxid.as_str());
    assert_eq!(why["invoices"][0]["status"], "INVALID");
    assert!(
        !why["invoices"][0]["errors"].as_array().unwrap().is_empty(),
        "{why:#}"
    );
    assert!(
        inbox.join("later.json.part").exists(),
        "*.part is left alone"
    );
    assert!(err.contains("symbolic link"), "{err}");
    assert!(
        std::fs::symlink_metadata(inbox.join("link.json"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is left alone"
    );
    assert_eq!(env.sandbox.ledger().received(&bad_taxid), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_directory_that_is_a_link_is_refused() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("inbox");
    write_invoices(&inbox, 1, 1);
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, inbox.join("done")).unwrap();
    let (code, _, err) = env
        .run(&[
            "run",
            "--inbox",
            inbox.to_str().unwrap(),
            "--settle",
            "100ms",
        ])
        .await;
    assert_ne!(code, 0);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(inbox.join("inv-000001.json").exists(), "nothing moved");
    assert_eq!(env.sandbox.ledger().packets_received, 0);
}

/// A sandbox that takes 1.5 s to finalize (room to change the inbox during a pass), and an
/// empty inbox.
async fn slow_env() -> (Env, std::path::PathBuf) {
    let faults = moadian::sandbox::Faults {
        processing_delay_ms: 1500,
        ..Default::default()
    };
    let env = Env::new(faults, 1000).await;
    let inbox = env.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    (env, inbox)
}

/// Waits until the sandbox has received the invoice `taxid`.
async fn until_received(env: &Env, taxid: &str) {
    while env.sandbox.ledger().received(taxid) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_during_the_pass_is_left_for_the_next_pass_not_archived() {
    let (env, inbox) = slow_env().await;
    let file = inbox.join("day.json");
    let (first, v1) = invoice(1, indatim());
    std::fs::write(&file, v1.to_string()).unwrap();
    let (second, v2) = invoice(2, indatim());
    let inbox_s = inbox.to_str().unwrap().to_string();
    // Once the first file's invoice has reached the server, the exporter writes the next
    // file under the same name, as the README says: a temporary name, then a rename.
    let replace = async {
        until_received(&env, &first).await;
        let part = inbox.join(".day.json.part");
        std::fs::write(&part, v2.to_string()).unwrap();
        std::fs::rename(&part, &file).unwrap();
    };
    let args = [
        "run", "--inbox", &inbox_s, "--settle", "200ms", "--wait", "20s",
    ];
    let ((code, report, err), ()) = tokio::join!(env.run_json(&args), replace);
    assert_eq!(statuses(&report)[&first], "SUCCESS", "{report:#}\n{err}");
    assert_eq!(code, 0, "{err}");
    assert!(
        !inbox.join("done").join("day.json").exists(),
        "the file in done/ would hold an invoice that was never sent\n{err}"
    );
    let left = std::fs::read_to_string(&file).expect("the new file stays in the inbox");
    assert!(left.contains(&second), "{left}");
    assert!(
        err.contains("day.json") && err.contains("replaced"),
        "{err}"
    );
    assert_eq!(env.sandbox.ledger().received(&second), 0);
    // The next pass reads the new file, sends it, and archives it.
    let (code, report, err) = env.run_json(&args).await;
    assert_eq!(statuses(&report)[&second], "SUCCESS", "{report:#}\n{err}");
    assert_eq!(code, 0, "{err}");
    let done = std::fs::read_to_string(inbox.join("done").join("day.json")).unwrap();
    assert!(done.contains(&second), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_removed_during_the_pass_is_named_and_the_others_are_settled() {
    let (env, inbox) = slow_env().await;
    let (gone, v1) = invoice(1, indatim());
    std::fs::write(inbox.join("a.json"), v1.to_string()).unwrap();
    let (kept, v2) = invoice(2, indatim());
    std::fs::write(inbox.join("b.json"), v2.to_string()).unwrap();
    let inbox_s = inbox.to_str().unwrap().to_string();
    let remove = async {
        until_received(&env, &gone).await;
        std::fs::remove_file(inbox.join("a.json")).unwrap();
    };
    let args = [
        "run", "--inbox", &inbox_s, "--settle", "200ms", "--wait", "20s",
    ];
    let ((code, report, err), ()) = tokio::join!(env.run_json(&args), remove);
    assert_eq!(statuses(&report)[&gone], "SUCCESS", "{report:#}\n{err}");
    assert_eq!(statuses(&report)[&kept], "SUCCESS", "{report:#}\n{err}");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("a.json"), "the vanished file is named: {err}");
    assert!(inbox.join("done").join("b.json").exists(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_that_does_not_exist_is_a_usage_error_and_is_not_created() {
    let env = Env::new(quick_faults(), 1000).await;
    let missing = env.path("no-such-inbox");
    let (code, _, err) = env
        .run(&["run", "--inbox", missing.to_str().unwrap()])
        .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-inbox"), "{err}");
    assert!(!missing.exists(), "a mistyped inbox is not created");
    let file = env.path("plain.json");
    std::fs::write(&file, "{}").unwrap();
    let (code, _, err) = env.run(&["run", "--inbox", file.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("plain.json"), "{err}");
}

/// How many invoices the queue file holds (0 while it cannot be read yet).
fn queued(queue: &std::path::Path) -> i64 {
    rusqlite::Connection::open_with_flags(queue, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM invoices", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// A file that is gone by the time its turn to be read comes (removed while an earlier file of
/// the pass was being read) is named and left out; the pass reads, sends and settles the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_removed_before_its_turn_is_named_and_the_pass_goes_on() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Read first (names in order) and slow to read: many lines that are not invoices.
    let slow: String = (0..30_000)
        .map(|i| format!("not an invoice {i}\n"))
        .collect();
    std::fs::write(inbox.join("a.jsonl"), slow).unwrap();
    let (_, v1) = invoice(1, indatim());
    std::fs::write(inbox.join("b.json"), v1.to_string()).unwrap();
    let (kept, v2) = invoice(2, indatim());
    std::fs::write(inbox.join("c.json"), v2.to_string()).unwrap();
    let inbox_s = inbox.to_str().unwrap().to_string();
    let queue = env.queue.clone();
    let b = inbox.join("b.json");
    let remove = async move {
        // The first rows of a.jsonl are in: b.json is still waiting for its turn.
        while queued(&queue) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        std::fs::remove_file(&b).unwrap();
        queued(&queue)
    };
    let args = [
        "run", "--inbox", &inbox_s, "--settle", "200ms", "--wait", "20s",
    ];
    let ((code, report, err), rows_when_removed) = tokio::join!(env.run_json(&args), remove);
    assert!(
        rows_when_removed < 30_000,
        "b.json was removed while a.jsonl was being read ({rows_when_removed} rows in)"
    );
    assert_eq!(code, 1, "a.jsonl holds INVALID lines\n{err}");
    assert_eq!(statuses(&report)[&kept], "SUCCESS", "{err}");
    assert!(err.contains("b.json"), "the vanished file is named: {err}");
    assert!(inbox.join("done").join("c.json").exists(), "{err}");
    assert!(inbox.join("failed").join("a.jsonl").exists(), "{err}");
}
