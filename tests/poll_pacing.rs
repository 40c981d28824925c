//! Polling paces itself on the server: the first inquiry comes soon after acceptance, the
//! waits back off while the server is still processing, and the run learns (and reports) how
//! long the server took from acceptance to a final answer. Against the sandbox with a
//! processing delay; assertions on counts and order of events, never on durations measured.

use moadian::api::{Client, ClientOptions};
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::crypto::{open_signer, PinSource, Signer, SignerConfig};
use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use moadian::pipeline::{self, Event, Observer, PassOptions, PollOptions};
use moadian::sandbox::{Faults, Sandbox, SandboxConfig};
use moadian_queue::{AnyQueue, QueueOptions, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NATIONAL_ID: &str = "14003778990";

struct Recorder(Mutex<Vec<Event>>);

impl Observer for Recorder {
    fn event(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }
}

fn invoice(serial: u64, indatim: i64) -> serde_json::Value {
    let mem = MemoryId::parse("A11216").unwrap();
    let taxid = TaxId::generate(&mem, indatim, serial).unwrap();
    serde_json::json!({
        "header": {"taxid": taxid.as_str(), "inno": inno_for_serial(serial), "indatim": indatim,
            "inty": 1, "inp": 1, "ins": 1, "tins": NATIONAL_ID, "tob": 2, "bid": "10100302746",
            "tinb": "10100302746", "tprdis": 20000, "tdis": 500, "tadis": 19500, "tvam": 1755,
            "todam": 0, "tbill": 21255, "setm": 2},
        "body": [{"sstid": "2710000138624", "sstt": "قطعات", "mu": "164", "am": 2,
            "fee": 10000, "prdis": 20000, "dis": 500, "adis": 19500, "vra": 9, "vam": 1755,
            "tsstam": 21255}],
        "payments": []
    })
}

/// A sandbox answering after `delay_ms`, a queue file with `n` valid invoices of A11216, its
/// runner, and a key-file client.
struct World {
    sandbox: moadian::sandbox::RunningSandbox,
    queue: AnyQueue,
    runner: Arc<moadian_queue::AnyRunner>,
    client: Arc<Client>,
    _dir: tempfile::TempDir,
}

async fn world(n: u64, delay_ms: u64) -> World {
    let sandbox = Sandbox::start(SandboxConfig {
        faults: Faults {
            processing_delay_ms: delay_ms,
            ..Faults::default()
        },
        server_key_bits: 2048,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id = make_identity(&IdentityOptions::new(NATIONAL_ID)).unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    std::fs::write(&key, id.key_pem()).unwrap();
    std::fs::write(&cert, id.cert_pem()).unwrap();
    let cfg = SignerConfig {
        key_file: Some(key),
        cert_file: Some(cert),
        ..Default::default()
    };
    let signer: Arc<dyn Signer> =
        Arc::from(open_signer(&cfg, PinSource::None, Some(NATIONAL_ID)).unwrap());

    let queue = AnyQueue::open_file(&dir.path().join("q.sqlite"), QueueOptions::default()).unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    let indatim = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let now = chrono::Utc::now().timestamp_millis();
    let items = (1..=n)
        .map(|s| {
            let input = pipeline::Input {
                source: format!("t#{s}"),
                value: Ok(invoice(s, indatim)),
            };
            pipeline::prepare(input, &mem, now)
        })
        .collect();
    queue.enqueue_batch(items).unwrap();
    let runner = Arc::new(queue.acquire_runner_for(&["A11216".to_string()]).unwrap());
    let client = Arc::new(
        Client::new(
            &sandbox.base_url(),
            "A11216",
            signer,
            ClientOptions::default(),
        )
        .unwrap(),
    );
    World {
        sandbox,
        queue,
        runner,
        client,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_inquiry_soon_then_back_off_and_the_time_to_final_is_learned() {
    const N: u64 = 12;
    const DELAY_MS: u64 = 1500;
    let World {
        sandbox,
        queue,
        runner,
        client,
        _dir,
    } = world(N, DELAY_MS).await;
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
    let rec = Recorder(Mutex::new(Vec::new()));
    let stats = pipeline::run_pass(runner.clone(), client, &opts, &rec)
        .await
        .unwrap();
    assert!(stats.stopped.is_none(), "{:?}", stats.stopped);
    assert_eq!(queue.summary().unwrap().success, N, "all final");

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
    sandbox.shutdown().await;
}

/// Every batch's acceptances are in the queue when the send round ends, though each is written
/// while the next batch is begun and POSTed: several batches, no waiting for final answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_acceptances_are_recorded_before_the_round_ends() {
    const N: u64 = 9;
    let World {
        sandbox,
        queue,
        runner,
        client,
        _dir,
    } = world(N, 60_000).await;
    let opts = PassOptions {
        batch_size: 2,
        wait: Duration::ZERO,
        ..PassOptions::default()
    };
    let rec = Recorder(Mutex::new(Vec::new()));
    let stats = pipeline::run_pass(runner, client, &opts, &rec)
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
        queue.summary().unwrap().in_progress,
        N,
        "all accepted, none final yet"
    );
    for id in 1..=N as i64 {
        let id = moadian_queue::InvoiceId(id);
        let attempts = queue.attempts(id).unwrap();
        assert_eq!(attempts.len(), 1, "invoice {id}");
        assert!(
            attempts[0].reference.is_some(),
            "invoice {id}: reference recorded"
        );
        let kinds: Vec<String> = queue
            .events(id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        let started = kinds.iter().position(|k| k == "attempt_started").unwrap();
        let taken = kinds.iter().position(|k| k == "accepted").unwrap();
        assert!(started < taken, "invoice {id}: {kinds:?}");
    }
    sandbox.shutdown().await;
}
