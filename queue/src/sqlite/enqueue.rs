//! Putting invoices into the queue: enqueue (batch = one transaction), resubmission under a
//! new serial and tax ID, and the per-memory-ID serial counter (invariant 4).

use rusqlite::{params, Connection, OptionalExtension};

use super::{log_event, Millis, SqliteQueue};
use crate::error::Result;
use crate::placing::{
    enqueue_one, enqueue_referral, to_i64, Existing, Kept, Placing, Referring, Row, EXISTING_COLS,
};
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

/// The SQLite file as [`Placing`]: one write transaction and its serial counters.
pub(super) struct Sqlite<'c> {
    conn: &'c Connection,
    serials: SerialCache,
}

impl<'c> Sqlite<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        Sqlite {
            conn,
            serials: SerialCache::default(),
        }
    }

    /// Writes the serial counters this transaction advanced.
    pub(super) fn finish(self) -> Result<()> {
        self.serials.flush(self.conn)
    }
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

pub(super) fn by_taxid(conn: &Connection, taxid: &str) -> Result<Option<Existing>> {
    existing_by(conn, &format!("{EXISTING_COLS} WHERE taxid = ?1"), taxid)
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
    let detail = row.enqueued_detail();
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
    Ok(row.placed(id))
}

impl Placing for Sqlite<'_> {
    fn by_dedup_key(&mut self, key: &str) -> Result<Option<Existing>> {
        let sql = format!("{EXISTING_COLS} WHERE dedup_key = ?1 ORDER BY id DESC LIMIT 1");
        existing_by(self.conn, &sql, key)
    }

    fn by_taxid(&mut self, taxid: &str) -> Result<Option<Existing>> {
        by_taxid(self.conn, taxid)
    }

    fn next_serial(&mut self, memory_id: &str) -> Result<u64> {
        let last = self.serials.last(self.conn, memory_id)?;
        next_serial(self.conn, memory_id, last)
    }

    fn advance_serial(&mut self, memory_id: &str, serial: u64) -> Result<()> {
        self.serials.advance(self.conn, memory_id, serial)
    }

    fn insert(&mut self, row: &Row<'_>, now: Millis, pid: u32) -> Result<Placed> {
        insert(self.conn, row, now, pid)
    }

    fn sent_by(&mut self, id: InvoiceId) -> Result<(String, Option<i64>)> {
        let sent: Option<(String, Option<i64>)> = self
            .conn
            .prepare_cached(
                "SELECT i.source, a.created_at FROM invoices i
                 LEFT JOIN attempts a ON a.uid = i.last_attempt WHERE i.id = ?1",
            )?
            .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(sent.unwrap_or_default())
    }

    fn replace(
        &mut self,
        id: InvoiceId,
        row: &Row<'_>,
        serial: Option<u64>,
        now: Millis,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE invoices SET source = ?2, memory_id = ?3, serial = ?4, indatim = ?5,
                        kind = ?6, ins = ?7, payload = ?8, status = ?9, findings = ?10,
                        dedup_key = ?11, revision = revision + 1, updated_at = ?12
                 WHERE id = ?1 AND status IN ('QUEUED','INVALID','FAILED')",
            )?
            .execute(params![
                id.0,
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
        Ok(())
    }

    fn live_referrals(&mut self, reference: &str) -> Result<Vec<Referring>> {
        // (A write transaction of the file is already exclusive: nothing to lock.)
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, taxid, ins, status FROM invoices
             WHERE ins IN (2, 3, 4) AND status NOT IN ('FAILED', 'INVALID')
               AND json_valid(payload) AND json_extract(payload, '$.header.irtaxid') = ?1",
        )?;
        let rows = stmt.query_map([reference], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, taxid, ins, status) = row?;
            out.push(Referring {
                id: InvoiceId(id),
                taxid,
                ins,
                status: status.parse()?,
            });
        }
        Ok(out)
    }

    fn kept_for_resubmission(&mut self, id: InvoiceId) -> Result<Option<Kept>> {
        type Columns = (
            String,
            String,
            String,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
        );
        let row: Option<Columns> = self
            .conn
            .prepare_cached(
                "SELECT status, source, memory_id, indatim, kind, ins, dedup_key
                 FROM invoices WHERE id = ?1",
            )?
            .query_row([id.0], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .optional()?;
        row.map(
            |(status, source, memory_id, indatim, kind, ins, dedup_key)| {
                Ok(Kept {
                    status: status.parse()?,
                    source,
                    memory_id,
                    indatim,
                    kind,
                    ins,
                    dedup_key,
                })
            },
        )
        .transpose()
    }

    fn resubmitted_by(&mut self, id: InvoiceId) -> Result<Option<InvoiceId>> {
        let by: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM invoices WHERE resubmission_of = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?;
        Ok(by.map(InvoiceId))
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
        log_event(self.conn, invoice, None, now, kind, from, to, detail, pid)
    }
}

impl SqliteQueue {
    pub(crate) fn do_enqueue_batch(&self, items: Vec<NewInvoice<'_>>) -> Result<Vec<Enqueued>> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let mut out = Vec::with_capacity(items.len());
            let mut p = Sqlite::new(tx);
            for item in items {
                out.push(enqueue_one(&mut p, item, now, pid)?);
            }
            p.finish()?;
            Ok(out)
        })
    }

    pub(crate) fn do_enqueue_referral(
        &self,
        item: NewInvoice<'_>,
        reference: &str,
    ) -> Result<Enqueued> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let mut p = Sqlite::new(tx);
            let placed = enqueue_referral(&mut p, item, reference, now, pid)?;
            p.finish()?;
            Ok(placed)
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
