//! `moadian run --inbox DIR` as cron would call it: files dropped in the inbox are enqueued,
//! sent and followed; each processed file moves to `DIR/done`, so nothing is picked twice or
//! lost; `enqueue` then `run` sends what was queued; `status` reads the queue.

mod e2e_support;
use e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_files_are_sent_once_and_moved_to_done() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("inbox");
    let taxids = write_invoices(&inbox, 1, 4);
    let inbox_s = inbox.to_str().unwrap();
    let (code, report, err) = env
        .run_json(&["run", "--inbox", inbox_s, "--wait", "20s"])
        .await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "SUCCESS");
    }
    let left: Vec<_> = std::fs::read_dir(&inbox)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .collect();
    assert!(left.is_empty(), "every file left the inbox: {left:?}");
    assert_eq!(std::fs::read_dir(inbox.join("done")).unwrap().count(), 4);

    // A second pass with the same file dropped again sends nothing.
    std::fs::copy(
        inbox.join("done").join("inv-000001.json"),
        inbox.join("inv-000001.json"),
    )
    .unwrap();
    let before = env.sandbox.ledger().packets_received;
    let (code, _, err) = env.run_json(&["run", "--inbox", inbox_s]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(env.sandbox.ledger().packets_received, before);
    assert_exactly_once(&env.sandbox, &taxids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_then_run_then_status() {
    let env = Env::new(quick_faults(), 1000).await;
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, 3);
    let (code, report, err) = env.run_json(&["enqueue", dir.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "QUEUED");
    }
    assert_eq!(
        env.sandbox.ledger().packets_received,
        0,
        "enqueue sends nothing"
    );
    let (code, report, err) = env.run_json(&["run", "--wait", "20s"]).await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    let (code, status, _) = env.run_json(&["status"]).await;
    assert_eq!(code, 0);
    assert_eq!(status["summary"]["success"], 3);
    assert_exactly_once(&env.sandbox, &taxids);
}

/// `run --watch` as a long-running service (systemd): it holds the queue, picks up files dropped
/// into the inbox while it runs, and each reaches SUCCESS exactly once; a second runner meanwhile
/// is told the queue is busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_picks_up_files_dropped_while_running() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let inbox_s = inbox.to_str().unwrap();
    let mut watcher = env
        .command(&[
            "run", "--inbox", inbox_s, "--watch", "300ms", "--wait", "5s",
        ])
        .spawn()
        .expect("run --watch starts");

    // Dropped after the watcher started: written elsewhere, then moved in whole.
    let staging = env.path("staging");
    let taxids = write_invoices(&staging, 1, 3);
    for e in std::fs::read_dir(&staging).unwrap().filter_map(Result::ok) {
        std::fs::rename(e.path(), inbox.join(e.file_name())).unwrap();
    }

    // The watcher sends and then follows them to SUCCESS in its own queue (status reads the
    // queue while the watcher holds it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        // Until the watcher's first pass creates the queue, status says it does not exist yet.
        let (_, out, err) = env.run(&["status", "--json"]).await;
        let status: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if status["summary"]["success"] == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher sent and followed the dropped files within a minute: {out}\n{err}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    let (code, _, err) = env.run(&["run"]).await;
    assert_eq!(
        code, 1,
        "a second runner is refused while the watcher runs: {err}"
    );
    assert!(err.to_lowercase().contains("busy"), "{err}");

    watcher.kill().await.expect("the watcher stops");
    assert_exactly_once(&env.sandbox, &taxids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_with_nothing_to_do_exits_zero() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Cron's first pass on an empty inbox and a new queue: nothing is wrong.
    let (code, report, err) = env
        .run_json(&[
            "run",
            "--inbox",
            inbox.to_str().unwrap(),
            "--settle",
            "100ms",
        ])
        .await;
    assert_eq!(report["summary"]["total"], 0, "{report:#}");
    assert_eq!(code, 0, "{err}");
}

/// Not on a terminal (cron, a pipe, a log file), a run that takes a while says how it is going
/// now and then on standard error instead of waiting in silence; a quick run prints only its
/// result. (`MOADIAN_PROGRESS_EVERY_MS` shortens the default 30 s between lines.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_off_a_terminal_reports_progress_in_plain_lines() {
    let env = Env::new(quick_faults(), 1000).await;
    let dir = env.path("invoices");
    write_invoices(&dir, 1, 3);
    let (code, _, err) = env.run_json(&["enqueue", dir.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let out = env
        .command(&["run", "--wait", "20s"])
        .env("MOADIAN_PROGRESS_EVERY_MS", "0")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("moadian [")).collect();
    assert!(
        lines.iter().any(|l| l.contains("sending 3 invoices")),
        "{err}"
    );
    assert!(lines.iter().any(|l| l.contains("3 final")), "{err}");

    // A quick pass with the default spacing prints no progress line.
    write_invoices(&dir, 10, 2);
    let (code, _, err) = env
        .run(&["submit", "--wait", "20s", dir.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("moadian ["), "{err}");
}

/// `run` from cron or a systemd timer: an INVALID or FAILED invoice makes the pass in which it
/// became so exit 1, and is listed by every pass after it, but does not fail every later pass
/// (nothing in the tool can make it SUCCESS: the way out is a new, corrected invoice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_failure_is_listed_by_later_passes_but_fails_only_its_own() {
    let env = Env::new(quick_faults(), 1000).await;
    let dir = env.path("invoices");
    let valid = write_invoices(&dir, 1, 1);
    let spare = good_serials(100, 2, indatim());
    let (bad_taxid, mut bad) = invoice(spare[0], indatim());
    bad["header"]["tbill"] = serde_json::json!(99999);
    std::fs::write(dir.join("bad.json"), bad.to_string()).unwrap();
    let (code, _, err) = env.run_json(&["enqueue", dir.to_str().unwrap()]).await;
    assert_eq!(code, 1, "enqueue says the INVALID invoice: {err}");

    let (code, report, err) = env.run_json(&["run", "--wait", "20s"]).await;
    assert_eq!(statuses(&report)[&valid[0]], "SUCCESS", "{report:#}");
    assert_eq!(statuses(&report)[&bad_taxid], "INVALID", "still listed");
    assert_eq!(code, 0, "the INVALID invoice predates this pass\n{err}");

    // Refused by the server during this pass: FAILED now, so this pass exits 1 …
    let later = env.path("later");
    let (rej_taxid, mut rej) = invoice(spare[1], indatim());
    rej["header"]["tins"] = serde_json::Value::String("10100302746".into());
    std::fs::create_dir_all(&later).unwrap();
    std::fs::write(later.join("rejected.json"), rej.to_string()).unwrap();
    let (code, _, err) = env.run_json(&["enqueue", later.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let (code, report, err) = env.run_json(&["run", "--wait", "20s"]).await;
    assert_eq!(statuses(&report)[&rej_taxid], "FAILED", "{report:#}\n{err}");
    assert_eq!(code, 1, "it became FAILED in this pass\n{err}");
    // … and the next pass, which changes nothing, lists it and exits 0.
    let (code, report, err) = env.run_json(&["run", "--wait", "20s"]).await;
    assert_eq!(statuses(&report)[&rej_taxid], "FAILED");
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = env.run(&["run", "--wait", "20s"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("FAILED") && out.contains("INVALID"), "{out}");
}

/// `run` from a place where the queue file does not exist (cron with another HOME, a mistyped
/// `--queue`) says which file it looked for and creates nothing, instead of starting an empty
/// queue there and reporting "0 invoices" as if all were well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_names_a_queue_that_does_not_exist_and_creates_none() {
    let env = Env::new(quick_faults(), 1000).await;
    let missing = env.path("elsewhere").join("queue.sqlite");
    std::fs::create_dir_all(missing.parent().unwrap()).unwrap();
    let (code, out, err) = env.run_q(&missing, &["run", "--wait", "5s"]).await;
    assert_eq!(
        code, 0,
        "nothing was ever queued there: nothing to do\n{out}\n{err}"
    );
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    assert!(
        !missing.exists(),
        "no queue is created by a run with nothing to take"
    );
    // A program reading `--json` still gets its one object: an empty listing.
    let (code, report, err) = env.run_json_q(&missing, &["run", "--wait", "5s"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["summary"]["total"], 0, "{report:#}");
    assert!(!missing.exists());
    // With an inbox to take files from, the first pass makes the queue as usual.
    let inbox = env.path("inbox");
    write_invoices(&inbox, 1, 1);
    let (code, _, err) = env
        .run_q(
            &missing,
            &["run", "--inbox", inbox.to_str().unwrap(), "--wait", "20s"],
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(missing.exists());
}
