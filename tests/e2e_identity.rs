//! Issue #10, the queue's identity and durability, end to end through the `moadian` binary
//! against the sandbox on 127.0.0.1, signing on SoftHSM: an edited copy under an accepted tax
//! ID is a CONFLICT (nothing sent, exit 1); the same invoice with its numbers written
//! differently is not registered twice; two queue files of one memory ID never issue the same
//! tax ID; a 0-byte queue file is refused; the main file alone is complete between runs;
//! `queue backup` / `queue check`; a queue restored from an old backup sends nothing twice and
//! shows nothing FAILED that the server accepted.

mod e2e_support;
use e2e_support::*;
use serde_json::Value;

fn row<'a>(report: &'a Value, source_part: &str) -> &'a Value {
    report["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .find(|i| {
            i["source"]
                .as_str()
                .unwrap_or_default()
                .contains(source_part)
        })
        .unwrap_or_else(|| panic!("no row for {source_part}: {report:#}"))
}

/// The invoice of `e2e_support::invoice` without its tax ID and `inno` (the queue numbers it).
fn unnumbered(serial: u64, indatim_ms: i64) -> Value {
    let (_, mut v) = invoice(serial, indatim_ms);
    let h = v["header"].as_object_mut().unwrap();
    h.remove("taxid");
    h.remove("inno");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_copy_under_an_accepted_taxid_is_a_conflict_and_nothing_is_sent() {
    let env = Env::new(quick_faults(), 1000).await;
    let t = indatim();
    let (taxid, v) = invoice(1, t);
    let a = env.path("a.json");
    std::fs::write(&a, v.to_string()).unwrap();
    let (code, first, err) = env
        .run_json(&["submit", "--wait", "30s", a.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{first:#}\n{err}");
    assert_eq!(statuses(&first)[&taxid], "SUCCESS");

    // An edited copy: other description and other line amounts (totals kept, so it is valid).
    let mut edited = v.clone();
    edited["body"][0]["sstt"] = Value::String("قطعات دیگر".into());
    edited["body"][0]["am"] = serde_json::json!(4);
    edited["body"][0]["fee"] = serde_json::json!(5000);
    let b = env.path("a-edited.json");
    std::fs::write(&b, edited.to_string()).unwrap();
    let before = env.sandbox.ledger().packets_received;
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "5s", b.to_str().unwrap()])
        .await;
    assert_ne!(code, 0, "a conflict is not success\n{report:#}\n{err}");
    let r = row(&report, "a-edited.json");
    assert_eq!(r["status"], "CONFLICT", "{report:#}");
    assert_eq!(r["taxid"], taxid.as_str());
    let e = &r["errors"][0];
    assert_eq!(e["code"], "queue.conflict");
    let msg = e["message"]["en"].as_str().unwrap();
    for needle in [
        "body[0].am",
        "body[0].fee",
        "body[0].sstt",
        "a.json",
        "moadian correct",
    ] {
        assert!(msg.contains(needle), "{needle} missing from: {msg}");
    }
    assert!(
        e["message"]["fa"]
            .as_str()
            .is_some_and(|m| m.contains("moadian correct")),
        "the same in Persian: {e}"
    );
    assert_eq!(report["summary"]["conflict"], 1);
    assert_eq!(
        env.sandbox.ledger().packets_received,
        before,
        "nothing was sent"
    );
    assert_eq!(env.sandbox.ledger().received(&taxid), 1);

    // `enqueue` says the same and exits non-zero; the stored invoice stays the one sent.
    let (code, report, _) = env.run_json(&["enqueue", b.to_str().unwrap()]).await;
    assert_ne!(code, 0);
    assert_eq!(row(&report, "a-edited.json")["status"], "CONFLICT");
    let (_, status, _) = env.run_json(&["status"]).await;
    assert_eq!(status["invoices"].as_array().unwrap().len(), 1);
    assert_eq!(row(&status, "a.json")["status"], "SUCCESS");
    // The conflict explained in the table too, and `explain` knows the code.
    let (_, table, _) = env
        .run(&["submit", "--wait", "1s", b.to_str().unwrap()])
        .await;
    assert!(table.contains("CONFLICT"), "{table}");
    let out = std::process::Command::new(binary())
        .args(["--lang", "en", "explain", "queue.conflict"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let explained = String::from_utf8_lossy(&out.stdout);
    assert!(explained.contains("moadian correct"), "{explained}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_invoice_with_numbers_written_differently_is_not_registered_twice() {
    let env = Env::new(quick_faults(), 1000).await;
    let v = unnumbered(1, indatim());
    let a = env.path("a.json");
    std::fs::write(&a, v.to_string()).unwrap();
    let (code, first, err) = env
        .run_json(&["submit", "--wait", "30s", a.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{first:#}\n{err}");
    let taxid = row(&first, "a.json")["taxid"].as_str().unwrap().to_string();

    // The same invoice exported again: 2 → 2.0, 10000 → 10000.00, keys in another order.
    let text = v
        .to_string()
        .replace("\"am\":2,", "\"am\":2.0,")
        .replace("\"fee\":10000,", "\"fee\":10000.00,")
        .replace("\"tprdis\":20000,", "\"tprdis\":20000.000,");
    assert!(text.contains("2.0") && text.contains("10000.00"), "{text}");
    let b = env.path("a-reexported.json");
    std::fs::write(&b, text).unwrap();
    let before = env.sandbox.ledger().packets_received;
    let (code, again, err) = env
        .run_json(&["submit", "--wait", "5s", b.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "already SUCCESS is success\n{again:#}\n{err}");
    let r = row(&again, "a-reexported.json");
    assert_eq!(r["status"], "SUCCESS");
    assert_eq!(
        r["taxid"],
        taxid.as_str(),
        "the same invoice, the same tax ID"
    );
    let note = r["note"]["en"].as_str().unwrap_or_default();
    assert!(note.contains("already SUCCESS, sent on"), "{again:#}");
    assert_eq!(
        env.sandbox.ledger().packets_received,
        before,
        "nothing sent"
    );
    let (_, status, _) = env.run_json(&["status"]).await;
    assert_eq!(
        status["summary"]["total"], 1,
        "not a second invoice: {status:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_queue_files_of_one_memory_id_issue_different_taxids() {
    let env = Env::new(quick_faults(), 1000).await;
    let t = indatim();
    let (qa, qb) = (env.path("a.sqlite"), env.path("b.sqlite"));
    let mut all = Vec::new();
    for (q, dir, from) in [(&qa, "in-a", 1u64), (&qb, "in-b", 100)] {
        let d = env.path(dir);
        std::fs::create_dir_all(&d).unwrap();
        for s in from..from + 5 {
            // Different invoices (other serial → other inno-free content: the buyer's ID).
            let mut v = unnumbered(s, t);
            v["header"]["indatim"] = serde_json::json!(t + s as i64);
            std::fs::write(d.join(format!("{s}.json")), v.to_string()).unwrap();
        }
        let (code, report, err) = env
            .run_json_q(q, &["submit", "--wait", "30s", d.to_str().unwrap()])
            .await;
        assert_eq!(code, 0, "{report:#}\n{err}");
        for i in report["invoices"].as_array().unwrap() {
            assert_eq!(i["status"], "SUCCESS", "{report:#}");
            all.push(i["taxid"].as_str().unwrap().to_string());
        }
    }
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        10,
        "a tax ID issued by both queue files: {all:?}"
    );
    assert_exactly_once(&env.sandbox, &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_byte_queue_file_is_refused_with_what_to_do() {
    let env = Env::new(quick_faults(), 1000).await;
    let q = env.path("empty.sqlite");
    std::fs::write(&q, b"").unwrap();
    let inbox = env.path("in");
    write_invoices(&inbox, 1, 1);
    let (code, out, err) = env
        .run_q(&q, &["submit", "--wait", "5s", inbox.to_str().unwrap()])
        .await;
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        err.contains(&q.display().to_string()),
        "names the file: {err}"
    );
    assert!(
        err.contains("empty") && err.contains("delete the file"),
        "{err}"
    );
    assert!(err.contains("خالی"), "in Persian too: {err}");
    assert_eq!(std::fs::metadata(&q).unwrap().len(), 0, "left untouched");
    assert_eq!(env.sandbox.ledger().packets_received, 0, "nothing sent");
    let (code, _, err) = env.run_q(&q, &["queue", "check"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("empty"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_runs_the_main_file_alone_is_complete_and_backup_check_work() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("in");
    let taxids = write_invoices(&inbox, 1, 4);
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "30s", inbox.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    // A backup tool that copies only the main file, between runs.
    let copy = env.path("copy.sqlite");
    std::fs::copy(&env.queue, &copy).unwrap();
    let (code, status, err) = env.run_json_q(&copy, &["status"]).await;
    assert_eq!(code, 0, "{status:#}\n{err}");
    assert_eq!(status["summary"]["success"], 4, "{status:#}");

    // queue backup: a consistent copy; queue check: integrity, version, counts.
    let backup = env.path("backup.sqlite");
    let (code, out, err) = env
        .run(&["queue", "backup", backup.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("backup.sqlite"), "{out}");
    let (code, out, _) = env
        .run(&["queue", "backup", backup.to_str().unwrap()])
        .await;
    assert_ne!(code, 0, "an existing file is not overwritten: {out}");
    let (code, check, err) = env.run_json_q(&backup, &["queue", "check"]).await;
    assert_eq!(code, 0, "{check:#}\n{err}");
    assert_eq!(check["ok"], true);
    assert_eq!(check["integrity"][0], "ok");
    assert_eq!(check["summary"]["success"], 4);
    assert!(check["schema_version"].as_i64().unwrap() >= 3);
    let (code, text, _) = env.run(&["queue", "check"]).await;
    assert_eq!(code, 0);
    assert!(
        text.contains("integrity: ok") && text.contains("4 SUCCESS"),
        "{text}"
    );
    assert_exactly_once(&env.sandbox, &taxids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_restored_from_an_old_backup_sends_nothing_twice_and_shows_no_false_failure() {
    let env = Env::new(quick_faults(), 1000).await;
    let first = env.path("first");
    let mut taxids = write_invoices(&first, 1, 2);
    let (code, _, err) = env
        .run_json(&["submit", "--wait", "30s", first.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    let old = env.path("old-backup.sqlite");
    let (code, _, err) = env.run(&["queue", "backup", old.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");

    // Later work the old backup does not know: invoices with their own tax ID, and one the
    // queue numbered.
    let second = env.path("second");
    taxids.extend(write_invoices(&second, 10, 2));
    // (Its own content: an invoice differs from inv-000010 by more than its tax ID.)
    let mut z = unnumbered(50, indatim());
    z["header"]["indatim"] = serde_json::json!(z["header"]["indatim"].as_i64().unwrap() + 7);
    std::fs::write(second.join("z-unnumbered.json"), z.to_string()).unwrap();
    let (code, later, err) = env
        .run_json(&["submit", "--wait", "30s", second.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{later:#}\n{err}");
    let numbered = row(&later, "z-unnumbered")["taxid"]
        .as_str()
        .unwrap()
        .to_string();
    taxids.push(numbered.clone());

    // The disk is restored from the old backup (no -wal, no -shm), and the work is done again.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", env.queue.display()));
    }
    std::fs::copy(&old, &env.queue).unwrap();
    let (code, again, err) = env
        .run_json(&["submit", "--wait", "30s", second.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "settled by inquiry, not FAILED\n{again:#}\n{err}");
    for i in again["invoices"].as_array().unwrap() {
        assert_eq!(i["status"], "SUCCESS", "{again:#}");
        // Settled by the duplicate inquiry, and it says so.
        assert!(
            i["warnings"]
                .as_array()
                .is_some_and(|w| w.iter().any(|c| c["code"] == "0300101")),
            "{again:#}"
        );
    }
    assert_eq!(
        row(&again, "z-unnumbered")["taxid"],
        numbered.as_str(),
        "numbered again the same way from the restored counter"
    );
    let ledger = env.sandbox.ledger();
    for t in &taxids {
        assert_eq!(ledger.succeeded(t), 1, "{t} registered exactly once");
    }
    // The restored queue did not know the later work, so it was sent again and refused as a
    // duplicate: the path above really ran.
    assert!(ledger.received(&numbered) >= 2);
}

// A duplicate refusal (0300101) the server will not explain (its tax-ID inquiry answers
// ACCESS_DENIED) is not recorded FAILED: that would have the user issue the invoice again. It
// stays unsettled, the pass says so and exits 1, and once the server answers it is SUCCESS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_refusal_the_server_will_not_explain_is_never_failed() {
    let env = Env::new(quick_faults(), 1000).await;
    let old = env.path("empty-backup.sqlite");
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, 2);
    // A backup taken before the invoices were sent.
    let (code, _, err) = env.run_json(&["enqueue", dir.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&["queue", "backup", old.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run_json(&["run", "--wait", "30s"]).await;
    assert_eq!(code, 0, "{err}");
    // Restored: the queue sends them again, the server refuses each as taken, and will not say.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", env.queue.display()));
    }
    std::fs::copy(&old, &env.queue).unwrap();
    env.sandbox
        .update_faults(|f| f.taxid_inquiry_denied = true)
        .unwrap();
    let (code, report, err) = env.run_json(&["run", "--wait", "5s"]).await;
    assert_eq!(code, 1, "not final: {report:#}\n{err}");
    for t in &taxids {
        assert!(env.sandbox.ledger().received(t) >= 2, "sent again: {t}");
        assert_ne!(statuses(&report)[t], "FAILED", "{report:#}");
    }
    assert!(
        err.contains("0300101") && err.contains("ACCESS_DENIED"),
        "{err}"
    );
    // The server answers again: settled SUCCESS, registered once.
    env.sandbox
        .update_faults(|f| f.taxid_inquiry_denied = false)
        .unwrap();
    let (code, report, err) = env.run_json(&["run", "--wait", "30s"]).await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "SUCCESS", "{report:#}");
        assert_eq!(env.sandbox.ledger().succeeded(t), 1, "{t} registered once");
    }
}
