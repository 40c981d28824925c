//! Referrals of an accepted invoice — the correction (ins 2), cancellation (ins 3) and sales
//! return (ins 4) — made from the queue's record of it: find the reference and check it against
//! referrals already queued, build, validate as numbered, enqueue. Shared by the `correct`,
//! `cancel` and `return` commands and the service's `POST /api/v1/invoices/{taxid}/…`.

use crate::lang::Message;
use crate::rules::{self, Finding};
use moadian_queue::{Enqueued, InvoiceId, InvoiceStatus, ListFilter, QueueError, Store};
use serde_json::Value;
use std::path::Path;

/// Which referral is being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Correction,
    Cancellation,
    Return,
}

impl Kind {
    pub fn ins(self) -> i64 {
        match self {
            Kind::Correction => 2,
            Kind::Cancellation => 3,
            Kind::Return => 4,
        }
    }
}

/// The reference from the queue: its payload, checked to be an accepted invoice; and the checks
/// against referrals already in the queue.
pub fn find_reference(queue: &impl Store, taxid: &str, kind: Kind) -> Result<Value, Vec<Finding>> {
    let e = |rule: &str, fa: String, en: String| {
        vec![Finding::error(
            rule,
            "header.irtaxid",
            crate::lang::Message::new(fa, en),
        )]
    };
    let inv = match queue.find_by_taxid(taxid) {
        Ok(Some(i)) => i,
        Ok(None) => {
            return Err(e(
                "referral.reference_unknown",
                format!("شماره مالیاتی {taxid} در صف نیست؛ صورتحساب ارجاعی از روی سابقه صورتحساب پذیرفته‌شده در همین صف ساخته می‌شود (--queue / --profile را بررسی کنید)"),
                format!("tax ID {taxid} is not in this queue; a referral is built from the queue's record of the accepted invoice (check --queue / --profile)"),
            ))
        }
        Err(x) => return Err(e("queue.error", x.persian(), x.to_string())),
    };
    if inv.status != InvoiceStatus::Success {
        return Err(e(
            "referral.reference_not_accepted",
            format!("صورتحساب {taxid} پذیرفته نشده است (وضعیت {}); فقط برای صورتحساب پذیرفته‌شده (SUCCESS) می‌توان ارجاعی صادر کرد", inv.status),
            format!("{taxid} is not accepted (status {}); a correction, cancellation or return needs an accepted (SUCCESS) reference", inv.status),
        ));
    }
    let payload: Value = match inv.payload.as_deref().map(serde_json::from_str) {
        Some(Ok(v)) => v,
        _ => {
            return Err(e(
                "referral.reference_unreadable",
                format!("محتوای صورتحساب {taxid} در صف خوانا نیست"),
                format!("the queue's copy of {taxid} cannot be read"),
            ))
        }
    };
    // Referrals of this reference already in the queue (not failed).
    let rows = queue
        .list(&ListFilter::default())
        .map_err(|x| e("queue.error", x.persian(), x.to_string()))?;
    for r in rows.into_iter().filter(|r| matches!(r.ins, Some(2..=4))) {
        if matches!(r.status, InvoiceStatus::Failed | InvoiceStatus::Invalid) {
            continue;
        }
        let Ok(Some(full)) = queue.get(r.id) else {
            continue;
        };
        let irtaxid = full
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .and_then(|v| v["header"]["irtaxid"].as_str().map(str::to_string));
        if irtaxid.as_deref() != Some(taxid) {
            continue;
        }
        let other = r.taxid.clone().unwrap_or_else(|| r.id.to_string());
        if r.ins == Some(3) {
            return Err(e(
                "referral.reference_cancelled",
                format!("صورتحساب {taxid} با صورتحساب ابطالی {other} ({}) ابطال شده است و دیگر نمی‌تواند مرجع باشد", r.status),
                format!("{taxid} is cancelled by {other} ({}); it cannot be a reference again (V7.8 §5-3)", r.status),
            ));
        }
        if kind != Kind::Cancellation {
            return Err(e(
                "referral.reference_in_use",
                format!("صورتحساب {taxid} مرجع صورتحساب ارجاعی {other} ({}) است؛ یک مرجع همزمان فقط یک اصلاحی/برگشت از فروش دارد. صورتحساب بعدی را بر {other} صادر کنید", r.status),
                format!("{taxid} is already the reference of {other} ({}); a reference carries one live correction/return at a time (V7.8 §5). Make the next one on {other}", r.status),
            ));
        }
    }
    Ok(payload)
}

/// Validates a referral as it will be numbered: with the tax ID and `inno` the next serial
/// would give (the real ones are assigned at enqueue).
pub fn validate_numbered(
    queue: &impl Store,
    memory_id: &crate::invoice::MemoryId,
    invoice: &Value,
    now: i64,
) -> anyhow::Result<Vec<Finding>> {
    let mut v = invoice.clone();
    let serial = queue.last_serial(memory_id.as_str())? + 1;
    let indatim = v["header"]["indatim"].as_i64().unwrap_or(now);
    if let Ok(t) = crate::invoice::TaxId::generate(memory_id, indatim, serial) {
        if let Some(h) = v.get_mut("header").and_then(Value::as_object_mut) {
            h.insert("taxid".into(), Value::String(t.as_str().to_string()));
            h.insert(
                "inno".into(),
                Value::String(crate::invoice::inno_for_serial(serial)),
            );
        }
    }
    Ok(rules::validate(&v, &rules::Context::at(now)))
}

/// Reads the one invoice of a JSON or spreadsheet file.
pub fn read_one(path: &Path) -> anyhow::Result<Value> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut found: Vec<Value> = if ext == "xlsx" || ext == "csv" || ext == "xls" || ext == "ods" {
        let mut out = Vec::new();
        for i in crate::import::load_file(path) {
            match i.value {
                Ok(v) => out.push(v),
                Err(e) => anyhow::bail!("{}: {e}", i.source),
            }
        }
        out
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read {}: {e} / فایل خوانده نشد", path.display())
        })?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(a)) => a,
            Ok(v) => vec![v],
            Err(e) => anyhow::bail!("{}: not valid JSON: {e} / JSON معتبر نیست", path.display()),
        }
    };
    if found.len() != 1 {
        anyhow::bail!(
            "{} holds {} invoices; give exactly one / فایل باید دقیقاً یک صورتحساب داشته باشد",
            path.display(),
            found.len()
        );
    }
    Ok(found.remove(0))
}

/// A caution about the reference (not an error): the tax system takes a referral on it only in
/// some states.
pub fn caution(kind: Kind, reference: &Value) -> Option<Message> {
    if kind != Kind::Cancellation && matches!(reference["header"]["ins"].as_i64(), Some(2 | 4)) {
        return Some(Message::new("توجه: مرجع خودش اصلاحی/برگشت از فروش است؛ سامانه آن را فقط در وضعیت «تایید شده»، «تایید سیستمی» یا «عدم نیاز به واکنش» به عنوان مرجع می‌پذیرد (دستورالعمل ۷.۸ بند ۵-۲ نکته ۴).", "note: the reference is itself a correction/return; the tax system takes it as a reference only once it is APPROVED, SYSTEMIC_APPROVED or NO_NEED_REACTION (V7.8 §5-2 note 4)."));
    }
    if kind != Kind::Cancellation && reference["header"]["inty"].as_i64() == Some(1) {
        return Some(Message::new("توجه: تا وضعیت تایید صورتحساب مرجع (واکنش خریدار) مشخص نشده باشد، سامانه اصلاحی/برگشت از فروش را بر آن نمی‌پذیرد (دستورالعمل ۷.۸، جدول ۸ ردیف ۸).", "note: until the buyer's reaction to the reference is settled, the tax system does not take a correction/return on it (V7.8 table 8 row 8)."));
    }
    None
}

/// A referral built and validated, not yet queued.
pub struct Made {
    pub invoice: Value,
    /// Its findings (warnings only: an error stops it).
    pub findings: Vec<Finding>,
    /// What to know about the reference.
    pub caution: Option<Message>,
}

/// Finds the reference, builds the referral with `build` (given the reference and the moment)
/// and validates it as it will be numbered. `Ok(Err(findings))`: stopped locally by these rules.
pub fn make(
    queue: &impl Store,
    memory_id: &crate::invoice::MemoryId,
    kind: Kind,
    taxid: &str,
    now: i64,
    build: impl FnOnce(&Value, i64) -> Result<Value, Vec<Finding>>,
) -> anyhow::Result<Result<Made, Vec<Finding>>> {
    let reference = match find_reference(queue, taxid, kind) {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let caution = caution(kind, &reference);
    let invoice = match build(&reference, now) {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let findings = validate_numbered(queue, memory_id, &invoice, now)?;
    if findings.iter().any(Finding::is_error) {
        return Ok(Err(findings));
    }
    Ok(Ok(Made {
        invoice,
        findings,
        caution,
    }))
}

/// Where a queued referral ended up.
pub enum Queued {
    /// Its row (new, or the same referral queued before).
    Invoice(InvoiceId),
    /// The queue refused it: source and why.
    Refused { source: String, error: Message },
}

/// Numbers and queues a made referral. The queue checks its reference again inside the
/// transaction that stores it ([`Store::enqueue_referral`]): two referrals made at once for
/// one reference, by two processes, are not both queued.
pub fn enqueue(
    queue: &impl Store,
    memory_id: &crate::invoice::MemoryId,
    source: String,
    invoice: Value,
    now: i64,
) -> Result<Queued, QueueError> {
    let reference = invoice["header"]["irtaxid"].as_str().map(str::to_string);
    let item = super::prepare(
        super::Input {
            source,
            value: Ok(invoice),
        },
        memory_id,
        &crate::rules::Context::at(now),
    );
    let placed = match reference {
        Some(r) => queue.enqueue_referral(item, &r)?,
        None => queue.enqueue(item)?,
    };
    Ok(match placed {
        Enqueued::Inserted(p) | Enqueued::Replaced(p) | Enqueued::Unchanged(p) => {
            Queued::Invoice(p.id)
        }
        Enqueued::Refused { source, error } => match error {
            QueueError::TaxIdSucceeded { invoice, .. }
            | QueueError::TaxIdInFlight { invoice, .. } => Queued::Invoice(invoice),
            other => Queued::Refused {
                source,
                error: Message::new(other.persian(), other.to_string()),
            },
        },
    })
}
