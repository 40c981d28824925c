//! [`PgQueue`]: the queue in a PostgreSQL database, shared by any number of machines, and
//! [`PgRunner`], a sender holding the queue's runner lock.
//!
//! **Why the `postgres` crate.** The [`Store`](crate::Store) / [`RunnerStore`](crate::RunnerStore)
//! traits are synchronous (every method is one transaction, called from blocking code or
//! `spawn_blocking`), so the synchronous `postgres` client fits them directly: no async
//! runtime threaded through the queue, no compile-time query checking that would need a
//! database at build time (sqlx). It is the sync face of `tokio-postgres`, the
//! most used PostgreSQL driver in Rust. The pool is the few lines of `pool.rs`: idle
//! connections kept in a `Mutex<Vec<_>>`, a broken one dropped — enough for one process's
//! handful of threads, without a second crate for the job.
//!
//! **Same contracts as the SQLite file.** Every state change is one transaction whose `WHERE`
//! clauses check the current state (row locks, `SELECT … FOR UPDATE`), and the database itself
//! refuses what must never happen (see [`schema`]): a second unfinished attempt per invoice
//! (partial `UNIQUE` index), a serial counter going backwards and any `UPDATE`, `DELETE` or
//! `TRUNCATE` of the event log (triggers), a tax ID used twice (`UNIQUE`).
//!
//! **Where the queue lives.** The URL's database, in the schema first on its `search_path`
//! (`public` unless the URL says `?options=-csearch_path%3Dname`): one queue per schema.
//! The password comes from the URL, `PGPASSWORD` or `~/.pgpass`; it is never part of a
//! message ([`redact`]).

mod accept;
mod attempts;
mod bulk;
pub mod copy;
mod enqueue;
pub mod lease;
mod outcome;
pub(crate) mod pool;
mod read;
pub mod schema;

use std::fmt;
use std::sync::Mutex;

use crate::error::{QueueError, Result};
use crate::sqlite::{Millis, QueueOptions};
use crate::types::InvoiceId;

pub use pool::redact;
use pool::{Pool, Tx};

/// Whether a `--queue` value names a PostgreSQL queue rather than a file.
pub fn is_url(s: &str) -> bool {
    let l = s.trim_start().to_ascii_lowercase();
    l.starts_with("postgres://") || l.starts_with("postgresql://")
}

/// The queue in a PostgreSQL database. Cheap to share by reference; every method is one
/// transaction on a pooled connection.
pub struct PgQueue {
    pool: Pool,
    opts: QueueOptions,
    read_only: bool,
    pid: u32,
    lease_ttl: std::time::Duration,
}

impl fmt::Debug for PgQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgQueue")
            .field("url", &self.pool.shown())
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// The sending side of a [`PgQueue`]: holds leases on the memory IDs it sends for, renewed by
/// a heartbeat ([`lease`]); a killed runner's leases expire and another runner takes over.
pub struct PgRunner {
    q: PgQueue,
    id: String,
    memory_ids: Vec<String>,
    heartbeat: Mutex<Option<lease::Heartbeat>>,
}

impl fmt::Debug for PgRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRunner")
            .field("url", &self.q.pool.shown())
            .field("pid", &self.q.pid)
            .field("memory_ids", &self.memory_ids)
            .finish()
    }
}

impl PgRunner {
    /// The queue this runner sends from.
    pub fn queue(&self) -> &PgQueue {
        &self.q
    }
}

impl PgQueue {
    /// Connect (default options), creating or migrating the queue's tables.
    pub fn open(url: &str) -> Result<PgQueue> {
        Self::open_with(url, QueueOptions::default())
    }

    /// Connect with explicit options, creating or migrating the queue's tables.
    pub fn open_with(url: &str, opts: QueueOptions) -> Result<PgQueue> {
        let pool = Pool::new(url, 4)?;
        pool::off_runtime(|| {
            let mut c = pool.get()?;
            let r = schema::migrate(&mut c, &pool.shown());
            pool.put(c);
            r
        })?;
        Ok(PgQueue {
            pool,
            opts,
            read_only: false,
            pid: std::process::id(),
            lease_ttl: lease::DEFAULT_TTL,
        })
    }

    /// How long a runner's lease lives without a heartbeat (default 30 s): after a runner
    /// died, others wait this long before taking over its memory IDs.
    pub fn with_lease_ttl(mut self, ttl: std::time::Duration) -> PgQueue {
        self.lease_ttl = ttl;
        self
    }

    /// Connect for reading only: never creates or migrates tables (a queue of an older
    /// schema fails with [`QueueError::NeedsMigration`]).
    pub fn open_read_only(url: &str) -> Result<PgQueue> {
        let pool = Pool::new(url, 2)?;
        pool::off_runtime(|| {
            let mut c = pool.get()?;
            let r = schema::check_current(&mut c, &pool.shown());
            pool.put(c);
            r
        })?;
        Ok(PgQueue {
            pool,
            opts: QueueOptions::default(),
            read_only: true,
            pid: std::process::id(),
            lease_ttl: lease::DEFAULT_TTL,
        })
    }

    /// The URL without its password.
    pub fn shown_url(&self) -> String {
        self.pool.shown()
    }

    /// The options it was opened with.
    pub fn options(&self) -> &QueueOptions {
        &self.opts
    }

    /// The serial prefix of this queue (see [`crate::sqlite::serials`]).
    pub fn serial_prefix(&self) -> Result<Option<u64>> {
        self.read(enqueue::prefix)
    }

    pub(crate) fn now(&self) -> Millis {
        self.opts.clock.now()
    }

    /// Run `f` inside one transaction; commit if it returns Ok.
    pub(crate) fn write<R: Send>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R> + Send,
    ) -> Result<R> {
        if self.read_only {
            return Err(QueueError::InvalidInput(
                "this queue was opened read-only; open it read-write to change it".into(),
            ));
        }
        self.pool.transaction(f)
    }

    /// Run `f` inside one (read) transaction: a consistent snapshot of several queries.
    pub(crate) fn read<R: Send>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R> + Send,
    ) -> Result<R> {
        self.pool.transaction(f)
    }
}

/// Append one event (inside the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_event(
    tx: &mut Tx<'_>,
    invoice: InvoiceId,
    uid: Option<&str>,
    now: Millis,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    detail: Option<&str>,
    pid: u32,
) -> Result<()> {
    tx.exec(
        "INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status, detail, pid)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &invoice.0,
            &uid,
            &now,
            &kind,
            &from,
            &to,
            &detail,
            &i64::from(pid),
        ],
    )?;
    Ok(())
}
