//! The queue behind a trait, so the embedded SQLite file (the default for a taxpayer or an
//! accounting office) can be joined later by a PostgreSQL queue for a trusted service provider
//! (شرکت معتمد) sending for thousands of taxpayers.
//!
//! Two traits, split by who may call them:
//!
//! * [`Store`]: anyone — enqueue, resubmit, and every read (`status` works while a runner
//!   sends). Its [`Store::acquire_runner`] is the only way to get a
//! * [`RunnerStore`]: the one sender of a queue (invariant 8). Every method that hands out
//!   invoices for sending or changes an attempt lives here, so a second process cannot send
//!   from the same queue by accident.
//!
//! A PostgreSQL implementation would keep the same contracts: `acquire_runner` becomes a
//! worker registration (an advisory lock per memory ID, or none), `next_sendable` +
//! `begin_attempt` become one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)` claim,
//! and the transition rules of [`crate::sqlite`] move into SQL `WHERE status = …` guards
//! exactly as they are here. Tax IDs stay `UNIQUE`; the serial counter stays a row updated
//! inside the claiming transaction.

use std::time::Duration;
use uuid::Uuid;

use crate::error::Result;
use crate::types::*;

/// Reads, enqueueing and resubmission. Safe to use from any number of processes at once.
pub trait Store: Send + Sync {
    /// The runner handle this store hands out.
    type Runner: RunnerStore;

    /// Become the one sender of this queue (invariant 8). A second caller gets
    /// [`QueueError::Busy`](crate::QueueError::Busy) naming the holder's pid. Attempts left in
    /// SENDING by a previous runner (it died mid-POST) are turned UNKNOWN here.
    fn acquire_runner(&self) -> Result<Self::Runner>;

    /// Enqueue invoices in ONE transaction (all or nothing for storage errors; individual
    /// refusals are reported per item as [`Enqueued::Refused`] and do not abort the batch).
    /// Results are in input order.
    fn enqueue_batch(&self, items: Vec<NewInvoice<'_>>) -> Result<Vec<Enqueued>>;

    /// Enqueue one invoice (its own transaction).
    fn enqueue(&self, item: NewInvoice<'_>) -> Result<Enqueued> {
        let mut v = self.enqueue_batch(vec![item])?;
        v.pop()
            .ok_or_else(|| crate::QueueError::Corrupt("enqueue returned nothing".into()))
    }

    /// Enqueue a referral of the invoice `reference` (a correction, cancellation or return:
    /// `ins` 2, 3 or 4) in one transaction with the check that `reference` is not cancelled by
    /// a referral in the queue and, unless this one cancels it, carries no other live
    /// correction or return (FAILED and INVALID ones do not count). Two referrals made at once
    /// for one reference, by two processes, are not both queued: the second is
    /// [`Enqueued::Refused`] with [`crate::QueueError::ReferenceTaken`]. The same referral
    /// again is the same row, as with [`Store::enqueue`].
    fn enqueue_referral(&self, item: NewInvoice<'_>, reference: &str) -> Result<Enqueued>;

    /// Resubmit a FAILED invoice under a NEW serial and tax ID (invariant 4): allocates the
    /// next serial of its memory ID, calls `build(serial)` inside the transaction, stores the
    /// result linked to the old invoice (`resubmission_of`). An invoice is resubmitted at most
    /// once; the new tax ID must be unused.
    fn resubmit(&self, invoice: InvoiceId, build: BuildFn<'_>) -> Result<Placed>;

    /// Advance a memory ID's serial counter to at least `serial` (never backwards). Returns the
    /// counter after the call.
    fn note_serial(&self, memory_id: &str, serial: u64) -> Result<u64>;

    /// The last serial allocated or noted for a memory ID (0 if none).
    fn last_serial(&self, memory_id: &str) -> Result<u64>;

    /// One invoice with its payload.
    fn get(&self, id: InvoiceId) -> Result<Option<Invoice>>;

    /// The invoice carrying this tax ID.
    fn find_by_taxid(&self, taxid: &str) -> Result<Option<Invoice>>;

    /// One attempt by uid (= requestTraceId).
    fn attempt(&self, uid: Uuid) -> Result<Option<Attempt>>;

    /// The attempt carrying this reference number.
    fn find_by_reference(&self, reference: &str) -> Result<Option<Attempt>>;

    /// All attempts of an invoice, oldest first.
    fn attempts(&self, invoice: InvoiceId) -> Result<Vec<Attempt>>;

    /// Invoices (without payloads) with their newest attempt, ordered by id.
    fn list(&self, filter: &ListFilter) -> Result<Vec<InvoiceRow>>;

    /// Count per status.
    fn summary(&self) -> Result<Summary>;

    /// The event log of one invoice, oldest first.
    fn events(&self, invoice: InvoiceId) -> Result<Vec<Event>>;

    /// Attempts whose outcome is unknown: inquire about each (by uid) and record the answer
    /// with [`RunnerStore::record_outcome`]. Their invoices are never handed out for sending.
    fn to_reconcile(&self) -> Result<Vec<Attempt>>;

    /// Acknowledged attempts (IN_PROGRESS) not polled for at least `older_than`.
    fn pending_polls(&self, older_than: Duration) -> Result<Vec<Attempt>>;

    /// How many attempts of `memory_id` have no final status (UNKNOWN or IN_PROGRESS).
    fn open_count(&self, memory_id: &str) -> Result<usize>;

    /// The `limit` newest attempts of `memory_id` without a final status.
    fn newest_open(&self, memory_id: &str, limit: usize) -> Result<Vec<Attempt>>;

    /// Attempts of `memory_id` without a final status, a page at a time: the unknown ones
    /// first, then the acknowledged ones, each in the order they were recorded. Start with
    /// `OpenCursor::default()`; the returned cursor continues after the page (`None`: done).
    /// Attempts that become final between pages simply drop out.
    fn open_page(
        &self,
        memory_id: &str,
        cursor: OpenCursor,
        limit: usize,
    ) -> Result<(Vec<Attempt>, Option<OpenCursor>)>;

    /// Check the stored state against the state machine (one status per invoice; it agrees
    /// with its newest attempt; at most one unfinished attempt per invoice; serial counters
    /// not behind any stored serial). Returns the violations found (empty = consistent).
    fn check_consistency(&self) -> Result<Vec<String>>;
}

/// The sending side: held by at most one process per queue at a time.
pub trait RunnerStore: Send + Sync {
    /// Up to `limit` QUEUED invoices of `memory_id` with ids after `after`, oldest first.
    fn next_sendable(
        &self,
        memory_id: &str,
        limit: usize,
        after: Option<InvoiceId>,
    ) -> Result<Vec<Invoice>>;

    /// Record one attempt per invoice (uuid v4 uids) in ONE committed transaction, BEFORE the
    /// caller POSTs (invariant 2). Every invoice must still be QUEUED at the presented
    /// revision, else nothing is recorded and the call fails ([`crate::QueueError::NotSendable`]
    /// / [`crate::QueueError::Stale`]) — so an invoice with an unfinished attempt can never
    /// get a second one (invariant 3). Results are in input order.
    fn begin_attempt(&self, invoices: &[InvoiceKey], batch_id: &str) -> Result<Vec<Attempt>> {
        let with: Vec<(InvoiceKey, Uuid)> = invoices.iter().map(|k| (*k, Uuid::new_v4())).collect();
        self.begin_attempt_with_uids(&with, batch_id)
    }

    /// As [`RunnerStore::begin_attempt`] with caller-chosen uids (RFC 4122 UUIDs, not nil, never
    /// used before in this queue: the guide warns that a uid used twice for one memory ID makes
    /// inquiry-by-uid answer for only one of the invoices).
    fn begin_attempt_with_uids(
        &self,
        invoices: &[(InvoiceKey, Uuid)],
        batch_id: &str,
    ) -> Result<Vec<Attempt>>;

    /// The POST answered: record each `(uid, referenceNumber)` (one transaction). Attempt
    /// SENDING/UNKNOWN → IN_PROGRESS. Call as soon as the response arrives.
    ///
    /// Batch methods (`*_many`) commit every valid item in one transaction and report each
    /// item's own result in input order (an unknown uid or an impossible transition does not
    /// throw away the other answers). The outer `Err` is a storage failure: nothing recorded.
    fn record_accepted_many(&self, accepted: &[(Uuid, String)]) -> Result<Vec<Result<()>>>;

    /// Single-attempt form of [`RunnerStore::record_accepted_many`].
    fn record_accepted(&self, uid: Uuid, reference: &str) -> Result<()> {
        first(self.record_accepted_many(&[(uid, reference.to_string())])?)
    }

    /// The POST was definitely refused with an error envelope (4xx) before acceptance: the
    /// server did not take these packets. Attempt SENDING → REJECTED (final); the invoice is
    /// QUEUED again or FAILED, as `then` says. Do NOT use for timeouts, dropped connections or
    /// 5xx — those are unknown: use [`RunnerStore::mark_unknown`].
    fn record_rejected_before_acceptance(
        &self,
        uids: &[Uuid],
        errors: &serde_json::Value,
        then: AfterRejection,
    ) -> Result<Vec<Result<()>>>;

    /// Record inquiry answers (one transaction). SUCCESS/FAILED are final; IN_PROGRESS/PENDING
    /// mean acknowledged; TIMEOUT (not registered) turns the attempt LOST and queues the invoice
    /// again (same tax ID, [`Transition::Requeued`]); NOT_FOUND turns an
    /// unacknowledged UNKNOWN attempt LOST (invoice QUEUED again, same tax ID) only when the
    /// grace period since it became unknown has passed — otherwise it stays unknown. An
    /// acknowledged attempt (it has a reference) is never declared lost.
    fn record_outcome_many(&self, outcomes: &[Outcome]) -> Result<Vec<Result<Transition>>>;

    /// Single-answer form of [`RunnerStore::record_outcome_many`].
    fn record_outcome(
        &self,
        uid: Uuid,
        status: ServerStatus,
        errors: Option<serde_json::Value>,
        warnings: Option<serde_json::Value>,
    ) -> Result<Transition> {
        first(self.record_outcome_many(&[Outcome {
            uid,
            status,
            reference: None,
            errors,
            warnings,
        }])?)
    }

    /// The server definitely did not register this attempt although it was acknowledged or
    /// its outcome was unknown — it could not decrypt it because its key changed
    /// (04150/04152, `to` = REJECTED), or an inquiry proved it absent and the user asked to
    /// send it again (`to` = LOST): the attempt ends `to` (with `errors`, if given, and
    /// `detail` in the event log) and the invoice is QUEUED again with the same tax ID.
    /// Allowed from SENDING, IN_PROGRESS and UNKNOWN; the caller must have the server's word.
    fn requeue_not_registered(
        &self,
        uid: Uuid,
        to: AttemptStatus,
        errors: Option<&serde_json::Value>,
        detail: &serde_json::Value,
    ) -> Result<()>;

    /// The POST's outcome is unknown (timeout, dropped connection, 5xx, no result for a uid):
    /// SENDING → UNKNOWN. The grace period for NOT_FOUND starts now.
    /// Idempotent for an attempt already UNKNOWN (its grace period is not restarted).
    fn mark_unknown_many(&self, uids: &[Uuid], reason: &str) -> Result<Vec<Result<()>>>;

    /// Single-attempt form of [`RunnerStore::mark_unknown_many`].
    fn mark_unknown(&self, uid: Uuid) -> Result<()> {
        first(self.mark_unknown_many(&[uid], "outcome unknown")?)
    }

    /// The process id this runner registered in the lock file.
    fn pid(&self) -> u32;
}

/// The one result of a single-item batch call.
fn first<T>(v: Vec<Result<T>>) -> Result<T> {
    v.into_iter().next().unwrap_or_else(|| {
        Err(crate::QueueError::Corrupt(
            "batch call returned nothing".into(),
        ))
    })
}
