//! # moadian-queue
//!
//! The durable submission queue of moadian: one SQLite file holding invoices, attempts
//! (uid = `requestTraceId`), the per-memory-ID serial counter and an append-only event log.
//! It knows no HTTP, no crypto and not the tax ID algorithm: the caller passes values and
//! closures. It enforces the architecture's invariants itself:
//!
//! * **2 — recorded before sent.** [`RunnerStore::begin_attempt`] commits the attempt (uid,
//!   tax ID, batch) before it returns; POST only after it returned. Record the answer with
//!   [`RunnerStore::record_accepted`] as soon as it arrives.
//! * **3 — never resend an unfinished attempt.** Only QUEUED invoices are handed out or
//!   accepted by `begin_attempt`; an invoice whose attempt is SENDING, IN_PROGRESS or UNKNOWN
//!   is refused (and the file itself allows one unfinished attempt per invoice). Unknown
//!   outcomes come back from [`Store::to_reconcile`]: inquire, then
//!   [`RunnerStore::record_outcome`]. NOT_FOUND within the grace period stays unknown; only
//!   NOT_FOUND after it (for an attempt the server never acknowledged) or a definite 4xx
//!   refusal of the POST ([`RunnerStore::record_rejected_before_acceptance`]) re-queues.
//! * **4 — serials and tax IDs.** Serials are allocated per memory ID inside the enqueue
//!   transaction and never go backwards (also past serials the caller supplies); a tax ID is
//!   `UNIQUE`: a FAILED invoice is resubmitted under a new serial and tax ID
//!   ([`Store::resubmit`]); an input carrying its own tax ID keeps it. Each file numbers in
//!   its own random block ([`sqlite::serials`]), so two files of one memory ID do not issue the
//!   same tax ID.
//! * **Identity is content.** [`fingerprint`] (stored as `dedup_key`): the same content again
//!   is [`Enqueued::Unchanged`]; other content under a tax ID that is SUCCESS or in flight is
//!   refused as [`QueueError::TaxIdConflict`] naming the differing fields.
//! * **Durable file.** A new file appears complete or not at all; a 0-byte one is refused
//!   ([`QueueError::EmptyFile`]); a read-write handle checkpoints the WAL when dropped, so the
//!   main file alone is complete between runs; [`SqliteQueue::backup_to`], [`SqliteQueue::check`].
//! * **8 — one runner per file.** [`Store::acquire_runner`] takes an exclusive lock on
//!   `<db>.lock`; a second runner gets [`QueueError::Busy`] naming the holder's pid. Readers
//!   and enqueuers are not blocked.
//!
//! ## Statuses
//!
//! ```text
//!            enqueue                begin_attempt           record_accepted
//! (input) ──────────► QUEUED ─────────────────► SENDING ──────────────────► IN_PROGRESS
//!    │                  ▲   ▲                    │   │ mark_unknown /           │ record_outcome
//!    │ invalid          │   │ 4xx refusal        │   │ crash (next runner)      ▼
//!    ▼                  │   └────────────────────┘   ▼                   SUCCESS | FAILED
//! INVALID               └── NOT_FOUND after grace ── UNKNOWN ── inquiry ──► (same)
//! ```
//!
//! ## Using it (the pipeline's loop)
//!
//! ```
//! use moadian_queue::{Built, Content, NewInvoice, Queue, RunnerStore, ServerStatus, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let queue = Queue::open(dir.path().join("queue.db"))?;
//!
//! // Enqueue: the queue allocates the serial; the caller's closure computes taxid + payload.
//! let placed = queue.enqueue_batch(vec![NewInvoice {
//!     source: "invoices/a.json".into(),
//!     memory_id: "A1B2C3".into(),
//!     indatim: Some(1_700_000_000_000),
//!     kind: None,
//!     ins: Some(1),
//!     dedup_key: None,
//!     content: Content::Allocate(Box::new(|serial| {
//!         let taxid = format!("A1B2C3{serial:016X}"); // the real algorithm lives in the caller
//!         Ok(Built {
//!             payload: format!(r#"{{"header":{{"taxid":"{taxid}","inno":"{serial:010X}"}}}}"#),
//!             taxid,
//!             findings: None,
//!             invalid: false,
//!             indatim: None,
//!         })
//!     })),
//! }])?;
//! assert!(placed[0].placed().is_some());
//!
//! // Send: one runner per queue file.
//! let runner = queue.acquire_runner()?;
//! let invoices = runner.next_sendable("A1B2C3", 1000, None)?;
//! // … sign + encrypt each invoice.payload here …
//! let keys: Vec<_> = invoices.iter().map(|i| i.key()).collect();
//! let attempts = runner.begin_attempt(&keys, "batch-1")?; // committed: now POST
//! // … POST with requestTraceId = attempts[i].uid …
//! runner.record_accepted(attempts[0].uid, "ref-123")?;
//! // … later, inquiry by uid:
//! runner.record_outcome(attempts[0].uid, ServerStatus::Success, None, None)?;
//! assert_eq!(queue.summary()?.success, 1);
//!
//! // After a crash or timeout, reconcile before anything else is sent again:
//! for attempt in queue.to_reconcile()? {
//!     // inquire by attempt.uid, then runner.record_outcome(attempt.uid, status, …)
//!     let _ = attempt;
//! }
//! # Ok(()) }
//! ```
//!
//! ## Which call for which answer (for the pipeline)
//!
//! | what happened                                              | call                                                            | invoice becomes |
//! |------------------------------------------------------------|-----------------------------------------------------------------|-----------------|
//! | about to POST (sign first, then record, then POST)         | `begin_attempt(&keys, batch)`                                   | SENDING         |
//! | POST answered 2xx, `result[i]` has the uid                 | `record_accepted_many(&[(uid, referenceNumber)])`               | IN_PROGRESS     |
//! | POST answered 2xx but a uid has no result                  | `mark_unknown_many(&uids, reason)`                              | UNKNOWN         |
//! | timeout, dropped connection, 5xx                           | `mark_unknown_many(&uids, reason)`                              | UNKNOWN         |
//! | 4xx error envelope (request refused, nothing taken)        | `record_rejected_before_acceptance(&uids, &errors, Requeue/Fail)` | QUEUED / FAILED |
//! | inquiry SUCCESS / FAILED                                   | `record_outcome_many` (`Outcome { errors, warnings, .. }`)      | SUCCESS / FAILED |
//! | inquiry IN_PROGRESS / PENDING                              | `record_outcome_many`                                           | IN_PROGRESS     |
//! | inquiry TIMEOUT (not registered)                           | `record_outcome_many` → `Requeued` (attempt LOST)               | QUEUED          |
//! | FAILED 04150/04152 after a server key change; resend asked | `requeue_not_registered(uid, REJECTED / LOST, …)`               | QUEUED          |
//! | inquiry NOT_FOUND                                          | `record_outcome_many` → `StillUnknown` or, after the grace period for a never-acknowledged attempt, `Requeued` | UNKNOWN / QUEUED |
//! | server FAILED, user fixed the data                         | `resubmit(id, build)` (new serial + tax ID, linked)             | new row QUEUED  |
//!
//! What to poll: [`Store::pending_polls`] (acknowledged, not polled lately) and
//! [`Store::to_reconcile`] (unknown: inquire by uid before anything else). The grace period is
//! [`QueueOptions::not_found_grace`] (default 10 minutes), counted from when the outcome became
//! unknown (a `mark_unknown`, or the next runner finding the attempt SENDING), never from when
//! the attempt was recorded. Sign *before* `begin_attempt`: an attempt recorded and then never
//! posted (token removed) can only come back through reconciliation after the grace period.
//!
//! The batch `*_many` calls commit all valid items in one transaction (one fsync) and return a
//! per-item result, so one odd uid in a server answer never throws away the other 999.
//!
//! ## Beyond one file
//!
//! Everything goes through the [`Store`] / [`RunnerStore`] traits. [`PgQueue`] keeps the same
//! contracts in a PostgreSQL database shared by several machines, with the invariants enforced
//! by the database itself ([`postgres::schema`]); [`AnyQueue`] opens either, by what names it
//! (a `postgres://` URL or a file path). The invariant and property tests in `tests/` run
//! against both.

mod answer;
pub mod any;
pub mod error;
pub mod fingerprint;
mod placing;
pub mod postgres;
pub mod sqlite;
pub mod store;
pub mod types;

pub use any::{AnyQueue, AnyRunner, QueueRef};
pub use error::{FileProblem, QueueError, Result};
pub use postgres::{PgQueue, PgRunner};
pub use sqlite::{Clock, Millis, QueueOptions, SqliteQueue, SqliteRunner, LATEST_VERSION};
pub use store::{RunnerStore, Store};
pub use types::*;

/// The default queue implementation.
pub type Queue = SqliteQueue;
/// The default runner implementation.
pub type Runner = SqliteRunner;

#[doc(hidden)]
pub use sqlite::schema::migrate_to_version;

/// Both queues answer [`Store`] with inherent `do_*` methods of the same names and signatures
/// (`sqlite/` and `postgres/`); this writes the delegation once.
macro_rules! store_by_inherent_methods {
    ($queue:ty, $runner:ty) => {
        impl Store for $queue {
            type Runner = $runner;

            fn acquire_runner(&self) -> Result<$runner> {
                self.acquire_runner_impl()
            }

            fn enqueue_batch(&self, items: Vec<NewInvoice<'_>>) -> Result<Vec<Enqueued>> {
                self.do_enqueue_batch(items)
            }

            fn enqueue_referral(&self, item: NewInvoice<'_>, reference: &str) -> Result<Enqueued> {
                self.do_enqueue_referral(item, reference)
            }

            fn resubmit(&self, invoice: InvoiceId, build: BuildFn<'_>) -> Result<Placed> {
                self.do_resubmit(invoice, build)
            }

            fn note_serial(&self, memory_id: &str, serial: u64) -> Result<u64> {
                self.do_note_serial(memory_id, serial)
            }

            fn last_serial(&self, memory_id: &str) -> Result<u64> {
                self.do_last_serial(memory_id)
            }

            fn get(&self, id: InvoiceId) -> Result<Option<Invoice>> {
                self.do_get(id)
            }

            fn find_by_taxid(&self, taxid: &str) -> Result<Option<Invoice>> {
                self.do_find_by_taxid(taxid)
            }

            fn attempt(&self, uid: uuid::Uuid) -> Result<Option<Attempt>> {
                self.do_attempt(uid)
            }

            fn find_by_reference(&self, reference: &str) -> Result<Option<Attempt>> {
                self.do_find_by_reference(reference)
            }

            fn attempts(&self, invoice: InvoiceId) -> Result<Vec<Attempt>> {
                self.do_attempts(invoice)
            }

            fn list(&self, filter: &ListFilter) -> Result<Vec<InvoiceRow>> {
                self.do_list(filter)
            }

            fn summary(&self) -> Result<Summary> {
                self.do_summary()
            }

            fn events(&self, invoice: InvoiceId) -> Result<Vec<Event>> {
                self.do_events(invoice)
            }

            fn to_reconcile(&self) -> Result<Vec<Attempt>> {
                self.do_to_reconcile()
            }

            fn pending_polls(&self, older_than: std::time::Duration) -> Result<Vec<Attempt>> {
                self.do_pending_polls(older_than)
            }

            fn open_count(&self, memory_id: &str) -> Result<usize> {
                self.do_open_count(memory_id)
            }

            fn newest_open(&self, memory_id: &str, limit: usize) -> Result<Vec<Attempt>> {
                self.do_newest_open(memory_id, limit)
            }

            fn open_page(
                &self,
                memory_id: &str,
                cursor: OpenCursor,
                limit: usize,
            ) -> Result<(Vec<Attempt>, Option<OpenCursor>)> {
                self.do_open_page(memory_id, cursor, limit)
            }

            fn check_consistency(&self) -> Result<Vec<String>> {
                self.do_check_consistency()
            }
        }
    };
}

store_by_inherent_methods!(SqliteQueue, SqliteRunner);
store_by_inherent_methods!(PgQueue, PgRunner);
