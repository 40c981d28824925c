//! Helpers shared by the queue's integration tests: a real queue (an SQLite file in a temp
//! dir, or a schema of its own on the PostgreSQL server `scripts/test.sh` starts), a clock the
//! test moves, and invoices numbered by a stand-in tax ID function (the real algorithm lives in
//! the main crate; the queue never computes tax IDs).
//!
//! One suite, two backends: a test written once runs against both through
//! [`on_both_backends!`], which makes `sqlite::NAME` and `postgres::NAME` of each listed
//! function; [`Fixture::new`] opens the backend the running test was made for.
#![allow(dead_code)]

use moadian_queue::*;
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The queue type of the tests (either backend).
pub type TQueue = AnyQueue;
/// The runner type of the tests (either backend).
pub type TRunner = AnyRunner;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// Run `f` with [`Fixture::new`] opening queues of `backend`.
pub fn on<R>(backend: Backend, f: impl FnOnce() -> R) -> R {
    BACKEND.with(|b| b.set(backend));
    f()
}

pub fn backend() -> Backend {
    BACKEND.with(|b| b.get())
}

/// Each listed test function (no `#[test]` on it) runs once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { $crate::common::on($crate::common::Backend::Sqlite, super::$name) } )*
        }
        mod postgres {
            $( #[test] fn $name() { $crate::common::on($crate::common::Backend::Postgres, super::$name) } )*
        }
    };
}

/// The PostgreSQL server of the tests. Missing is a failure, never a skip.
pub fn postgres_url() -> String {
    match std::env::var("MOADIAN_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "MOADIAN_TEST_POSTGRES_URL is not set: these tests run against a real PostgreSQL \
             server. Run them with scripts/test.sh, which starts a throwaway one (or set the \
             variable to postgres://USER@127.0.0.1:PORT/DB of a server you own)"
        ),
    }
}

/// A schema of its own on the test server (tests run in parallel), dropped with the guard.
pub struct PgSchema {
    pub name: String,
    pub url: String,
    base: String,
}

impl PgSchema {
    pub fn new() -> PgSchema {
        let base = postgres_url();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut c = ::postgres::Client::connect(&base, ::postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        c.batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        PgSchema { name, url, base }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = ::postgres::Client::connect(&self.base, ::postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

pub const MEM: &str = "A11111";
pub const T0: i64 = 1_750_000_000_000;

pub struct Fixture {
    pub queue: TQueue,
    pub dir: tempfile::TempDir,
    pub now: Arc<AtomicI64>,
    /// Where the queue is: the file's path or the PostgreSQL URL.
    pub spec: String,
    pub pg: Option<PgSchema>,
}

impl Fixture {
    /// A fresh queue of the backend the running test was made for (SQLite by default).
    pub fn new() -> Fixture {
        Self::on(backend())
    }

    pub fn on(backend: Backend) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = Arc::new(AtomicI64::new(T0));
        let (spec, pg) = match backend {
            Backend::Sqlite => (dir.path().join("queue.db").display().to_string(), None),
            Backend::Postgres => {
                let s = PgSchema::new();
                (s.url.clone(), Some(s))
            }
        };
        let queue = TQueue::open_with(&spec, Self::opts(&now)).expect("open");
        Fixture {
            queue,
            dir,
            now,
            spec,
            pg,
        }
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

    /// Another connection to the same queue (what another process would see).
    pub fn reopen(&self) -> TQueue {
        TQueue::open_with(&self.spec, Self::opts(&self.now)).expect("reopen")
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
/// The keys (id and revision) of the invoices `ids`, as read now.
pub fn keys_of(q: &impl Store, ids: &[InvoiceId]) -> Vec<InvoiceKey> {
    ids.iter()
        .map(|&i| q.get(i).unwrap().unwrap().key())
        .collect()
}

pub fn enqueue_n(q: &impl Store, n: usize) -> Vec<InvoiceId> {
    let items = (0..n).map(|i| alloc(&format!("file{i}.json"))).collect();
    q.enqueue_batch(items)
        .expect("enqueue")
        .iter()
        .map(|e| placed(e).id)
        .collect()
}

/// Enqueue one invoice and begin an attempt for it.
pub fn one_attempt(f: &Fixture, runner: &impl RunnerStore) -> (InvoiceId, Attempt) {
    let id = enqueue_n(&f.queue, 1)[0];
    let inv = f.queue.get(id).expect("get").expect("present");
    let a = runner
        .begin_attempt(&[inv.key()], "batch-1")
        .expect("begin")
        .remove(0);
    (id, a)
}

pub fn status(q: &impl Store, id: InvoiceId) -> InvoiceStatus {
    q.get(id).expect("get").expect("present").status
}

pub fn assert_consistent(q: &impl Store) {
    let v = q.check_consistency().expect("check");
    assert!(v.is_empty(), "inconsistent queue: {v:#?}");
}

/// The first serial of this queue file's block, minus one: its allocations are `base + 1`, …
pub fn base(q: &impl Prefixed) -> u64 {
    q.serial_prefix().expect("prefix").expect("a prefix") << sqlite::serials::BLOCK_BITS
}

/// Either queue type's serial prefix.
pub trait Prefixed {
    fn serial_prefix(&self) -> Result<Option<u64>>;
}

impl Prefixed for AnyQueue {
    fn serial_prefix(&self) -> Result<Option<u64>> {
        AnyQueue::serial_prefix(self)
    }
}

impl Prefixed for SqliteQueue {
    fn serial_prefix(&self) -> Result<Option<u64>> {
        SqliteQueue::serial_prefix(self)
    }
}
