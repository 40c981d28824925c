//! Where one submission keeps what it did with each input — one placement per input, in input
//! order, and which input of this run holds each tax ID — so that a submission of any size
//! holds only one chunk in memory. A private temporary SQLite database: on disk past a small
//! page cache, deleted when the spool is dropped.

use super::report::InvoiceReport;
use super::Refusal;
use moadian_queue::InvoiceId;
use rusqlite::{params, Connection, OptionalExtension};

/// What became of one input.
#[derive(Debug)]
pub enum Stored {
    /// A queue row (new, replaced, or the same invoice already there).
    Queue(InvoiceId),
    /// The same invoice was already in the queue before this run; the input's own source, and
    /// whether the invoice was still waiting to be sent (QUEUED) when this input met it.
    Already(InvoiceId, String, bool),
    /// A row of its own (invalid and not recorded, superseded, conflicting).
    Local(Box<InvoiceReport>),
    /// The queue refused it.
    Refused(Refusal),
}

/// The input of this run holding a tax ID.
#[derive(Debug, Clone)]
pub struct Holder {
    pub ord: i64,
    pub valid: bool,
    pub source: String,
    /// Its findings, as stored (JSON text).
    pub findings: Option<String>,
}

const QUEUE: i64 = 0;
const ALREADY: i64 = 1;
const LOCAL: i64 = 2;
const REFUSED: i64 = 3;
/// `doc` of an ALREADY placement whose invoice was QUEUED when the input met it.
const WAITING: &str = "waiting";

pub struct Spool {
    conn: Connection,
}

fn err(e: rusqlite::Error) -> anyhow::Error {
    anyhow::anyhow!("temporary storage of the submission: {e}")
}

impl Spool {
    pub fn new() -> anyhow::Result<Self> {
        // An empty name: a private temporary database on disk, removed when closed.
        let conn = Connection::open("").map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;
             PRAGMA temp_store=FILE;
             CREATE TABLE placement(ord INTEGER PRIMARY KEY, kind INTEGER NOT NULL,
                 id INTEGER, source TEXT, doc TEXT);
             CREATE TABLE holder(taxid TEXT PRIMARY KEY, ord INTEGER NOT NULL,
                 valid INTEGER NOT NULL, source TEXT NOT NULL, findings TEXT) WITHOUT ROWID;
             CREATE TABLE placed(id INTEGER PRIMARY KEY, ord INTEGER NOT NULL);",
        )
        .map_err(err)?;
        Ok(Self { conn })
    }

    pub fn begin(&self) -> anyhow::Result<()> {
        self.conn.execute_batch("BEGIN").map_err(err)
    }

    pub fn commit(&self) -> anyhow::Result<()> {
        self.conn.execute_batch("COMMIT").map_err(err)
    }

    /// Records (or replaces) the placement of input `ord`.
    pub fn set(&self, ord: i64, p: &Stored) -> anyhow::Result<()> {
        let (kind, id, source, doc) = match p {
            Stored::Queue(id) => (QUEUE, Some(id.0), None, None),
            Stored::Already(id, s, waiting) => (
                ALREADY,
                Some(id.0),
                Some(s.as_str()),
                waiting.then(|| WAITING.to_string()),
            ),
            Stored::Local(r) => (LOCAL, None, None, Some(serde_json::to_string(r)?)),
            Stored::Refused(r) => (REFUSED, None, None, Some(serde_json::to_string(r)?)),
        };
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO placement(ord, kind, id, source, doc) VALUES (?1,?2,?3,?4,?5)",
            )
            .and_then(|mut s| s.execute(params![ord, kind, id, source, doc]))
            .map_err(err)?;
        Ok(())
    }

    /// The queue row input `ord` was placed on, if any.
    pub fn placed_id(&self, ord: i64) -> anyhow::Result<Option<InvoiceId>> {
        let id: Option<Option<i64>> = self
            .conn
            .prepare_cached("SELECT id FROM placement WHERE ord = ?1")
            .and_then(|mut s| s.query_row([ord], |r| r.get(0)).optional())
            .map_err(err)?;
        Ok(id.flatten().map(InvoiceId))
    }

    /// Whether the queue refused input `ord`.
    pub fn was_refused(&self, ord: i64) -> anyhow::Result<bool> {
        let kind: Option<i64> = self
            .conn
            .prepare_cached("SELECT kind FROM placement WHERE ord = ?1")
            .and_then(|mut s| s.query_row([ord], |r| r.get(0)).optional())
            .map_err(err)?;
        Ok(kind == Some(REFUSED))
    }

    /// Claims queue row `id` for input `ord`: false when another input of this run already
    /// shows it (a queue row is shown once).
    pub fn claim(&self, id: InvoiceId, ord: i64) -> anyhow::Result<bool> {
        let n = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO placed(id, ord) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![id.0, ord]))
            .map_err(err)?;
        Ok(n == 1)
    }

    /// The own source of the input of this run that shows queue row `id`, when that input
    /// was placed on a row already there (else the row's source is that input's).
    pub fn claimant_source(&self, id: InvoiceId) -> anyhow::Result<Option<String>> {
        let source: Option<Option<String>> = self
            .conn
            .prepare_cached(
                "SELECT placement.source FROM placed
                 JOIN placement ON placement.ord = placed.ord WHERE placed.id = ?1",
            )
            .and_then(|mut s| s.query_row([id.0], |r| r.get(0)).optional())
            .map_err(err)?;
        Ok(source.flatten())
    }

    /// Releases queue row `id` (its input was superseded by a later one).
    pub fn release(&self, id: InvoiceId) -> anyhow::Result<()> {
        self.conn
            .prepare_cached("DELETE FROM placed WHERE id = ?1")
            .and_then(|mut s| s.execute([id.0]))
            .map_err(err)?;
        Ok(())
    }

    /// The input of this run holding `taxid`.
    pub fn holder(&self, taxid: &str) -> anyhow::Result<Option<Holder>> {
        self.conn
            .prepare_cached("SELECT ord, valid, source, findings FROM holder WHERE taxid = ?1")
            .and_then(|mut s| {
                s.query_row([taxid], |r| {
                    Ok(Holder {
                        ord: r.get(0)?,
                        valid: r.get(1)?,
                        source: r.get(2)?,
                        findings: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(err)
    }

    pub fn set_holder(&self, taxid: &str, h: &Holder) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO holder(taxid, ord, valid, source, findings) VALUES (?1,?2,?3,?4,?5)",
            )
            .and_then(|mut s| s.execute(params![taxid, h.ord, h.valid, h.source, h.findings]))
            .map_err(err)?;
        Ok(())
    }

    /// Up to `limit` placements after input `after`, in input order.
    pub fn page(&self, after: i64, limit: usize) -> anyhow::Result<Vec<(i64, Stored)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ord, kind, id, source, doc FROM placement WHERE ord > ?1 ORDER BY ord LIMIT ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (ord, kind, id, source, doc) = row.map_err(err)?;
            let id = InvoiceId(id.unwrap_or_default());
            let doc = doc.unwrap_or_default();
            let p = match kind {
                QUEUE => Stored::Queue(id),
                ALREADY => Stored::Already(id, source.unwrap_or_default(), doc == WAITING),
                LOCAL => Stored::Local(Box::new(serde_json::from_str(&doc)?)),
                _ => Stored::Refused(serde_json::from_str(&doc)?),
            };
            out.push((ord, p));
        }
        Ok(out)
    }
}
