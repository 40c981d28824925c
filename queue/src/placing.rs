//! What enqueueing decides, whatever holds the queue: an input is the invoice already stored
//! with its content (fingerprint) or its tax ID, a new row under a serial allocated now, or
//! refused (a tax ID sent with other content, or taken by another invoice). The SQLite file
//! and the PostgreSQL queue supply the reads and writes through [`Placing`], inside their own
//! transaction; the decisions are written once, here.

use crate::error::{QueueError, Result};
use crate::sqlite::Millis;
use crate::types::*;

/// The reads and writes enqueueing needs from a store, inside one transaction.
pub(crate) trait Placing {
    /// The newest invoice with this content fingerprint (`dedup_key`).
    fn by_dedup_key(&mut self, key: &str) -> Result<Option<Existing>>;
    /// The invoice with this tax ID (locked for this transaction where the store locks rows).
    fn by_taxid(&mut self, taxid: &str) -> Result<Option<Existing>>;
    /// The next serial to allocate for `memory_id`.
    fn next_serial(&mut self, memory_id: &str) -> Result<u64>;
    /// Notes `serial` as used for `memory_id`: the counter never goes backwards.
    fn advance_serial(&mut self, memory_id: &str, serial: u64) -> Result<()>;
    /// Writes a new invoice row and its `enqueued` event.
    fn insert(&mut self, row: &Row<'_>, now: Millis, pid: u32) -> Result<Placed>;
    /// The stored invoice's source and the time its last attempt began.
    fn sent_by(&mut self, id: InvoiceId) -> Result<(String, Option<i64>)>;
    /// Replaces the stored fields of `id` (only while QUEUED, INVALID or FAILED) and counts a
    /// revision.
    fn replace(
        &mut self,
        id: InvoiceId,
        row: &Row<'_>,
        serial: Option<u64>,
        now: Millis,
    ) -> Result<()>;
    /// The referrals (`ins` 2–4) of the tax ID `reference` that are not FAILED or INVALID,
    /// read after locking the reference's row where the store locks rows (so that two
    /// transactions placing referrals of one reference take turns).
    fn live_referrals(&mut self, reference: &str) -> Result<Vec<Referring>>;
    /// What a resubmission keeps of the invoice `id` (locked where the store locks rows).
    fn kept_for_resubmission(&mut self, id: InvoiceId) -> Result<Option<Kept>>;
    /// The invoice that resubmitted `id`, if one did.
    fn resubmitted_by(&mut self, id: InvoiceId) -> Result<Option<InvoiceId>>;
    /// Appends an event of the invoice.
    #[allow(clippy::too_many_arguments)]
    fn log_event(
        &mut self,
        invoice: InvoiceId,
        now: Millis,
        kind: &str,
        from: Option<&str>,
        to: Option<&str>,
        detail: Option<&str>,
        pid: u32,
    ) -> Result<()>;
}

/// A stored invoice an input may be.
pub(crate) struct Existing {
    pub(crate) id: InvoiceId,
    pub(crate) status: InvoiceStatus,
    pub(crate) serial: Option<u64>,
    pub(crate) taxid: Option<String>,
    pub(crate) revision: i64,
    pub(crate) payload: Option<String>,
    pub(crate) findings: Option<String>,
}

/// The columns an [`Existing`] is read from, in its fields' order.
pub(crate) const EXISTING_COLS: &str =
    "SELECT id, status, serial, taxid, revision, payload, findings FROM invoices";

impl Existing {
    pub(crate) fn placed(&self) -> Placed {
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

impl Row<'_> {
    /// The `enqueued` event's detail: where the row came from.
    pub(crate) fn enqueued_detail(&self) -> String {
        match self.resubmission_of {
            Some(old) => format!(
                r#"{{"source":{},"resubmission_of":{}}}"#,
                json_str(self.source),
                old.0
            ),
            None => format!(r#"{{"source":{}}}"#, json_str(self.source)),
        }
    }

    /// What an inserted row is, under its new id.
    pub(crate) fn placed(&self, id: InvoiceId) -> Placed {
        Placed {
            id,
            taxid: self.taxid.map(str::to_string),
            serial: self.serial,
            status: self.status,
            revision: 1,
        }
    }
}

/// A referral in the queue: its row, tax ID, kind (`ins`) and status.
pub(crate) struct Referring {
    pub(crate) id: InvoiceId,
    pub(crate) taxid: Option<String>,
    pub(crate) ins: i64,
    pub(crate) status: InvoiceStatus,
}

/// What a resubmission keeps of the invoice it replaces, and its status.
pub(crate) struct Kept {
    pub(crate) status: InvoiceStatus,
    pub(crate) source: String,
    pub(crate) memory_id: String,
    pub(crate) indatim: Option<i64>,
    pub(crate) kind: Option<String>,
    pub(crate) ins: Option<i64>,
    pub(crate) dedup_key: Option<String>,
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

pub(crate) fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
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

pub(crate) fn refused(source: &str, error: QueueError) -> Enqueued {
    Enqueued::Refused {
        source: source.to_string(),
        error,
    }
}

/// Places one input: the invoice it already is, a new row, or refused.
pub(crate) fn enqueue_one(
    p: &mut impl Placing,
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
    // The same content (fingerprint) is the same invoice: an input without its own tax ID that
    // matches a stored invoice is that invoice, never a second one. (An input with its own tax
    // ID is identified by it, below.)
    let mut content = content;
    if let (Some(key), false) = (
        dedup_key.as_deref(),
        matches!(content, Content::Numbered { .. }),
    ) {
        if let Some(ex) = p.by_dedup_key(key)? {
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
                p.advance_serial(&memory_id, s)?;
            }
            let row = base(
                Some(&taxid),
                serial,
                Some(&payload),
                findings,
                status_of(invalid),
            );
            if let Some(ex) = p.by_taxid(&taxid)? {
                return numbered_existing(p, &row, ex, now, pid);
            }
            Ok(Enqueued::Inserted(p.insert(&row, now, pid)?))
        }
        Content::Invalid { payload, findings } => {
            let payload = payload.as_deref().filter(|p| check_json(p).is_ok());
            let findings = json_text(&Some(findings))?;
            let row = base(None, None, payload, findings, InvoiceStatus::Invalid);
            Ok(Enqueued::Inserted(p.insert(&row, now, pid)?))
        }
        Content::Allocate(build) => {
            let serial = p.next_serial(&memory_id)?;
            let built = match build(serial) {
                Ok(b) => b,
                Err(e) => return Ok(refused(&source, QueueError::Caller(e))),
            };
            if let Err(e) = check_json(&built.payload) {
                return Ok(refused(&source, e));
            }
            if let Some(ex) = p.by_taxid(&built.taxid)? {
                let e = QueueError::TaxIdReused {
                    taxid: built.taxid,
                    invoice: ex.id,
                };
                return Ok(refused(&source, e));
            }
            p.advance_serial(&memory_id, serial)?;
            let findings = json_text(&built.findings)?;
            let mut row = base(
                Some(&built.taxid),
                Some(serial),
                Some(&built.payload),
                findings,
                status_of(built.invalid),
            );
            row.indatim = built.indatim.or(indatim);
            Ok(Enqueued::Inserted(p.insert(&row, now, pid)?))
        }
    }
}

/// Places a referral of `reference` ([`crate::Store::enqueue_referral`]): refused while the
/// reference is cancelled, or (unless this one cancels it) has another live correction or
/// return; else as [`enqueue_one`].
pub(crate) fn enqueue_referral(
    p: &mut impl Placing,
    item: NewInvoice<'_>,
    reference: &str,
    now: Millis,
    pid: u32,
) -> Result<Enqueued> {
    let live = p.live_referrals(reference)?;
    // The same referral again is the row it already has.
    let same = match item.dedup_key.as_deref() {
        Some(k) => p.by_dedup_key(k)?.map(|e| e.id),
        None => None,
    };
    let cancels = item.ins == Some(3);
    let taken = live
        .into_iter()
        .filter(|r| Some(r.id) != same)
        .find(|r| r.ins == 3 || !cancels);
    if let Some(r) = taken {
        let e = QueueError::ReferenceTaken {
            reference: reference.to_string(),
            by: r.taxid.unwrap_or_else(|| r.id.to_string()),
            by_ins: r.ins,
            status: r.status,
        };
        return Ok(refused(&item.source, e));
    }
    enqueue_one(p, item, now, pid)
}

/// A tax ID already in the queue: refuse, keep, or replace the payload.
fn numbered_existing(
    p: &mut impl Placing,
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
        let (sent_source, sent_at) = p.sent_by(ex.id)?;
        let detail = serde_json::json!({"source": row.source, "fields": fields});
        p.log_event(
            ex.id,
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
    p.replace(ex.id, row, serial, now)?;
    p.log_event(
        ex.id,
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

/// Sends a FAILED invoice again under a new serial and tax ID: a new row linked to the old
/// one (`resubmission_of`), and a `resubmitted` event on the old one. Refused for any other
/// status, and for an invoice already resubmitted.
pub(crate) fn resubmit(
    p: &mut impl Placing,
    old: InvoiceId,
    build: BuildFn<'_>,
    now: Millis,
    pid: u32,
) -> Result<Placed> {
    let kept = p
        .kept_for_resubmission(old)?
        .ok_or(QueueError::UnknownInvoice(old))?;
    if kept.status != InvoiceStatus::Failed {
        return Err(QueueError::NotResubmittable {
            invoice: old,
            status: kept.status,
        });
    }
    if let Some(by) = p.resubmitted_by(old)? {
        return Err(QueueError::AlreadyResubmitted { invoice: old, by });
    }
    let serial = p.next_serial(&kept.memory_id)?;
    let built = build(serial).map_err(QueueError::Caller)?;
    check_json(&built.payload)?;
    if let Some(ex) = p.by_taxid(&built.taxid)? {
        return Err(QueueError::TaxIdReused {
            taxid: built.taxid,
            invoice: ex.id,
        });
    }
    p.advance_serial(&kept.memory_id, serial)?;
    let row = Row {
        source: &kept.source,
        memory_id: &kept.memory_id,
        indatim: built.indatim.or(kept.indatim),
        kind: kept.kind.as_deref(),
        ins: kept.ins,
        dedup_key: kept.dedup_key.as_deref(),
        taxid: Some(&built.taxid),
        serial: Some(serial),
        payload: Some(&built.payload),
        findings: json_text(&built.findings)?,
        status: status_of(built.invalid),
        resubmission_of: Some(old),
    };
    let placed = p.insert(&row, now, pid)?;
    let detail = format!(
        r#"{{"by":{},"taxid":{},"serial":{serial}}}"#,
        placed.id.0,
        json_str(&built.taxid)
    );
    p.log_event(
        old,
        now,
        "resubmitted",
        Some("FAILED"),
        Some("FAILED"),
        Some(&detail),
        pid,
    )?;
    Ok(placed)
}
