//! The schema as an ordered list of migrations. `PRAGMA user_version` holds how many have been
//! applied; opening a file applies the missing ones in one transaction each. Never edit a
//! released migration: append a new one.

use rusqlite::Connection;

use crate::error::Result;

/// Migration `i` (0-based) brings the file from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1: the core tables.
    r#"
CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    memory_id       TEXT NOT NULL,
    taxid           TEXT UNIQUE,
    serial          INTEGER,
    indatim         INTEGER,
    kind            TEXT,
    ins             INTEGER,
    payload         TEXT, -- JSON text, checked by the queue before it is stored
    status          TEXT NOT NULL CHECK (status IN
                      ('INVALID','QUEUED','SENDING','IN_PROGRESS','SUCCESS','FAILED','UNKNOWN')),
    revision        INTEGER NOT NULL DEFAULT 1,
    findings        TEXT,
    resubmission_of INTEGER UNIQUE REFERENCES invoices(id),
    last_attempt    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX invoices_status ON invoices(status, memory_id, id);

CREATE TABLE attempts (
    uid              TEXT PRIMARY KEY,
    invoice_id       INTEGER NOT NULL REFERENCES invoices(id),
    batch_id         TEXT NOT NULL,
    invoice_revision INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
                       ('SENDING','IN_PROGRESS','UNKNOWN','SUCCESS','FAILED','REJECTED','LOST')),
    reference        TEXT,
    server_status    TEXT,
    errors           TEXT,
    warnings         TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    unknown_since    INTEGER,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX attempts_invoice ON attempts(invoice_id, created_at);
CREATE INDEX attempts_status ON attempts(status);
CREATE INDEX attempts_reference ON attempts(reference) WHERE reference IS NOT NULL;
-- At most one unfinished attempt per invoice (invariant 3, enforced by the file itself).
CREATE UNIQUE INDEX attempts_one_open ON attempts(invoice_id)
    WHERE status IN ('SENDING','IN_PROGRESS','UNKNOWN');

CREATE TABLE serials (
    memory_id TEXT PRIMARY KEY,
    last      INTEGER NOT NULL CHECK (last >= 0)
);
-- Serials never go backwards.
CREATE TRIGGER serials_monotonic BEFORE UPDATE OF last ON serials
    WHEN NEW.last < OLD.last
    BEGIN SELECT RAISE(ABORT, 'serial counter must not go backwards'); END;

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    invoice_id  INTEGER NOT NULL REFERENCES invoices(id),
    attempt_uid TEXT,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    detail      TEXT,
    pid         INTEGER NOT NULL
);
CREATE INDEX events_invoice ON events(invoice_id, id);
-- The event log is append-only.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"#,
    // v2: inquiry bookkeeping and idempotent enqueue.
    r#"
ALTER TABLE attempts ADD COLUMN polled_at INTEGER;
ALTER TABLE invoices ADD COLUMN dedup_key TEXT;
CREATE INDEX invoices_dedup ON invoices(dedup_key) WHERE dedup_key IS NOT NULL;
"#,
    // v3: the queue's own facts (the random serial prefix, see `serials`); `dedup_key` becomes
    // the canonical content fingerprint (see `fingerprint`), backfilled by `after` below.
    r#"
CREATE TABLE queue_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    // v4: status lists as OR-chains. SQLite builds a temporary b-tree for every `IN` list of
    // more than two constants each time a statement runs; the status CHECKs and this index's
    // predicate made every status write build up to three. The CHECKs are rewritten by `after`
    // below (the same set of statuses, so every stored row still satisfies them).
    r#"
DROP INDEX attempts_one_open;
-- At most one unfinished attempt per invoice (invariant 3, enforced by the file itself).
CREATE UNIQUE INDEX attempts_one_open ON attempts(invoice_id)
    WHERE status = 'SENDING' OR status = 'IN_PROGRESS' OR status = 'UNKNOWN';
"#,
];

/// Steps that need Rust after migration `i`'s SQL, in the same transaction.
fn after(tx: &Connection, i: usize) -> Result<()> {
    if i == 2 {
        super::serials::init_prefix(tx)?;
        backfill_fingerprints(tx)?;
    }
    if i == 3 {
        status_checks_as_or_chains(tx)?;
    }
    Ok(())
}

/// The v1 status CHECKs, exactly as v1 wrote them, and the same sets as OR-chains.
const STATUS_CHECKS: [(&str, &str, &str); 2] = [
    (
        "invoices",
        "CHECK (status IN
                      ('INVALID','QUEUED','SENDING','IN_PROGRESS','SUCCESS','FAILED','UNKNOWN'))",
        "CHECK (status = 'INVALID' OR status = 'QUEUED' OR status = 'SENDING'
                      OR status = 'IN_PROGRESS' OR status = 'SUCCESS' OR status = 'FAILED'
                      OR status = 'UNKNOWN')",
    ),
    (
        "attempts",
        "CHECK (status IN
                       ('SENDING','IN_PROGRESS','UNKNOWN','SUCCESS','FAILED','REJECTED','LOST'))",
        "CHECK (status = 'SENDING' OR status = 'IN_PROGRESS' OR status = 'UNKNOWN'
                       OR status = 'SUCCESS' OR status = 'FAILED' OR status = 'REJECTED'
                       OR status = 'LOST')",
    ),
];

/// Rewrite the status CHECKs in place, by SQLite's documented procedure for changing a CHECK
/// constraint (<https://www.sqlite.org/lang_altertable.html>, "Making Other Kinds Of Table
/// Schema Changes"): the stored `CREATE TABLE` text is edited under `writable_schema` and the
/// schema version bumped, inside the migration's transaction. Allowed because the new
/// constraint accepts exactly the rows the old one did. Chosen over rebuilding the tables: no
/// row is copied (a 1M-invoice file upgrades in milliseconds), and the foreign keys, triggers
/// and indexes that name these tables are left as they are. The text is replaced only where
/// it is exactly what v1 wrote; anything else is refused and the transaction rolls back.
fn status_checks_as_or_chains(tx: &Connection) -> Result<()> {
    let mut edited = Vec::new();
    for (table, old, new) in STATUS_CHECKS {
        let sql: String = tx.query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        if sql.matches(old).count() != 1 {
            return Err(crate::error::QueueError::Corrupt(format!(
                "table {table} does not have the status CHECK this program wrote; \
                 its schema was changed by something else, not upgrading it"
            )));
        }
        edited.push((table, sql.replace(old, new)));
    }
    let version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.pragma_update(None, "writable_schema", true)?;
    let written = (|| -> Result<()> {
        for (table, sql) in &edited {
            let n = tx.execute(
                "UPDATE sqlite_schema SET sql = ?2 WHERE type = 'table' AND name = ?1",
                rusqlite::params![table, sql],
            )?;
            if n != 1 {
                return Err(crate::error::QueueError::Corrupt(format!(
                    "table {table}: its schema row could not be rewritten"
                )));
            }
        }
        tx.pragma_update(None, "schema_version", version + 1)?;
        Ok(())
    })();
    tx.pragma_update(None, "writable_schema", false)?;
    written?;
    // The edited text is parsed again here: a statement writing each status compiles its CHECK.
    for (table, _, _) in STATUS_CHECKS {
        tx.prepare(&format!("EXPLAIN UPDATE {table} SET status = status"))
            .map_err(|e| {
                crate::error::QueueError::Corrupt(format!(
                    "after rewriting the status CHECK of {table}: {e}"
                ))
            })?;
    }
    Ok(())
}

/// Every stored invoice gets the fingerprint of its content (rows stored before v3 had none,
/// or a hash of their exact text).
fn backfill_fingerprints(tx: &Connection) -> Result<()> {
    let rows: Vec<(i64, String, String)> = tx
        .prepare("SELECT id, memory_id, payload FROM invoices WHERE payload IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut set = tx.prepare("UPDATE invoices SET dedup_key = ?2 WHERE id = ?1")?;
    for (id, memory_id, payload) in rows {
        let fp = crate::fingerprint::of_payload(&memory_id, &payload);
        set.execute(rusqlite::params![id, fp])?;
    }
    Ok(())
}

/// The schema version this build writes.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Apply migrations `from..to` in ONE immediate transaction, re-checking the version inside it:
/// two processes opening a fresh file at once do not both migrate, and a reader sees the old
/// schema or the new one, never a step in between.
pub(crate) fn migrate(conn: &mut Connection, to: i64) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut v = version(&tx)?;
    if v >= to {
        return Ok(());
    }
    while v < to {
        tx.execute_batch(MIGRATIONS[v as usize])?;
        after(&tx, v as usize)?;
        v += 1;
    }
    tx.pragma_update(None, "user_version", v)?;
    tx.commit()?;
    Ok(())
}

/// Bring a raw connection to an older schema version (tests: build an "old" file).
#[doc(hidden)]
pub fn migrate_to_version(conn: &mut Connection, version: i64) -> Result<()> {
    migrate(conn, version.min(LATEST_VERSION))
}
