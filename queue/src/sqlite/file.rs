//! The queue file as a whole: created complete or not at all, never mistaken for new when it is
//! empty, folded back into the main file (WAL checkpoint) when a process is done with it,
//! copied with SQLite's online backup API, and checked.

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::{ensure_private_file, io_err, schema, sibling, SqliteQueue, LATEST_VERSION};
use crate::error::{QueueError, Result};
use crate::types::Summary;

/// Refuse a file that exists but holds nothing (0 bytes): it is not a queue, and treating it as
/// a new one would number invoices from scratch.
pub(crate) fn refuse_empty(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => Err(QueueError::EmptyFile {
            path: path.to_path_buf(),
            size: 0,
        }),
        _ => Ok(()),
    }
}

/// If `path` does not exist, create the queue complete under a temporary name next to it
/// (schema, serial prefix) and link it into place, so no process ever sees a half-made or
/// empty queue file there; if another process created it first, theirs is kept. If it exists,
/// refuse it when empty.
pub(crate) fn create_or_check(path: &Path) -> Result<()> {
    if path.exists() {
        refuse_empty(path)?;
        return ensure_private_file(path);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "queue".into());
    let tmp = path.with_file_name(format!(
        ".{name}.new-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let made = (|| -> Result<()> {
        ensure_private_file(&tmp)?;
        let mut conn = Connection::open_with_flags(
            &tmp,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        schema::migrate(&mut conn, LATEST_VERSION)?;
        // Closing the only connection checkpoints the WAL into the file and removes it.
        conn.close().map_err(|(_, e)| e)?;
        Ok(())
    })();
    let placed = made.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A file system without hard links: rename (the file did not exist a moment ago).
        Err(_) if !path.exists() => std::fs::rename(&tmp, path).map_err(io_err(path)),
        Err(e) => Err(io_err(path)(e)),
    });
    for p in [tmp.clone(), sibling(&tmp, "-wal"), sibling(&tmp, "-shm")] {
        let _ = std::fs::remove_file(p);
    }
    placed?;
    refuse_empty(path)
}

/// What `moadian queue check` reports.
#[derive(Debug, Clone, Serialize)]
pub struct QueueCheck {
    pub path: PathBuf,
    /// `PRAGMA integrity_check` lines (`["ok"]` when sound).
    pub integrity: Vec<String>,
    pub schema_version: i64,
    pub latest_version: i64,
    /// The random prefix this file numbers serials under (`None` before schema v3).
    pub serial_prefix: Option<u64>,
    /// Invoices per status.
    pub summary: Summary,
    /// Violations of the queue's state machine ([`crate::Store::check_consistency`]).
    pub problems: Vec<String>,
    /// Bytes in the `-wal` file next to it (0 when everything is in the main file).
    pub wal_bytes: u64,
}

impl QueueCheck {
    /// Sound: integrity ok and no state-machine violation.
    pub fn ok(&self) -> bool {
        self.integrity == ["ok"] && self.problems.is_empty()
    }
}

impl SqliteQueue {
    /// The random prefix this file numbers serials under (see [`crate::sqlite::serials`]).
    pub fn serial_prefix(&self) -> Result<Option<u64>> {
        self.read(super::serials::prefix)
    }

    /// Fold the WAL back into the main file and truncate it (`wal_checkpoint(TRUNCATE)`), so
    /// the main file alone holds everything committed. Returns `false` when another connection
    /// kept it from completing (it is retried at the next checkpoint).
    pub fn checkpoint(&self) -> Result<bool> {
        if self.read_only {
            return Ok(false);
        }
        self.read(|c| {
            let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok(busy == 0)
        })
    }

    /// Copy the queue to `dest` with SQLite's online backup API (consistent even while a
    /// runner sends), written under a temporary name, checked, then renamed into place. Refuses
    /// to overwrite an existing file.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(QueueError::InvalidInput(format!(
                "{} already exists; give a new file name for the backup",
                dest.display()
            )));
        }
        let tmp = sibling(dest, ".partial");
        let _ = std::fs::remove_file(&tmp);
        let done = (|| -> Result<()> {
            ensure_private_file(&tmp)?;
            let mut out = Connection::open(&tmp)?;
            self.read(|c| {
                let b = rusqlite::backup::Backup::new(c, &mut out)?;
                b.run_to_completion(1024, std::time::Duration::from_millis(0), None)?;
                Ok(())
            })?;
            out.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0))?;
            let ok: String = out.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if ok != "ok" {
                return Err(QueueError::Corrupt(format!(
                    "the backup does not pass integrity_check: {ok}"
                )));
            }
            out.close().map_err(|(_, e)| e)?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io_err(&tmp))?;
            std::fs::rename(&tmp, dest).map_err(io_err(dest))
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    }

    /// Integrity, schema version, serial prefix, counts per status and state-machine check.
    pub fn check(&self) -> Result<QueueCheck> {
        use crate::Store;
        let integrity: Vec<String> = self.read(|c| {
            Ok(c.prepare("PRAGMA integrity_check")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?)
        })?;
        let serial_prefix = self.read(|c| {
            let has: bool = c.query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'queue_meta'",
                [],
                |r| r.get(0),
            )?;
            if has {
                super::serials::prefix(c)
            } else {
                Ok(None)
            }
        })?;
        Ok(QueueCheck {
            path: self.path.clone(),
            integrity,
            schema_version: self.schema_version()?,
            latest_version: LATEST_VERSION,
            serial_prefix,
            summary: self.summary()?,
            problems: self.check_consistency()?,
            wal_bytes: std::fs::metadata(sibling(&self.path, "-wal"))
                .map(|m| m.len())
                .unwrap_or(0),
        })
    }
}

impl Drop for SqliteQueue {
    /// A process done with the queue leaves everything in the main file: a copy of it alone
    /// (a backup tool that skips `-wal`) is complete between runs.
    fn drop(&mut self) {
        if self.read_only {
            return;
        }
        let c = self.lock_conn();
        let _ = c.busy_timeout(std::time::Duration::from_secs(2));
        let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        });
    }
}
