//! Resubmission: a FAILED invoice sent again under a new serial and tax ID, linked to the old
//! one (invariant 4).

use rusqlite::OptionalExtension;

use super::enqueue::{
    check_json, existing_by, insert, json_str, json_text, next_serial, status_of, Row,
    EXISTING_COLS,
};
use super::serials::{last_serial, note_serial};
use super::{log_event, SqliteQueue};
use crate::error::{QueueError, Result};
use crate::types::*;

impl SqliteQueue {
    pub(crate) fn do_resubmit(&self, old: InvoiceId, build: BuildFn<'_>) -> Result<Placed> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            type OldRow = (
                String,
                String,
                String,
                Option<i64>,
                Option<String>,
                Option<i64>,
                Option<String>,
            );
            let row: Option<OldRow> = tx
                .prepare_cached(
                    "SELECT status, source, memory_id, indatim, kind, ins, dedup_key
                     FROM invoices WHERE id = ?1",
                )?
                .query_row([old.0], |r| {
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
            let (status, source, memory_id, indatim, kind, ins, dedup_key) =
                row.ok_or(QueueError::UnknownInvoice(old))?;
            let status: InvoiceStatus = status.parse()?;
            if status != InvoiceStatus::Failed {
                return Err(QueueError::NotResubmittable {
                    invoice: old,
                    status,
                });
            }
            let by: Option<i64> = tx
                .prepare_cached("SELECT id FROM invoices WHERE resubmission_of = ?1")?
                .query_row([old.0], |r| r.get(0))
                .optional()?;
            if let Some(by) = by {
                return Err(QueueError::AlreadyResubmitted {
                    invoice: old,
                    by: InvoiceId(by),
                });
            }
            let serial = next_serial(tx, &memory_id, last_serial(tx, &memory_id)?)?;
            let built = build(serial).map_err(QueueError::Caller)?;
            check_json(&built.payload)?;
            let by_taxid = format!("{EXISTING_COLS} WHERE taxid = ?1");
            if let Some(ex) = existing_by(tx, &by_taxid, &built.taxid)? {
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
