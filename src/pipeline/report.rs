//! The outcome of a submission per invoice — source, tax ID, status, uid, reference, errors and
//! warnings (each code with its one-line explanation) — and the summary, read from the queue.
//! This is what `submit` / `status` print as a table or as `--json`.

use crate::lang::Lang;
use moadian_queue::{InvoiceId, InvoiceRow, InvoiceStatus, ListFilter, Store};
use serde::Serialize;
use serde_json::Value;

/// Status as reported to people and programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportStatus {
    Success,
    Failed,
    Invalid,
    Queued,
    InProgress,
    Unknown,
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
            Self::NeedsAttention => "NEEDS_ATTENTION",
        }
    }

    /// SUCCESS, FAILED or INVALID: nothing more will happen by itself.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Invalid)
    }
}

/// How long an acknowledged invoice may be answered NOT_FOUND before it needs a person:
/// `MOADIAN_NOT_FOUND_GRACE_MS`, else 10 minutes.
pub fn attention_grace() -> std::time::Duration {
    crate::pipeline::poll::env_ms("MOADIAN_NOT_FOUND_GRACE_MS")
        .unwrap_or(std::time::Duration::from_secs(600))
}

/// One error or warning: its code (server or local rule), field, message and explanation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CodeLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Local rule id (validation findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What the server (or the rule) said.
    pub message: String,
    /// The catalogue's one-line meaning of the code, in the chosen language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl CodeLine {
    /// `code — explanation (field)`, for the table.
    pub fn short(&self) -> String {
        let mut s = String::new();
        if let Some(c) = &self.code {
            s.push_str(c);
            s.push_str(": ");
        }
        s.push_str(self.explanation.as_deref().unwrap_or(&self.message));
        if let Some(f) = &self.field {
            if !f.is_empty() {
                s.push_str(&format!(" [{f}]"));
            }
        }
        s
    }
}

/// One invoice of the report.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceReport {
    pub source: String,
    pub taxid: Option<String>,
    pub status: ReportStatus,
    pub uid: Option<String>,
    pub reference: Option<String>,
    pub errors: Vec<CodeLine>,
    pub warnings: Vec<CodeLine>,
    /// For an invoice that is not final: what the tool is waiting for and what the user can do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
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
        self.summary.total > 0 && self.summary.success == self.summary.total
    }

    /// Some invoice is INVALID, FAILED or needs a person: nothing will fix it by itself.
    pub fn any_problem(&self) -> bool {
        let s = &self.summary;
        s.invalid + s.failed + s.needs_attention > 0
    }
}

/// Reads the invoices `ids` (all when `None`) of the queue into a report.
pub fn build<S: Store>(
    store: &S,
    ids: Option<Vec<InvoiceId>>,
    memory_id: Option<&str>,
    lang: Lang,
) -> Result<Report, moadian_queue::QueueError> {
    let mut rows = Vec::new();
    match ids {
        Some(ids) => {
            for chunk in ids.chunks(500) {
                rows.extend(store.list(&ListFilter {
                    ids: Some(chunk.to_vec()),
                    ..ListFilter::default()
                })?);
            }
        }
        None => {
            rows = store.list(&ListFilter {
                memory_id: memory_id.map(str::to_string),
                ..ListFilter::default()
            })?
        }
    }
    let grace = attention_grace().as_millis() as i64;
    let now = chrono::Utc::now().timestamp_millis();
    let mut invoices = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut rep = row_report(r, lang);
        // Acknowledged and answered NOT_FOUND for longer than the grace period.
        if r.status == InvoiceStatus::InProgress {
            let last = r
                .last_attempt
                .as_ref()
                .map(|a| store.attempt(a.uid))
                .transpose()?
                .flatten();
            if let Some(a) = last.filter(|a| a.server_status.as_deref() == Some("NOT_FOUND")) {
                let since = a.sent_at.unwrap_or(a.created_at);
                if now - since >= grace {
                    rep.status = ReportStatus::NeedsAttention;
                    rep.next = Some(next_step(&rep, Some(since), lang));
                }
            }
        }
        invoices.push(rep);
    }
    Ok(assemble(invoices))
}

/// A report of these rows, with its summary.
pub fn assemble(invoices: Vec<InvoiceReport>) -> Report {
    let mut s = Summary {
        total: invoices.len(),
        ..Summary::default()
    };
    for i in &invoices {
        match i.status {
            ReportStatus::Success => s.success += 1,
            ReportStatus::Failed => s.failed += 1,
            ReportStatus::Invalid => s.invalid += 1,
            ReportStatus::Queued => s.queued += 1,
            ReportStatus::InProgress => s.in_progress += 1,
            ReportStatus::Unknown => s.unknown += 1,
            ReportStatus::NeedsAttention => s.needs_attention += 1,
        }
    }
    Report {
        invoices,
        summary: s,
    }
}

/// The row of an input found invalid that was not recorded in the queue (its tax ID belongs to
/// another input there): INVALID with its own findings.
pub fn local_invalid(
    source: &str,
    taxid: Option<&str>,
    findings: Option<&Value>,
    lang: Lang,
) -> InvoiceReport {
    let (errors, warnings) = findings_lines(findings, lang);
    InvoiceReport {
        source: source.to_string(),
        taxid: taxid.map(str::to_string),
        status: ReportStatus::Invalid,
        uid: None,
        reference: None,
        errors,
        warnings,
        next: None,
    }
}

/// What the tool waits for and what the user can do, for a status that is not final.
pub fn next_step(r: &InvoiceReport, since: Option<i64>, lang: Lang) -> String {
    let taxid = r.taxid.as_deref().unwrap_or("TAXID");
    let when = since
        .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let (fa, en) = match r.status {
        ReportStatus::Queued => (
            "در انتظار ارسال؛ اجرای بعدی `moadian run` آن را می‌فرستد.".to_string(),
            "waiting to be sent; the next `moadian run` sends it.".to_string(),
        ),
        ReportStatus::InProgress => (
            "سامانه دریافت آن را تأیید کرده است؛ در انتظار وضعیت نهایی. `moadian run` دوباره استعلام می‌کند.".to_string(),
            "acknowledged by the server; waiting for its final status. `moadian run` asks again.".to_string(),
        ),
        ReportStatus::Unknown => (
            "معلوم نیست سامانه آن را دریافت کرده یا نه؛ تا استعلام روشن نکند دوباره فرستاده نمی‌شود. `moadian run` دوباره استعلام می‌کند.".to_string(),
            "not known whether the server received it; it is not sent again until an inquiry tells. `moadian run` asks again.".to_string(),
        ),
        ReportStatus::NeedsAttention => (
            format!("سامانه دریافت آن را در {when} تأیید کرد ولی از آن پس در استعلام «یافت نشد» (NOT_FOUND) پاسخ می‌دهد. اگر مطمئنید، با `moadian resend {taxid} --yes` با همان شماره مالیاتی دوباره فرستاده می‌شود (پس از استعلامی که نبودنش را نشان دهد)."),
            format!("acknowledged by the server on {when}, but inquiries answer NOT_FOUND since. `moadian resend {taxid} --yes` sends it again with the same tax ID (after an inquiry shows the server does not have it)."),
        ),
        _ => return String::new(),
    };
    match lang {
        Lang::Fa => fa,
        Lang::En => en,
    }
}

fn row_report(r: &InvoiceRow, lang: Lang) -> InvoiceReport {
    let status = ReportStatus::from_queue(r.status);
    let (mut errors, mut warnings) = findings_lines(r.findings.as_ref(), lang);
    let mut uid = None;
    let mut reference = None;
    if let Some(a) = &r.last_attempt {
        uid = Some(a.uid.to_string());
        reference = a.reference.clone();
        if status != ReportStatus::Invalid {
            if matches!(status, ReportStatus::Failed | ReportStatus::Queued) {
                errors.extend(server_lines(a.errors.as_ref(), lang));
            }
            warnings.extend(server_lines(a.warnings.as_ref(), lang));
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
        next: None,
    };
    if !status.is_final() {
        rep.next = Some(next_step(&rep, None, lang));
    }
    rep
}

fn explanation(code: &str, lang: Lang) -> Option<String> {
    crate::codes::one_line(code, lang)
}

/// Server codes stored as `[{code, message}]`.
fn server_lines(v: Option<&Value>, lang: Lang) -> Vec<CodeLine> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    crate::api::types::codes_of(items)
        .into_iter()
        .map(|c| {
            let code = (!c.code.is_empty()).then(|| c.code.clone());
            CodeLine {
                explanation: code.as_deref().and_then(|k| explanation(k, lang)),
                code,
                field: None,
                rule: None,
                message: c.message,
            }
        })
        .collect()
}

/// Local validation findings stored as `[Finding]`.
fn findings_lines(v: Option<&Value>, lang: Lang) -> (Vec<CodeLine>, Vec<CodeLine>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Some(Value::Array(items)) = v else {
        return (errors, warnings);
    };
    for item in items {
        let Ok(f) = serde_json::from_value::<crate::rules::Finding>(item.clone()) else {
            continue;
        };
        let line = CodeLine {
            explanation: None,
            code: f.code.clone(),
            field: Some(f.field.clone()).filter(|s| !s.is_empty()),
            rule: Some(f.rule.clone()),
            message: f.message.get(lang).to_string(),
        };
        if f.is_error() {
            errors.push(line);
        } else {
            warnings.push(line);
        }
    }
    (errors, warnings)
}
