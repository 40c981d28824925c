//! A runner of a PostgreSQL queue that pauses past its lease (SIGSTOP: a laptop lid, a VM
//! frozen, a debugger) while another runner takes its memory ID over. When it wakes up it stops
//! its pass with a message in both languages and sends nothing more; the new holder finishes;
//! and neither dies on the other's answers (an attempt settled by one is a stale answer to the
//! other, kept as an event). Every invoice is registered by the tax system exactly once.
//!
//! Needs SoftHSM2 and the PostgreSQL server `scripts/test.sh` starts; fails without them.

mod e2e_support;
mod pg_support;
use e2e_support::*;
use std::path::PathBuf;
use std::time::Duration;

const LEASE_TTL_MS: &str = "600";

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// A sandbox that answers slowly (so a pass is still sending when it is interrupted), with
/// `faults` besides; batches of 3; `n` invoices enqueued on a fresh PostgreSQL schema.
async fn slow_env(
    faults: moadian::sandbox::Faults,
    schema: &str,
    n: u64,
) -> (Env, PathBuf, Vec<String>) {
    let sandbox = moadian::sandbox::SandboxConfig {
        faults: moadian::sandbox::Faults {
            latency_ms: 40,
            processing_delay_ms: 300,
            ..faults
        },
        ..moadian::sandbox::SandboxConfig::default()
    };
    let env = Env::with_sandbox(sandbox, 3).await;
    let queue = PathBuf::from(pg_support::schema_url(schema, None));
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, n);
    let (code, _, err) = env.run_q(&queue, &["enqueue", dir.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    (env, queue, taxids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_paused_past_its_lease_stops_and_the_new_holder_finishes() {
    // Answers lost on the way, TIMEOUTs and a key change: attempts that end UNKNOWN, LOST or
    // REJECTED, whose settling one runner may do while the other asks.
    let faults = moadian::sandbox::Faults {
        drop_before_accept_rate: 0.05,
        drop_after_accept_rate: 0.05,
        timeout_rate: 0.05,
        rotate_key_rate: 0.02,
        ..moadian::sandbox::Faults::default()
    };
    let (env, queue, taxids) = slow_env(faults, "paused", 150).await;

    let start = |name: &str| {
        let mut c = env.command_q(&queue, &["run", "--wait", "30s", "--json"]);
        c.env("MOADIAN_LEASE_TTL_MS", LEASE_TTL_MS);
        let child = c.spawn().expect("runs");
        eprintln!("runner {name}: pid {:?}", child.id());
        child
    };
    let a = start("A");
    let a_pid = a.id().unwrap();
    // A is sending: pause it there, past its lease.
    while env.sandbox.ledger().packets_received == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(a_pid, libc::SIGSTOP);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b = start("B");
    // B has taken over and is sending and following; A wakes up in the middle of it.
    let received = env.sandbox.ledger().packets_received;
    for _ in 0..400 {
        if env.sandbox.ledger().packets_received > received {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(a_pid, libc::SIGCONT);
    let wait = |c: tokio::process::Child| async move {
        tokio::time::timeout(Duration::from_secs(120), c.wait_with_output())
            .await
            .expect("ends within 2 minutes")
            .expect("runs")
    };
    let (a, b) = tokio::join!(wait(a), wait(b));
    for (name, out) in [("A", &a), ("B", &b)] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("cannot record"), "runner {name}: {err}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            serde_json::from_str::<serde_json::Value>(&stdout).is_ok(),
            "runner {name} ends with its summary ({:?}): {stdout}\n{err}",
            out.status
        );
    }
    let a_err = String::from_utf8_lossy(&a.stderr);
    eprintln!("runner A ended {:?}; runner B {:?}", a.status, b.status);
    let a_out = String::from_utf8_lossy(&a.stdout);
    if a.status.code() != Some(0) {
        assert!(
            a_out.contains("taken over") && a_out.contains("جای آن گرفته شد"),
            "A says why it stopped, in both languages: {a_out}\n{a_err}"
        );
    }
    // Whatever either left open, one more pass finishes; the tax system registered each
    // invoice once. (A packet may reach it twice where the design sends again: after a
    // TIMEOUT answer, a rejection for the old key, or a POST it never received.)
    let (code, report, err) = env.run_json_q(&queue, &["run", "--wait", "30s"]).await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "SUCCESS", "{t}: {report:#}");
    }
    let ledger = env.sandbox.ledger();
    for t in &taxids {
        assert_eq!(ledger.succeeded(t), 1, "{t} registered once");
    }
}

/// `systemctl stop` (SIGTERM) in the middle of a pass on a PostgreSQL queue: the runner says
/// so, releases its lease and ends by the signal; the next runner starts at once (it does not
/// wait for the lease to expire) and finishes every invoice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_pass_releases_the_lease_at_once() {
    let (env, queue, taxids) = slow_env(Default::default(), "sigterm", 60).await;
    // The default lease lifetime (30 s): a lease left behind would make the next run busy.
    let child = env
        .command_q(&queue, &["run", "--wait", "30s", "--json"])
        .spawn()
        .expect("runs");
    while env.sandbox.ledger().packets_received == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(child.id().unwrap(), libc::SIGTERM);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("ends soon after SIGTERM")
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGTERM),
        "{err}"
    );
    assert!(
        err.contains("SIGTERM") && err.contains("صف دست‌نخورده"),
        "{err}"
    );
    let (code, report, err) = env.run_json_q(&queue, &["run", "--wait", "30s"]).await;
    assert!(!err.contains("busy"), "the lease was released: {err}");
    assert_eq!(code, 0, "{report:#}\n{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "SUCCESS", "{t}: {report:#}");
    }
    assert_exactly_once(&env.sandbox, &taxids);
}

/// A TCP relay to the test PostgreSQL server that can be cut: every connection through it
/// closed and no new one accepted (the database machine gone, a network partition).
struct Relay {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(to: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut inside, _)) = listener.accept().await {
                let to = to.clone();
                links.spawn(async move {
                    if let Ok(mut outside) = tokio::net::TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inside, &mut outside).await;
                    }
                });
            }
        });
        Relay { port, task }
    }

    /// Closes every connection and the listener (the JoinSet of links is dropped with it).
    fn cut(self) {
        self.task.abort();
    }
}

/// The PostgreSQL server goes away in the middle of a pass: the command says, in both
/// languages, that the queue's database cannot be reached and that nothing is lost, and exits 3
/// as for any outage; once the database is back, the next run finishes every invoice, each
/// registered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_database_gone_mid_pass_is_an_outage_not_a_crash() {
    let (env, direct, taxids) = slow_env(Default::default(), "gone", 60).await;
    // postgres://user@HOST:PORT/db?options=… → the same through the relay.
    let url = direct.to_str().unwrap();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, rest) = rest.split_once('@').unwrap();
    let (hostport, tail) = rest.split_at(rest.find('/').unwrap());
    let relay = Relay::start(hostport.to_string()).await;
    let relayed = PathBuf::from(format!("{scheme}://{user}@127.0.0.1:{}{tail}", relay.port));
    // A runner cut off from the database cannot release its lease: it expires (short here).
    let child = env
        .command_q(&relayed, &["run", "--wait", "30s", "--json"])
        .env("MOADIAN_LEASE_TTL_MS", LEASE_TTL_MS)
        .spawn()
        .expect("runs");
    while env.sandbox.ledger().packets_received == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    relay.cut();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("ends, does not hang")
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot be reached") && err.contains("دسترس"),
        "named as an outage of the queue's database, in both languages: {err}"
    );
    // The database is back; the cut-off runner's lease expires.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (code, report, err) = env.run_json_q(&direct, &["run", "--wait", "30s"]).await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "SUCCESS", "{t}: {report:#}");
    }
    assert_exactly_once(&env.sandbox, &taxids);
}
