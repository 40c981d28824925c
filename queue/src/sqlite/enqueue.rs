//! Putting invoices into the queue: enqueue (batch = one transaction), resubmission under a
//! new serial and tax ID, and the per-memory-ID serial counter (invariant 4).

use rusqlite::{params, Connection, OptionalExtension};

use super::{log_event, Millis, SqliteQueue};
use crate::error::{QueueError, Result};
use crate::types::*;

pub(super) use super::serials::next_serial;
use super::serials::{last_serial, note_serial};

/// The counters touched by one enqueue transaction: read once, written once at the end
/// (still inside the transaction, so allocation stays atomic with the rows).
#[derive(Default)]
struct SerialCache {
    counters: std::collections::HashMap<String, (u64, bool)>,
}

impl SerialCache {
    fn last(&mut self, conn: &Connection, memory_id: &str) -> Result<u64> {
        if let Some((v, _)) = self.counters.get(memory_id) {
            return Ok(*v);
        }
        let v = last_serial(conn, memory_id)?;
        self.counters.insert(memory_id.to_string(), (v, false));
        Ok(v)
    }

    fn advance(&mut self, conn: &Connection, memory_id: &str, serial: u64) -> Result<()> {
        to_i64(serial, "serial")?;
        if !super::serials::in_own_block(conn, serial)? {
            return Ok(());
        }
        let last = self.last(conn, memory_id)?;
        if serial > last {
            self.counters.insert(memory_id.to_string(), (serial, true));
        }
        Ok(())
    }

    fn flush(self, conn: &Connection) -> Result<()> {
        for (memory_id, (v, dirty)) in self.counters {
            if dirty {
                note_serial(conn, &memory_id, v)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| QueueError::InvalidInput(format!("{what} {v} is too large")))
}

pub(crate) fn check_json(payload: &str) -> Result<()> {
    serde_json::from_str::<serde::de::IgnoredAny>(payload)
        .map(|_| ())
        .map_err(|e| QueueError::InvalidInput(format!("payload is not valid JSON: {e}")))
}

pub(crate) fn json_text(v: &Option<serde_json::Value>) -> Result<Option<String>> {
    v.as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| QueueError::InvalidInput(format!("findings cannot be stored: {e}")))
}

pub(super) struct Existing {
    pub(super) id: InvoiceId,
    status: InvoiceStatus,
    serial: Option<u64>,
    taxid: Option<String>,
    revision: i64,
    payload: Option<String>,
    findings: Option<String>,
}

pub(super) fn existing_by(conn: &Connection, sql: &str, key: &str) -> Result<Option<Existing>> {
    let row = conn
        .prepare_cached(sql)?
        .query_row([key], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })
        .optional()?;
    row.map(|(id, status, serial, taxid, revision, payload, findings)| {
        Ok(Existing {
            id: InvoiceId(id),
            status: status.parse()?,
            serial: serial.map(|s| s as u64),
            taxid,
            revision,
            payload,
            findings,
        })
    })
    .transpose()
}

pub(super) const EXISTING_COLS: &str =
    "SELECT id, status, serial, taxid, revision, payload, findings FROM invoices";

impl Existing {
    fn placed(&self) -> Placed {
        Placed {
            id: self.id,
            taxid: self.taxid.clone(),
            serial: self.serial,
            status: self.status,
            revision: self.revision,
        }
    }
}

/// The stored fields of one new row.
pub(super) struct Row<'a> {
    pub(super) source: &'a str,
    pub(super) memory_id: &'a str,
    pub(super) indatim: Option<i64>,
    pub(super) kind: Option<&'a str>,
    pub(super) ins: Option<i64>,
    pub(super) dedup_key: Option<&'a str>,
    pub(super) taxid: Option<&'a str>,
    pub(super) serial: Option<u64>,
    pub(super) payload: Option<&'a str>,
    pub(super) findings: Option<String>,
    pub(super) status: InvoiceStatus,
    pub(super) resubmission_of: Option<InvoiceId>,
}

pub(super) fn insert(conn: &Connection, row: &Row<'_>, now: Millis, pid: u32) -> Result<Placed> {
    let serial = row.serial.map(|s| to_i64(s, "serial")).transpose()?;
    conn.prepare_cached(
        "INSERT INTO invoices (source, memory_id, taxid, serial, indatim, kind, ins, payload,
                               status, findings, resubmission_of, dedup_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    )?
    .execute(params![
        row.source,
        row.memory_id,
        row.taxid,
        serial,
        row.indatim,
        row.kind,
        row.ins,
        row.payload,
        row.status.as_str(),
        row.findings,
        row.resubmission_of.map(|i| i.0),
        row.dedup_key,
        now,
    ])?;
    let id = InvoiceId(conn.last_insert_rowid());
    let detail = match row.resubmission_of {
        Some(old) => format!(
            r#"{{"source":{},"resubmission_of":{}}}"#,
            json_str(row.source),
            old.0
        ),
        None => format!(r#"{{"source":{}}}"#, json_str(row.source)),
    };
    log_event(
        conn,
        id,
        None,
        now,
        "enqueued",
        None,
        Some(row.status.as_str()),
        Some(&detail),
        pid,
    )?;
    Ok(Placed {
        id,
        taxid: row.taxid.map(str::to_string),
        serial: row.serial,
        status: row.status,
        revision: 1,
    })
}

pub(crate) fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn refused(source: &str, error: QueueError) -> Enqueued {
    Enqueued::Refused {
        source: source.to_string(),
        error,
    }
}

/// A tax ID already in the queue: refuse, keep, or replace the payload.
fn numbered_existing(
    conn: &Connection,
    row: &Row<'_>,
    ex: Existing,
    now: Millis,
    pid: u32,
) -> Result<Enqueued> {
    let taxid = row.taxid.unwrap_or_default();
    if ex.status == InvoiceStatus::Success || ex.status.is_in_flight() {
        // Sent (or possibly sent): the same content again is the same invoice; other content
        // under this tax ID is a conflict, never a resend.
        let fields = changed_fields(ex.payload.as_deref(), row.payload);
        if fields.is_empty() {
            return Ok(Enqueued::Unchanged(ex.placed()));
        }
        let sent: Option<(String, Option<i64>)> = conn
            .prepare_cached(
                "SELECT i.source, a.created_at FROM invoices i
                 LEFT JOIN attempts a ON a.uid = i.last_attempt WHERE i.id = ?1",
            )?
            .query_row([ex.id.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (sent_source, sent_at) = sent.unwrap_or_default();
        let detail = serde_json::json!({"source": row.source, "fields": fields});
        log_event(
            conn,
            ex.id,
            None,
            now,
            "conflict",
            Some(ex.status.as_str()),
            Some(ex.status.as_str()),
            Some(&detail.to_string()),
            pid,
        )?;
        let e = QueueError::TaxIdConflict {
            taxid: taxid.into(),
            invoice: ex.id,
            status: ex.status,
            sent_source,
            sent_at,
            fields,
        };
        return Ok(refused(row.source, e));
    }
    let same = ex.payload.as_deref() == row.payload && ex.findings == row.findings;
    if same && (ex.status == row.status || ex.status == InvoiceStatus::Failed) {
        return Ok(Enqueued::Unchanged(ex.placed()));
    }
    let serial = row.serial.or(ex.serial);
    conn.prepare_cached(
        "UPDATE invoices SET source = ?2, memory_id = ?3, serial = ?4, indatim = ?5, kind = ?6,
                ins = ?7, payload = ?8, status = ?9, findings = ?10, dedup_key = ?11,
                revision = revision + 1, updated_at = ?12
         WHERE id = ?1 AND status IN ('QUEUED','INVALID','FAILED')",
    )?
    .execute(params![
        ex.id.0,
        row.source,
        row.memory_id,
        serial.map(|s| to_i64(s, "serial")).transpose()?,
        row.indatim,
        row.kind,
        row.ins,
        row.payload,
        row.status.as_str(),
        row.findings,
        row.dedup_key,
        now,
    ])?;
    log_event(
        conn,
        ex.id,
        None,
        now,
        "replaced",
        Some(ex.status.as_str()),
        Some(row.status.as_str()),
        Some(&format!(r#"{{"source":{}}}"#, json_str(row.source))),
        pid,
    )?;
    Ok(Enqueued::Replaced(Placed {
        id: ex.id,
        taxid: Some(taxid.to_string()),
        serial,
        status: row.status,
        revision: ex.revision + 1,
    }))
}

/// The fields in which two stored invoice texts differ (content only: not the tax ID/`inno`);
/// `["(invoice)"]` when one of them cannot be read.
pub(crate) fn changed_fields(old: Option<&str>, new: Option<&str>) -> Vec<String> {
    let parse = |s: Option<&str>| s.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    match (parse(old), parse(new)) {
        (Some(a), Some(b)) => crate::fingerprint::differing_fields(&a, &b, 12),
        _ if old == new => Vec::new(),
        _ => vec!["(invoice)".into()],
    }
}

pub(crate) fn status_of(invalid: bool) -> InvoiceStatus {
    if invalid {
        InvoiceStatus::Invalid
    } else {
        InvoiceStatus::Queued
    }
}

fn enqueue_one(
    conn: &Connection,
    serials: &mut SerialCache,
    item: NewInvoice<'_>,
    now: Millis,
    pid: u32,
) -> Result<Enqueued> {
    let NewInvoice {
        source,
        memory_id,
        indatim,
        kind,
        ins,
        dedup_key,
        content,
    } = item;
    let by_taxid = format!("{EXISTING_COLS} WHERE taxid = ?1");
    // The same content (fingerprint) is the same invoice: an input without its own tax ID that
    // matches a stored invoice is that invoice, never a second one. (An input with its own tax
    // ID is identified by it, below.)
    let mut content = content;
    if let (Some(key), false) = (
        dedup_key.as_deref(),
        matches!(content, Content::Numbered { .. }),
    ) {
        let sql = format!("{EXISTING_COLS} WHERE dedup_key = ?1 ORDER BY id DESC LIMIT 1");
        if let Some(ex) = existing_by(conn, &sql, key)? {
            // An INVALID one is validated again under its own tax ID (rules judge "now").
            let (Content::Allocate(build), InvoiceStatus::Invalid, Some(serial), Some(taxid)) =
                (content, ex.status, ex.serial, ex.taxid.clone())
            else {
                return Ok(Enqueued::Unchanged(ex.placed()));
            };
            let built = match build(serial) {
                Ok(b) if b.taxid == taxid && check_json(&b.payload).is_ok() => b,
                _ => return Ok(Enqueued::Unchanged(ex.placed())),
            };
            content = Content::Numbered {
                taxid: built.taxid,
                serial: Some(serial),
                payload: built.payload,
                findings: built.findings,
                invalid: built.invalid,
            };
        }
    }
    let base = |taxid, serial, payload, findings, status| Row {
        source: &source,
        memory_id: &memory_id,
        indatim,
        kind: kind.as_deref(),
        ins,
        dedup_key: dedup_key.as_deref(),
        taxid,
        serial,
        payload,
        findings,
        status,
        resubmission_of: None,
    };
    match content {
        Content::Numbered {
            taxid,
            serial,
            payload,
            findings,
            invalid,
        } => {
            if let Err(e) = check_json(&payload) {
                return Ok(refused(&source, e));
            }
            let findings = json_text(&findings)?;
            if let Some(s) = serial {
                serials.advance(conn, &memory_id, s)?;
            }
            let row = base(
                Some(&taxid),
                serial,
                Some(&payload),
                findings,
                status_of(invalid),
            );
            if let Some(ex) = existing_by(conn, &by_taxid, &taxid)? {
                return numbered_existing(conn, &row, ex, now, pid);
            }
            Ok(Enqueued::Inserted(insert(conn, &row, now, pid)?))
        }
        Content::Invalid { payload, findings } => {
            let payload = payload.as_deref().filter(|p| check_json(p).is_ok());
            let findings = json_text(&Some(findings))?;
            let row = base(None, None, payload, findings, InvoiceStatus::Invalid);
            Ok(Enqueued::Inserted(insert(conn, &row, now, pid)?))
        }
        Content::Allocate(build) => {
            let last = serials.last(conn, &memory_id)?;
            let serial = next_serial(conn, &memory_id, last)?;
            let built = match build(serial) {
                Ok(b) => b,
                Err(e) => return Ok(refused(&source, QueueError::Caller(e))),
            };
            if let Err(e) = check_json(&built.payload) {
                return Ok(refused(&source, e));
            }
            if let Some(ex) = existing_by(conn, &by_taxid, &built.taxid)? {
                let e = QueueError::TaxIdReused {
                    taxid: built.taxid,
                    invoice: ex.id,
                };
                return Ok(refused(&source, e));
            }
            serials.advance(conn, &memory_id, serial)?;
            let findings = json_text(&built.findings)?;
            let mut row = base(
                Some(&built.taxid),
                Some(serial),
                Some(&built.payload),
                findings,
                status_of(built.invalid),
            );
            row.indatim = built.indatim.or(indatim);
            Ok(Enqueued::Inserted(insert(conn, &row, now, pid)?))
        }
    }
}

impl SqliteQueue {
    pub(crate) fn do_enqueue_batch(&self, items: Vec<NewInvoice<'_>>) -> Result<Vec<Enqueued>> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let mut out = Vec::with_capacity(items.len());
            let mut serials = SerialCache::default();
            for item in items {
                out.push(enqueue_one(tx, &mut serials, item, now, pid)?);
            }
            serials.flush(tx)?;
            Ok(out)
        })
    }

    pub(crate) fn do_note_serial(&self, memory_id: &str, serial: u64) -> Result<u64> {
        self.write(|tx| {
            if super::serials::in_own_block(tx, serial)? {
                note_serial(tx, memory_id, serial)?;
            }
            last_serial(tx, memory_id)
        })
    }
}
