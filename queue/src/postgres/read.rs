//! Reading the PostgreSQL queue back: the same answers as [`crate::sqlite`]'s reads.

use postgres::types::ToSql;
use postgres::Row;
use uuid::Uuid;

use super::pool::{Params, Tx};
use super::PgQueue;
use crate::error::{QueueError, Result};
use crate::types::*;

const INVOICE_COLS: &str = "id, source, memory_id, taxid, serial, indatim, kind, ins, status, \
     revision, payload, findings, resubmission_of, dedup_key, last_attempt, created_at, updated_at";

const ATTEMPT_SELECT: &str = "SELECT a.uid, a.invoice_id, i.taxid, i.memory_id, a.batch_id, \
     a.invoice_revision, a.status, a.reference, a.server_status, a.errors, a.warnings, \
     a.created_at, a.sent_at, a.unknown_since, a.polled_at, a.updated_at \
     FROM attempts a JOIN invoices i ON i.id = a.invoice_id";

fn corrupt(e: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt(e.to_string())
}

fn json(v: Option<String>) -> Result<Option<serde_json::Value>> {
    v.map(|s| serde_json::from_str(&s).map_err(corrupt))
        .transpose()
}

fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| corrupt(format!("bad uid {s:?}: {e}")))
}

fn invoice_from_row(r: &Row) -> Result<Invoice> {
    let status: String = r.get(8);
    let last: Option<String> = r.get(14);
    Ok(Invoice {
        id: InvoiceId(r.get(0)),
        source: r.get(1),
        memory_id: r.get(2),
        taxid: r.get(3),
        serial: r.get::<_, Option<i64>>(4).map(|s| s as u64),
        indatim: r.get(5),
        kind: r.get(6),
        ins: r.get(7),
        status: status.parse()?,
        revision: r.get(9),
        payload: r.get(10),
        findings: json(r.get(11))?,
        resubmission_of: r.get::<_, Option<i64>>(12).map(InvoiceId),
        dedup_key: r.get(13),
        last_attempt: last.as_deref().map(uuid).transpose()?,
        created_at: r.get(15),
        updated_at: r.get(16),
    })
}

pub(crate) fn invoices_where(
    tx: &mut Tx<'_>,
    where_sql: &str,
    p: &Params<'_>,
) -> Result<Vec<Invoice>> {
    let sql = format!("SELECT {INVOICE_COLS} FROM invoices WHERE {where_sql}");
    tx.query(&sql, p)?.iter().map(invoice_from_row).collect()
}

fn attempt_from_row(r: &Row) -> Result<Attempt> {
    let uid: String = r.get(0);
    let status: String = r.get(6);
    Ok(Attempt {
        uid: uuid(&uid)?,
        invoice_id: InvoiceId(r.get(1)),
        taxid: r.get(2),
        memory_id: r.get(3),
        batch_id: r.get(4),
        invoice_revision: r.get(5),
        status: status.parse()?,
        reference: r.get(7),
        server_status: r.get(8),
        errors: json(r.get(9))?,
        warnings: json(r.get(10))?,
        created_at: r.get(11),
        sent_at: r.get(12),
        unknown_since: r.get(13),
        polled_at: r.get(14),
        updated_at: r.get(15),
    })
}

pub(crate) fn attempts_where(
    tx: &mut Tx<'_>,
    where_sql: &str,
    p: &Params<'_>,
) -> Result<Vec<Attempt>> {
    let sql = format!("{ATTEMPT_SELECT} WHERE {where_sql}");
    tx.query(&sql, p)?.iter().map(attempt_from_row).collect()
}

fn row_from_list(r: &Row) -> Result<InvoiceRow> {
    let status: String = r.get(5);
    let a_uid: Option<String> = r.get(13);
    let a_status: Option<String> = r.get(15);
    let last_attempt = match (a_uid, a_status) {
        (Some(uid), Some(st)) => Some(AttemptBrief {
            uid: uuid(&uid)?,
            batch_id: r.get::<_, Option<String>>(14).unwrap_or_default(),
            status: st.parse()?,
            reference: r.get(16),
            errors: json(r.get(17))?,
            warnings: json(r.get(18))?,
        }),
        _ => None,
    };
    Ok(InvoiceRow {
        id: InvoiceId(r.get(0)),
        source: r.get(1),
        memory_id: r.get(2),
        taxid: r.get(3),
        serial: r.get::<_, Option<i64>>(4).map(|s| s as u64),
        status: status.parse()?,
        kind: r.get(6),
        ins: r.get(7),
        indatim: r.get(8),
        findings: json(r.get(9))?,
        resubmission_of: r.get::<_, Option<i64>>(10).map(InvoiceId),
        created_at: r.get(11),
        updated_at: r.get(12),
        last_attempt,
    })
}

/// What `check_consistency` looks for (see the SQLite file's list; the same checks).
const CHECKS: &[(&str, &str)] = &[
    (
        "invoice status disagrees with its newest attempt",
        "SELECT i.id::text || ' ' || i.status || ' / ' || coalesce(a.status, 'no attempt')
         FROM invoices i LEFT JOIN attempts a ON a.uid = i.last_attempt
         WHERE NOT coalesce(
           (i.status IN ('SENDING','IN_PROGRESS','UNKNOWN','SUCCESS') AND a.status = i.status)
           OR (i.status = 'FAILED' AND a.status IN ('FAILED','REJECTED'))
           OR (i.status IN ('QUEUED','INVALID','FAILED')
               AND (a.uid IS NULL OR a.status IN ('FAILED','REJECTED','LOST'))), false)",
    ),
    (
        "unfinished attempt that is not its invoice's newest",
        "SELECT a.uid FROM attempts a JOIN invoices i ON i.id = a.invoice_id
         WHERE a.status IN ('SENDING','IN_PROGRESS','UNKNOWN')
           AND a.uid IS DISTINCT FROM i.last_attempt",
    ),
    (
        "newest attempt missing",
        "SELECT i.id::text FROM invoices i WHERE i.last_attempt IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.uid = i.last_attempt)",
    ),
    (
        "sendable invoice without a tax ID",
        "SELECT id::text FROM invoices WHERE taxid IS NULL AND status <> 'INVALID'",
    ),
    (
        "serial counter behind a stored serial",
        "SELECT i.memory_id || ' ' || max(i.serial)::text FROM invoices i
         LEFT JOIN serials s ON s.memory_id = i.memory_id
         WHERE i.serial IS NOT NULL
           AND (i.serial >> 20) = coalesce(
               (SELECT value::bigint FROM queue_meta WHERE key = 'serial_prefix'),
               i.serial >> 20)
         GROUP BY i.memory_id
         HAVING max(i.serial) > coalesce(max(s.last), -1)",
    ),
    (
        "invoice without an event",
        "SELECT i.id::text FROM invoices i
         WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.invoice_id = i.id)",
    ),
    (
        "attempt without its start event",
        "SELECT a.uid FROM attempts a WHERE NOT EXISTS
           (SELECT 1 FROM events e WHERE e.attempt_uid = a.uid AND e.kind = 'attempt_started')",
    ),
];

impl PgQueue {
    pub(crate) fn do_get(&self, id: InvoiceId) -> Result<Option<Invoice>> {
        self.read(|tx| Ok(invoices_where(tx, "id = $1", &[&id.0])?.pop()))
    }

    pub(crate) fn do_find_by_taxid(&self, taxid: &str) -> Result<Option<Invoice>> {
        self.read(|tx| Ok(invoices_where(tx, "taxid = $1", &[&taxid])?.pop()))
    }

    pub(crate) fn do_attempt(&self, uid: Uuid) -> Result<Option<Attempt>> {
        let s = uid.to_string();
        self.read(|tx| Ok(attempts_where(tx, "a.uid = $1", &[&s])?.pop()))
    }

    pub(crate) fn do_find_by_reference(&self, reference: &str) -> Result<Option<Attempt>> {
        self.read(|tx| {
            Ok(attempts_where(tx, "a.reference = $1 ORDER BY a.seq", &[&reference])?.pop())
        })
    }

    pub(crate) fn do_attempts(&self, id: InvoiceId) -> Result<Vec<Attempt>> {
        self.read(|tx| {
            attempts_where(
                tx,
                "a.invoice_id = $1 ORDER BY a.created_at, a.seq",
                &[&id.0],
            )
        })
    }

    pub(crate) fn do_list(&self, f: &ListFilter) -> Result<Vec<InvoiceRow>> {
        let mut conds = vec!["i.id > $1".to_string()];
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(f.after.map_or(0, |a| a.0))];
        if let Some(s) = f.status {
            args.push(Box::new(s.as_str().to_string()));
            conds.push(format!("i.status = ${}", args.len()));
        }
        if let Some(m) = &f.memory_id {
            args.push(Box::new(m.clone()));
            conds.push(format!("i.memory_id = ${}", args.len()));
        }
        if let Some(t) = f.updated_since {
            args.push(Box::new(t));
            conds.push(format!("i.updated_at >= ${}", args.len()));
        }
        if let Some(ids) = &f.ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            args.push(Box::new(ids.iter().map(|i| i.0).collect::<Vec<i64>>()));
            conds.push(format!("i.id = ANY(${})", args.len()));
        }
        let limit = f.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        args.push(Box::new(limit));
        let sql = format!(
            "SELECT i.id, i.source, i.memory_id, i.taxid, i.serial, i.status, i.kind, i.ins,
                    i.indatim, i.findings, i.resubmission_of, i.created_at, i.updated_at,
                    a.uid, a.batch_id, a.status, a.reference, a.errors, a.warnings
             FROM invoices i LEFT JOIN attempts a ON a.uid = i.last_attempt
             WHERE {} ORDER BY i.id LIMIT ${}",
            conds.join(" AND "),
            args.len()
        );
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
        self.read(|tx| tx.query(&sql, &refs)?.iter().map(row_from_list).collect())
    }

    pub(crate) fn do_summary(&self) -> Result<Summary> {
        self.read(|tx| {
            let mut s = Summary::default();
            for r in tx.query("SELECT status, count(*) FROM invoices GROUP BY status", &[])? {
                let status: String = r.get(0);
                let n: i64 = r.get(1);
                s.add(status.parse()?, n as u64);
            }
            Ok(s)
        })
    }

    pub(crate) fn do_events(&self, id: InvoiceId) -> Result<Vec<Event>> {
        self.read(|tx| {
            let rows = tx.query(
                "SELECT id, invoice_id, attempt_uid, at, kind, from_status, to_status, detail, pid
                 FROM events WHERE invoice_id = $1 ORDER BY id",
                &[&id.0],
            )?;
            rows.iter()
                .map(|r| {
                    let uid: Option<String> = r.get(2);
                    let from: Option<String> = r.get(5);
                    let to: Option<String> = r.get(6);
                    Ok(Event {
                        id: r.get(0),
                        invoice_id: InvoiceId(r.get(1)),
                        attempt_uid: uid.as_deref().map(uuid).transpose()?,
                        at: r.get(3),
                        kind: r.get(4),
                        from_status: from.map(|s| s.parse()).transpose()?,
                        to_status: to.map(|s| s.parse()).transpose()?,
                        detail: json(r.get(7))?,
                        pid: r.get::<_, i64>(8) as u32,
                    })
                })
                .collect()
        })
    }

    pub(crate) fn do_to_reconcile(&self) -> Result<Vec<Attempt>> {
        self.read(|tx| attempts_where(tx, "a.status = 'UNKNOWN' ORDER BY a.created_at, a.seq", &[]))
    }

    pub(crate) fn do_pending_polls(&self, older_than: std::time::Duration) -> Result<Vec<Attempt>> {
        let cutoff = self.now() - older_than.as_millis() as i64;
        self.read(|tx| {
            attempts_where(
                tx,
                "a.status = 'IN_PROGRESS' AND coalesce(a.polled_at, a.sent_at, a.created_at) <= $1
                 ORDER BY a.created_at, a.seq",
                &[&cutoff],
            )
        })
    }

    pub(crate) fn do_open_count(&self, memory_id: &str) -> Result<usize> {
        self.read(|tx| {
            let n: i64 = tx
                .one(
                    "SELECT count(*) FROM attempts a JOIN invoices i ON i.id = a.invoice_id
                     WHERE a.status IN ('UNKNOWN', 'IN_PROGRESS') AND i.memory_id = $1",
                    &[&memory_id],
                )?
                .get(0);
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    pub(crate) fn do_newest_open(&self, memory_id: &str, limit: usize) -> Result<Vec<Attempt>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|tx| {
            attempts_where(
                tx,
                "a.status IN ('UNKNOWN', 'IN_PROGRESS') AND i.memory_id = $1
                 ORDER BY a.created_at DESC, a.seq DESC LIMIT $2",
                &[&memory_id, &limit],
            )
        })
    }

    /// Unknown attempts first, then acknowledged ones, each in the order recorded (`seq`).
    pub(crate) fn do_open_page(
        &self,
        memory_id: &str,
        cursor: OpenCursor,
        limit: usize,
    ) -> Result<(Vec<Attempt>, Option<OpenCursor>)> {
        let lim = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        self.read(|tx| {
            let mut cur = cursor;
            loop {
                let status = match cur.phase {
                    0 => "UNKNOWN",
                    1 => "IN_PROGRESS",
                    _ => return Ok((Vec::new(), None)),
                };
                // The attempt's columns, then its `seq` (the cursor).
                let sql = format!(
                    "{} WHERE a.status = $1 AND i.memory_id = $2 AND a.seq > $3
                     ORDER BY a.seq LIMIT $4",
                    ATTEMPT_SELECT.replacen(" FROM attempts", ", a.seq FROM attempts", 1)
                );
                let rows = tx.query(&sql, &[&status, &memory_id, &cur.after_row, &lim])?;
                if rows.is_empty() {
                    cur = OpenCursor {
                        phase: cur.phase + 1,
                        after_row: 0,
                    };
                    continue;
                }
                let mut page = Vec::new();
                let mut last = cur.after_row;
                for r in &rows {
                    page.push(attempt_from_row(r)?);
                    last = r.get("seq");
                }
                return Ok((
                    page,
                    Some(OpenCursor {
                        phase: cur.phase,
                        after_row: last,
                    }),
                ));
            }
        })
    }

    pub(crate) fn do_check_consistency(&self) -> Result<Vec<String>> {
        self.read(|tx| {
            let mut out = Vec::new();
            for (what, sql) in CHECKS {
                for r in tx.query(sql, &[])? {
                    let v: String = r.get(0);
                    out.push(format!("{what}: {v}"));
                }
            }
            Ok(out)
        })
    }
}
