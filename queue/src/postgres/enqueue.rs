//! Putting invoices into the PostgreSQL queue: enqueue (batch = one transaction),
//! resubmission under a new serial and tax ID, and the per-memory-ID serial counter
//! (invariant 4). The same rules as [`crate::sqlite`]'s; the counter row of a memory ID is
//! locked (`FOR UPDATE`) for the rest of the transaction, so enqueuers on different machines
//! number one after the other and never hand out a serial twice.

use std::collections::HashMap;

use super::pool::Tx;
use super::{log_event, Millis, PgQueue};
use crate::error::{QueueError, Result};
use crate::sqlite::enqueue::{changed_fields, check_json, json_str, json_text, status_of, to_i64};
use crate::sqlite::serials::{draw_prefix, BLOCK_BITS};
use crate::types::*;

const LOW_MASK: u64 = (1 << BLOCK_BITS) - 1;

/// This queue's serial prefix (read once per transaction).
pub(crate) fn prefix(tx: &mut Tx<'_>) -> Result<Option<u64>> {
    if let Some(p) = tx.prefix {
        return Ok(p);
    }
    let v: Option<String> = tx
        .opt(
            "SELECT value FROM queue_meta WHERE key = 'serial_prefix'",
            &[],
        )?
        .map(|r| r.get(0));
    let p = v
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| QueueError::Corrupt(format!("serial_prefix {s:?} is not a number")))
        })
        .transpose()?;
    tx.prefix = Some(p);
    Ok(p)
}

pub(crate) fn set_prefix(tx: &mut Tx<'_>, p: u64) -> Result<()> {
    tx.prefix = Some(Some(p));
    tx.exec(
        "INSERT INTO queue_meta (key, value) VALUES ('serial_prefix', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&p.to_string()],
    )?;
    Ok(())
}

/// The counter as stored, locking its row until the transaction ends.
fn stored_last_locked(tx: &mut Tx<'_>, memory_id: &str) -> Result<u64> {
    tx.exec(
        "INSERT INTO serials (memory_id, last) VALUES ($1, 0) ON CONFLICT (memory_id) DO NOTHING",
        &[&memory_id],
    )?;
    let v: i64 = tx
        .one(
            "SELECT last FROM serials WHERE memory_id = $1 FOR UPDATE",
            &[&memory_id],
        )?
        .get(0);
    Ok(v as u64)
}

fn stored_last(tx: &mut Tx<'_>, memory_id: &str) -> Result<u64> {
    let v: Option<i64> = tx
        .opt(
            "SELECT last FROM serials WHERE memory_id = $1",
            &[&memory_id],
        )?
        .map(|r| r.get(0));
    Ok(v.unwrap_or(0) as u64)
}

fn in_block(last: u64, p: Option<u64>) -> u64 {
    match p {
        Some(p) if last >> BLOCK_BITS < p => p << BLOCK_BITS,
        _ => last,
    }
}

/// The last serial of a memory ID as the numbering sees it (see [`crate::sqlite::serials`]).
pub(crate) fn last_serial(tx: &mut Tx<'_>, memory_id: &str, lock: bool) -> Result<u64> {
    let last = if lock {
        stored_last_locked(tx, memory_id)?
    } else {
        stored_last(tx, memory_id)?
    };
    Ok(in_block(last, prefix(tx)?))
}

/// The serial the next allocation gets, drawing a new block when the current one is full.
pub(crate) fn next_serial(tx: &mut Tx<'_>, memory_id: &str, last: u64) -> Result<u64> {
    let next = last + 1;
    let Some(p) = prefix(tx)? else {
        return Ok(next);
    };
    if next & LOW_MASK != 0 && next >> BLOCK_BITS == p {
        return Ok(next);
    }
    let above = (last >> BLOCK_BITS).max(p);
    let fresh = draw_prefix(above).ok_or_else(|| {
        QueueError::InvalidInput(format!(
            "the serial space of this queue for memory ID {memory_id} is used up; start a new queue"
        ))
    })?;
    set_prefix(tx, fresh)?;
    Ok((fresh << BLOCK_BITS) + 1)
}

fn in_own_block(tx: &mut Tx<'_>, serial: u64) -> Result<bool> {
    Ok(match prefix(tx)? {
        Some(p) => serial >> BLOCK_BITS == p,
        None => true,
    })
}

/// Advance the counter to at least `serial` (never backwards).
pub(crate) fn note_serial(tx: &mut Tx<'_>, memory_id: &str, serial: u64) -> Result<()> {
    let s = to_i64(serial, "serial")?;
    tx.exec(
        "INSERT INTO serials (memory_id, last) VALUES ($1, $2)
         ON CONFLICT (memory_id) DO UPDATE SET last = greatest(serials.last, excluded.last)",
        &[&memory_id, &s],
    )?;
    Ok(())
}

/// The counters touched by one enqueue transaction: locked and read once, written at the end.
#[derive(Default)]
pub(crate) struct SerialCache {
    counters: HashMap<String, (u64, bool)>,
}

impl SerialCache {
    pub(crate) fn last(&mut self, tx: &mut Tx<'_>, memory_id: &str) -> Result<u64> {
        if let Some((v, _)) = self.counters.get(memory_id) {
            return Ok(*v);
        }
        let v = last_serial(tx, memory_id, true)?;
        self.counters.insert(memory_id.to_string(), (v, false));
        Ok(v)
    }

    pub(crate) fn advance(&mut self, tx: &mut Tx<'_>, memory_id: &str, serial: u64) -> Result<()> {
        to_i64(serial, "serial")?;
        if !in_own_block(tx, serial)? {
            return Ok(());
        }
        let last = self.last(tx, memory_id)?;
        if serial > last {
            self.counters.insert(memory_id.to_string(), (serial, true));
        }
        Ok(())
    }

    pub(crate) fn flush(self, tx: &mut Tx<'_>) -> Result<()> {
        for (memory_id, (v, dirty)) in self.counters {
            if dirty {
                note_serial(tx, &memory_id, v)?;
            }
        }
        Ok(())
    }
}

pub(crate) struct Existing {
    pub(crate) id: InvoiceId,
    status: InvoiceStatus,
    serial: Option<u64>,
    taxid: Option<String>,
    revision: i64,
    payload: Option<String>,
    findings: Option<String>,
}

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

const EXISTING_COLS: &str =
    "SELECT id, status, serial, taxid, revision, payload, findings FROM invoices";

pub(crate) fn existing_by(tx: &mut Tx<'_>, sql: &str, key: &str) -> Result<Option<Existing>> {
    let Some(r) = tx.opt(sql, &[&key])? else {
        return Ok(None);
    };
    let status: String = r.get(1);
    Ok(Some(Existing {
        id: InvoiceId(r.get(0)),
        status: status.parse()?,
        serial: r.get::<_, Option<i64>>(2).map(|s| s as u64),
        taxid: r.get(3),
        revision: r.get(4),
        payload: r.get(5),
        findings: r.get(6),
    }))
}

pub(crate) fn by_taxid(tx: &mut Tx<'_>, taxid: &str) -> Result<Option<Existing>> {
    existing_by(
        tx,
        &format!("{EXISTING_COLS} WHERE taxid = $1 FOR UPDATE"),
        taxid,
    )
}

/// The stored fields of one new row.
pub(crate) struct Row<'a> {
    pub(crate) source: &'a str,
    pub(crate) memory_id: &'a str,
    pub(crate) indatim: Option<i64>,
    pub(crate) kind: Option<&'a str>,
    pub(crate) ins: Option<i64>,
    pub(crate) dedup_key: Option<&'a str>,
    pub(crate) taxid: Option<&'a str>,
    pub(crate) serial: Option<u64>,
    pub(crate) payload: Option<&'a str>,
    pub(crate) findings: Option<String>,
    pub(crate) status: InvoiceStatus,
    pub(crate) resubmission_of: Option<InvoiceId>,
}

pub(crate) fn insert(tx: &mut Tx<'_>, row: &Row<'_>, now: Millis, pid: u32) -> Result<Placed> {
    let serial = row.serial.map(|s| to_i64(s, "serial")).transpose()?;
    let id: i64 = tx
        .one(
            "INSERT INTO invoices (source, memory_id, taxid, serial, indatim, kind, ins, payload,
                                   status, findings, resubmission_of, dedup_key, created_at,
                                   updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
             RETURNING id",
            &[
                &row.source,
                &row.memory_id,
                &row.taxid,
                &serial,
                &row.indatim,
                &row.kind,
                &row.ins,
                &row.payload,
                &row.status.as_str(),
                &row.findings,
                &row.resubmission_of.map(|i| i.0),
                &row.dedup_key,
                &now,
            ],
        )?
        .get(0);
    let id = InvoiceId(id);
    let detail = match row.resubmission_of {
        Some(old) => format!(
            r#"{{"source":{},"resubmission_of":{}}}"#,
            json_str(row.source),
            old.0
        ),
        None => format!(r#"{{"source":{}}}"#, json_str(row.source)),
    };
    log_event(
        tx,
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

fn refused(source: &str, error: QueueError) -> Enqueued {
    Enqueued::Refused {
        source: source.to_string(),
        error,
    }
}

/// A tax ID already in the queue: refuse, keep, or replace the payload.
fn numbered_existing(
    tx: &mut Tx<'_>,
    row: &Row<'_>,
    ex: Existing,
    now: Millis,
    pid: u32,
) -> Result<Enqueued> {
    let taxid = row.taxid.unwrap_or_default();
    if ex.status == InvoiceStatus::Success || ex.status.is_in_flight() {
        let fields = changed_fields(ex.payload.as_deref(), row.payload);
        if fields.is_empty() {
            return Ok(Enqueued::Unchanged(ex.placed()));
        }
        let sent = tx.opt(
            "SELECT i.source, a.created_at FROM invoices i
             LEFT JOIN attempts a ON a.uid = i.last_attempt WHERE i.id = $1",
            &[&ex.id.0],
        )?;
        let (sent_source, sent_at) = sent
            .map(|r| (r.get::<_, String>(0), r.get::<_, Option<i64>>(1)))
            .unwrap_or_default();
        let detail = serde_json::json!({"source": row.source, "fields": fields});
        log_event(
            tx,
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
    let serial_i = serial.map(|s| to_i64(s, "serial")).transpose()?;
    tx.exec(
        "UPDATE invoices SET source = $2, memory_id = $3, serial = $4, indatim = $5, kind = $6,
                ins = $7, payload = $8, status = $9, findings = $10, dedup_key = $11,
                revision = revision + 1, updated_at = $12
         WHERE id = $1 AND status IN ('QUEUED','INVALID','FAILED')",
        &[
            &ex.id.0,
            &row.source,
            &row.memory_id,
            &serial_i,
            &row.indatim,
            &row.kind,
            &row.ins,
            &row.payload,
            &row.status.as_str(),
            &row.findings,
            &row.dedup_key,
            &now,
        ],
    )?;
    log_event(
        tx,
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

pub(crate) fn enqueue_one(
    tx: &mut Tx<'_>,
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
    let mut content = content;
    if let (Some(key), false) = (
        dedup_key.as_deref(),
        matches!(content, Content::Numbered { .. }),
    ) {
        let sql = format!("{EXISTING_COLS} WHERE dedup_key = $1 ORDER BY id DESC LIMIT 1");
        if let Some(ex) = existing_by(tx, &sql, key)? {
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
                serials.advance(tx, &memory_id, s)?;
            }
            let row = base(
                Some(&taxid),
                serial,
                Some(&payload),
                findings,
                status_of(invalid),
            );
            if let Some(ex) = by_taxid(tx, &taxid)? {
                return numbered_existing(tx, &row, ex, now, pid);
            }
            Ok(Enqueued::Inserted(insert(tx, &row, now, pid)?))
        }
        Content::Invalid { payload, findings } => {
            let payload = payload.as_deref().filter(|p| check_json(p).is_ok());
            let findings = json_text(&Some(findings))?;
            let row = base(None, None, payload, findings, InvoiceStatus::Invalid);
            Ok(Enqueued::Inserted(insert(tx, &row, now, pid)?))
        }
        Content::Allocate(build) => {
            let last = serials.last(tx, &memory_id)?;
            let serial = next_serial(tx, &memory_id, last)?;
            let built = match build(serial) {
                Ok(b) => b,
                Err(e) => return Ok(refused(&source, QueueError::Caller(e))),
            };
            if let Err(e) = check_json(&built.payload) {
                return Ok(refused(&source, e));
            }
            if let Some(ex) = by_taxid(tx, &built.taxid)? {
                let e = QueueError::TaxIdReused {
                    taxid: built.taxid,
                    invoice: ex.id,
                };
                return Ok(refused(&source, e));
            }
            serials.advance(tx, &memory_id, serial)?;
            let findings = json_text(&built.findings)?;
            let mut row = base(
                Some(&built.taxid),
                Some(serial),
                Some(&built.payload),
                findings,
                status_of(built.invalid),
            );
            row.indatim = built.indatim.or(indatim);
            Ok(Enqueued::Inserted(insert(tx, &row, now, pid)?))
        }
    }
}

impl PgQueue {
    pub(crate) fn do_enqueue_batch(&self, items: Vec<NewInvoice<'_>>) -> Result<Vec<Enqueued>> {
        let now = self.now();
        let pid = self.pid;
        // One transaction; new rows written together (see `bulk`).
        self.write(|tx| super::bulk::enqueue_batch(tx, items, now, pid))
    }

    pub(crate) fn do_note_serial(&self, memory_id: &str, serial: u64) -> Result<u64> {
        self.write(|tx| {
            if in_own_block(tx, serial)? {
                note_serial(tx, memory_id, serial)?;
            }
            last_serial(tx, memory_id, false)
        })
    }

    pub(crate) fn do_last_serial(&self, memory_id: &str) -> Result<u64> {
        self.read(|tx| last_serial(tx, memory_id, false))
    }

    pub(crate) fn do_resubmit(&self, old: InvoiceId, build: BuildFn<'_>) -> Result<Placed> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let r = tx
                .opt(
                    "SELECT status, source, memory_id, indatim, kind, ins, dedup_key
                     FROM invoices WHERE id = $1 FOR UPDATE",
                    &[&old.0],
                )?
                .ok_or(QueueError::UnknownInvoice(old))?;
            let status: String = r.get(0);
            let source: String = r.get(1);
            let memory_id: String = r.get(2);
            let indatim: Option<i64> = r.get(3);
            let kind: Option<String> = r.get(4);
            let ins: Option<i64> = r.get(5);
            let dedup_key: Option<String> = r.get(6);
            let status: InvoiceStatus = status.parse()?;
            if status != InvoiceStatus::Failed {
                return Err(QueueError::NotResubmittable {
                    invoice: old,
                    status,
                });
            }
            let by: Option<i64> = tx
                .opt(
                    "SELECT id FROM invoices WHERE resubmission_of = $1",
                    &[&old.0],
                )?
                .map(|r| r.get(0));
            if let Some(by) = by {
                return Err(QueueError::AlreadyResubmitted {
                    invoice: old,
                    by: InvoiceId(by),
                });
            }
            let last = last_serial(tx, &memory_id, true)?;
            let serial = next_serial(tx, &memory_id, last)?;
            let built = build(serial).map_err(QueueError::Caller)?;
            check_json(&built.payload)?;
            if let Some(ex) = by_taxid(tx, &built.taxid)? {
                return Err(QueueError::TaxIdReused {
                    taxid: built.taxid,
                    invoice: ex.id,
                });
            }
            note_serial(tx, &memory_id, serial)?;
            let row = Row {
                source: &source,
                memory_id: &memory_id,
                indatim: built.indatim.or(indatim),
                kind: kind.as_deref(),
                ins,
                dedup_key: dedup_key.as_deref(),
                taxid: Some(&built.taxid),
                serial: Some(serial),
                payload: Some(&built.payload),
                findings: json_text(&built.findings)?,
                status: status_of(built.invalid),
                resubmission_of: Some(old),
            };
            let placed = insert(tx, &row, now, pid)?;
            let detail = format!(
                r#"{{"by":{},"taxid":{},"serial":{serial}}}"#,
                placed.id.0,
                json_str(&built.taxid)
            );
            log_event(
                tx,
                old,
                None,
                now,
                "resubmitted",
                Some("FAILED"),
                Some("FAILED"),
                Some(&detail),
                pid,
            )?;
            Ok(placed)
        })
    }
}
