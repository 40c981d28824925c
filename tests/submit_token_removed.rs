//! The token is pulled out in the middle of a submission: `moadian submit` stops cleanly
//! (exit 1, the token message, no panic), the queue keeps every invoice, and once the token is
//! back the next `moadian run` completes — each invoice SUCCESS exactly once.

mod e2e_support;
use e2e_support::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_removed_mid_batch_clean_stop_queue_intact_next_run_completes() {
    let faults = moadian::sandbox::Faults {
        latency_ms: 150,
        processing_delay_ms: 50,
        ..moadian::sandbox::Faults::default()
    };
    let env = Env::new(faults, 5).await;
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, 60);
    let child = env
        .command(&["submit", "--wait", "10s", dir.to_str().unwrap()])
        .spawn()
        .expect("moadian starts");
    // Pull the token once the first batches are on the wire: however long the start takes on a
    // loaded machine (only a hang — 3 minutes — fails here).
    let start = std::time::Instant::now();
    while env.sandbox.ledger().packets_received < 5 {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "sending never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = std::process::Command::new("softhsm2-util")
        .args(["--delete-token", "--token", &env.label])
        .env("SOFTHSM2_CONF", &hsm().conf)
        .output()
        .expect("softhsm2-util runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("submit stops")
        .expect("submit ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("token"),
        "the stop names the token: {stderr}"
    );
    assert!(
        env.sandbox.ledger().packets_received < 60,
        "it stopped before sending everything"
    );

    // The queue holds every invoice; none is lost, none INVALID.
    let (_, status, _) = env.run_json(&["status"]).await;
    let st = statuses(&status);
    for t in &taxids {
        let s = st.get(t).map(String::as_str).unwrap_or("MISSING");
        assert!(
            ["SUCCESS", "IN_PROGRESS", "QUEUED", "UNKNOWN"].contains(&s),
            "{t}: {s}"
        );
    }
    assert!(
        st.values().any(|s| s == "QUEUED"),
        "unsent invoices stay queued"
    );

    // The token comes back (same key and certificate).
    hsm()
        .init_token(&env.label, SO_PIN, USER_PIN)
        .expect("token back");
    hsm()
        .import(
            &env.label,
            USER_PIN,
            &[1],
            &env.identity.key,
            &env.identity.cert,
            None,
        )
        .expect("identity back");
    let mut last = serde_json::Value::Null;
    for _ in 0..5 {
        let (code, report, _) = env.run_json(&["run", "--wait", "10s"]).await;
        last = report;
        if code == 0 {
            break;
        }
    }
    let st = statuses(&last);
    for t in &taxids {
        assert_eq!(st.get(t).map(String::as_str), Some("SUCCESS"), "{last:#}");
    }
    assert_exactly_once(&env.sandbox, &taxids);
}
