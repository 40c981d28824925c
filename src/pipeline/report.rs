//! The outcome of a submission per invoice — source, tax ID, status, uid, reference, errors and
//! warnings (each code with its one-line explanation) — and the summary, read from the queue.
//! This is what `submit` / `status` print as a table or as `--json`.

use crate::lang::{Lang, Langs, Message};
use moadian_queue::{InvoiceId, InvoiceRow, InvoiceStatus, ListFilter, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Status as reported to people and programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportStatus {
    Success,
    Failed,
    Invalid,
    Queued,
    InProgress,
    Unknown,
    /// Not enqueued: another invoice with other content holds its tax ID in the queue (SUCCESS
    /// or in flight). Never sent; a change to an accepted invoice is a correction.
    Conflict,
    /// Acknowledged, but the server has answered NOT_FOUND for longer than the grace period:
    /// a person decides (`moadian resend TAXID`).
    NeedsAttention,
}

impl ReportStatus {
    pub fn from_queue(s: InvoiceStatus) -> Self {
        match s {
            InvoiceStatus::Success => Self::Success,
            InvoiceStatus::Failed => Self::Failed,
            InvoiceStatus::Invalid => Self::Invalid,
            InvoiceStatus::Queued => Self::Queued,
            InvoiceStatus::InProgress => Self::InProgress,
            InvoiceStatus::Sending | InvoiceStatus::Unknown => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Invalid => "INVALID",
            Self::Queued => "QUEUED",
            Self::InProgress => "IN_PROGRESS",
            Self::Unknown => "UNKNOWN",
            Self::Conflict => "CONFLICT",
            Self::NeedsAttention => "NEEDS_ATTENTION",
        }
    }

    /// Every status, as the README lists them: the names `status --only` and the service's
    /// `status=` filter accept, and nothing else.
    pub const ALL: [ReportStatus; 8] = [
        Self::Success,
        Self::Failed,
        Self::Invalid,
        Self::Queued,
        Self::InProgress,
        Self::Unknown,
        Self::Conflict,
        Self::NeedsAttention,
    ];

    /// The status named `name` (`NEEDS_ATTENTION`, in any case); any other name is refused with
    /// a message naming it and every accepted one.
    pub fn parse(name: &str) -> Result<Self, Message> {
        let upper = name.trim().to_ascii_uppercase();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == upper)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                Message::new(
                    format!(
                        "وضعیت «{name}» شناخته نیست؛ یکی از این‌ها را بنویسید: {}.",
                        names.join("، ")
                    ),
                    format!(
                        "status \"{name}\" is unknown; write one of {}.",
                        names.join(", ")
                    ),
                )
            })
    }

    /// What the status means for a person, in both languages.
    pub fn label(self) -> Message {
        let fa = match self {
            Self::Success => "موفق",
            Self::Failed => "ناموفق",
            Self::Invalid => "نامعتبر (ارسال نشد)",
            Self::Queued => "در صف",
            Self::InProgress => "در حال پردازش",
            Self::Unknown => "نامعلوم (پیگیری می‌شود)",
            Self::Conflict => "تعارض (ارسال نشد)",
            Self::NeedsAttention => "نیازمند بررسی",
        };
        let en = match self {
            Self::Success => "accepted",
            Self::Failed => "rejected",
            Self::Invalid => "invalid (not sent)",
            Self::Queued => "queued",
            Self::InProgress => "being processed",
            Self::Unknown => "unknown (being followed up)",
            Self::Conflict => "conflict (not sent)",
            Self::NeedsAttention => "needs attention",
        };
        Message::new(fa, en)
    }

    /// SUCCESS, FAILED, INVALID or CONFLICT: nothing more will happen by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Success | Self::Failed | Self::Invalid | Self::Conflict
        )
    }
}

/// How long an acknowledged invoice may be answered NOT_FOUND before it needs a person:
/// `MOADIAN_NOT_FOUND_GRACE_MS`, else 10 minutes.
pub fn attention_grace() -> std::time::Duration {
    crate::pipeline::poll::env_ms("MOADIAN_NOT_FOUND_GRACE_MS")
        .unwrap_or(std::time::Duration::from_secs(600))
}

/// One error or warning: its code (server or local rule), field and message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CodeLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Local rule id (validation findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What it means, in both languages: the rule's message, or for a server code the
    /// catalogue's one-line meaning (the server's own words when the catalogue lacks the code).
    pub message: Message,
    /// The server's own words, verbatim (server codes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_message: Option<String>,
}

impl CodeLine {
    /// `code: message [field]`, for the table, in `langs`.
    pub fn short(&self, langs: Langs) -> String {
        let mut s = String::new();
        if let Some(c) = &self.code {
            s.push_str(c);
            s.push_str(": ");
        }
        s.push_str(&langs.text(&self.message));
        if let Some(f) = &self.field {
            if !f.is_empty() {
                s.push_str(&format!(" [{f}]"));
            }
        }
        s
    }
}

/// One invoice of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceReport {
    pub source: String,
    pub taxid: Option<String>,
    pub status: ReportStatus,
    pub uid: Option<String>,
    pub reference: Option<String>,
    pub errors: Vec<CodeLine>,
    pub warnings: Vec<CodeLine>,
    /// What this submission did with it when that is not obvious from the status
    /// ("already SUCCESS, sent on …; not sent again").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<Message>,
    /// For an invoice that is not final: what the tool is waiting for and what the user can do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Message>,
}

/// Count per status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: usize,
    pub success: usize,
    pub failed: usize,
    pub invalid: usize,
    pub queued: usize,
    pub in_progress: usize,
    pub unknown: usize,
    pub conflict: usize,
    pub needs_attention: usize,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub invoices: Vec<InvoiceReport>,
    pub summary: Summary,
}

impl Report {
    /// Exit 0 only when every invoice reached SUCCESS.
    pub fn all_success(&self) -> bool {
        self.summary.all_success()
    }

    /// Some invoice is INVALID, FAILED or needs a person: nothing will fix it by itself.
    pub fn any_problem(&self) -> bool {
        let s = &self.summary;
        s.invalid + s.failed + s.needs_attention > 0
    }
}

/// Reads the invoices `ids` (all when `None`) of the queue into a report (held in memory:
/// for a few rows; [`crate::pipeline::listing`] streams any number).
pub fn build<S: Store>(
    store: &S,
    ids: Option<Vec<InvoiceId>>,
    memory_id: Option<&str>,
) -> Result<Report, moadian_queue::QueueError> {
    let mut invoices = Vec::new();
    match ids {
        Some(ids) => {
            for chunk in ids.chunks(500) {
                let rows = store.list(&ListFilter {
                    ids: Some(chunk.to_vec()),
                    ..ListFilter::default()
                })?;
                invoices.extend(rows_reports(store, &rows)?);
            }
        }
        None => {
            let rows = store.list(&ListFilter {
                memory_id: memory_id.map(str::to_string),
                ..ListFilter::default()
            })?;
            invoices = rows_reports(store, &rows)?;
        }
    }
    Ok(assemble(invoices))
}

/// The report rows of these queue rows, in their order: an acknowledged invoice answered
/// NOT_FOUND for longer than the grace period becomes NEEDS_ATTENTION.
pub fn rows_reports<S: Store>(
    store: &S,
    rows: &[InvoiceRow],
) -> Result<Vec<InvoiceReport>, moadian_queue::QueueError> {
    let grace = attention_grace().as_millis() as i64;
    let now = chrono::Utc::now().timestamp_millis();
    let mut invoices = Vec::with_capacity(rows.len());
    for r in rows {
        let mut rep = row_report(r);
        if let Some(since) = attention_since(store, r, grace, now)? {
            rep.status = ReportStatus::NeedsAttention;
            rep.next = next_step(&rep, Some(since));
        }
        invoices.push(rep);
    }
    Ok(invoices)
}

/// When an acknowledged invoice was sent, if it has been answered NOT_FOUND for longer than
/// the grace period since (it NEEDS ATTENTION).
fn attention_since<S: Store>(
    store: &S,
    r: &InvoiceRow,
    grace: i64,
    now: i64,
) -> Result<Option<i64>, moadian_queue::QueueError> {
    if r.status != InvoiceStatus::InProgress {
        return Ok(None);
    }
    let last = r
        .last_attempt
        .as_ref()
        .map(|a| store.attempt(a.uid))
        .transpose()?
        .flatten();
    Ok(last
        .filter(|a| a.server_status.as_deref() == Some("NOT_FOUND"))
        .map(|a| a.sent_at.unwrap_or(a.created_at))
        .filter(|since| now - since >= grace))
}

/// The status a queue row is reported with (what [`rows_reports`] gives it).
pub fn status_of<S: Store>(
    store: &S,
    r: &InvoiceRow,
) -> Result<ReportStatus, moadian_queue::QueueError> {
    let grace = attention_grace().as_millis() as i64;
    let now = chrono::Utc::now().timestamp_millis();
    Ok(match attention_since(store, r, grace, now)? {
        Some(_) => ReportStatus::NeedsAttention,
        None => ReportStatus::from_queue(r.status),
    })
}

/// A report of these rows, with its summary.
pub fn assemble(invoices: Vec<InvoiceReport>) -> Report {
    let mut s = Summary::default();
    for i in &invoices {
        s.add(i.status);
    }
    Report {
        invoices,
        summary: s,
    }
}

impl Summary {
    /// Counts one more invoice with this status.
    pub fn add(&mut self, status: ReportStatus) {
        self.total += 1;
        match status {
            ReportStatus::Success => self.success += 1,
            ReportStatus::Failed => self.failed += 1,
            ReportStatus::Invalid => self.invalid += 1,
            ReportStatus::Queued => self.queued += 1,
            ReportStatus::InProgress => self.in_progress += 1,
            ReportStatus::Unknown => self.unknown += 1,
            ReportStatus::Conflict => self.conflict += 1,
            ReportStatus::NeedsAttention => self.needs_attention += 1,
        }
    }

    /// Exit 0 only when every invoice reached SUCCESS.
    pub fn all_success(&self) -> bool {
        self.total > 0 && self.success == self.total
    }
}

/// The row of an input found invalid that was not recorded in the queue (its tax ID belongs to
/// another input there): INVALID with its own findings.
pub fn local_invalid(source: &str, taxid: Option<&str>, findings: Option<&Value>) -> InvoiceReport {
    let (errors, warnings) = findings_lines(findings);
    InvoiceReport {
        source: source.to_string(),
        taxid: taxid.map(str::to_string),
        status: ReportStatus::Invalid,
        uid: None,
        reference: None,
        errors,
        warnings,
        note: None,
        next: None,
    }
}

/// Who sends the queue's invoices: `moadian run`, or the runner inside `moadian serve` (which
/// holds the queue, so a `run` meanwhile is told the queue is busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Run,
    Service,
}

/// What the tool waits for and what the user can do, for a status that is not final.
pub fn next_step(r: &InvoiceReport, since: Option<i64>) -> Option<Message> {
    next_step_by(r, since, Sender::Run)
}

/// The next steps of these rows as told by `moadian serve`: its own runner sends and asks.
pub fn under_service(rows: &mut [InvoiceReport]) {
    for r in rows {
        if matches!(
            r.status,
            ReportStatus::Queued
                | ReportStatus::InProgress
                | ReportStatus::Unknown
                | ReportStatus::NeedsAttention
        ) {
            r.next = next_step_by(r, None, Sender::Service);
        }
    }
}

/// [`next_step`] for the given sender.
pub fn next_step_by(r: &InvoiceReport, since: Option<i64>, who: Sender) -> Option<Message> {
    let (sends_fa, sends_en, asks_fa, asks_en) = match who {
        Sender::Run => (
            "اجرای بعدی `moadian run` آن را می‌فرستد",
            "the next `moadian run` sends it",
            "`moadian run` دوباره استعلام می‌کند",
            "`moadian run` asks again",
        ),
        Sender::Service => (
            "اجراکنندهٔ داخل سرویس (`moadian serve`) آن را می‌فرستد",
            "the service's runner (`moadian serve`) sends it",
            "اجراکنندهٔ داخل سرویس دوباره استعلام می‌کند",
            "The service's runner asks again",
        ),
    };
    let taxid = r.taxid.as_deref().unwrap_or("TAXID");
    let when = since
        .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let (fa, en) = match r.status {
        ReportStatus::Queued => (
            format!("در انتظار ارسال؛ {sends_fa}."),
            format!("waiting to be sent; {sends_en}."),
        ),
        ReportStatus::InProgress => (
            format!("سامانه دریافت آن را تأیید کرده است؛ در انتظار وضعیت نهایی. {asks_fa}."),
            format!("acknowledged by the server; waiting for its final status. {asks_en}."),
        ),
        ReportStatus::Unknown => (
            format!("معلوم نیست سامانه آن را دریافت کرده یا نه؛ تا استعلام روشن نکند دوباره فرستاده نمی‌شود. {asks_fa}."),
            format!("not known whether the server received it; it is not sent again until an inquiry tells. {asks_en}."),
        ),
        ReportStatus::NeedsAttention => {
            // `resend` sends: it needs the queue's runner, which the service holds.
            let (first_fa, first_en) = match who {
                Sender::Run => ("", ""),
                Sender::Service => (
                    "سرویس (`moadian serve`) را متوقف کنید، سپس ",
                    "stop the service (`moadian serve`) first, then ",
                ),
            };
            (
                format!("سامانه دریافت آن را در {when} تأیید کرد ولی از آن پس در استعلام «یافت نشد» (NOT_FOUND) پاسخ می‌دهد. اگر مطمئنید، {first_fa}با `moadian resend {taxid} --yes` با همان شماره مالیاتی دوباره فرستاده می‌شود (پس از استعلامی که نبودنش را نشان دهد)."),
                format!("acknowledged by the server on {when}, but inquiries answer NOT_FOUND since. To send it again with the same tax ID, {first_en}run `moadian resend {taxid} --yes` (it asks first, and sends only when an inquiry shows the server does not have it)."),
            )
        }
        _ => return None,
    };
    Some(Message::new(fa, en))
}

/// The row of an input refused as a conflict: its tax ID holds another invoice (other
/// content) that is SUCCESS or in flight. Names what was sent, what differs, and the way out.
pub fn conflict(source: &str, e: &moadian_queue::QueueError) -> InvoiceReport {
    let (taxid, fields) = match e {
        moadian_queue::QueueError::TaxIdConflict { taxid, fields, .. } => {
            (Some(taxid.clone()), fields.join(", "))
        }
        _ => (None, String::new()),
    };
    InvoiceReport {
        source: source.to_string(),
        taxid,
        status: ReportStatus::Conflict,
        uid: None,
        reference: None,
        errors: vec![CodeLine {
            code: Some(CONFLICT_CODE.into()),
            field: Some(fields).filter(|f| !f.is_empty()),
            rule: None,
            message: Message::new(e.persian(), e.to_string()),
            server_message: None,
        }],
        warnings: Vec::new(),
        note: None,
        next: None,
    }
}

/// The catalogue id of a conflict (`moadian explain queue.conflict`).
pub const CONFLICT_CODE: &str = "queue.conflict";

fn row_report(r: &InvoiceRow) -> InvoiceReport {
    let status = ReportStatus::from_queue(r.status);
    let (mut errors, mut warnings) = findings_lines(r.findings.as_ref());
    let mut uid = None;
    let mut reference = None;
    if let Some(a) = &r.last_attempt {
        uid = Some(a.uid.to_string());
        reference = a.reference.clone();
        if status != ReportStatus::Invalid {
            if matches!(status, ReportStatus::Failed | ReportStatus::Queued) {
                errors.extend(server_lines(a.errors.as_ref()));
            }
            warnings.extend(server_lines(a.warnings.as_ref()));
        }
    }
    if status != ReportStatus::Invalid {
        // Local errors only matter for invalid invoices; keep their warnings.
        errors.retain(|e| e.rule.is_none());
    }
    let mut rep = InvoiceReport {
        source: r.source.clone(),
        taxid: r.taxid.clone(),
        status,
        uid,
        reference,
        errors,
        warnings,
        note: None,
        next: None,
    };
    if !status.is_final() {
        rep.next = next_step(&rep, None);
    }
    rep
}

/// The catalogue's one-line meaning of a code, in both languages.
fn explanation(code: &str) -> Option<Message> {
    Some(Message::new(
        crate::codes::one_line(code, Lang::Fa)?,
        crate::codes::one_line(code, Lang::En)?,
    ))
}

/// Server codes stored as `[{code, message}]`.
fn server_lines(v: Option<&Value>) -> Vec<CodeLine> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    crate::api::types::codes_of(items)
        .into_iter()
        .map(|c| {
            let code = (!c.code.is_empty()).then(|| c.code.clone());
            CodeLine {
                message: code
                    .as_deref()
                    .and_then(explanation)
                    .unwrap_or_else(|| Message::new(c.message.clone(), c.message.clone())),
                code,
                field: None,
                rule: None,
                server_message: Some(c.message),
            }
        })
        .collect()
}

/// Local validation findings stored as `[Finding]`.
fn findings_lines(v: Option<&Value>) -> (Vec<CodeLine>, Vec<CodeLine>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Some(Value::Array(items)) = v else {
        return (errors, warnings);
    };
    for item in items {
        let Ok(f) = serde_json::from_value::<crate::rules::Finding>(item.clone()) else {
            continue;
        };
        let error = f.is_error();
        let line = CodeLine {
            code: f.code,
            field: Some(f.field).filter(|s| !s.is_empty()),
            rule: Some(f.rule),
            message: f.message,
            server_message: None,
        };
        if error {
            errors.push(line);
        } else {
            warnings.push(line);
        }
    }
    (errors, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `resend` sends, so it needs the queue's runner, which `moadian serve` holds: under the
    /// service the way out of NEEDS ATTENTION says to stop it first.
    #[test]
    fn under_the_service_a_resend_is_told_to_stop_the_service_first() {
        let mut rows = vec![conflict(
            "a.json",
            &moadian_queue::QueueError::InvalidInput("x".into()),
        )];
        rows[0].status = ReportStatus::NeedsAttention;
        rows[0].taxid = Some("A11216049E8A00000000A2".into());
        assert!(next_step(&rows[0], None)
            .unwrap()
            .en
            .contains("moadian resend"));
        under_service(&mut rows);
        let next = rows[0].next.clone().expect("a next step");
        assert!(
            next.en.contains("stop the service") && next.en.contains("moadian resend"),
            "{next:?}"
        );
        assert!(next.fa.contains("moadian resend"), "{next:?}");
    }
}
