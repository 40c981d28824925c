//! Helpers shared by the queue's integration tests: a real queue file in a temp dir, a clock
//! the test moves, and invoices numbered by a stand-in tax ID function (the real algorithm
//! lives in the main crate; the queue never computes tax IDs).
#![allow(dead_code)]

use moadian_queue::*;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const MEM: &str = "A11111";
pub const T0: i64 = 1_750_000_000_000;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub now: Arc<AtomicI64>,
    pub queue: Queue,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = Arc::new(AtomicI64::new(T0));
        let queue = Queue::open_with(dir.path().join("queue.db"), Self::opts(&now)).expect("open");
        Fixture { dir, now, queue }
    }

    pub fn opts(now: &Arc<AtomicI64>) -> QueueOptions {
        let n = now.clone();
        QueueOptions {
            not_found_grace: Duration::from_secs(600),
            busy_timeout: Duration::from_secs(30),
            clock: Clock::from_fn(move || n.load(Ordering::SeqCst)),
        }
    }

    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("queue.db")
    }

    /// Another connection to the same file (what another process would see).
    pub fn reopen(&self) -> Queue {
        Queue::open_with(self.path(), Self::opts(&self.now)).expect("reopen")
    }

    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
}

pub fn taxid_for(memory: &str, serial: u64) -> String {
    format!("{memory}{serial:016X}")
}

pub fn payload(taxid: &str, serial: u64) -> String {
    format!(
        r#"{{"header":{{"taxid":"{taxid}","inno":"{serial:010X}","tbill":"2750000"}},"body":[]}}"#
    )
}

/// An invoice numbered by the queue.
pub fn alloc(source: &str) -> NewInvoice<'static> {
    alloc_for(MEM, source)
}

pub fn alloc_for(memory: &'static str, source: &str) -> NewInvoice<'static> {
    NewInvoice {
        source: source.into(),
        memory_id: memory.into(),
        indatim: Some(T0),
        kind: None,
        ins: Some(1),
        dedup_key: None,
        content: Content::Allocate(Box::new(move |serial| {
            let taxid = taxid_for(memory, serial);
            Ok(Built {
                payload: payload(&taxid, serial),
                taxid,
                findings: None,
                invalid: false,
                indatim: None,
            })
        })),
    }
}

/// An invoice that carries its own tax ID.
pub fn numbered(source: &str, taxid: &str, serial: Option<u64>, body: &str) -> NewInvoice<'static> {
    NewInvoice {
        source: source.into(),
        memory_id: MEM.into(),
        indatim: Some(T0),
        kind: None,
        ins: Some(1),
        dedup_key: None,
        content: Content::Numbered {
            taxid: taxid.into(),
            serial,
            payload: format!(r#"{{"header":{{"taxid":"{taxid}"}},"body":{body}}}"#),
            findings: None,
            invalid: false,
        },
    }
}

pub fn placed(e: &Enqueued) -> Placed {
    match e.placed() {
        Some(p) => p.clone(),
        None => panic!("expected the invoice to be enqueued, got {e:?}"),
    }
}

/// Enqueue `n` queue-numbered invoices, return their ids.
pub fn enqueue_n(q: &Queue, n: usize) -> Vec<InvoiceId> {
    let items = (0..n).map(|i| alloc(&format!("file{i}.json"))).collect();
    q.enqueue_batch(items)
        .expect("enqueue")
        .iter()
        .map(|e| placed(e).id)
        .collect()
}

/// Enqueue one invoice and begin an attempt for it.
pub fn one_attempt(f: &Fixture, runner: &Runner) -> (InvoiceId, Attempt) {
    let id = enqueue_n(&f.queue, 1)[0];
    let inv = f.queue.get(id).expect("get").expect("present");
    let a = runner
        .begin_attempt(&[inv.key()], "batch-1")
        .expect("begin")
        .remove(0);
    (id, a)
}

pub fn status(q: &Queue, id: InvoiceId) -> InvoiceStatus {
    q.get(id).expect("get").expect("present").status
}

pub fn assert_consistent(q: &Queue) {
    let v = q.check_consistency().expect("check");
    assert!(v.is_empty(), "inconsistent queue: {v:#?}");
}

/// The first serial of this queue file's block, minus one: its allocations are `base + 1`, …
pub fn base(q: &Queue) -> u64 {
    q.serial_prefix().expect("prefix").expect("a prefix") << sqlite::serials::BLOCK_BITS
}
