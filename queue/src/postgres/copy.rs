//! Moving an SQLite queue file into a PostgreSQL queue without loss: every invoice (payload,
//! status, revision, links), every attempt (uid, reference, answers, times), the whole event
//! log, and the serial counters — in ONE PostgreSQL transaction, so the target holds all of it
//! or none of it.
//!
//! Refused, with nothing written, when the target already holds one of the file's tax IDs or
//! attempt uids (a second copy of the same file, or another queue that numbered the same
//! memory ID): a tax ID carries one invoice, and a uid answers for one attempt.
//!
//! The file's runner lock is held while it is read, so no `run` sends from it meanwhile (an
//! attempt left SENDING by a dead runner becomes UNKNOWN first, as at any runner start: the new
//! queue reconciles it by inquiry before sending anything). Invoice ids are renumbered in the
//! target (it may hold other queues' invoices); each copied invoice gets a `copied` event
//! naming the file and its id there.

use std::collections::HashMap;
use std::path::Path;

use super::enqueue::{note_serial, prefix, set_prefix};
use super::{log_event, PgQueue};
use crate::error::{QueueError, Result};
use crate::sqlite::SqliteQueue;
use crate::store::Store;

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    pub invoices: u64,
    pub attempts: u64,
    pub events: u64,
    /// Memory IDs whose serial counter was carried over.
    pub serial_counters: u64,
}

type Val = rusqlite::types::Value;

fn text(v: &Val) -> Option<String> {
    match v {
        Val::Text(s) => Some(s.clone()),
        Val::Integer(i) => Some(i.to_string()),
        Val::Real(f) => Some(f.to_string()),
        _ => None,
    }
}

fn int(v: &Val) -> Option<i64> {
    match v {
        Val::Integer(i) => Some(*i),
        _ => None,
    }
}

/// All rows of one query, each as its column values.
fn rows(c: &rusqlite::Connection, sql: &str) -> Result<Vec<Vec<Val>>> {
    let mut stmt = c.prepare(sql)?;
    let n = stmt.column_count();
    let out = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, Val>(i)).collect())?
        .collect::<rusqlite::Result<Vec<Vec<Val>>>>()?;
    Ok(out)
}

struct Source {
    invoices: Vec<Vec<Val>>,
    attempts: Vec<Vec<Val>>,
    events: Vec<Vec<Val>>,
    serials: Vec<(String, i64)>,
    prefix: Option<u64>,
}

const INVOICE_SQL: &str = "SELECT id, source, memory_id, taxid, serial, indatim, kind, ins, \
    payload, status, revision, findings, resubmission_of, last_attempt, dedup_key, created_at, \
    updated_at FROM invoices ORDER BY id";
const ATTEMPT_SQL: &str = "SELECT uid, invoice_id, batch_id, invoice_revision, status, reference, \
    server_status, errors, warnings, created_at, sent_at, unknown_since, polled_at, updated_at \
    FROM attempts ORDER BY created_at, rowid";
const EVENT_SQL: &str = "SELECT invoice_id, attempt_uid, at, kind, from_status, to_status, \
    detail, pid FROM events ORDER BY id";

fn read_source(file: &SqliteQueue) -> Result<Source> {
    file.read(|c| {
        c.execute_batch("BEGIN")?;
        let r = (|| {
            Ok(Source {
                invoices: rows(c, INVOICE_SQL)?,
                attempts: rows(c, ATTEMPT_SQL)?,
                events: rows(c, EVENT_SQL)?,
                serials: c
                    .prepare("SELECT memory_id, last FROM serials ORDER BY memory_id")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?,
                prefix: crate::sqlite::serials::prefix(c)?,
            })
        })();
        c.execute_batch("COMMIT")?;
        r
    })
}

/// Copy the queue file at `from` into the PostgreSQL queue `to` (created if needed).
pub fn copy_sqlite_to_postgres(from: &Path, to: &PgQueue) -> Result<CopyReport> {
    let file = SqliteQueue::open(from)?;
    let _runner = file.acquire_runner()?;
    let src = read_source(&file)?;
    let shown_from = from.display().to_string();
    let pid = std::process::id();
    let now = to.now();
    let report = to.write(|tx| {
        // One copy at a time into this queue; enqueuers wait for it (their tax IDs could
        // otherwise slip in between the check and the insert).
        tx.batch("LOCK TABLE invoices, attempts, serials IN SHARE ROW EXCLUSIVE MODE")?;
        let taxids: Vec<String> = src.invoices.iter().filter_map(|r| text(&r[3])).collect();
        let clash: Vec<String> = tx
            .query(
                "SELECT taxid FROM invoices WHERE taxid = ANY($1) ORDER BY taxid LIMIT 10",
                &[&taxids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !clash.is_empty() {
            return Err(QueueError::InvalidInput(format!(
                "{} cannot be copied: the target queue already holds tax ID{} {} (a tax ID \
                 carries one invoice). Nothing was copied",
                shown_from,
                if clash.len() > 1 { "s" } else { "" },
                clash.join(", ")
            )));
        }
        let uids: Vec<String> = src.attempts.iter().filter_map(|r| text(&r[0])).collect();
        let clash: Vec<String> = tx
            .query(
                "SELECT uid FROM attempts WHERE uid = ANY($1) ORDER BY uid LIMIT 10",
                &[&uids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !clash.is_empty() {
            return Err(QueueError::InvalidInput(format!(
                "{} cannot be copied: the target queue already holds attempt uid{} {}. \
                 Nothing was copied",
                shown_from,
                if clash.len() > 1 { "s" } else { "" },
                clash.join(", ")
            )));
        }
        let target_empty: bool = tx
            .one("SELECT NOT EXISTS (SELECT 1 FROM invoices)", &[])?
            .get(0);
        if let (true, Some(p)) = (target_empty, src.prefix) {
            // A fresh target numbers on in the file's block.
            if prefix(tx)? != Some(p) {
                set_prefix(tx, p)?;
            }
        }
        let mut ids: HashMap<i64, i64> = HashMap::new();
        // Invoices first as QUEUED without an attempt (so their attempts may be inserted),
        // then their real status, revision and newest attempt.
        for r in &src.invoices {
            let old = int(&r[0]).unwrap_or_default();
            let resub = int(&r[12]).map(|o| {
                ids.get(&o).copied().ok_or_else(|| {
                    QueueError::Corrupt(format!("invoice {old} resubmits unknown invoice {o}"))
                })
            });
            let resub = resub.transpose()?;
            let id: i64 = tx
                .one(
                    "INSERT INTO invoices (source, memory_id, taxid, serial, indatim, kind, ins,
                        payload, status, revision, findings, resubmission_of, dedup_key,
                        created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'QUEUED', 1, $9, $10, $11, $12, $13)
                     RETURNING id",
                    &[
                        &text(&r[1]).unwrap_or_default(),
                        &text(&r[2]).unwrap_or_default(),
                        &text(&r[3]),
                        &int(&r[4]),
                        &int(&r[5]),
                        &text(&r[6]),
                        &int(&r[7]),
                        &text(&r[8]),
                        &text(&r[11]),
                        &resub,
                        &text(&r[14]),
                        &int(&r[15]).unwrap_or(now),
                        &int(&r[16]).unwrap_or(now),
                    ],
                )?
                .get(0);
            ids.insert(old, id);
        }
        for a in &src.attempts {
            let inv = int(&a[1])
                .and_then(|o| ids.get(&o).copied())
                .ok_or_else(|| {
                    QueueError::Corrupt(format!("attempt {:?} of an unknown invoice", text(&a[0])))
                })?;
            tx.exec(
                "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status,
                    reference, server_status, errors, warnings, created_at, sent_at,
                    unknown_since, polled_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                &[
                    &text(&a[0]).unwrap_or_default(),
                    &inv,
                    &text(&a[2]).unwrap_or_default(),
                    &int(&a[3]).unwrap_or(1),
                    &text(&a[4]).unwrap_or_default(),
                    &text(&a[5]),
                    &text(&a[6]),
                    &text(&a[7]),
                    &text(&a[8]),
                    &int(&a[9]).unwrap_or(now),
                    &int(&a[10]),
                    &int(&a[11]),
                    &int(&a[12]),
                    &int(&a[13]).unwrap_or(now),
                ],
            )?;
        }
        for r in &src.invoices {
            let id = ids[&int(&r[0]).unwrap_or_default()];
            tx.exec(
                "UPDATE invoices SET status = $2, revision = $3, last_attempt = $4 WHERE id = $1",
                &[
                    &id,
                    &text(&r[9]).unwrap_or_default(),
                    &int(&r[10]).unwrap_or(1),
                    &text(&r[13]),
                ],
            )?;
        }
        for e in &src.events {
            let inv = int(&e[0])
                .and_then(|o| ids.get(&o).copied())
                .ok_or_else(|| QueueError::Corrupt("an event of an unknown invoice".to_string()))?;
            tx.exec(
                "INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status,
                                     detail, pid)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &inv,
                    &text(&e[1]),
                    &int(&e[2]).unwrap_or(now),
                    &text(&e[3]).unwrap_or_default(),
                    &text(&e[4]),
                    &text(&e[5]),
                    &text(&e[6]),
                    &int(&e[7]).unwrap_or_default(),
                ],
            )?;
        }
        for (old, new) in &ids {
            let detail = serde_json::json!({"from": shown_from, "id": old}).to_string();
            log_event(
                tx,
                crate::types::InvoiceId(*new),
                None,
                now,
                "copied",
                None,
                None,
                Some(&detail),
                pid,
            )?;
        }
        for (memory_id, last) in &src.serials {
            note_serial(tx, memory_id, *last as u64)?;
        }
        Ok(CopyReport {
            invoices: src.invoices.len() as u64,
            attempts: src.attempts.len() as u64,
            events: src.events.len() as u64,
            serial_counters: src.serials.len() as u64,
        })
    })?;
    let problems = to.check_consistency()?;
    if !problems.is_empty() {
        return Err(QueueError::Corrupt(format!(
            "after copying {shown_from}: {}",
            problems.join("; ")
        )));
    }
    Ok(report)
}
