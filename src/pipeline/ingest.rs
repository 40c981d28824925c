//! load → fill → prepare → validate → enqueue, streamed: inputs are read, validated and put in
//! the queue [`CHUNK`] at a time (one queue transaction each), and what became of each input is
//! kept in a [`Spool`] on disk, so memory stays flat however many invoices a submission holds.
//!
//! One tax ID carried by several inputs of a submission: the last locally valid one is taken
//! (a later export of the same invoice) and the others are reported as superseded, never sent;
//! an invalid input never replaces a valid one, and an invalid input whose tax ID another
//! input's row holds in the queue is reported on its own, never recorded over it. Inputs with
//! the same content are one invoice to the queue: the first shows its row, and each later one
//! is listed as not sent, naming the first (never left out of the report).

use super::report::{self, InvoiceReport};
use super::spool::{Holder, Spool, Stored};
use super::{prepare, Input, Refusal};
use crate::import::fill::Filled;
use crate::import::limits::ReadOptions;
use crate::invoice::MemoryId;
use moadian_queue::{Content, Enqueued, NewInvoice, QueueError, Store};
use std::collections::HashMap;
use std::path::PathBuf;

/// Inputs read, validated and enqueued per queue transaction.
pub const CHUNK: usize = 1000;

/// How inputs are taken in.
pub struct IngestOptions<'a> {
    pub memory_id: &'a MemoryId,
    /// What the rules judge by: the moment (Unix ms) and the sending deadline.
    pub rules: crate::rules::Context,
    /// Compute what follows from the lines (prdis, adis, vam, tsstam, totals) first.
    pub fill: bool,
    pub read: ReadOptions,
}

/// What one submission did with its inputs: kept on disk, read back by
/// [`super::listing::Placements`]'s listing.
pub struct Placements {
    pub(super) spool: Spool,
    /// Inputs the queue refused.
    pub refused: usize,
}

/// Reads every input under `paths`, validates and enqueues it, chunk by chunk. `filled` hears
/// what `fill` computed for each input (source, fields).
pub fn enqueue_paths(
    queue: &impl Store,
    paths: &[PathBuf],
    opts: &IngestOptions<'_>,
    filled: &mut dyn FnMut(&str, &[Filled]),
) -> anyhow::Result<Placements> {
    let spool = Spool::new()?;
    let mut refused: isize = 0;
    let mut chunk: Vec<Input> = Vec::with_capacity(CHUNK);
    let mut ord: i64 = 0;
    let loaded = crate::invoice::load::load_paths_with(paths, opts.read.clone());
    for l in loaded {
        let mut input = Input {
            source: l.source,
            value: l.value.map_err(|e| e.message()),
        };
        if opts.fill {
            if let Ok(v) = &mut input.value {
                match crate::import::fill::fill_invoice(v) {
                    Ok(f) if !f.is_empty() => filled(&input.source, &f),
                    Ok(_) => {}
                    Err(e) => input.value = Err(crate::pipeline::verdict::fill_failed(&e)),
                }
            }
        }
        chunk.push(input);
        if chunk.len() == CHUNK {
            refused += take_chunk(queue, &spool, std::mem::take(&mut chunk), ord, opts)?;
            ord += CHUNK as i64;
        }
    }
    refused += take_chunk(queue, &spool, chunk, ord, opts)?;
    Ok(Placements {
        spool,
        refused: refused.max(0) as usize,
    })
}

/// One chunk: decide, enqueue in one transaction, record. Returns how many more inputs stand
/// refused by the queue (fewer when this chunk supersedes inputs refused before).
fn take_chunk(
    queue: &impl Store,
    spool: &Spool,
    inputs: Vec<Input>,
    first: i64,
    opts: &IngestOptions<'_>,
) -> anyhow::Result<isize> {
    if inputs.is_empty() {
        return Ok(0);
    }
    spool.begin()?;
    // Tax IDs taken by inputs of this chunk (the spool knows the earlier chunks'), with the
    // index of the input's item in `pending` while it is still to be enqueued.
    let mut holders: HashMap<String, (Holder, Option<usize>)> = HashMap::new();
    // Inputs of earlier chunks the queue refused that a later input of this chunk supersedes.
    let mut unrefused: isize = 0;
    // (input, item, whether it replaces an earlier input of this run)
    let mut pending: Vec<Option<(i64, NewInvoice<'static>, bool)>> = Vec::new();
    for (k, input) in inputs.into_iter().enumerate() {
        let ord = first + k as i64;
        let item = prepare(input, opts.memory_id, &opts.rules);
        let mut replaces = false;
        if let Content::Numbered {
            taxid,
            invalid,
            findings,
            ..
        } = &item.content
        {
            let valid = !invalid;
            let prev = match holders.get(taxid) {
                Some(h) => Some(h.clone()),
                None => spool.holder(taxid)?.map(|h| (h, None)),
            };
            let findings_text = findings.as_ref().map(|f| f.to_string());
            let mut held = None;
            match prev {
                Some((h, _)) if !valid && h.valid => {
                    // A valid input holds it: this invalid copy is superseded.
                    let r = superseded(&item.source, &h.source, taxid, findings.as_ref());
                    spool.set(ord, &Stored::Local(Box::new(r)))?;
                    continue;
                }
                Some((h, pending_at)) => {
                    // This one is taken; the earlier one is superseded.
                    if let Some(i) = pending_at {
                        pending[i] = None;
                    }
                    held = spool.placed_id(h.ord)?;
                    if spool.was_refused(h.ord)? {
                        unrefused += 1;
                    }
                    if let Some(id) = held {
                        spool.release(id)?;
                    }
                    let f = h
                        .findings
                        .as_deref()
                        .and_then(|t| serde_json::from_str(t).ok());
                    let r = superseded(&h.source, &item.source, taxid, f.as_ref());
                    spool.set(h.ord, &Stored::Local(Box::new(r)))?;
                    replaces = true;
                }
                None => {}
            }
            if !valid {
                // An invalid copy never overwrites another input's row.
                if let Some(existing) = queue.find_by_taxid(taxid)? {
                    if existing.source != item.source && Some(existing.id) != held {
                        let r = report::local_invalid(&item.source, Some(taxid), findings.as_ref());
                        spool.set(ord, &Stored::Local(Box::new(r)))?;
                        let h = Holder {
                            ord,
                            valid,
                            source: item.source.clone(),
                            findings: findings_text,
                        };
                        holders.insert(taxid.clone(), (h, None));
                        continue;
                    }
                }
            }
            let h = Holder {
                ord,
                valid,
                source: item.source.clone(),
                findings: findings_text,
            };
            holders.insert(taxid.clone(), (h, Some(pending.len())));
        }
        pending.push(Some((ord, item, replaces)));
    }
    let pending: Vec<(i64, NewInvoice<'static>, bool)> = pending.into_iter().flatten().collect();
    let mut ords = Vec::with_capacity(pending.len());
    let mut items = Vec::with_capacity(pending.len());
    for (ord, item, replaces) in pending {
        ords.push((ord, item.source.clone(), replaces));
        items.push(item);
    }
    let mut refused = -unrefused;
    let placed = if items.is_empty() {
        Vec::new()
    } else {
        queue.enqueue_batch(items)?
    };
    for (r, (ord, input_source, replaces)) in placed.into_iter().zip(ords) {
        let p = match r {
            Enqueued::Inserted(p) | Enqueued::Replaced(p) => Stored::Queue(p.id),
            // The same content as the earlier input of this run it supersedes: this one is
            // the row.
            Enqueued::Unchanged(p) if replaces => Stored::Queue(p.id),
            Enqueued::Unchanged(p) => Stored::Already(
                p.id,
                input_source.clone(),
                p.status == moadian_queue::InvoiceStatus::Queued,
            ),
            Enqueued::Refused { source, error } => match &error {
                QueueError::TaxIdSucceeded { invoice, .. }
                | QueueError::TaxIdInFlight { invoice, .. } => {
                    Stored::Already(*invoice, source, false)
                }
                QueueError::TaxIdConflict { .. } => {
                    Stored::Local(Box::new(report::conflict(&source, &error)))
                }
                _ => {
                    refused += 1;
                    Stored::Refused(Refusal {
                        source,
                        error: crate::lang::Message::new(error.persian(), error.to_string()),
                    })
                }
            },
        };
        let row_id = match &p {
            Stored::Queue(id) | Stored::Already(id, _, _) => Some(*id),
            _ => None,
        };
        let shown_elsewhere = match row_id {
            Some(id) if !spool.claim(id, ord)? => Some(id),
            _ => None,
        };
        if let Some(id) = shown_elsewhere {
            // A queue row is shown once, by the first input that placed it; this input has
            // the same content (the queue's identity of an invoice) and gets a row saying so.
            let row = queue.get(id)?;
            let first = spool
                .claimant_source(id)?
                .or_else(|| row.as_ref().map(|r| r.source.clone()));
            let taxid = row.and_then(|r| r.taxid);
            let r = same_content(&input_source, first.as_deref(), taxid.as_deref());
            spool.set(ord, &Stored::Local(Box::new(r)))?;
        } else {
            spool.set(ord, &p)?;
        }
    }
    for (taxid, (h, _)) in &holders {
        spool.set_holder(taxid, h)?;
    }
    spool.commit()?;
    Ok(refused)
}

/// The row of an input with the same content as `first`, another input of the submission or
/// of an earlier one: the queue holds one invoice for both, sent once.
fn same_content(source: &str, first: Option<&str>, taxid: Option<&str>) -> InvoiceReport {
    let mut r = report::local_invalid(source, taxid, None);
    let first = first.unwrap_or("?");
    let (fa, en) = (
        format!("محتوای این ورودی با {first} یکی است و برای صف همان صورتحساب است: یک بار، از {first}، ارسال شد و این ورودی ارسال نشد. اگر این دو، دو فروش جدا هستند، آن‌ها را متمایز کنید (مثلاً زمان صدور `indatim`) و دوباره ارسال کنید؛ اگر این ردیف تکراری است، حذفش کنید."),
        format!("same content as {first}, so the same invoice to the queue: sent once, from {first}; this input was not sent. If they are two different sales, make them differ (e.g. the issue time `indatim`) and submit again; if this row is a copy, remove it."),
    );
    r.errors.push(report::CodeLine {
        code: None,
        field: None,
        rule: Some("content.duplicate_input".into()),
        message: crate::lang::Message::new(fa, en),
        server_message: None,
    });
    r
}

/// The row of an input whose tax ID `taken`, another input of the same submission, carries
/// and was taken instead.
fn superseded(
    source: &str,
    taken: &str,
    taxid: &str,
    findings: Option<&serde_json::Value>,
) -> InvoiceReport {
    let mut r = report::local_invalid(source, Some(taxid), findings);
    let (fa, en) = (
        format!("شماره مالیاتی {taxid} در ورودی دیگری از همین ارسال ({taken}) هم آمده است و آن یکی ارسال شد؛ این یکی ارسال نشد. شماره مالیاتی یکتاست."),
        format!("the tax ID {taxid} is also carried by {taken}, another input of this submission, which was taken; this one was not sent. A tax ID is unique."),
    );
    r.errors.push(report::CodeLine {
        code: None,
        field: Some("header.taxid".into()),
        rule: Some("taxid.duplicate_input".into()),
        message: crate::lang::Message::new(fa, en),
        server_message: None,
    });
    r
}
