//! `/`: counts per status, what needs attention first, the runner's last pass.

use super::{badge, href, lang_of, layout, msg, t};
use crate::crypto::checks::CheckStatus;
use crate::service::problem::Problem;
use crate::service::ServiceState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Html;
use maud::html;
use moadian_queue::{InvoiceStatus, ListFilter, Store};
use std::sync::Arc;

/// At most this many invoices in the "needs attention" list.
const ATTENTION: usize = 20;

pub async fn page(State(s): State<Arc<ServiceState>>, uri: Uri) -> Result<Html<String>, Problem> {
    let lang = lang_of(&uri);
    let st = s.clone();
    let (counts, attention) = tokio::task::spawn_blocking(move || -> Result<_, Problem> {
        let q = &st.queue();
        let counts = q.summary()?;
        let mut ids = Vec::new();
        for status in [
            InvoiceStatus::Failed,
            InvoiceStatus::Invalid,
            InvoiceStatus::Unknown,
        ] {
            let rows = q.list(&ListFilter {
                status: Some(status),
                limit: Some(ATTENTION),
                ..Default::default()
            })?;
            ids.extend(rows.iter().map(|r| r.id));
        }
        ids.truncate(ATTENTION);
        let rows = crate::service::report_of(q, Some(ids), None)?.invoices;
        Ok((counts, rows))
    })
    .await
    .map_err(Problem::internal)??;
    let recent: Vec<crate::service::LastPass> = s
        .recent
        .lock()
        .map(|r| r.iter().cloned().collect())
        .unwrap_or_default();
    let checklist = s.checklist.lock().map(|l| l.clone()).unwrap_or_default();
    let cards = [
        ("total", t(lang, "همه", "All"), counts.total, None),
        (
            "success",
            t(lang, "موفق", "Accepted"),
            counts.success,
            Some("SUCCESS"),
        ),
        (
            "failed",
            t(lang, "ناموفق", "Rejected"),
            counts.failed,
            Some("FAILED"),
        ),
        (
            "invalid",
            t(lang, "نامعتبر", "Invalid"),
            counts.invalid,
            Some("INVALID"),
        ),
        (
            "queued",
            t(lang, "در صف", "Queued"),
            counts.queued,
            Some("QUEUED"),
        ),
        (
            "in_progress",
            t(lang, "در حال پردازش", "Being processed"),
            counts.in_progress + counts.sending,
            Some("IN_PROGRESS"),
        ),
        (
            "unknown",
            t(lang, "نامعلوم", "Unknown"),
            counts.unknown,
            Some("UNKNOWN"),
        ),
    ];
    let body = html! {
        p { (t(lang, "شناسه حافظه", "Memory ID")) ": " span.ltr #memory-id { (s.memory_id) } }
        section.cards {
            @for (id, label, n, status) in &cards {
                @let link = match status {
                    Some(st) => href(&format!("/invoices?status={st}"), lang),
                    None => href("/invoices", lang),
                };
                a.card href=(link) {
                    span.n id={"count-" (id)} { (n) }
                    (label)
                }
            }
        }
        h2 { (t(lang, "فهرست بررسی (توکن، رمز، گواهی، شناسه، ساعت، سرور)", "Checklist (token, PIN, certificate, IDs, clock, server)")) }
        @if let Some(e) = &checklist.error { p.problem { (e) } }
        @if checklist.checks.is_empty() && checklist.error.is_none() {
            p { (t(lang, "هنوز بررسی نشده است.", "Not checked yet.")) }
        } @else {
            div.scroll { table #checklist { tbody { @for c in &checklist.checks {
                @let (mark, word) = match c.status {
                    CheckStatus::Ok => ("✓", "ok"),
                    CheckStatus::Warn => ("!", "warn"),
                    CheckStatus::Fail => ("✗", "fail"),
                };
                tr data-check=(c.id) data-status=(word) {
                    td { (mark) }
                    td { (msg(lang, &c.message)) }
                    td { @if let Some(f) = &c.fix { (msg(lang, f)) } }
                }
            } } } }
            @if let Some(at) = &checklist.at { p.note { span.ltr { (at) } } }
        }
        h2 { (t(lang, "آخرین اجراها", "Last runs")) }
        @if recent.is_empty() {
            p #last-pass { (t(lang, "هنوز اجرا نشده است.", "Not run yet.")) }
        } @else {
            div.scroll { table #last-passes { tbody { @for p in &recent {
                tr {
                    td.ltr { (p.at.as_deref().unwrap_or("-")) }
                    td {
                        @match (&p.stopped, &p.error) {
                            (Some(m), _) => span.problem { (msg(lang, m)) },
                            (None, Some(e)) => span.problem { (e) },
                            (None, None) => (t(lang, "بدون مشکل", "no problem")),
                        }
                    }
                }
            } } } }
        }
        h2 { (t(lang, "اول به این‌ها رسیدگی کنید", "Needs attention first")) }
        @if attention.is_empty() {
            p #attention-none { (t(lang, "موردی نیست.", "Nothing.")) }
        } @else {
            div.scroll { table #attention {
                thead { tr {
                    th { (t(lang, "شماره مالیاتی", "Tax ID")) }
                    th { (t(lang, "وضعیت", "Status")) }
                    th { (t(lang, "نخستین خطا", "First error")) }
                } }
                tbody { @for r in &attention {
                    tr {
                        td.ltr { @match &r.taxid {
                            Some(tx) => a href=(href(&format!("/invoices/{tx}"), lang)) { (tx) },
                            None => (r.source),
                        } }
                        td { (badge(lang, r.status)) }
                        td { @if let Some(e) = r.errors.first() {
                            @if let Some(c) = &e.code { span.ltr { (c) } " " }
                            (msg(lang, &e.message))
                        } }
                    }
                } }
            } }
        }
    };
    Ok(layout(lang, &uri, &t(lang, "نمای کلی", "Overview"), body))
}
