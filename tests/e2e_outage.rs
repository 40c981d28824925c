//! Outages are visible and bounded (issue #10): against a server that refuses connections or
//! answers 5xx to everything, `submit` and `run` print one line per retry on standard error
//! (what failed, attempt n of m, when the next try is), stop by themselves at `--deadline`
//! with exit code 3 and a message that blames the network or the server, release the queue
//! lock and leave the queue intact.

mod e2e_support;
use e2e_support::*;
use moadian::sandbox::Faults;

/// A loopback port nobody listens on (bound, then released).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

fn assert_outage_stderr(err: &str, what: &str) {
    let retry_lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("attempt ") && l.contains(" of ") && l.contains("next try in"))
        .collect();
    assert!(
        !retry_lines.is_empty(),
        "one line per retry at the default log level:\n{err}"
    );
    assert!(
        retry_lines.iter().all(|l| l.contains(what)),
        "each retry line says what failed ({what}):\n{err}"
    );
    assert!(
        err.contains("network or server problem"),
        "the message blames the network or the server:\n{err}"
    );
    assert!(
        !err.contains("check the memory ID and the certificate"),
        "not the memory ID or the certificate:\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_stops_at_the_deadline_with_exit_3() {
    let env = Env::new(quick_faults(), 1000).await;
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        &env.sandbox.base_url(),
        &format!("http://127.0.0.1:{}/requestsmanager/api/v2/", dead_port()),
    );
    std::fs::write(&env.config, text).unwrap();
    let dir = env.path("invoices");
    write_invoices(&dir, 1, 2);
    let (code, out, err) = env
        .run(&[
            "submit",
            "--deadline",
            "1s",
            "--wait",
            "5s",
            dir.to_str().unwrap(),
        ])
        .await;
    assert_eq!(code, 3, "exit 3: server unreachable\n{out}\n{err}");
    assert_outage_stderr(&err, "connection refused");

    // The lock was released and the queue is intact: the invoices wait, QUEUED.
    let (code, status, _) = env.run_json(&["status"]).await;
    assert_eq!(code, 1);
    assert_eq!(status["summary"]["queued"], 2, "{status:#}");
    let (code, _, err) = env.run(&["run", "--deadline", "1s"]).await;
    assert_eq!(code, 3, "run: not busy, unreachable\n{err}");
    assert!(!err.to_lowercase().contains("busy"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_of_5xx_stops_at_the_deadline_with_exit_3() {
    let env = Env::new(
        Faults {
            error_rate: 1.0,
            error_code: "5199".into(),
            ..quick_faults()
        },
        1000,
    )
    .await;
    let dir = env.path("invoices");
    write_invoices(&dir, 1, 2);
    let (code, out, err) = env
        .run(&[
            "submit",
            "--deadline",
            "1s",
            "--wait",
            "5s",
            dir.to_str().unwrap(),
        ])
        .await;
    assert!(
        env.sandbox.ledger().faults.server_errors > 1,
        "the 5xx fault fired"
    );
    assert_eq!(code, 3, "exit 3: server failing\n{out}\n{err}");
    assert_outage_stderr(&err, "HTTP 500 (5199)");
    assert_eq!(env.sandbox.ledger().packets_received, 0);

    // The storm ends: the next run sends everything.
    env.sandbox.update_faults(|f| f.error_rate = 0.0).unwrap();
    let (code, report, err) = env.run_json(&["run", "--wait", "20s"]).await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    assert_eq!(report["summary"]["success"], 2);
}
