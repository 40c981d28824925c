//! The `/api/v1` endpoints. Each is a thin face: the verdict comes from
//! [`crate::pipeline::verdict`], enqueueing and its per-invoice report from the same functions
//! `moadian enqueue` uses, statuses from [`crate::pipeline::report`], explanations from
//! [`crate::codes`]. Blocking queue work runs off the async threads.

use super::problem::{Problem, ProblemDetails};
use super::upload::{self, Staged};
use super::{LastPass, ServiceState};
use crate::lang::Message;
use crate::pipeline;
use crate::rules::Context;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use moadian_queue::{InvoiceId, Store};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

use super::query_param as param;

fn flag(uri: &Uri, name: &str) -> Result<bool, Problem> {
    match param(uri, name)?.as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("") | Some("true") | Some("1") => Ok(true),
        Some(other) => Err(Problem::bad_request(Message::new(
            format!("مقدار «{other}» برای {name} درست نیست: true یا false."),
            format!("\"{other}\" is not a value for {name}: true or false."),
        ))),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Problem::internal)?
}

/// Health of the service for monitoring.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `attention` when the last pass stopped early (signer, certificate, PIN, clock,
    /// server unreachable) or failed.
    pub status: String,
    pub memory_id: String,
    /// Invoices per status in the queue.
    #[schema(value_type = Object)]
    pub queue: Value,
    /// The runner's schedule and its last pass.
    pub every_secs: u64,
    pub last_pass: LastPass,
    /// The doctor's checklist: token, PIN state, certificate expiry, national ID ↔ memory ID,
    /// clock, server.
    pub checklist: super::Checklist,
}

#[utoipa::path(get, path = "/api/v1/health", tag = "service",
    responses((status = 200, description = "Queue counts and the runner's last pass (its signer, certificate and server checks)", body = Health)))]
pub async fn health(State(s): State<Arc<ServiceState>>) -> Result<Json<Health>, Problem> {
    let st = s.clone();
    let counts = blocking(move || Ok(st.queue().summary()?)).await?;
    let last = s.last_pass.lock().map(|l| l.clone()).unwrap_or_default();
    let checklist = s.checklist.lock().map(|l| l.clone()).unwrap_or_default();
    let failing = checklist.error.is_some() || crate::crypto::checks::any_failed(&checklist.checks);
    let status = if failing || last.stopped.is_some() || last.error.is_some() {
        "attention"
    } else {
        "ok"
    };
    Ok(Json(Health {
        status: status.into(),
        memory_id: s.memory_id.clone(),
        queue: serde_json::to_value(counts).map_err(Problem::internal)?,
        every_secs: s.every_secs,
        last_pass: last,
        checklist,
    }))
}

/// The verdict on every invoice, as `moadian validate --json` prints it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Validation {
    /// One entry per invoice: source, taxid, valid, errors, warnings (field, rule, code,
    /// message in both languages), notes, filled.
    #[schema(value_type = Vec<Object>)]
    pub invoices: Vec<Value>,
    /// invoices, valid, invalid, errors, warnings, at (Unix ms).
    #[schema(value_type = Object)]
    pub summary: Value,
}

#[utoipa::path(post, path = "/api/v1/validate", tag = "invoices",
    params(("fill" = Option<bool>, Query, description = "First compute what follows from the lines and list it"),
           ("at" = Option<String>, Query, description = "Judge as of this moment (Jalali or Gregorian day, RFC 3339, Unix ms)"),
           ("name" = Option<String>, Query, description = "File name whose extension gives the format, for a raw body")),
    request_body(content = String, description = "A JSON invoice or array, JSON Lines, CSV, XLSX, or multipart/form-data files", content_type = "application/json"),
    responses((status = 200, description = "Findings per invoice; nothing is queued", body = Validation),
              (status = 413, description = "Upload too large", body = ProblemDetails),
              (status = 415, description = "Unsupported format", body = ProblemDetails)))]
pub async fn validate(
    State(s): State<Arc<ServiceState>>,
    req: Request,
) -> Result<Response, Problem> {
    let uri = req.uri().clone();
    let fill = flag(&uri, "fill")?;
    let at = match param(&uri, "at")? {
        Some(a) => crate::dates::parse_at(&a).map_err(|e| {
            Problem::bad_request(Message::new(
                format!("زمان «{a}» خوانده نشد: {e}"),
                format!("time \"{a}\" could not be read: {e}"),
            ))
        })?,
        None => chrono::Utc::now().timestamp_millis(),
    };
    let files = upload::read(req, s.max_upload).await?;
    let st = s.clone();
    let body = blocking(move || {
        let ctx = Context::at(at);
        let staged = Staged::write(&st.uploads, files)?;
        let loaded = staged.load(&st.input);
        let mut out = Vec::new();
        pipeline::verdict::write_json(loaded, &ctx, fill, &mut out, |_| {})
            .map_err(Problem::internal)?;
        Ok(out)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// What happened to each posted invoice.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Enqueued {
    /// One entry per invoice: source (the kept upload file), taxid, status (QUEUED, INVALID,
    /// SUCCESS when the same invoice was already sent, CONFLICT…), errors and warnings with
    /// their explanations, note.
    #[schema(value_type = Vec<Object>)]
    pub invoices: Vec<Value>,
    #[schema(value_type = Object)]
    pub summary: Value,
    /// Inputs the queue refused, with why.
    #[schema(value_type = Vec<Object>)]
    pub refused: Vec<Value>,
}

/// Refuses the whole request when any file or line cannot be read as an invoice: nothing is
/// kept or queued then.
pub fn unreadable(staged: &Staged, opts: &crate::import::limits::ReadOptions) -> Option<Problem> {
    let mut errors = Vec::new();
    for l in staged.load(opts) {
        if let Err(e) = l.value {
            errors.push(json!({ "source": l.source, "message": e.message() }));
            if errors.len() == 100 {
                break;
            }
        }
    }
    if errors.is_empty() {
        return None;
    }
    Some(
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable-input",
            "Unreadable input",
            Message::new(
                format!("{} فایل یا سطر به‌صورت صورتحساب خوانده نشد (فهرست در errors). هیچ صورتحسابی از این درخواست ثبت نشد؛ اصلاح کنید و دوباره بفرستید.", errors.len()),
                format!("{} file(s) or line(s) could not be read as invoices (listed in errors). Nothing from this request was queued; fix them and post again.", errors.len()),
            ),
        )
        .with_errors(errors),
    )
}

#[utoipa::path(post, path = "/api/v1/invoices", tag = "invoices",
    params(("fill" = Option<bool>, Query, description = "First compute what follows from the lines"),
           ("name" = Option<String>, Query, description = "File name whose extension gives the format, for a raw body")),
    request_body(content = String, description = "A JSON invoice or array, JSON Lines, CSV, XLSX, or multipart/form-data files", content_type = "application/json"),
    responses((status = 200, description = "Validated and queued (the same content twice is the same invoice)", body = Enqueued),
              (status = 413, description = "Upload too large", body = ProblemDetails),
              (status = 415, description = "Unsupported format", body = ProblemDetails),
              (status = 422, description = "A file or line is not readable as an invoice; nothing queued", body = ProblemDetails)))]
pub async fn enqueue(
    State(s): State<Arc<ServiceState>>,
    req: Request,
) -> Result<Json<Value>, Problem> {
    let fill = flag(req.uri(), "fill")?;
    let files = upload::read(req, s.max_upload).await?;
    let _one = s.enqueue_lock.lock().await;
    let st = s.clone();
    let out = blocking(move || {
        let staged = Staged::write(&st.uploads, files)?;
        let (report, refused) = enqueue_staged(&st, staged, fill)?;
        let mut v = serde_json::to_value(&report).map_err(Problem::internal)?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "refused".into(),
                serde_json::to_value(refused).map_err(Problem::internal)?,
            );
        }
        Ok(v)
    })
    .await?;
    s.wake.notify_one();
    Ok(Json(out))
}

/// Queues the invoices of staged files, all or nothing for readability: any file or line that
/// cannot be read refuses the whole upload (nothing kept or queued); otherwise the files move
/// to the uploads folder and are enqueued as `moadian enqueue` would. The caller holds
/// [`ServiceState::enqueue_lock`] and wakes the runner after.
pub fn enqueue_staged(
    st: &ServiceState,
    staged: Staged,
    fill: bool,
) -> Result<(pipeline::Report, Vec<pipeline::Refusal>), Problem> {
    if let Some(p) = unreadable(&staged, &st.input) {
        staged.remove();
        return Err(p);
    }
    let paths = staged.keep(&st.uploads)?;
    let memory_id = crate::invoice::MemoryId::parse(&st.memory_id)
        .map_err(|e| Problem::internal(e.message().en))?;
    let opts = pipeline::IngestOptions {
        memory_id: &memory_id,
        rules: crate::rules::Context::at(chrono::Utc::now().timestamp_millis()),
        fill,
        read: st.input.clone(),
    };
    let queue = st.queue();
    // What --fill computed is in each invoice's findings; nothing to print here.
    let placements = pipeline::ingest::enqueue_paths(&queue, &paths, &opts, &mut |_, _| {})?;
    let (mut report, refused) = placements.collect(&queue)?;
    pipeline::report::under_service(&mut report.invoices);
    Ok((report, refused))
}

/// The list filters of a request: `status`, `from` and `to` (issue days, Jalali or Gregorian,
/// Tehran time), `buyer` (part of `tinb` or `bid`), `after` (the previous page's `next_after`) and `limit` (1..=1000).
pub fn browse_of(uri: &Uri, default_limit: usize) -> Result<pipeline::browse::Browse, Problem> {
    let status = match param(uri, "status")? {
        Some(v) if !v.is_empty() => {
            Some(pipeline::report::ReportStatus::parse(&v).map_err(Problem::bad_request)?)
        }
        _ => None,
    };
    let number = |name: &str| -> Result<Option<i64>, Problem> {
        match param(uri, name)?.filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                Problem::bad_request(Message::new(
                    format!("{name}={v} عدد نیست."),
                    format!("{name}={v} is not a number."),
                ))
            }),
        }
    };
    let after = number("after")?;
    let limit = number("limit")?.unwrap_or(default_limit as i64);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request(Message::new(
            "limit باید از ۱ تا ۱۰۰۰ باشد.",
            "limit must be 1..=1000.",
        )));
    }
    Ok(pipeline::browse::Browse {
        status,
        from_ms: super::reports::date(uri, "from")?.map(crate::dates::When::tehran_start),
        to_ms: super::reports::date(uri, "to")?.map(crate::dates::When::tehran_end),
        buyer: param(uri, "buyer")?
            .filter(|b| !b.trim().is_empty())
            .map(|b| b.trim().to_string()),
        after: after.map(InvoiceId),
        limit: limit as usize,
    })
}

/// One page of the queue.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InvoicePage {
    /// Invoices with status, reference number, errors and warnings explained.
    #[schema(value_type = Vec<Object>)]
    pub invoices: Vec<Value>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
    /// Invoices per status in the whole queue.
    #[schema(value_type = Object)]
    pub counts: Value,
}

#[utoipa::path(get, path = "/api/v1/invoices", tag = "invoices",
    params(("status" = Option<String>, Query, description = "SUCCESS, FAILED, INVALID, QUEUED, IN_PROGRESS, UNKNOWN, CONFLICT or NEEDS_ATTENTION (any case)"),
           ("from" = Option<String>, Query, description = "First issue day: Jalali (1405/09/01) or Gregorian (2026-11-22), Tehran time"),
           ("to" = Option<String>, Query, description = "Last issue day (whole day)"),
           ("buyer" = Option<String>, Query, description = "Part of the buyer's economic number (tinb) or national ID (bid)"),
           ("after" = Option<i64>, Query, description = "The next_after of the previous page"),
           ("limit" = Option<usize>, Query, description = "Page size, 1..=1000 (default 100)")),
    responses((status = 200, description = "One page of invoices, oldest first", body = InvoicePage),
              (status = 400, description = "A parameter is not valid", body = ProblemDetails)))]
pub async fn list_invoices(
    State(s): State<Arc<ServiceState>>,
    uri: Uri,
) -> Result<Json<InvoicePage>, Problem> {
    let browse = browse_of(&uri, 100)?;
    let st = s.clone();
    let page = blocking(move || {
        let q = &st.queue();
        let (rows, next) = pipeline::browse::page(q, &browse)?;
        let next_after = next.map(|n| n.0);
        let ids: Vec<InvoiceId> = rows.iter().map(|r| r.id).collect();
        let report = crate::service::report_of(q, Some(ids), None)?;
        let invoices = report
            .invoices
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Problem::internal)?;
        let counts = serde_json::to_value(q.summary()?).map_err(Problem::internal)?;
        Ok(InvoicePage {
            invoices,
            next_after,
            counts,
        })
    })
    .await?;
    Ok(Json(page))
}

fn unknown_taxid(taxid: &str) -> Problem {
    Problem::not_found(Message::new(
        format!("صورتحسابی با شماره مالیاتی «{taxid}» در این صف نیست."),
        format!("no invoice with tax ID \"{taxid}\" in this queue."),
    ))
}

#[utoipa::path(get, path = "/api/v1/invoices/{taxid}", tag = "invoices",
    params(("taxid" = String, Path, description = "The invoice's 22-character tax ID")),
    responses((status = 200, description = "Status, reference number, errors and warnings explained, every attempt and event", body = Object),
              (status = 404, description = "No invoice with this tax ID", body = ProblemDetails)))]
pub async fn get_invoice(
    State(s): State<Arc<ServiceState>>,
    Path(taxid): Path<String>,
) -> Result<Json<Value>, Problem> {
    let st = s.clone();
    let v = blocking(move || {
        let q = &st.queue();
        let inv = q
            .find_by_taxid(&taxid)?
            .ok_or_else(|| unknown_taxid(&taxid))?;
        let report = crate::service::report_of(q, Some(vec![inv.id]), None)?;
        let row = report
            .invoices
            .into_iter()
            .next()
            .ok_or_else(|| unknown_taxid(&taxid))?;
        let mut v = serde_json::to_value(row).map_err(Problem::internal)?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "attempts".into(),
                serde_json::to_value(q.attempts(inv.id)?).map_err(Problem::internal)?,
            );
            o.insert(
                "events".into(),
                serde_json::to_value(q.events(inv.id)?).map_err(Problem::internal)?,
            );
        }
        Ok(v)
    })
    .await?;
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/v1/explain/{code}", tag = "codes",
    params(("code" = String, Path, description = "A server code (04131, 4130…) or a 7-digit content code")),
    responses((status = 200, description = "Meaning and fix in Persian and English", body = Object),
              (status = 404, description = "The catalogue does not know this code", body = ProblemDetails)))]
pub async fn explain(Path(code): Path<String>) -> Result<Json<crate::codes::Explanation>, Problem> {
    crate::codes::explain(&code).map(Json).ok_or_else(|| {
        Problem::not_found(Message::new(
            format!("کد «{code}» در فهرست کدهای سامانه نیست."),
            format!("code \"{code}\" is not in the catalogue."),
        ))
    })
}

/// Any other path under `/api/v1`.
pub async fn no_such_endpoint(
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Problem {
    Problem::not_found(Message::new(
        format!(
            "نشانی «{}» در این API نیست؛ فهرست در /api/v1/openapi.json.",
            uri.path()
        ),
        format!(
            "\"{}\" is not an endpoint of this API; see /api/v1/openapi.json.",
            uri.path()
        ),
    ))
}

/// A method the endpoint does not take (405), said as every other error is: a problem document
/// under `/api`, a page on the dashboard, naming the methods it takes; the `Allow` header stays.
pub async fn method_not_allowed(req: Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri().clone();
    let res = next.run(req).await;
    if res.status() != StatusCode::METHOD_NOT_ALLOWED {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let methods = allow
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .replace(',', ", ");
    let problem = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        Message::new(
            format!(
                "نشانی «{}» این روش (method) را نمی‌پذیرد؛ روش‌های پذیرفته: {methods}.",
                uri.path()
            ),
            format!(
                "\"{}\" does not take this method; it takes {methods}.",
                uri.path()
            ),
        ),
    );
    let mut answer = if uri.path().starts_with("/api/") {
        problem.into_response()
    } else {
        super::pages::error_page(super::pages::lang_of(&uri), &uri, problem)
    };
    if let Some(v) = allow {
        answer.headers_mut().insert(header::ALLOW, v);
    }
    answer
}

/// The answer to an enqueue of `ids` (in this order): their rows with explained findings, the
/// counts, and what the queue refused.
pub fn enqueue_answer(
    queue: &impl Store,
    ids: Vec<InvoiceId>,
    refused: Vec<Value>,
) -> Result<Value, Problem> {
    let report = crate::service::report_of(queue, Some(ids), None)?;
    let mut v = serde_json::to_value(&report).map_err(Problem::internal)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("refused".into(), Value::Array(refused));
    }
    Ok(v)
}
