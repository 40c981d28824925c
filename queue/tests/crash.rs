//! Crash safety of the queue file: a process cycling enqueue → attempt → acceptance → outcome
//! is killed with SIGKILL at varied moments (often inside a write transaction), several times
//! on the same file. After each kill the file must be consistent — every invoice in exactly one
//! state that agrees with its attempts — and everything the process reported as committed must
//! be there: no invoice, attempt, reference or outcome lost after its commit.

mod common;

use common::assert_consistent;
use moadian_queue::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Start the churning child, kill it `delay` after it is ready, return what it reported.
fn run_and_kill(db: &std::path::Path, seed: u64, delay: Duration) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_moadian-queue-stress"))
        .arg("churn")
        .arg(db)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the churning child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("READY") {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        panic!(
            "child never became ready: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the child"); // std's kill() is SIGKILL on unix
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "the child must have been killed, not exited: {status:?}"
    );
    reader.join().expect("reader")
}

fn check_reported(q: &Queue, lines: &[String]) -> (usize, usize) {
    let mut attempts = 0;
    let mut expected: HashMap<String, AttemptStatus> = HashMap::new();
    for line in lines {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["E", id] => {
                let id = InvoiceId(id.parse().expect("id"));
                assert!(
                    q.get(id).unwrap().is_some(),
                    "invoice {id} committed then lost"
                );
            }
            ["B", uid] => {
                attempts += 1;
                let a = q.attempt(uid.parse().expect("uid")).unwrap();
                assert!(a.is_some(), "attempt {uid} committed then lost");
            }
            ["A", uid, reference] => {
                let a = q
                    .attempt(uid.parse().expect("uid"))
                    .unwrap()
                    .expect("attempt");
                assert_eq!(
                    a.reference.as_deref(),
                    Some(*reference),
                    "reference of {uid} lost"
                );
            }
            ["O", uid, status] => {
                let s: AttemptStatus = status.parse().expect("status");
                expected.insert(uid.to_string(), s);
            }
            _ => {}
        }
    }
    for (uid, s) in &expected {
        let a = q
            .attempt(uid.parse().expect("uid"))
            .unwrap()
            .expect("attempt");
        assert_eq!(a.status, *s, "outcome of {uid} lost");
    }
    (attempts, expected.len())
}

fn one_state_each(q: &Queue) {
    let s = q.summary().unwrap();
    let rows = q.list(&ListFilter::default()).unwrap();
    assert_eq!(
        s.total as usize,
        rows.len(),
        "every invoice counted in exactly one status"
    );
    let per_status: u64 = InvoiceStatus::ALL.iter().map(|st| s.get(*st)).sum();
    assert_eq!(per_status, s.total);
}

#[test]
fn invariant_2_3_sigkill_mid_transaction_leaves_a_consistent_queue() {
    let mut trials = 0;
    let mut total_attempts = 0;
    for file in 0..7u64 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("queue.db");
        for kill in 0..3u64 {
            let seed = file * 10 + kill + 1;
            // Varied moments: right after start, mid-run, later.
            let delay = Duration::from_millis(5 + (seed * 7919) % 400);
            let lines = run_and_kill(&db, seed, delay);
            trials += 1;
            let q = Queue::open(&db).unwrap();
            assert_consistent(&q);
            let (attempts, outcomes) = check_reported(&q, &lines);
            eprintln!(
                "file {file} kill {kill} after {delay:?}: {} lines reported, {attempts} attempts, {outcomes} outcomes, {:?}",
                lines.len(),
                q.summary().unwrap()
            );
            total_attempts += attempts;
            one_state_each(&q);
            // The next runner turns what was in the air into UNKNOWN; none of it is sendable.
            let runner = q.acquire_runner().unwrap();
            let in_air = q
                .list(&ListFilter {
                    status: Some(InvoiceStatus::Sending),
                    ..Default::default()
                })
                .unwrap();
            assert!(in_air.is_empty(), "SENDING left behind after recovery");
            let unknown: Vec<InvoiceId> = q
                .to_reconcile()
                .unwrap()
                .iter()
                .map(|a| a.invoice_id)
                .collect();
            let sendable = runner.next_sendable("A22222", 100_000, None).unwrap();
            assert!(
                sendable.iter().all(|i| !unknown.contains(&i.id)),
                "unknown outcome handed out for sending"
            );
            assert_consistent(&q);
        }
        let q = Queue::open(&db).unwrap();
        assert!(
            q.summary().unwrap().total > 0,
            "the child made progress on file {file}"
        );
    }
    assert!(trials >= 20);
    assert!(
        total_attempts > 0,
        "the children recorded attempts before being killed"
    );
}
