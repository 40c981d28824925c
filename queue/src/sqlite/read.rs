//! Reading the queue back: invoices, attempts, listings, counts, the event log, and the
//! consistency check used after crashes.

use rusqlite::{params_from_iter, Connection, Params, Row};
use uuid::Uuid;

use super::SqliteQueue;
use crate::error::{QueueError, Result};
use crate::types::*;

const INVOICE_COLS: &str = "id, source, memory_id, taxid, serial, indatim, kind, ins, status, \
     revision, payload, findings, resubmission_of, dedup_key, last_attempt, created_at, updated_at";

const ATTEMPT_SELECT: &str = "SELECT a.uid, a.invoice_id, i.taxid, i.memory_id, a.batch_id, \
     a.invoice_revision, a.status, a.reference, a.server_status, a.errors, a.warnings, \
     a.created_at, a.sent_at, a.unknown_since, a.polled_at, a.updated_at \
     FROM attempts a JOIN invoices i ON i.id = a.invoice_id";

/// [`ATTEMPT_SELECT`]'s columns, without the FROM (more columns may follow).
const ATTEMPT_COLUMNS: &str = "SELECT a.uid, a.invoice_id, i.taxid, i.memory_id, a.batch_id, \
     a.invoice_revision, a.status, a.reference, a.server_status, a.errors, a.warnings, \
     a.created_at, a.sent_at, a.unknown_since, a.polled_at, a.updated_at";

fn corrupt(e: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt(e.to_string())
}

pub(crate) fn json(v: Option<String>) -> Result<Option<serde_json::Value>> {
    v.map(|s| serde_json::from_str(&s).map_err(corrupt))
        .transpose()
}

fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| corrupt(format!("bad uid {s:?}: {e}")))
}

/// Raw columns first (rusqlite errors), then conversions (queue errors).
fn invoice_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Invoice>> {
    let status: String = r.get(8)?;
    let findings: Option<String> = r.get(11)?;
    let last: Option<String> = r.get(14)?;
    let mut inv = Invoice {
        id: InvoiceId(r.get(0)?),
        source: r.get(1)?,
        memory_id: r.get(2)?,
        taxid: r.get(3)?,
        serial: r.get::<_, Option<i64>>(4)?.map(|s| s as u64),
        indatim: r.get(5)?,
        kind: r.get(6)?,
        ins: r.get(7)?,
        status: InvoiceStatus::Queued,
        revision: r.get(9)?,
        payload: r.get(10)?,
        findings: None,
        resubmission_of: r.get::<_, Option<i64>>(12)?.map(InvoiceId),
        dedup_key: r.get(13)?,
        last_attempt: None,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    };
    Ok((|| {
        inv.status = status.parse()?;
        inv.findings = json(findings)?;
        inv.last_attempt = last.as_deref().map(uuid).transpose()?;
        Ok(inv)
    })())
}

pub(crate) fn invoices_where(
    c: &Connection,
    where_sql: &str,
    p: impl Params,
) -> Result<Vec<Invoice>> {
    let sql = format!("SELECT {INVOICE_COLS} FROM invoices WHERE {where_sql}");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(p, invoice_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

fn attempt_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Attempt>> {
    let uid: String = r.get(0)?;
    let status: String = r.get(6)?;
    let errors: Option<String> = r.get(9)?;
    let warnings: Option<String> = r.get(10)?;
    let invoice_id = InvoiceId(r.get(1)?);
    let taxid = r.get(2)?;
    let memory_id = r.get(3)?;
    let batch_id = r.get(4)?;
    let invoice_revision = r.get(5)?;
    let reference = r.get(7)?;
    let server_status = r.get(8)?;
    let times: [Option<i64>; 5] = [r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?, r.get(15)?];
    Ok((|| {
        Ok(Attempt {
            uid: uuid(&uid)?,
            invoice_id,
            taxid,
            memory_id,
            batch_id,
            invoice_revision,
            status: status.parse()?,
            reference,
            server_status,
            errors: json(errors)?,
            warnings: json(warnings)?,
            created_at: times[0].unwrap_or_default(),
            sent_at: times[1],
            unknown_since: times[2],
            polled_at: times[3],
            updated_at: times[4].unwrap_or_default(),
        })
    })())
}

pub(crate) fn attempts_where(
    c: &Connection,
    where_sql: &str,
    p: impl Params,
) -> Result<Vec<Attempt>> {
    let sql = format!("{ATTEMPT_SELECT} WHERE {where_sql}");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(p, attempt_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

pub(crate) fn attempt_by_uid(c: &Connection, uid: &str) -> Result<Option<Attempt>> {
    Ok(attempts_where(c, "a.uid = ?1", [uid])?.pop())
}

fn row_from_list(r: &Row<'_>) -> rusqlite::Result<Result<InvoiceRow>> {
    let status: String = r.get(5)?;
    let findings: Option<String> = r.get(9)?;
    let a_uid: Option<String> = r.get(13)?;
    let a_status: Option<String> = r.get(15)?;
    let a_errors: Option<String> = r.get(17)?;
    let a_warnings: Option<String> = r.get(18)?;
    let mut row = InvoiceRow {
        id: InvoiceId(r.get(0)?),
        source: r.get(1)?,
        memory_id: r.get(2)?,
        taxid: r.get(3)?,
        serial: r.get::<_, Option<i64>>(4)?.map(|s| s as u64),
        status: InvoiceStatus::Queued,
        kind: r.get(6)?,
        ins: r.get(7)?,
        indatim: r.get(8)?,
        findings: None,
        resubmission_of: r.get::<_, Option<i64>>(10)?.map(InvoiceId),
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        last_attempt: None,
    };
    let batch: Option<String> = r.get(14)?;
    let reference: Option<String> = r.get(16)?;
    Ok((|| {
        row.status = status.parse()?;
        row.findings = json(findings)?;
        if let (Some(uid), Some(st)) = (a_uid, a_status) {
            row.last_attempt = Some(AttemptBrief {
                uid: uuid(&uid)?,
                batch_id: batch.unwrap_or_default(),
                status: st.parse()?,
                reference,
                errors: json(a_errors)?,
                warnings: json(a_warnings)?,
            });
        }
        Ok(row)
    })())
}

impl SqliteQueue {
    pub(crate) fn do_get(&self, id: InvoiceId) -> Result<Option<Invoice>> {
        self.read(|c| Ok(invoices_where(c, "id = ?1", [id.0])?.pop()))
    }

    pub(crate) fn do_find_by_taxid(&self, taxid: &str) -> Result<Option<Invoice>> {
        self.read(|c| Ok(invoices_where(c, "taxid = ?1", [taxid])?.pop()))
    }

    pub(crate) fn do_attempt(&self, uid: Uuid) -> Result<Option<Attempt>> {
        self.read(|c| attempt_by_uid(c, &uid.to_string()))
    }

    pub(crate) fn do_find_by_reference(&self, reference: &str) -> Result<Option<Attempt>> {
        self.read(|c| Ok(attempts_where(c, "a.reference = ?1", [reference])?.pop()))
    }

    pub(crate) fn do_attempts(&self, id: InvoiceId) -> Result<Vec<Attempt>> {
        self.read(|c| {
            attempts_where(
                c,
                "a.invoice_id = ?1 ORDER BY a.created_at, a.rowid",
                [id.0],
            )
        })
    }

    pub(crate) fn do_list(&self, f: &ListFilter) -> Result<Vec<InvoiceRow>> {
        let mut conds = vec!["i.id > ?".to_string()];
        let mut args: Vec<rusqlite::types::Value> = vec![f.after.map_or(0, |a| a.0).into()];
        if let Some(s) = f.status {
            conds.push("i.status = ?".into());
            args.push(s.as_str().to_string().into());
        }
        if let Some(m) = &f.memory_id {
            conds.push("i.memory_id = ?".into());
            args.push(m.clone().into());
        }
        if let Some(t) = f.updated_since {
            conds.push("i.updated_at >= ?".into());
            args.push(t.into());
        }
        if let Some(ids) = &f.ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            // The ids go in as one JSON array (no parameter-count limit).
            let arr = serde_json::Value::from(ids.iter().map(|i| i.0).collect::<Vec<_>>());
            conds.push("i.id IN (SELECT value FROM json_each(?))".into());
            args.push(arr.to_string().into());
        }
        let limit = f.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        args.push(limit.into());
        let sql = format!(
            "SELECT i.id, i.source, i.memory_id, i.taxid, i.serial, i.status, i.kind, i.ins,
                    i.indatim, i.findings, i.resubmission_of, i.created_at, i.updated_at,
                    a.uid, a.batch_id, a.status, a.reference, a.errors, a.warnings
             FROM invoices i LEFT JOIN attempts a ON a.uid = i.last_attempt
             WHERE {} ORDER BY i.id LIMIT ?",
            conds.join(" AND ")
        );
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), row_from_list)?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
    }

    pub(crate) fn do_summary(&self) -> Result<Summary> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT status, count(*) FROM invoices GROUP BY status")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut s = Summary::default();
            for r in rows {
                let (status, n) = r?;
                s.add(status.parse()?, n as u64);
            }
            Ok(s)
        })
    }

    pub(crate) fn do_events(&self, id: InvoiceId) -> Result<Vec<Event>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, invoice_id, attempt_uid, at, kind, from_status, to_status, detail, pid
                 FROM events WHERE invoice_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for r in rows {
                let (eid, inv, uid, at, kind, from, to, detail, pid) = r?;
                out.push(Event {
                    id: eid,
                    invoice_id: InvoiceId(inv),
                    attempt_uid: uid.as_deref().map(uuid).transpose()?,
                    at,
                    kind,
                    from_status: from.map(|s| s.parse()).transpose()?,
                    to_status: to.map(|s| s.parse()).transpose()?,
                    detail: json(detail)?,
                    pid: pid as u32,
                });
            }
            Ok(out)
        })
    }

    pub(crate) fn do_to_reconcile(&self) -> Result<Vec<Attempt>> {
        self.read(|c| attempts_where(c, "a.status = 'UNKNOWN' ORDER BY a.created_at, a.rowid", []))
    }

    pub(crate) fn do_pending_polls(&self, older_than: std::time::Duration) -> Result<Vec<Attempt>> {
        let cutoff = self.now() - older_than.as_millis() as i64;
        self.read(|c| {
            attempts_where(
                c,
                "a.status = 'IN_PROGRESS' AND coalesce(a.polled_at, a.sent_at, a.created_at) <= ?1
                 ORDER BY a.created_at, a.rowid",
                [cutoff],
            )
        })
    }

    pub(crate) fn do_open_count(&self, memory_id: &str) -> Result<usize> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(
                    "SELECT count(*) FROM attempts a JOIN invoices i ON i.id = a.invoice_id
                     WHERE a.status IN ('UNKNOWN', 'IN_PROGRESS') AND i.memory_id = ?1",
                )?
                .query_row([memory_id], |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    pub(crate) fn do_newest_open(&self, memory_id: &str, limit: usize) -> Result<Vec<Attempt>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            attempts_where(
                c,
                "a.status IN ('UNKNOWN', 'IN_PROGRESS') AND i.memory_id = ?1
                 ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?2",
                rusqlite::params![memory_id, limit],
            )
        })
    }

    pub(crate) fn do_open_page(
        &self,
        memory_id: &str,
        cursor: OpenCursor,
        limit: usize,
    ) -> Result<(Vec<Attempt>, Option<OpenCursor>)> {
        let lim = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut cur = cursor;
            loop {
                let status = match cur.phase {
                    0 => "UNKNOWN",
                    1 => "IN_PROGRESS",
                    _ => return Ok((Vec::new(), None)),
                };
                let sql = format!(
                    "{}, a.rowid FROM attempts a JOIN invoices i ON i.id = a.invoice_id
                     WHERE a.status = ?1 AND i.memory_id = ?2 AND a.rowid > ?3
                     ORDER BY a.rowid LIMIT ?4",
                    ATTEMPT_COLUMNS
                );
                let mut stmt = c.prepare_cached(&sql)?;
                let rows = stmt.query_map(
                    rusqlite::params![status, memory_id, cur.after_row, lim],
                    |r| Ok((attempt_from_row(r)?, r.get::<_, i64>(16)?)),
                )?;
                let mut page = Vec::new();
                let mut last = cur.after_row;
                for row in rows {
                    let (a, rowid) = row?;
                    page.push(a?);
                    last = rowid;
                }
                if page.is_empty() {
                    cur = OpenCursor {
                        phase: cur.phase + 1,
                        after_row: 0,
                    };
                    continue;
                }
                let next = OpenCursor {
                    phase: cur.phase,
                    after_row: last,
                };
                return Ok((page, Some(next)));
            }
        })
    }

    pub(crate) fn do_last_serial(&self, memory_id: &str) -> Result<u64> {
        self.read(|c| super::serials::last_serial(c, memory_id))
    }

    pub(crate) fn do_check_consistency(&self) -> Result<Vec<String>> {
        const CHECKS: &[(&str, &str)] = &[
            (
                "invoice status disagrees with its newest attempt",
                "SELECT i.id || ' ' || i.status || ' / ' || coalesce(a.status, 'no attempt')
                 FROM invoices i LEFT JOIN attempts a ON a.uid = i.last_attempt
                 WHERE NOT (
                   (i.status IN ('SENDING','IN_PROGRESS','UNKNOWN','SUCCESS') AND a.status = i.status)
                   OR (i.status = 'FAILED' AND a.status IN ('FAILED','REJECTED'))
                   OR (i.status IN ('QUEUED','INVALID','FAILED')
                       AND (a.uid IS NULL OR a.status IN ('FAILED','REJECTED','LOST'))))",
            ),
            (
                "unfinished attempt that is not its invoice's newest",
                "SELECT a.uid FROM attempts a JOIN invoices i ON i.id = a.invoice_id
                 WHERE a.status IN ('SENDING','IN_PROGRESS','UNKNOWN')
                   AND a.uid IS NOT i.last_attempt",
            ),
            (
                "newest attempt missing",
                "SELECT i.id FROM invoices i WHERE i.last_attempt IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.uid = i.last_attempt)",
            ),
            (
                "sendable invoice without a tax ID",
                "SELECT id FROM invoices WHERE taxid IS NULL AND status <> 'INVALID'",
            ),
            (
                "serial counter behind a stored serial",
                // Within the block this file numbers in (serials brought by inputs from
                // other numberings do not move the counter; see `serials`).
                "SELECT i.memory_id || ' ' || max(i.serial) FROM invoices i
                 LEFT JOIN serials s ON s.memory_id = i.memory_id
                 WHERE i.serial IS NOT NULL
                   AND (i.serial >> 20) = coalesce(
                       (SELECT CAST(value AS INTEGER) FROM queue_meta WHERE key = 'serial_prefix'),
                       i.serial >> 20)
                 GROUP BY i.memory_id
                 HAVING max(i.serial) > coalesce(max(s.last), -1)",
            ),
            (
                "invoice without an event",
                "SELECT i.id FROM invoices i
                 WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.invoice_id = i.id)",
            ),
            (
                "attempt without its start event",
                "SELECT a.uid FROM attempts a WHERE NOT EXISTS
                   (SELECT 1 FROM events e WHERE e.attempt_uid = a.uid AND e.kind = 'attempt_started')",
            ),
        ];
        self.read(|c| {
            let mut out = Vec::new();
            for (what, sql) in CHECKS {
                let mut stmt = c.prepare(sql)?;
                let rows = stmt.query_map([], |r| {
                    r.get::<_, String>(0)
                        .or_else(|_| r.get::<_, i64>(0).map(|v| v.to_string()))
                })?;
                for r in rows {
                    out.push(format!("{what}: {}", r?));
                }
            }
            let fk: Vec<String> = c
                .prepare("PRAGMA foreign_key_check")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?;
            out.extend(fk.into_iter().map(|t| format!("foreign key broken in {t}")));
            let ok: String = c.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if ok != "ok" {
                out.push(format!("sqlite quick_check: {ok}"));
            }
            Ok(out)
        })
    }
}
