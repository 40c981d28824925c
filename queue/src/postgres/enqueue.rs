//! Putting invoices into the PostgreSQL queue: enqueue (batch = one transaction),
//! resubmission under a new serial and tax ID, and the per-memory-ID serial counter
//! (invariant 4). The same rules as [`crate::sqlite`]'s; the counter row of a memory ID is
//! locked (`FOR UPDATE`) for the rest of the transaction, so enqueuers on different machines
//! number one after the other and never hand out a serial twice.

use std::collections::HashMap;

use super::pool::Tx;
use super::{log_event, Millis, PgQueue};
use crate::error::{QueueError, Result};
use crate::placing::{
    enqueue_referral, to_i64, Existing, Kept, Placing, Referring, Row, EXISTING_COLS,
};
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
    let detail = row.enqueued_detail();
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
    Ok(row.placed(id))
}

/// A PostgreSQL transaction as [`Placing`], with the serial counters it has locked.
pub(crate) struct Pg<'a, 'b> {
    pub(crate) tx: &'a mut Tx<'b>,
    pub(crate) serials: &'a mut SerialCache,
}

impl Placing for Pg<'_, '_> {
    fn by_dedup_key(&mut self, key: &str) -> Result<Option<Existing>> {
        let sql = format!("{EXISTING_COLS} WHERE dedup_key = $1 ORDER BY id DESC LIMIT 1");
        existing_by(self.tx, &sql, key)
    }

    fn by_taxid(&mut self, taxid: &str) -> Result<Option<Existing>> {
        by_taxid(self.tx, taxid)
    }

    fn next_serial(&mut self, memory_id: &str) -> Result<u64> {
        let last = self.serials.last(self.tx, memory_id)?;
        next_serial(self.tx, memory_id, last)
    }

    fn advance_serial(&mut self, memory_id: &str, serial: u64) -> Result<()> {
        self.serials.advance(self.tx, memory_id, serial)
    }

    fn insert(&mut self, row: &Row<'_>, now: Millis, pid: u32) -> Result<Placed> {
        insert(self.tx, row, now, pid)
    }

    fn sent_by(&mut self, id: InvoiceId) -> Result<(String, Option<i64>)> {
        let sent = self.tx.opt(
            "SELECT i.source, a.created_at FROM invoices i
             LEFT JOIN attempts a ON a.uid = i.last_attempt WHERE i.id = $1",
            &[&id.0],
        )?;
        Ok(sent
            .map(|r| (r.get::<_, String>(0), r.get::<_, Option<i64>>(1)))
            .unwrap_or_default())
    }

    fn replace(
        &mut self,
        id: InvoiceId,
        row: &Row<'_>,
        serial: Option<u64>,
        now: Millis,
    ) -> Result<()> {
        let serial = serial.map(|s| to_i64(s, "serial")).transpose()?;
        self.tx.exec(
            "UPDATE invoices SET source = $2, memory_id = $3, serial = $4, indatim = $5,
                    kind = $6, ins = $7, payload = $8, status = $9, findings = $10,
                    dedup_key = $11, revision = revision + 1, updated_at = $12
             WHERE id = $1 AND status IN ('QUEUED','INVALID','FAILED')",
            &[
                &id.0,
                &row.source,
                &row.memory_id,
                &serial,
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
        Ok(())
    }

    fn live_referrals(&mut self, reference: &str) -> Result<Vec<Referring>> {
        // Referrals of one reference take turns: each transaction first locks its row.
        self.tx.opt(
            "SELECT id FROM invoices WHERE taxid = $1 FOR UPDATE",
            &[&reference],
        )?;
        let rows = self.tx.query(
            "SELECT id, taxid, ins, status FROM invoices
             WHERE ins IN (2, 3, 4) AND status NOT IN ('FAILED', 'INVALID')
               AND payload IS NOT NULL AND (payload::jsonb -> 'header' ->> 'irtaxid') = $1",
            &[&reference],
        )?;
        rows.into_iter()
            .map(|r| {
                let status: String = r.get(3);
                Ok(Referring {
                    id: InvoiceId(r.get(0)),
                    taxid: r.get(1),
                    ins: r.get(2),
                    status: status.parse()?,
                })
            })
            .collect()
    }

    fn kept_for_resubmission(&mut self, id: InvoiceId) -> Result<Option<Kept>> {
        let Some(r) = self.tx.opt(
            "SELECT status, source, memory_id, indatim, kind, ins, dedup_key
             FROM invoices WHERE id = $1 FOR UPDATE",
            &[&id.0],
        )?
        else {
            return Ok(None);
        };
        let status: String = r.get(0);
        Ok(Some(Kept {
            status: status.parse()?,
            source: r.get(1),
            memory_id: r.get(2),
            indatim: r.get(3),
            kind: r.get(4),
            ins: r.get(5),
            dedup_key: r.get(6),
        }))
    }

    fn resubmitted_by(&mut self, id: InvoiceId) -> Result<Option<InvoiceId>> {
        let by = self.tx.opt(
            "SELECT id FROM invoices WHERE resubmission_of = $1",
            &[&id.0],
        )?;
        Ok(by.map(|r| InvoiceId(r.get(0))))
    }

    fn log_event(
        &mut self,
        invoice: InvoiceId,
        now: Millis,
        kind: &str,
        from: Option<&str>,
        to: Option<&str>,
        detail: Option<&str>,
        pid: u32,
    ) -> Result<()> {
        log_event(self.tx, invoice, None, now, kind, from, to, detail, pid)
    }
}

impl PgQueue {
    pub(crate) fn do_enqueue_batch(&self, items: Vec<NewInvoice<'_>>) -> Result<Vec<Enqueued>> {
        let now = self.now();
        let pid = self.pid;
        // One transaction; new rows written together (see `bulk`).
        self.write(|tx| super::bulk::enqueue_batch(tx, items, now, pid))
    }

    pub(crate) fn do_enqueue_referral(
        &self,
        item: NewInvoice<'_>,
        reference: &str,
    ) -> Result<Enqueued> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let mut serials = SerialCache::default();
            let mut p = Pg {
                tx,
                serials: &mut serials,
            };
            let placed = enqueue_referral(&mut p, item, reference, now, pid)?;
            serials.flush(tx)?;
            Ok(placed)
        })
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
            let mut serials = SerialCache::default();
            let mut p = Pg {
                tx,
                serials: &mut serials,
            };
            let placed = crate::placing::resubmit(&mut p, old, build, now, pid)?;
            serials.flush(tx)?;
            Ok(placed)
        })
    }
}
