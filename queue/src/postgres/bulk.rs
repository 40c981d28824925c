//! One enqueue batch (the ingest's chunk of up to 1000 inputs) in a few round trips instead of
//! three or four per invoice: the tax IDs and idempotency keys already in the queue are looked
//! up with one query each, the new rows are collected in memory and written with one
//! multi-row `INSERT` (ids drawn from the table's identity in one query) plus one `INSERT` of
//! their `enqueued` events, all in the batch's one transaction.
//!
//! The result is exactly what [`super::enqueue`]'s per-invoice path gives: every input whose
//! tax ID or idempotency key is already in the queue — or earlier in the same batch — goes
//! through that path (after the rows collected so far are written, so it sees them), and so
//! does the per-invoice check of an allocated tax ID (whose value is only known once
//! `build(serial)` has run; one short query each). Serials are allocated in the order of the
//! inputs from the memory ID's counter row, locked for the whole transaction, and the counter
//! is written once at the end: serials never go backwards, a tax ID stays unique (the
//! database's `UNIQUE` also refuses a concurrent duplicate), and the event log gets the same
//! `enqueued` entry per new invoice, in input order.

use std::collections::HashSet;

use super::enqueue::{by_taxid, next_serial, Pg, SerialCache};
use super::pool::Tx;
use super::Millis;
use crate::error::{QueueError, Result};
use crate::placing::{check_json, enqueue_one, json_str, json_text, status_of, to_i64};
use crate::types::*;

/// A new row waiting for the batch's multi-row `INSERT`, and where its answer goes.
struct Pending {
    out: usize,
    source: String,
    memory_id: String,
    indatim: Option<i64>,
    kind: Option<String>,
    ins: Option<i64>,
    dedup_key: Option<String>,
    taxid: Option<String>,
    serial: Option<u64>,
    payload: Option<String>,
    findings: Option<String>,
    status: InvoiceStatus,
}

/// The batch under way: rows not yet written, and what is known of the queue's contents.
struct Batch {
    pending: Vec<Pending>,
    /// Tax IDs in the queue before the batch (of the inputs that carry one).
    stored_taxids: HashSet<String>,
    /// Idempotency keys in the queue before the batch.
    stored_keys: HashSet<String>,
    /// Tax IDs and keys of the rows of this batch (written or pending).
    batch_taxids: HashSet<String>,
    batch_keys: HashSet<String>,
    now: Millis,
    pid: u32,
}

impl Batch {
    /// Writes the pending rows: ids, rows and events in three statements.
    fn flush(&mut self, tx: &mut Tx<'_>, out: &mut [Option<Enqueued>]) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let n = rows.len() as i64;
        let mut ids: Vec<i64> = tx
            .query(
                "SELECT nextval(pg_get_serial_sequence('invoices', 'id'))
                 FROM generate_series(1, $1::bigint)",
                &[&n],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        ids.sort_unstable();
        if ids.len() != rows.len() {
            return Err(QueueError::Corrupt(format!(
                "drew {} invoice ids for {} rows",
                ids.len(),
                rows.len()
            )));
        }
        let serials = rows
            .iter()
            .map(|r| r.serial.map(|s| to_i64(s, "serial")).transpose())
            .collect::<Result<Vec<Option<i64>>>>()?;
        let col = |f: &dyn Fn(&Pending) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
        let sources = col(&|r| Some(r.source.clone()));
        let memory_ids = col(&|r| Some(r.memory_id.clone()));
        let taxids = col(&|r| r.taxid.clone());
        let kinds = col(&|r| r.kind.clone());
        let payloads = col(&|r| r.payload.clone());
        let statuses = col(&|r| Some(r.status.as_str().to_string()));
        let findings = col(&|r| r.findings.clone());
        let keys = col(&|r| r.dedup_key.clone());
        let details = col(&|r| Some(format!(r#"{{"source":{}}}"#, json_str(&r.source))));
        let indatims: Vec<Option<i64>> = rows.iter().map(|r| r.indatim).collect();
        let inss: Vec<Option<i64>> = rows.iter().map(|r| r.ins).collect();
        let written = tx.exec(
            "INSERT INTO invoices (id, source, memory_id, taxid, serial, indatim, kind, ins,
                                   payload, status, findings, dedup_key, created_at, updated_at)
             SELECT u.*, $13, $13
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                         $6::bigint[], $7::text[], $8::bigint[], $9::text[], $10::text[],
                         $11::text[], $12::text[]) AS u",
            &[
                &ids,
                &sources,
                &memory_ids,
                &taxids,
                &serials,
                &indatims,
                &kinds,
                &inss,
                &payloads,
                &statuses,
                &findings,
                &keys,
                &self.now,
            ],
        )?;
        if written != n as u64 {
            return Err(QueueError::Corrupt(format!(
                "wrote {written} of {n} new invoices"
            )));
        }
        tx.exec(
            "INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status,
                                 detail, pid)
             SELECT u.id, NULL, $4, 'enqueued', NULL, u.st, u.detail, $5
             FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY
                  AS u(id, st, detail, n)
             ORDER BY u.n",
            &[&ids, &statuses, &details, &self.now, &i64::from(self.pid)],
        )?;
        for (r, id) in rows.into_iter().zip(ids) {
            out[r.out] = Some(Enqueued::Inserted(Placed {
                id: InvoiceId(id),
                taxid: r.taxid,
                serial: r.serial,
                status: r.status,
                revision: 1,
            }));
        }
        Ok(())
    }

    fn push(&mut self, p: Pending) {
        if let Some(t) = &p.taxid {
            self.batch_taxids.insert(t.clone());
        }
        if let Some(k) = &p.dedup_key {
            self.batch_keys.insert(k.clone());
        }
        self.pending.push(p);
    }
}

fn refused(source: String, error: QueueError) -> Enqueued {
    Enqueued::Refused { source, error }
}

/// Enqueues `items` in the caller's transaction (see the module's description).
pub(crate) fn enqueue_batch(
    tx: &mut Tx<'_>,
    items: Vec<NewInvoice<'_>>,
    now: Millis,
    pid: u32,
) -> Result<Vec<Enqueued>> {
    let taxids: Vec<&str> = items
        .iter()
        .filter_map(|i| match &i.content {
            Content::Numbered { taxid, .. } => Some(taxid.as_str()),
            _ => None,
        })
        .collect();
    let keys: Vec<&str> = items
        .iter()
        .filter(|i| !matches!(i.content, Content::Numbered { .. }))
        .filter_map(|i| i.dedup_key.as_deref())
        .collect();
    let stored_taxids = if taxids.is_empty() {
        HashSet::new()
    } else {
        tx.query(
            "SELECT taxid FROM invoices WHERE taxid = ANY($1)",
            &[&taxids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let stored_keys = if keys.is_empty() {
        HashSet::new()
    } else {
        tx.query(
            "SELECT DISTINCT dedup_key FROM invoices WHERE dedup_key = ANY($1)",
            &[&keys],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let mut b = Batch {
        pending: Vec::new(),
        stored_taxids,
        stored_keys,
        batch_taxids: HashSet::new(),
        batch_keys: HashSet::new(),
        now,
        pid,
    };
    let mut out: Vec<Option<Enqueued>> = Vec::with_capacity(items.len());
    let mut serials = SerialCache::default();
    for (i, item) in items.into_iter().enumerate() {
        out.push(None);
        // Anything already in the queue or earlier in this batch: the per-invoice path, after
        // the rows so far are written.
        let seen = match &item.content {
            Content::Numbered { taxid, .. } => {
                b.stored_taxids.contains(taxid) || b.batch_taxids.contains(taxid)
            }
            _ => item
                .dedup_key
                .as_ref()
                .is_some_and(|k| b.stored_keys.contains(k) || b.batch_keys.contains(k)),
        };
        if seen {
            b.flush(tx, &mut out)?;
            let key = item.dedup_key.clone();
            let mut p = Pg {
                tx,
                serials: &mut serials,
            };
            let r = enqueue_one(&mut p, item, now, pid)?;
            note_placed(&mut b, &r, key);
            out[i] = Some(r);
            continue;
        }
        if let Some(r) = new_row(tx, &mut b, &mut serials, &mut out, i, item)? {
            out[i] = Some(r);
        }
    }
    b.flush(tx, &mut out)?;
    serials.flush(tx)?;
    out.into_iter()
        .map(|o| o.ok_or_else(|| QueueError::Corrupt("an input without an answer".into())))
        .collect()
}

/// What the per-invoice path placed is in the queue from now on.
fn note_placed(b: &mut Batch, r: &Enqueued, key: Option<String>) {
    if let Enqueued::Inserted(p) | Enqueued::Replaced(p) = r {
        if let Some(t) = &p.taxid {
            b.batch_taxids.insert(t.clone());
        }
        b.batch_keys.extend(key);
    }
}

/// An input that is not in the queue yet: checked, numbered, and collected for the batch's
/// `INSERT` (its answer is filled in then), or refused at once.
fn new_row(
    tx: &mut Tx<'_>,
    b: &mut Batch,
    serials: &mut SerialCache,
    out: &mut [Option<Enqueued>],
    i: usize,
    item: NewInvoice<'_>,
) -> Result<Option<Enqueued>> {
    let NewInvoice {
        source,
        memory_id,
        indatim,
        kind,
        ins,
        dedup_key,
        content,
    } = item;
    let base = |taxid, serial, payload, findings, status, indatim| Pending {
        out: i,
        source: source.clone(),
        memory_id: memory_id.clone(),
        indatim,
        kind: kind.clone(),
        ins,
        dedup_key: dedup_key.clone(),
        taxid,
        serial,
        payload,
        findings,
        status,
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
                return Ok(Some(refused(source, e)));
            }
            let findings = json_text(&findings)?;
            if let Some(s) = serial {
                serials.advance(tx, &memory_id, s)?;
            }
            let p = base(
                Some(taxid),
                serial,
                Some(payload),
                findings,
                status_of(invalid),
                indatim,
            );
            b.push(p);
        }
        Content::Invalid { payload, findings } => {
            let payload = payload.filter(|p| check_json(p).is_ok());
            let findings = json_text(&Some(findings))?;
            let p = base(
                None,
                None,
                payload,
                findings,
                InvoiceStatus::Invalid,
                indatim,
            );
            b.push(p);
        }
        Content::Allocate(build) => {
            let last = serials.last(tx, &memory_id)?;
            let serial = next_serial(tx, &memory_id, last)?;
            let built = match build(serial) {
                Ok(b) => b,
                Err(e) => return Ok(Some(refused(source, QueueError::Caller(e)))),
            };
            if let Err(e) = check_json(&built.payload) {
                return Ok(Some(refused(source, e)));
            }
            // The allocated tax ID must be new: earlier in this batch (written first, so the
            // lookup names its invoice) or already in the queue.
            if b.batch_taxids.contains(&built.taxid) {
                b.flush(tx, out)?;
            }
            if b.batch_taxids.contains(&built.taxid) || b.stored_taxids.contains(&built.taxid) {
                if let Some(ex) = by_taxid(tx, &built.taxid)? {
                    let e = QueueError::TaxIdReused {
                        taxid: built.taxid,
                        invoice: ex.id,
                    };
                    return Ok(Some(refused(source, e)));
                }
            } else if let Some(id) = tx
                .opt("SELECT id FROM invoices WHERE taxid = $1", &[&built.taxid])?
                .map(|r| r.get::<_, i64>(0))
            {
                let e = QueueError::TaxIdReused {
                    taxid: built.taxid,
                    invoice: InvoiceId(id),
                };
                return Ok(Some(refused(source, e)));
            }
            serials.advance(tx, &memory_id, serial)?;
            let findings = json_text(&built.findings)?;
            let p = base(
                Some(built.taxid),
                Some(serial),
                Some(built.payload),
                findings,
                status_of(built.invalid),
                built.indatim.or(indatim),
            );
            b.push(p);
        }
    }
    Ok(None)
}
