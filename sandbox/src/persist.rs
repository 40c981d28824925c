//! The sandbox's memory across restarts (`sandbox serve --state FILE`, and the built-in
//! `--sandbox` beside its queue): its RSA key, every received invoice with its reference number,
//! uid and outcome, in a SQLite file. The ledger and the tax IDs that reached SUCCESS are rebuilt
//! from the invoices in the order they were received, so a restarted sandbox answers inquiries,
//! refuses duplicates and counts the ledger as the real server does, which never forgets.
//!
//! An invoice whose examination had not finished when the sandbox stopped keeps its encrypted
//! packet here and is examined again at start. Nonces are not kept (they live seconds).

use super::state::InvoiceRecord;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("sandbox state {path}: {reason}")]
pub struct PersistError {
    pub path: PathBuf,
    pub reason: String,
}

/// An open state file.
pub struct Persist {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Persist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persist").field("path", &self.path).finish()
    }
}

/// One stored invoice: the record, and the packet while it is not examined yet.
pub struct Stored {
    pub record: InvoiceRecord,
    pub pending_payload: Option<String>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS invoice (
    seq INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    payload TEXT
);
";

/// Marks the file as a sandbox state file (and not, say, a queue).
const KIND: &str = "moadian-sandbox-state-1";

impl Persist {
    /// Opens or creates the state file.
    pub fn open(path: &Path) -> Result<Self, PersistError> {
        let fail = |reason: String| PersistError {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(|e| fail(format!("not a sandbox state file ({e})")))?;
        let p = Self {
            conn,
            path: path.to_path_buf(),
        };
        match p.meta("kind").map_err(|e| fail(e.to_string()))? {
            None => p.set_meta("kind", KIND.as_bytes()),
            Some(k) if k == KIND.as_bytes() => Ok(()),
            Some(_) => return Err(fail("written by another program or version".into())),
        }
        .map_err(|e| fail(e.to_string()))?;
        Ok(p)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn meta(&self, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> rusqlite::Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
    }

    /// The sandbox key kept here (PKCS#8 PEM), if any.
    pub fn key_pem(&self) -> Result<Option<Vec<u8>>, PersistError> {
        self.meta("server_key_pem").map_err(|e| self.error(e))
    }

    /// Keeps the sandbox key (PKCS#8 PEM).
    pub fn save_key_pem(&self, pem: &[u8]) -> Result<(), PersistError> {
        self.set_meta("server_key_pem", pem)
            .map_err(|e| self.error(e))
    }

    /// Every stored invoice, in the order received.
    pub fn load(&self) -> Result<Vec<Stored>, PersistError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, record, payload FROM invoice ORDER BY seq")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, text, pending_payload) = row.map_err(|e| self.error(e))?;
            let record = serde_json::from_str(&text).map_err(|e| PersistError {
                path: self.path.clone(),
                reason: format!("invoice {seq} is unreadable: {e}"),
            })?;
            out.push(Stored {
                record,
                pending_payload,
            });
        }
        Ok(out)
    }

    /// Records a received invoice (index `i`) with its packet, before it is examined.
    pub fn insert(&self, i: usize, record: &InvoiceRecord, payload: &str) {
        let text = serde_json::to_string(record).unwrap_or_default();
        let r = self.conn.execute(
            "INSERT OR REPLACE INTO invoice (seq, record, payload) VALUES (?1, ?2, ?3)",
            params![i as i64, text, payload],
        );
        self.log(r);
    }

    /// Records the outcome of invoice `i`; its packet is no longer needed.
    pub fn decided(&self, i: usize, record: &InvoiceRecord) {
        let text = serde_json::to_string(record).unwrap_or_default();
        let r = self.conn.execute(
            "UPDATE invoice SET record = ?2, payload = NULL WHERE seq = ?1",
            params![i as i64, text],
        );
        self.log(r);
    }

    fn error(&self, e: rusqlite::Error) -> PersistError {
        PersistError {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// A write that fails leaves the running sandbox answering from memory; it is logged, as a
    /// real server's storage error would be invisible to its clients too.
    fn log(&self, r: rusqlite::Result<usize>) {
        if let Err(e) = r {
            tracing::error!(path = %self.path.display(), error = %e, "sandbox state not saved");
        }
    }
}
