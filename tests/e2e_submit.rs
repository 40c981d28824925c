//! End to end against the sandbox on 127.0.0.1, signing on a SoftHSM token, through the real
//! `moadian` binary and a real SQLite queue file: valid invoices reach SUCCESS, invalid ones
//! are INVALID and never sent, a server-side rejection is FAILED with its explanation, and a
//! second submit of the same files sends nothing.

mod e2e_support;
use e2e_support::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_success_invalid_never_sent_rejection_failed_explained() {
    let env = Env::new(quick_faults(), 1000).await;
    let inbox = env.path("invoices");
    let valid = write_invoices(&inbox, 1, 3);
    // Invalid locally: the total does not add up.
    let spare = good_serials(100, 2, indatim());
    let (bad_taxid, mut bad) = invoice(spare[0], indatim());
    bad["header"]["tbill"] = serde_json::json!(99999);
    std::fs::write(inbox.join("bad.json"), bad.to_string()).unwrap();
    // Valid locally, refused by the server: the seller is not the memory ID's taxpayer.
    let (rej_taxid, mut rej) = invoice(spare[1], indatim());
    rej["header"]["tins"] = Value::String("10100302746".into());
    std::fs::write(inbox.join("rejected.json"), rej.to_string()).unwrap();

    let (code, report, err) = env
        .run_json(&["submit", "--wait", "30s", inbox.to_str().unwrap()])
        .await;
    assert_eq!(code, 1, "not every invoice is SUCCESS: exit 1\n{err}");
    let st = statuses(&report);
    for t in &valid {
        assert_eq!(st[t], "SUCCESS", "{report:#}");
    }
    assert_eq!(st[&bad_taxid], "INVALID");
    assert_eq!(st[&rej_taxid], "FAILED", "{report:#}\n{err}");
    let rejected = report["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["taxid"] == rej_taxid.as_str())
        .unwrap();
    let errors = rejected["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "a FAILED invoice carries its errors");
    assert!(
        errors.iter().all(|e| e["code"].is_string()
            && e["message"]["fa"].is_string()
            && e["message"]["en"].is_string()),
        "every message is {{\"fa\", \"en\"}}, as in validate --json: {errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["server_message"].is_string() && e["message"]["en"] != e["server_message"]),
        "the server's code is explained from the catalogue, its own words kept: {errors:?}"
    );
    assert_eq!(report["summary"]["success"], 3);
    assert_eq!(report["summary"]["invalid"], 1);
    assert_eq!(report["summary"]["failed"], 1);

    let ledger = env.sandbox.ledger();
    assert_eq!(
        ledger.received(&bad_taxid),
        0,
        "an INVALID invoice is never sent"
    );
    assert_exactly_once(&env.sandbox, &valid);

    // Again: nothing is sent twice.
    let before = env.sandbox.ledger().packets_received;
    let (_, again, _) = env
        .run_json(&["submit", "--wait", "5s", inbox.to_str().unwrap()])
        .await;
    assert_eq!(env.sandbox.ledger().packets_received, before);
    assert_eq!(statuses(&again), st);

    // The table names the explained code and points to `moadian explain`.
    let (_, table, _) = env.run(&["status"]).await;
    assert!(table.contains("SUCCESS") && table.contains("FAILED") && table.contains("INVALID"));
    assert!(table.contains("moadian explain"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_3_lost_response_reconciled_by_inquiry_not_resent() {
    let faults = moadian::sandbox::Faults {
        drop_after_accept_next: 1,
        ..quick_faults()
    };
    let env = Env::new(faults, 1000).await;
    let inbox = env.path("invoices");
    let valid = write_invoices(&inbox, 1, 5);
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "30s", inbox.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    for s in statuses(&report).values() {
        assert_eq!(s, "SUCCESS");
    }
    let ledger = env.sandbox.ledger();
    assert_eq!(
        ledger.faults.dropped_after_accept, 1,
        "the answer of one POST was really dropped"
    );
    for t in &valid {
        assert_eq!(
            ledger.received(t),
            1,
            "{t} was sent once, its lost answer reconciled"
        );
    }
    assert_exactly_once(&env.sandbox, &valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_of_5xx_ends_in_success_after_backoff() {
    let env = Env::new(quick_faults(), 4).await;
    let inbox = env.path("invoices");
    let valid = write_invoices(&inbox, 1, 12);
    for code in ["5051", "5199"] {
        env.sandbox
            .update_faults(|f| {
                f.error_rate = 0.4;
                f.error_code = code.into();
            })
            .unwrap();
        let _ = env
            .run_json(&["submit", "--wait", "20s", inbox.to_str().unwrap()])
            .await;
    }
    assert!(
        env.sandbox.ledger().faults.server_errors > 0,
        "the storm really answered 5xx"
    );
    // The storm passes; whatever is still open is finished by the next scheduled run.
    env.sandbox.update_faults(|f| f.error_rate = 0.0).unwrap();
    let mut last = Value::Null;
    for _ in 0..5 {
        let (code, report, _) = env.run_json(&["run", "--wait", "10s"]).await;
        last = report;
        if code == 0 {
            break;
        }
    }
    for t in &valid {
        assert_eq!(statuses(&last)[t], "SUCCESS", "{last:#}");
    }
    assert_exactly_once(&env.sandbox, &valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_8_second_runner_gets_queue_busy() {
    let env = Env::new(
        moadian::sandbox::Faults {
            latency_ms: 300,
            ..quick_faults()
        },
        2,
    )
    .await;
    let inbox = env.path("invoices");
    write_invoices(&inbox, 1, 6);
    let first = env
        .command(&["submit", "--wait", "30s", inbox.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Wait for the event that proves the first holds the queue: its first packets reached the
    // server (it sends only as the runner, and keeps the queue until its invoices are final).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while env.sandbox.ledger().packets_received == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first submit sent nothing within a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (code, _out, err) = env.run(&["run"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("busy"), "{err}");
    // A second `submit` stops with the same error, in Persian first under --lang fa (an
    // error that stops a command is written in both languages).
    let (code, _out, err) = env
        .run(&["submit", "--lang", "fa", inbox.to_str().unwrap()])
        .await;
    assert_eq!(code, 1, "{err}");
    let (fa, en) = (err.find("مشغول است"), err.find("busy"));
    assert!(
        matches!((fa, en), (Some(f), Some(e)) if f < e),
        "Persian, then English: {err}"
    );
    let out = first.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_failure_sends_nothing_and_keeps_the_queue() {
    let env = Env::new(quick_faults(), 1000).await;
    // The profile names another taxpayer than the one on the token's certificate (4103).
    let text = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        text.replace(
            &format!("national_id = \"{NATIONAL_ID}\""),
            "national_id = \"10101234567\"",
        ),
    )
    .unwrap();
    let inbox = env.path("invoices");
    let taxids = write_invoices(&inbox, 1, 2);
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "5s", inbox.to_str().unwrap()])
        .await;
    assert_eq!(code, 1);
    assert_eq!(env.sandbox.ledger().packets_received, 0, "nothing sent");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "QUEUED", "{report:#}");
    }
    let stopped = report["stopped"]["en"].as_str().unwrap_or_default();
    assert!(stopped.contains("preflight"), "{report:#}\n{err}");
    assert!(
        stopped.contains("10101234567"),
        "names the expected ID: {stopped}"
    );
}
