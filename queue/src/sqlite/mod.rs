//! [`SqliteQueue`]: the queue as one SQLite file (WAL, `synchronous=FULL`, foreign keys,
//! versioned migrations, mode 0600), and [`SqliteRunner`], its one sender (lock file next to
//! the database, invariant 8).
//!
//! Every state change is one `BEGIN IMMEDIATE` transaction that checks the current state in
//! its `WHERE` clause, writes the new state and appends to the event log; the file's own
//! constraints (status `CHECK`s, `UNIQUE` tax ID, one open attempt per invoice, monotonic
//! serial trigger, append-only events) back the checks up.

pub(crate) mod attempts;
pub(crate) mod enqueue;
mod file;
mod lock;
mod read;
mod resubmit;
pub(crate) mod schema;
pub mod serials;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{QueueError, Result};
use crate::types::InvoiceId;

pub use file::QueueCheck;
pub use schema::LATEST_VERSION;

/// Milliseconds since the Unix epoch (UTC), as stored in every time column.
pub type Millis = i64;

/// Where "now" comes from. The system clock, or a test clock.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Millis + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as Millis)
                .unwrap_or(0)
        }))
    }

    /// Any function returning epoch milliseconds (tests move time forward with it).
    pub fn from_fn(f: impl Fn() -> Millis + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    pub fn now(&self) -> Millis {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// How a queue file is opened.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// After an attempt's outcome became unknown, an inquiry answering NOT_FOUND is still
    /// "unknown" (not "lost") until this much time has passed. Default 10 minutes.
    pub not_found_grace: Duration,
    /// How long a write waits for another connection's write transaction. Default 30 s.
    pub busy_timeout: Duration,
    pub clock: Clock,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            not_found_grace: Duration::from_secs(600),
            busy_timeout: Duration::from_secs(30),
            clock: Clock::system(),
        }
    }
}

/// The queue in one SQLite file. Cheap to share (`Arc<SqliteQueue>`); every method takes
/// `&self` and is one transaction. Several processes may open the same file; only one may
/// [`acquire_runner`](crate::Store::acquire_runner).
pub struct SqliteQueue {
    conn: Mutex<Connection>,
    path: PathBuf,
    opts: QueueOptions,
    read_only: bool,
    pid: u32,
}

impl fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// The sending side of a [`SqliteQueue`]: holds the runner lock until dropped. Has its own
/// connection; `Send + Sync`, so it can be shared with `spawn_blocking` tasks via `Arc`.
pub struct SqliteRunner {
    q: SqliteQueue,
    _lock: lock::RunnerLock,
}

impl fmt::Debug for SqliteRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteRunner")
            .field("path", &self.q.path)
            .field("pid", &self.q.pid)
            .finish()
    }
}

impl SqliteRunner {
    /// The queue this runner sends from (for reads and enqueueing through the same handle).
    pub fn queue(&self) -> &SqliteQueue {
        &self.q
    }

    /// The lock file this runner holds (`<db>.lock`).
    pub fn lock_path(&self) -> &Path {
        &self._lock.path
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Create `path` with mode 0600 if missing; tighten it to 0600 if group/other can read it.
#[cfg(unix)]
pub(crate) fn ensure_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            tighten(path);
            Ok(())
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(not(unix))]
pub(crate) fn ensure_private_file(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(|_| ())
        .map_err(io_err(path))
}

/// Best effort: drop group/other permissions of an existing file we own.
#[cfg(unix)]
fn tighten(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
}

#[cfg(not(unix))]
fn tighten(_path: &Path) {}

/// Reads the schema once, so a damaged first page is found when the file is opened rather than
/// in the middle of a command.
fn read_schema(conn: &Connection) -> Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}

/// A file of schema version 0 that already holds tables is another program's database: it is
/// never migrated (that would write our tables into it).
fn refuse_foreign(conn: &Connection, path: &Path) -> Result<()> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )?;
    if tables > 0 {
        return Err(QueueError::File {
            path: path.to_path_buf(),
            problem: crate::error::FileProblem::NotAQueue,
            detail: format!("an SQLite database with {tables} tables of another program"),
        });
    }
    Ok(())
}

/// Prepared statements kept per connection. A runner's send and inquiry loop alone uses
/// about as many distinct statements as rusqlite's default (16); past it every batch would
/// evict and parse its statements again.
const STATEMENT_CACHE: usize = 64;

/// `<db>-wal` / `<db>-shm` / `<db>.lock` next to the database.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl SqliteQueue {
    /// Open (creating if missing, mode 0600) and migrate the queue file, with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteQueue> {
        Self::open_with(path, QueueOptions::default())
    }

    /// Open (creating if missing) with explicit options.
    /// A missing parent directory is created (mode 0700 on unix).
    /// Errors that are the file's own (damaged, not a queue, read-only, disk full) name it and
    /// say what to do ([`QueueError::File`]).
    pub fn open_with(path: impl AsRef<Path>, opts: QueueOptions) -> Result<SqliteQueue> {
        let path = path.as_ref().to_path_buf();
        Self::open_with_inner(path.clone(), opts).map_err(|e| e.at(&path))
    }

    fn open_with_inner(path: PathBuf, opts: QueueOptions) -> Result<SqliteQueue> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(parent).map_err(io_err(parent))?;
            }
        }
        file::create_or_check(&path)?;
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(opts.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(QueueError::Corrupt(format!(
                "{}: could not switch to WAL journal (got {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Checkpoint every ~32 MB of WAL instead of 4 MB: large enqueue batches pay far fewer
        // checkpoint fsyncs; the WAL is truncated back to 64 MB at most afterwards.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        let found = schema::version(&conn)?;
        read_schema(&conn)?;
        if found > LATEST_VERSION {
            return Err(QueueError::TooNew {
                path,
                found,
                supported: LATEST_VERSION,
            });
        }
        if found == 0 {
            refuse_foreign(&conn, &path)?;
            // New files are created complete (see `file`); an existing file without the
            // queue's tables is not a queue to start numbering in.
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            return Err(QueueError::EmptyFile { path, size });
        }
        if found < LATEST_VERSION {
            schema::migrate(&mut conn, LATEST_VERSION)?;
        }
        for suffix in ["-wal", "-shm"] {
            tighten(&sibling(&path, suffix));
        }
        Ok(SqliteQueue {
            conn: Mutex::new(conn),
            path,
            opts,
            read_only: false,
            pid: std::process::id(),
        })
    }

    /// Open an existing queue file for reading only (the `status` command): never creates,
    /// never migrates (fails with [`QueueError::NeedsMigration`] on an old file), works while a
    /// runner sends.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteQueue> {
        let path = path.as_ref().to_path_buf();
        Self::open_read_only_inner(path.clone()).map_err(|e| e.at(&path))
    }

    fn open_read_only_inner(path: PathBuf) -> Result<SqliteQueue> {
        if !path.exists() {
            return Err(QueueError::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no queue file here"),
            });
        }
        file::refuse_empty(&path)?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let opts = QueueOptions::default();
        conn.busy_timeout(opts.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // A runner that has just created the file migrates it in one transaction within
        // milliseconds; wait for that briefly before calling the file old.
        let mut found = schema::version(&conn)?;
        read_schema(&conn)?;
        let patience = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while found < LATEST_VERSION && std::time::Instant::now() < patience {
            std::thread::sleep(std::time::Duration::from_millis(50));
            found = schema::version(&conn)?;
        }
        if found > LATEST_VERSION {
            return Err(QueueError::TooNew {
                path,
                found,
                supported: LATEST_VERSION,
            });
        }
        if found == 0 {
            // Tables without a queue's version: another program's database, not an old queue.
            refuse_foreign(&conn, &path)?;
        }
        if found < LATEST_VERSION {
            return Err(QueueError::NeedsMigration {
                path,
                found,
                latest: LATEST_VERSION,
            });
        }
        Ok(SqliteQueue {
            conn: Mutex::new(conn),
            path,
            opts,
            read_only: true,
            pid: std::process::id(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        schema::version(&self.lock_conn())
    }

    /// The options it was opened with.
    pub fn options(&self) -> &QueueOptions {
        &self.opts
    }

    pub(crate) fn now(&self) -> Millis {
        self.opts.clock.now()
    }

    fn lock_conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection leaves no open transaction behind (dropped
        // transactions roll back), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` inside one `BEGIN IMMEDIATE` transaction; commit if it returns Ok.
    /// A file problem (disk full, read-only, damaged) names the file: see [`QueueError::at`].
    pub(crate) fn write<R>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.lock_conn();
        let run = || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let r = f(&tx)?;
            tx.commit()?;
            Ok(r)
        };
        run().map_err(|e: QueueError| e.at(&self.path))
    }

    /// Run `f` on the connection (reads).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let conn = self.lock_conn();
        f(&conn).map_err(|e| e.at(&self.path))
    }
}

/// Append one event (inside the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_event(
    tx: &Connection,
    invoice: InvoiceId,
    uid: Option<&str>,
    now: Millis,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    detail: Option<&str>,
    pid: u32,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status, detail, pid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![invoice.0, uid, now, kind, from, to, detail, pid])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_durable_wal_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let q = SqliteQueue::open(dir.path().join("q.db")).unwrap();
        q.read(|c| {
            let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            assert_eq!(sync, 2, "synchronous=FULL");
            let fk: i64 = c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
            assert_eq!(fk, 1);
            let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            assert_eq!(mode, "wal");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn sibling_paths() {
        assert_eq!(
            sibling(Path::new("/a/q.db"), "-wal"),
            PathBuf::from("/a/q.db-wal")
        );
    }
}
