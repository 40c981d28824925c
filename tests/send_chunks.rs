//! The send pipeline hands invoices to the signing threads, and their results to the sender,
//! a few at a time: every signed invoice is still counted (progress events), every POST still
//! holds at most the batch size, and a signer failure still stops sending with everything
//! unsent QUEUED. Against the sandbox over 127.0.0.1, a real queue file, a key-file signer.

mod send_support;

use moadian::api::{Client, ClientOptions};
use moadian::crypto::{SignError, Signer};
use moadian::pipeline::{self, Event, PassOptions, StopReason};
use moadian::sandbox::SandboxConfig;
use moadian_queue::Store;
use send_support::{Recorder, World};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Signs until it has signed `left` times, then fails as a removed token does.
struct FailingSigner {
    inner: Arc<dyn Signer>,
    left: AtomicUsize,
}

impl Signer for FailingSigner {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let ok = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !ok {
            return Err(SignError::Other("the token was removed".into()));
        }
        self.inner.sign_rs256(message)
    }
    fn certificate_der(&self) -> &[u8] {
        self.inner.certificate_der()
    }
}

/// A sandbox, a queue file with `n` valid invoices, and a client whose key-file signer signs
/// `signatures` times (the auth token included) before it fails, or forever.
async fn world(n: u64, signatures: Option<usize>) -> World {
    let config = SandboxConfig {
        server_key_bits: 2048,
        ..SandboxConfig::default()
    };
    send_support::world(config, n, |signer| match signatures {
        Some(left) => Arc::new(FailingSigner {
            inner: signer,
            left: AtomicUsize::new(left),
        }),
        None => signer,
    })
    .await
}

fn opts(batch_size: usize, sign_threads: usize) -> PassOptions {
    PassOptions {
        batch_size,
        sign_threads,
        wait: Duration::ZERO,
        ..PassOptions::default()
    }
}

fn signed(e: &Event) -> Option<usize> {
    match e {
        Event::Signed { count } => Some(*count),
        _ => None,
    }
}

fn posting(e: &Event) -> Option<usize> {
    match e {
        Event::Posting { count } => Some(*count),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signed_invoice_is_counted_and_every_post_holds_at_most_the_batch_size() {
    const N: u64 = 83;
    const BATCH: usize = 7;
    for threads in [1, 3] {
        let w = world(N, None).await;
        let rec = Recorder::new();
        let stats = pipeline::run_pass(
            w.runner.clone(),
            w.client.clone(),
            &opts(BATCH, threads),
            &rec,
        )
        .await
        .unwrap();
        assert!(stats.stopped.is_none(), "{:?}", stats.stopped);
        assert_eq!(stats.send.signed, N as usize);
        assert_eq!(stats.send.accepted, N as usize);
        let signed = rec.counts(signed);
        assert_eq!(signed.iter().sum::<usize>(), N as usize, "{signed:?}");
        assert!(signed.iter().all(|c| *c > 0), "{signed:?}");
        let posts = rec.counts(posting);
        assert_eq!(posts.iter().sum::<usize>(), N as usize, "{posts:?}");
        assert!(posts.iter().all(|c| *c <= BATCH), "{posts:?}");
        // Whole batches, but for the last.
        assert!(
            posts[..posts.len() - 1].iter().all(|c| *c == BATCH),
            "{posts:?}"
        );
        let s = w.queue.summary().unwrap();
        assert_eq!(s.queued + s.sending, 0, "{s:?}");
        w.sandbox.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_failure_stops_sending_and_everything_unsent_stays_queued() {
    const N: u64 = 60;
    const BATCH: usize = 4;
    for threads in [1, 2] {
        // The auth token, then 21 invoices: five whole batches can go, the sixth cannot.
        let w = world(N, Some(22)).await;
        let rec = Recorder::new();
        let stats = pipeline::run_pass(
            w.runner.clone(),
            w.client.clone(),
            &opts(BATCH, threads),
            &rec,
        )
        .await
        .unwrap();
        assert!(
            matches!(stats.stopped, Some(StopReason::Signer(_))),
            "{:?}",
            stats.stopped
        );
        let posted = stats.send.posted;
        assert!(posted <= 20 && posted % BATCH == 0, "{posted}");
        assert!(stats.send.signed <= 21, "{}", stats.send.signed);
        let signed = rec.counts(signed);
        assert_eq!(
            signed.iter().sum::<usize>(),
            stats.send.signed,
            "{signed:?}"
        );
        let posts = rec.counts(posting);
        assert_eq!(posts.iter().sum::<usize>(), posted, "{posts:?}");
        // A POST refused before acceptance (its auth token could not be signed) goes back too.
        let taken = (posted - stats.send.requeued) as u64;
        let s = w.queue.summary().unwrap();
        assert_eq!(s.queued, N - taken, "{s:?}");
        assert_eq!(s.in_progress + s.unknown, taken, "{s:?}");
        assert_eq!(s.sending, 0, "{s:?}");
        w.sandbox.shutdown().await;
    }
}

/// Signs as `inner`, but the `gate`-th signature waits until the test opens the gate.
struct GateSigner {
    inner: Arc<dyn Signer>,
    count: AtomicUsize,
    gate: usize,
    reached: Mutex<std::sync::mpsc::Sender<()>>,
    open: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Signer for GateSigner {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if self.count.fetch_add(1, Ordering::SeqCst) + 1 == self.gate {
            let _ = self.reached.lock().unwrap().send(());
            let _ = self.open.lock().unwrap().recv();
        }
        self.inner.sign_rs256(message)
    }
    fn certificate_der(&self) -> &[u8] {
        self.inner.certificate_der()
    }
}

/// A send round dropped half-way (its task cancelled) signs nothing more: the signing threads
/// stop at the next invoice instead of finishing the invoices they were handed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_send_round_signs_nothing_more() {
    const GATE: usize = 5;
    let w = world(200, None).await;
    let (reached_tx, reached_rx) = std::sync::mpsc::channel();
    let (open_tx, open_rx) = std::sync::mpsc::channel();
    let gate = Arc::new(GateSigner {
        inner: w.client.signer().clone(),
        count: AtomicUsize::new(0),
        gate: GATE,
        reached: Mutex::new(reached_tx),
        open: Mutex::new(open_rx),
    });
    let client = Arc::new(
        Client::new(
            &w.sandbox.base_url(),
            "A11216",
            gate.clone(),
            ClientOptions::default(),
        )
        .unwrap(),
    );
    let runner = w.runner.clone();
    let round = tokio::spawn(async move {
        let rec = Recorder::new();
        pipeline::run_pass(runner, client, &opts(100, 1), &rec).await
    });
    tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
        .await
        .unwrap();
    round.abort();
    assert!(round.await.unwrap_err().is_cancelled());
    open_tx.send(()).unwrap();
    // Wait until the signing thread has let go of the signer (it ended).
    while Arc::strong_count(&gate) > 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(gate.count.load(Ordering::SeqCst), GATE, "signatures");
    let s = w.queue.summary().unwrap();
    assert_eq!(s.queued, 200, "nothing was sent: {s:?}");
    w.sandbox.shutdown().await;
}

/// Signs as `inner`, each signature taking at least 30 ms (a slow token).
struct SlowSigner(Arc<dyn Signer>);

impl Signer for SlowSigner {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        std::thread::sleep(Duration::from_millis(30));
        self.0.sign_rs256(message)
    }
    fn certificate_der(&self) -> &[u8] {
        self.0.certificate_der()
    }
}

/// With a slow signer, signed invoices are passed on (and counted on the progress display)
/// as they come, not once a whole chunk of work is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_signer_reports_progress_as_it_goes() {
    const N: u64 = 10;
    let w = world(N, None).await;
    let slow: Arc<dyn Signer> = Arc::new(SlowSigner(w.client.signer().clone()));
    let client = Arc::new(
        Client::new(
            &w.sandbox.base_url(),
            "A11216",
            slow,
            ClientOptions::default(),
        )
        .unwrap(),
    );
    let rec = Recorder::new();
    let stats = pipeline::run_pass(w.runner.clone(), client, &opts(100, 1), &rec)
        .await
        .unwrap();
    assert_eq!(stats.send.accepted, N as usize);
    let signed = rec.counts(signed);
    assert_eq!(signed.iter().sum::<usize>(), N as usize);
    assert!(signed.len() >= 2, "one progress event for all: {signed:?}");
    w.sandbox.shutdown().await;
}
