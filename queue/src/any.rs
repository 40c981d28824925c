//! One queue type for either backend, chosen by what names it: a file path is an SQLite
//! queue file, a `postgres://` / `postgresql://` URL a PostgreSQL queue ([`crate::postgres`]).
//! Both implement the same [`Store`] / [`RunnerStore`] contracts; this type only forwards.

use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

use crate::error::Result;
use crate::postgres::{is_url, PgQueue, PgRunner};
use crate::sqlite::{QueueOptions, SqliteQueue, SqliteRunner};
use crate::store::{RunnerStore, Store};
use crate::types::*;

/// A queue file or a PostgreSQL queue.
// One or two per process: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyQueue {
    Sqlite(SqliteQueue),
    Postgres(PgQueue),
}

/// The sending side of an [`AnyQueue`].
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyRunner {
    Sqlite(SqliteRunner),
    Postgres(PgRunner),
}

/// A borrowed queue of either backend (a runner's read side).
#[derive(Debug, Clone, Copy)]
pub enum QueueRef<'a> {
    Sqlite(&'a SqliteQueue),
    Postgres(&'a PgQueue),
}

impl AnyRunner {
    /// The queue this runner sends from (reads and enqueueing through the same handle).
    pub fn queue(&self) -> QueueRef<'_> {
        match self {
            AnyRunner::Sqlite(r) => QueueRef::Sqlite(r.queue()),
            AnyRunner::Postgres(r) => QueueRef::Postgres(r.queue()),
        }
    }
}

impl AnyRunner {
    /// The PostgreSQL runner, if it is one (its id, leases).
    pub fn as_postgres(&self) -> Option<&PgRunner> {
        match self {
            AnyRunner::Postgres(r) => Some(r),
            AnyRunner::Sqlite(_) => None,
        }
    }
}

impl<'a> QueueRef<'a> {
    /// The SQLite queue, if it is one.
    pub fn as_sqlite(&self) -> Option<&'a SqliteQueue> {
        match self {
            QueueRef::Sqlite(q) => Some(q),
            QueueRef::Postgres(_) => None,
        }
    }

    /// The queue as it is shown to a person: the file's path, or the URL without password.
    pub fn shown(&self) -> String {
        match self {
            QueueRef::Sqlite(q) => q.path().display().to_string(),
            QueueRef::Postgres(q) => q.shown_url(),
        }
    }
}

macro_rules! each {
    ($self:expr, $q:ident => $e:expr) => {
        match $self {
            AnyQueue::Sqlite($q) => $e,
            AnyQueue::Postgres($q) => $e,
        }
    };
}

macro_rules! each_ref {
    ($self:expr, $q:ident => $e:expr) => {
        match $self {
            QueueRef::Sqlite($q) => $e,
            QueueRef::Postgres($q) => $e,
        }
    };
}

macro_rules! each_runner {
    ($self:expr, $r:ident => $e:expr) => {
        match $self {
            AnyRunner::Sqlite($r) => $e,
            AnyRunner::Postgres($r) => $e,
        }
    };
}

impl AnyQueue {
    /// Open read-write (creating or migrating) the queue `spec` names: a PostgreSQL URL or a
    /// file path.
    pub fn open_with(spec: &str, opts: QueueOptions) -> Result<AnyQueue> {
        if is_url(spec) {
            PgQueue::open_with(spec, opts).map(AnyQueue::Postgres)
        } else {
            SqliteQueue::open_with(spec, opts).map(AnyQueue::Sqlite)
        }
    }

    /// Open for reading only (never creates, never migrates).
    pub fn open_read_only(spec: &str) -> Result<AnyQueue> {
        if is_url(spec) {
            PgQueue::open_read_only(spec).map(AnyQueue::Postgres)
        } else {
            SqliteQueue::open_read_only(spec).map(AnyQueue::Sqlite)
        }
    }

    /// A queue file (never a URL).
    pub fn open_file(path: &Path, opts: QueueOptions) -> Result<AnyQueue> {
        SqliteQueue::open_with(path, opts).map(AnyQueue::Sqlite)
    }

    /// The queue as it is shown to a person: the file's path, or the URL without password.
    pub fn shown(&self) -> String {
        match self {
            AnyQueue::Sqlite(q) => q.path().display().to_string(),
            AnyQueue::Postgres(q) => q.shown_url(),
        }
    }

    /// The queue's serial prefix (see [`crate::sqlite::serials`]).
    pub fn serial_prefix(&self) -> Result<Option<u64>> {
        each!(self, q => q.serial_prefix())
    }

    /// The options it was opened with.
    pub fn options(&self) -> &QueueOptions {
        each!(self, q => q.options())
    }

    /// Become a runner sending for these memory IDs (the ones whose signer this process
    /// holds). A queue file has one runner at a time whatever the memory IDs; a PostgreSQL
    /// queue leases each memory ID to one runner at a time ([`crate::postgres::lease`]).
    pub fn acquire_runner_for(&self, memory_ids: &[String]) -> Result<AnyRunner> {
        match self {
            AnyQueue::Sqlite(q) => q.acquire_runner().map(AnyRunner::Sqlite),
            AnyQueue::Postgres(q) => q.acquire_runner_for(memory_ids).map(AnyRunner::Postgres),
        }
    }

    /// The runners' leases (a PostgreSQL queue; a queue file has none to show).
    pub fn leases(&self) -> Result<Vec<crate::postgres::lease::Lease>> {
        match self {
            AnyQueue::Sqlite(_) => Ok(Vec::new()),
            AnyQueue::Postgres(q) => q.leases(),
        }
    }

    /// This queue borrowed as a [`QueueRef`].
    pub fn as_ref(&self) -> QueueRef<'_> {
        match self {
            AnyQueue::Sqlite(q) => QueueRef::Sqlite(q),
            AnyQueue::Postgres(q) => QueueRef::Postgres(q),
        }
    }

    /// The SQLite queue, if it is one (file-only operations: backup, check, checkpoint).
    pub fn as_sqlite(&self) -> Option<&SqliteQueue> {
        match self {
            AnyQueue::Sqlite(q) => Some(q),
            AnyQueue::Postgres(_) => None,
        }
    }

    /// The PostgreSQL queue, if it is one.
    pub fn as_postgres(&self) -> Option<&PgQueue> {
        match self {
            AnyQueue::Postgres(q) => Some(q),
            AnyQueue::Sqlite(_) => None,
        }
    }
}

/// The one `Store` implementation of [`AnyQueue`] and [`QueueRef`]: every method goes to the
/// backend behind `$v`, matched by `$each!`.
macro_rules! store_by_backend {
    ($ty:ty, $v:ident, $each:ident) => {
        impl Store for $ty {
            type Runner = AnyRunner;

            fn acquire_runner(&self) -> Result<AnyRunner> {
                match self {
                    $v::Sqlite(q) => q.acquire_runner().map(AnyRunner::Sqlite),
                    $v::Postgres(q) => q.acquire_runner().map(AnyRunner::Postgres),
                }
            }

            fn enqueue_batch(&self, items: Vec<NewInvoice<'_>>) -> Result<Vec<Enqueued>> {
                $each!(self, q => q.enqueue_batch(items))
            }

            fn enqueue_referral(&self, item: NewInvoice<'_>, reference: &str) -> Result<Enqueued> {
                $each!(self, q => q.enqueue_referral(item, reference))
            }

            fn resubmit(&self, invoice: InvoiceId, build: BuildFn<'_>) -> Result<Placed> {
                $each!(self, q => q.resubmit(invoice, build))
            }

            fn note_serial(&self, memory_id: &str, serial: u64) -> Result<u64> {
                $each!(self, q => q.note_serial(memory_id, serial))
            }

            fn last_serial(&self, memory_id: &str) -> Result<u64> {
                $each!(self, q => q.last_serial(memory_id))
            }

            fn get(&self, id: InvoiceId) -> Result<Option<Invoice>> {
                $each!(self, q => q.get(id))
            }

            fn find_by_taxid(&self, taxid: &str) -> Result<Option<Invoice>> {
                $each!(self, q => q.find_by_taxid(taxid))
            }

            fn attempt(&self, uid: Uuid) -> Result<Option<Attempt>> {
                $each!(self, q => q.attempt(uid))
            }

            fn find_by_reference(&self, reference: &str) -> Result<Option<Attempt>> {
                $each!(self, q => q.find_by_reference(reference))
            }

            fn attempts(&self, invoice: InvoiceId) -> Result<Vec<Attempt>> {
                $each!(self, q => q.attempts(invoice))
            }

            fn list(&self, filter: &ListFilter) -> Result<Vec<InvoiceRow>> {
                $each!(self, q => q.list(filter))
            }

            fn summary(&self) -> Result<Summary> {
                $each!(self, q => q.summary())
            }

            fn events(&self, invoice: InvoiceId) -> Result<Vec<Event>> {
                $each!(self, q => q.events(invoice))
            }

            fn to_reconcile(&self) -> Result<Vec<Attempt>> {
                $each!(self, q => q.to_reconcile())
            }

            fn pending_polls(&self, older_than: Duration) -> Result<Vec<Attempt>> {
                $each!(self, q => q.pending_polls(older_than))
            }

            fn open_count(&self, memory_id: &str) -> Result<usize> {
                $each!(self, q => q.open_count(memory_id))
            }

            fn newest_open(&self, memory_id: &str, limit: usize) -> Result<Vec<Attempt>> {
                $each!(self, q => q.newest_open(memory_id, limit))
            }

            fn open_page(
                &self,
                memory_id: &str,
                cursor: OpenCursor,
                limit: usize,
            ) -> Result<(Vec<Attempt>, Option<OpenCursor>)> {
                $each!(self, q => q.open_page(memory_id, cursor, limit))
            }

            fn check_consistency(&self) -> Result<Vec<String>> {
                $each!(self, q => q.check_consistency())
            }
        }
    };
}

store_by_backend!(AnyQueue, AnyQueue, each);
store_by_backend!(QueueRef<'_>, QueueRef, each_ref);

impl RunnerStore for AnyRunner {
    fn next_sendable(
        &self,
        memory_id: &str,
        limit: usize,
        after: Option<InvoiceId>,
    ) -> Result<Vec<Invoice>> {
        each_runner!(self, r => r.next_sendable(memory_id, limit, after))
    }

    fn begin_attempt_with_uids(
        &self,
        invoices: &[(InvoiceKey, Uuid)],
        batch_id: &str,
    ) -> Result<Vec<Attempt>> {
        each_runner!(self, r => r.begin_attempt_with_uids(invoices, batch_id))
    }

    fn record_accepted_many(&self, accepted: &[(Uuid, String)]) -> Result<Vec<Result<()>>> {
        each_runner!(self, r => r.record_accepted_many(accepted))
    }

    fn record_rejected_before_acceptance(
        &self,
        uids: &[Uuid],
        errors: &serde_json::Value,
        then: AfterRejection,
    ) -> Result<Vec<Result<()>>> {
        each_runner!(self, r => r.record_rejected_before_acceptance(uids, errors, then))
    }

    fn record_outcome_many(&self, outcomes: &[Outcome]) -> Result<Vec<Result<Transition>>> {
        each_runner!(self, r => r.record_outcome_many(outcomes))
    }

    fn requeue_not_registered(
        &self,
        uid: Uuid,
        to: AttemptStatus,
        errors: Option<&serde_json::Value>,
        detail: &serde_json::Value,
    ) -> Result<()> {
        each_runner!(self, r => r.requeue_not_registered(uid, to, errors, detail))
    }

    fn mark_unknown_many(&self, uids: &[Uuid], reason: &str) -> Result<Vec<Result<()>>> {
        each_runner!(self, r => r.mark_unknown_many(uids, reason))
    }

    fn pid(&self) -> u32 {
        each_runner!(self, r => r.pid())
    }
}
