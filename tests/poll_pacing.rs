//! Polling paces itself on the server: the first inquiry comes soon after acceptance, the
//! waits back off while the server is still processing, and the run learns (and reports) how
//! long the server took from acceptance to a final answer; the answers of a sweep are kept
//! when the server fails before the sweep ends. Against the sandbox with a processing delay;
//! assertions on counts and order of events, never on durations measured.

mod send_support;

use moadian::pipeline::{self, Event, PassOptions, PollOptions};
use moadian::sandbox::{Faults, SandboxConfig};
use moadian_queue::Store;
use send_support::{Recorder, World};
use std::time::Duration;

/// A sandbox answering after `delay_ms`, a queue file with `n` valid invoices of A11216, its
/// runner, and a key-file client.
async fn world(n: u64, delay_ms: u64) -> World {
    let config = SandboxConfig {
        faults: Faults {
            processing_delay_ms: delay_ms,
            ..Faults::default()
        },
        server_key_bits: 2048,
        ..SandboxConfig::default()
    };
    send_support::world(config, n, |s| s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_inquiry_soon_then_back_off_and_the_time_to_final_is_learned() {
    const N: u64 = 12;
    const DELAY_MS: u64 = 1500;
    let w = world(N, DELAY_MS).await;
    let first = Duration::from_millis(100);
    let opts = PassOptions {
        batch_size: 4,
        wait: Duration::from_secs(60),
        poll: PollOptions {
            first_delay: first,
            max_delay: Duration::from_secs(5),
        },
        ..PassOptions::default()
    };
    let rec = Recorder::new();
    let stats = pipeline::run_pass(w.runner.clone(), w.client, &opts, &rec)
        .await
        .unwrap();
    assert!(stats.stopped.is_none(), "{:?}", stats.stopped);
    assert_eq!(w.queue.summary().unwrap().success, N, "all final");

    let events = rec.0.lock().unwrap().clone();
    let waits: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Waiting { seconds, .. } => Some(*seconds),
            _ => None,
        })
        .collect();
    // The first inquiry is asked `first_delay` after the last batch was accepted...
    assert_eq!(
        waits.first().copied(),
        Some(first.as_secs_f64()),
        "{waits:?}"
    );
    let last_accept = events
        .iter()
        .rposition(|e| matches!(e, Event::Accepted { .. }))
        .unwrap();
    let first_wait = events
        .iter()
        .position(|e| matches!(e, Event::Waiting { .. }))
        .unwrap();
    assert!(
        last_accept < first_wait,
        "sending ends before polling starts"
    );
    // ...which is before the server is done: more than one round.
    assert!(stats.poll.rounds >= 2, "{:?}", stats.poll);
    // While nothing is final yet, each wait is longer than the one before (back-off).
    let polled_final: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Polled { finalized } => Some(*finalized),
            _ => None,
        })
        .collect();
    let unlearned = polled_final.iter().take_while(|f| **f == 0).count();
    for w in waits[..unlearned.min(waits.len())].windows(2) {
        assert!(w[1] > w[0], "back-off: {waits:?}");
    }
    // Bounded: a back-off from 100 ms ×1.5 reaches a minute in about 16 rounds.
    assert!(stats.poll.rounds <= 20, "{:?}", stats.poll);
    // What was learned: every invoice's time from acceptance to final, never less than the
    // server's own delay (less what the acceptance answer took to arrive).
    let t = stats.poll.learned.timing().expect("timing");
    assert_eq!(t.finalized as u64, N);
    assert!(t.median_ms >= DELAY_MS - 500, "{t:?}");
    assert!(t.max_ms >= t.median_ms);
    w.sandbox.shutdown().await;
}

/// Every batch's acceptances are in the queue when the send round ends, though each is written
/// while the next batch is begun and POSTed: several batches, no waiting for final answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_acceptances_are_recorded_before_the_round_ends() {
    const N: u64 = 9;
    let w = world(N, 60_000).await;
    let opts = PassOptions {
        batch_size: 2,
        wait: Duration::ZERO,
        ..PassOptions::default()
    };
    let rec = Recorder::new();
    let stats = pipeline::run_pass(w.runner, w.client, &opts, &rec)
        .await
        .unwrap();
    assert!(stats.stopped.is_none(), "{:?}", stats.stopped);
    assert_eq!(stats.send.posted, N as usize);
    assert_eq!(stats.send.accepted, N as usize);
    let events = rec.0.lock().unwrap().clone();
    let accepted: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Accepted { count } => Some(*count),
            _ => None,
        })
        .collect();
    assert_eq!(accepted, [2, 2, 2, 2, 1], "one per POST, in order");
    assert_eq!(
        w.queue.summary().unwrap().in_progress,
        N,
        "all accepted, none final yet"
    );
    for id in 1..=N as i64 {
        let id = moadian_queue::InvoiceId(id);
        let attempts = w.queue.attempts(id).unwrap();
        assert_eq!(attempts.len(), 1, "invoice {id}");
        assert!(
            attempts[0].reference.is_some(),
            "invoice {id}: reference recorded"
        );
        let kinds: Vec<String> = w
            .queue
            .events(id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        let started = kinds.iter().position(|k| k == "attempt_started").unwrap();
        let taken = kinds.iter().position(|k| k == "accepted").unwrap();
        assert!(started < taken, "invoice {id}: {kinds:?}");
    }
    w.sandbox.shutdown().await;
}

/// A sweep's answers are written to the queue together, after its last inquiry; when an
/// inquiry fails part-way, the answers already had are written before the pass stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_had_before_an_inquiry_fails_are_kept() {
    // 250 open: the probe asks for the newest 100 (inquiry 1), the sweep for the other 150
    // (inquiries 2 and 3); the server fails from inquiry 3 on.
    const N: u64 = 250;
    let w = world(N, 0).await;
    let quick = moadian::api::ClientOptions {
        retry: moadian::api::RetryPolicy {
            max_retries: 0,
            ..moadian::api::RetryPolicy::default()
        },
        ..moadian::api::ClientOptions::default()
    };
    let client = std::sync::Arc::new(
        moadian::api::Client::new(
            &w.sandbox.base_url(),
            "A11216",
            w.client.signer().clone(),
            quick,
        )
        .unwrap(),
    );
    let send = PassOptions {
        batch_size: N as usize,
        wait: Duration::ZERO,
        poll: PollOptions {
            first_delay: Duration::from_secs(3600),
            max_delay: Duration::from_secs(3600),
        },
        ..PassOptions::default()
    };
    // Sent, and nothing answered yet: every inquiry fails.
    w.sandbox
        .update_faults(|f| f.inquiry_errors_after = Some(0))
        .unwrap();
    let sent = pipeline::run_pass(w.runner.clone(), client.clone(), &send, &Recorder::new())
        .await
        .unwrap();
    assert_eq!(sent.send.accepted, N as usize);
    assert_eq!(w.queue.summary().unwrap().in_progress, N);
    // Until the server has decided every invoice (it works in the background).
    let decided = || {
        let l = w.sandbox.ledger();
        l.taxids
            .values()
            .map(|e| u64::from(e.succeeded))
            .sum::<u64>()
    };
    for _ in 0..600 {
        if decided() == N {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(decided(), N, "the w.sandbox decided every invoice");

    w.sandbox
        .update_faults(|f| f.inquiry_errors_after = Some(2))
        .unwrap();
    let stats = pipeline::run_pass(w.runner.clone(), client, &send, &Recorder::new())
        .await
        .unwrap();
    assert!(stats.stopped.is_some(), "the third inquiry failed");
    let s = w.queue.summary().unwrap();
    assert_eq!(
        (s.success, s.in_progress),
        (200, 50),
        "the answers of inquiries 1 and 2 are in the queue"
    );
    w.sandbox.shutdown().await;
}
