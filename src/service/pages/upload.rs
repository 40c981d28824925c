//! `/upload`: drop spreadsheets or JSON, see each invoice's findings before anything is queued,
//! then confirm (or discard). The files wait in a pending folder under `uploads/` meanwhile;
//! confirming queues them exactly as `POST /api/v1/invoices` does. Every form carries the
//! service's CSRF token.

use super::{badge, error_page, href, lang_of, layout, msg, t};
use crate::lang::{Lang, Message};
use crate::pipeline::verdict::{check_one, Checked};
use crate::rules::{Context, Severity};
use crate::service::handlers::enqueue_staged;
use crate::service::problem::Problem;
use crate::service::upload::{self, Staged};
use crate::service::ServiceState;
use axum::extract::{Form, Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use std::sync::Arc;

/// Pending uploads older than this are removed when the upload page is opened.
const PENDING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn csrf_field(s: &ServiceState) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

fn csrf_ok(s: &ServiceState, given: Option<&str>) -> bool {
    given.is_some_and(|g| {
        g.len() == s.csrf.len() && openssl::memcmp::eq(g.as_bytes(), s.csrf.as_bytes())
    })
}

fn forbidden(lang: Lang, uri: &Uri) -> Response {
    error_page(
        lang,
        uri,
        Problem::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Form expired",
            Message::new(
                "این فرم از این سرویس نیست یا سرویس از آن پس دوباره راه‌اندازی شده است؛ صفحه را دوباره باز کنید.",
                "this form is not from this service, or the service restarted since; open the page again.",
            ),
        ),
    )
}

fn pending_dir(s: &ServiceState, id: &str) -> Option<std::path::PathBuf> {
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| s.uploads.join(format!(".pending-{id}")))
}

fn sweep(uploads: &std::path::Path) {
    let Ok(dir) = std::fs::read_dir(uploads) else {
        return;
    };
    for e in dir.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > PENDING_MAX_AGE);
        let name = e.file_name().to_string_lossy().into_owned();
        // A claimed folder is left only when the service stopped while confirming it.
        if old && (name.starts_with(".pending-") || name.starts_with(".claimed-")) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

pub async fn form(State(s): State<Arc<ServiceState>>, uri: Uri) -> Response {
    let lang = lang_of(&uri);
    let uploads = s.uploads.clone();
    let _ = tokio::task::spawn_blocking(move || sweep(&uploads)).await;
    let body = html! {
        form #upload method="post" action=(href("/upload", lang)) enctype="multipart/form-data" {
            (csrf_field(&s))
            p {
                label for="files" { (t(lang, "فایل‌های صورتحساب (xlsx، csv، json، jsonl)", "Invoice files (xlsx, csv, json, jsonl)")) }
                br;
                input #files type="file" name="file" multiple accept=".xlsx,.csv,.json,.jsonl,.ndjson" required;
            }
            p {
                input #fill type="checkbox" name="fill" value="1";
                " "
                label for="fill" { (t(lang, "مبالغ قابل محاسبه از اقلام را خودکار تکمیل کن (‎--fill‎)", "Compute what follows from the lines (--fill)")) }
            }
            button #check type="submit" { (t(lang, "بررسی (هنوز چیزی در صف نمی‌رود)", "Check (nothing is queued yet)")) }
        }
        p.note { (t(lang, "حداکثر ۱۰۰ فایل در هر بارگذاری.", "At most 100 files per upload.")) }
    };
    layout(lang, &uri, &t(lang, "بارگذاری", "Upload"), body).into_response()
}

pub async fn receive(State(s): State<Arc<ServiceState>>, req: Request) -> Response {
    let uri = req.uri().clone();
    let lang = lang_of(&uri);
    let (files, fields) = match upload::read_form(req, s.max_upload).await {
        Ok(x) => x,
        Err(p) => return error_page(lang, &uri, p),
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !csrf_ok(&s, field("csrf")) {
        return forbidden(lang, &uri);
    }
    let fill = field("fill").is_some();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = s.uploads.join(format!(".pending-{id}"));
    let written = tokio::task::spawn_blocking(move || -> Result<(), Problem> {
        let mut staged = Staged::write_in(dir.clone(), files)?;
        if fill {
            std::fs::write(dir.join(".fill"), b"1").map_err(Problem::internal)?;
        }
        staged.disarm();
        Ok(())
    })
    .await;
    match written {
        Ok(Ok(())) => Redirect::to(&href(&format!("/upload/{id}"), lang)).into_response(),
        Ok(Err(p)) => error_page(lang, &uri, p),
        Err(e) => error_page(lang, &uri, Problem::internal(e)),
    }
}

fn finding_list(lang: Lang, c: &Checked) -> Markup {
    html! {
        @for f in &c.findings {
            div.problem data-severity=(match f.severity { Severity::Error => "error", Severity::Warning => "warning" }) {
                @match f.severity {
                    Severity::Error => strong { (t(lang, "خطا", "error")) },
                    Severity::Warning => strong { (t(lang, "هشدار", "warning")) },
                }
                " "
                @if let Some(code) = &f.code { span.ltr { (code) } " " }
                @if !f.field.is_empty() { span.ltr { (f.field) } " " }
                (msg(lang, &f.message))
            }
        }
        @if let Some(filled) = &c.filled {
            @for f in filled {
                div.note { (t(lang, "تکمیل شد", "filled")) ": " span.ltr { (f.field) " = " (f.value) } }
            }
        }
    }
}

pub async fn preview(
    State(s): State<Arc<ServiceState>>,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&uri);
    let Some(dir) = pending_dir(&s, &id).filter(|d| d.is_dir()) else {
        return gone(lang, &uri);
    };
    let st = s.clone();
    let checked = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<Checked>> {
        let fill = dir.join(".fill").exists();
        let staged = Staged::open(dir)?;
        let ctx = Context::at(chrono::Utc::now().timestamp_millis());
        Ok(staged
            .load(&st.input)
            .map(|l| check_one(l.source, l.value, &ctx, fill))
            .collect())
    })
    .await;
    let checked = match checked {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return error_page(lang, &uri, Problem::internal(e)),
        Err(e) => return error_page(lang, &uri, Problem::internal(e)),
    };
    let valid = checked.iter().filter(|c| c.valid()).count();
    let unreadable = checked
        .iter()
        .any(|c| c.findings.iter().any(|f| f.rule.starts_with("load.")));
    let body = html! {
        p #upload-summary data-invoices=(checked.len()) data-valid=(valid) {
            (match lang {
                Lang::Fa => format!("{} صورتحساب: {} بی‌خطا، {} دارای خطا.", checked.len(), valid, checked.len() - valid),
                Lang::En => format!("{} invoices: {} valid, {} with errors.", checked.len(), valid, checked.len() - valid),
            })
        }
        div.scroll { table #findings {
            thead { tr {
                th { (t(lang, "منبع", "Source")) }
                th { (t(lang, "وضعیت", "Verdict")) }
                th { (t(lang, "یافته‌ها", "Findings")) }
            } }
            tbody { @for c in &checked {
                tr data-valid=(c.valid()) {
                    td.ltr { (c.source) }
                    td { @if c.valid() { "✓" } @else { "✗" } }
                    td { (finding_list(lang, c)) }
                }
            } }
        } }
        @if unreadable {
            p.problem { (t(lang, "فایل یا سطری خوانده نشد؛ تا اصلاح نشود چیزی از این بارگذاری در صف نمی‌رود.", "A file or line could not be read; nothing from this upload can be queued until it is fixed.")) }
        } @else {
            form #confirm method="post" action=(href(&format!("/upload/{id}/confirm"), lang)) {
                (csrf_field(&s))
                button #confirm-button type="submit" {
                    (t(lang, "ثبت در صف (صورتحساب‌های دارای خطا «نامعتبر» ثبت می‌شوند و ارسال نمی‌شوند)", "Queue them (invoices with errors are recorded INVALID and never sent)"))
                }
            }
        }
        form #discard method="post" action=(href(&format!("/upload/{id}/discard"), lang)) {
            (csrf_field(&s))
            button type="submit" { (t(lang, "انصراف", "Discard")) }
        }
    };
    layout(
        lang,
        &uri,
        &t(lang, "بررسی بارگذاری", "Check the upload"),
        body,
    )
    .into_response()
}

fn gone(lang: Lang, uri: &Uri) -> Response {
    error_page(
        lang,
        uri,
        Problem::not_found(Message::new(
            "این بارگذاری دیگر منتظر نیست (ثبت یا رها شده است).",
            "this upload is no longer waiting (it was queued or discarded).",
        )),
    )
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn confirm(
    State(s): State<Arc<ServiceState>>,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = lang_of(&uri);
    if !csrf_ok(&s, f.csrf.as_deref()) {
        return forbidden(lang, &uri);
    }
    let Some(dir) = pending_dir(&s, &id) else {
        return gone(lang, &uri);
    };
    let _one = s.enqueue_lock.lock().await;
    let st = s.clone();
    let out = tokio::task::spawn_blocking(move || {
        // Claimed by one rename: of two confirms at once (a double click) only one finds the
        // pending folder; the other is told it is no longer waiting, as a later one would be.
        let claimed = st.uploads.join(format!(".claimed-{id}"));
        match std::fs::rename(&dir, &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Problem::internal(format!("{}: {e}", dir.display()))),
        }
        let fill = claimed.join(".fill").exists();
        let _ = std::fs::remove_file(claimed.join(".fill"));
        let queued = Staged::open(claimed.clone())
            .map_err(|e| Problem::internal(format!("{}: {e}", claimed.display())))
            .and_then(|staged| enqueue_staged(&st, staged, fill));
        if let Err(p) = &queued {
            // Still there when nothing was taken from it: waiting again for another try.
            if p.0.status >= 500 && claimed.is_dir() {
                if fill {
                    let _ = std::fs::write(claimed.join(".fill"), b"1");
                }
                let _ = std::fs::rename(&claimed, &dir);
            }
        }
        queued.map(Some)
    })
    .await;
    let (report, refused) = match out {
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) => return gone(lang, &uri),
        Ok(Err(p)) => return error_page(lang, &uri, p),
        Err(e) => return error_page(lang, &uri, Problem::internal(e)),
    };
    s.wake.notify_one();
    let body = html! {
        p #queued-summary data-total=(report.summary.total) data-queued=(report.summary.queued) {
            (t(lang, "ثبت شد. اجراکننده داخلی آن‌ها را می‌فرستد؛ وضعیت را در نمای کلی ببینید.", "Queued. The runner inside sends them; follow them on the overview."))
        }
        div.scroll { table #queued {
            thead { tr { th { (t(lang, "منبع", "Source")) } th { (t(lang, "شماره مالیاتی", "Tax ID")) } th { (t(lang, "وضعیت", "Status")) } } }
            tbody {
                @for r in &report.invoices {
                    tr {
                        td.ltr { (r.source) }
                        td.ltr { @match &r.taxid { Some(tx) => a href=(href(&format!("/invoices/{tx}"), lang)) { (tx) }, None => "-" } }
                        td { (badge(lang, r.status)) }
                    }
                }
                @for r in &refused {
                    tr { td.ltr { (r.source) } td { "-" } td { (msg(lang, &r.error)) } }
                }
            }
        } }
        p { a href=(href("/", lang)) { (t(lang, "نمای کلی", "Overview")) } }
    };
    layout(lang, &uri, &t(lang, "ثبت در صف", "Queued"), body).into_response()
}

pub async fn discard(
    State(s): State<Arc<ServiceState>>,
    uri: Uri,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = lang_of(&uri);
    if !csrf_ok(&s, f.csrf.as_deref()) {
        return forbidden(lang, &uri);
    }
    if let Some(dir) = pending_dir(&s, &id) {
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
    }
    Redirect::to(&href("/upload", lang)).into_response()
}
