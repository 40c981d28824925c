//! `POST /api/v1/invoices/{taxid}/correct|cancel|return`: the referral commands over HTTP, made
//! by [`crate::pipeline::referral`] exactly as `moadian correct|cancel|return` make them, then
//! queued (the runner inside sends them). `?dry_run=true` builds and validates only.

use super::handlers::enqueue_answer;
use super::problem::{Problem, ProblemDetails};
use super::upload::{self, Staged};
use super::ServiceState;
use crate::import::referral as builders;
use crate::lang::Message;
use crate::pipeline::referral::{self, Kind, Queued};
use crate::rules::Finding;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

fn stopped(findings: Vec<Finding>) -> Problem {
    let errors = findings
        .iter()
        .filter_map(|f| serde_json::to_value(f).ok())
        .collect();
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "referral-stopped",
        "Referral stopped",
        Message::new(
            "صورتحساب ارجاعی ساخته نشد؛ قاعده‌های فهرست‌شده در errors مانع آن‌اند. چیزی ثبت نشد.",
            "the referral was stopped by the rules listed in errors. Nothing was queued.",
        ),
    )
    .with_errors(errors)
}

/// The one invoice a correction or a return's remaining items come in (JSON or a spreadsheet).
async fn one_invoice(s: &Arc<ServiceState>, req: Request) -> Result<Value, Problem> {
    let files = upload::read(req, s.max_upload).await?;
    let st = s.clone();
    tokio::task::spawn_blocking(move || {
        let staged = Staged::write(&st.uploads, files)?;
        if staged.paths.len() != 1 {
            return Err(Problem::bad_request(Message::new(
                "دقیقاً یک فایل (یک صورتحساب) بفرستید.",
                "send exactly one file (one invoice).",
            )));
        }
        referral::read_one(&staged.paths[0]).map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unreadable-input",
                "Unreadable input",
                Message::new(
                    format!("صورتحساب خوانده نشد: {e}"),
                    format!("the invoice could not be read: {e}"),
                ),
            )
        })
    })
    .await
    .map_err(Problem::internal)?
}

async fn make_and_queue(
    s: Arc<ServiceState>,
    kind: Kind,
    taxid: String,
    dry_run: bool,
    source: String,
    build: impl FnOnce(&Value, i64) -> Result<Value, Vec<Finding>> + Send + 'static,
) -> Result<Json<Value>, Problem> {
    let _one = s.enqueue_lock.lock().await;
    let st = s.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<Value, Problem> {
        let memory_id = crate::invoice::MemoryId::parse(&st.memory_id)
            .map_err(|e| Problem::internal(e.message().en))?;
        let now = chrono::Utc::now().timestamp_millis();
        let made =
            referral::make(&st.queue(), &memory_id, kind, &taxid, now, build)?.map_err(stopped)?;
        if dry_run {
            return Ok(json!({
                "invoice": made.invoice,
                "findings": made.findings,
                "caution": made.caution,
            }));
        }
        let queued = referral::enqueue(&st.queue(), &memory_id, source, made.invoice, now)?;
        let (ids, refused) = match queued {
            Queued::Invoice(id) => (vec![id], vec![]),
            Queued::Refused { source, error } => {
                (vec![], vec![json!({"source": source, "error": error})])
            }
        };
        let mut v = enqueue_answer(&st.queue(), ids, refused)?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "caution".into(),
                serde_json::to_value(made.caution).map_err(Problem::internal)?,
            );
        }
        Ok(v)
    })
    .await
    .map_err(Problem::internal)??;
    if !dry_run {
        s.wake.notify_one();
    }
    Ok(Json(out))
}

fn dry_run(req: &Request) -> bool {
    req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "dry_run=true" || kv == "dry_run=1")
    })
}

#[utoipa::path(post, path = "/api/v1/invoices/{taxid}/cancel", tag = "referrals",
    params(("taxid" = String, Path, description = "Tax ID of the accepted invoice"),
           ("dry_run" = Option<bool>, Query, description = "Build and validate only")),
    responses((status = 200, description = "The cancellation (ins 3), queued", body = Object),
              (status = 422, description = "Stopped by the rules (e.g. the reference is not accepted or already cancelled)", body = ProblemDetails)))]
pub async fn cancel(
    State(s): State<Arc<ServiceState>>,
    Path(taxid): Path<String>,
    req: Request,
) -> Result<Json<Value>, Problem> {
    let taxid = taxid.trim().to_ascii_uppercase();
    let t2 = taxid.clone();
    let dry = dry_run(&req);
    let source = format!("cancel {taxid} (API)");
    make_and_queue(s, Kind::Cancellation, taxid, dry, source, move |r, now| {
        builders::cancellation(r, &t2, now)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/invoices/{taxid}/correct", tag = "referrals",
    params(("taxid" = String, Path, description = "Tax ID of the accepted invoice"),
           ("dry_run" = Option<bool>, Query, description = "Build and validate only")),
    request_body(content = Object, description = "The corrected invoice (JSON, or one spreadsheet); header fields left out come from the reference", content_type = "application/json"),
    responses((status = 200, description = "The correction (ins 2), queued", body = Object),
              (status = 422, description = "Stopped by the rules, or the invoice is unreadable", body = ProblemDetails)))]
pub async fn correct(
    State(s): State<Arc<ServiceState>>,
    Path(taxid): Path<String>,
    req: Request,
) -> Result<Json<Value>, Problem> {
    let taxid = taxid.trim().to_ascii_uppercase();
    let dry = dry_run(&req);
    let new = one_invoice(&s, req).await?;
    let t2 = taxid.clone();
    let source = format!("correct {taxid} (API)");
    make_and_queue(s, Kind::Correction, taxid, dry, source, move |r, now| {
        builders::correction(r, &t2, &new, now)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/invoices/{taxid}/return", tag = "referrals",
    params(("taxid" = String, Path, description = "Tax ID of the accepted invoice"),
           ("dry_run" = Option<bool>, Query, description = "Build and validate only")),
    request_body(content = Object, description = "{\"lines\": \"SSTID:AM,…\"} (the returned quantities), or an invoice file of the remaining items", content_type = "application/json"),
    responses((status = 200, description = "The sales return (ins 4), queued", body = Object),
              (status = 400, description = "The lines cannot be read", body = ProblemDetails),
              (status = 422, description = "Stopped by the rules", body = ProblemDetails)))]
pub async fn sales_return(
    State(s): State<Arc<ServiceState>>,
    Path(taxid): Path<String>,
    req: Request,
) -> Result<Json<Value>, Problem> {
    let taxid = taxid.trim().to_ascii_uppercase();
    let dry = dry_run(&req);
    let body = one_invoice(&s, req).await?;
    let t2 = taxid.clone();
    match body.get("lines").and_then(Value::as_str) {
        Some(spec) => {
            let returned = builders::parse_lines(spec).map_err(|e| {
                Problem::bad_request(Message::new(
                    format!("lines خوانده نشد: {e}"),
                    format!("lines cannot be read: {e}"),
                ))
            })?;
            let source = format!("return {taxid} --lines {spec} (API)");
            make_and_queue(s, Kind::Return, taxid, dry, source, move |r, now| {
                builders::sales_return(r, &t2, &returned, now)
            })
            .await
        }
        None => {
            let source = format!("return {taxid} (API)");
            make_and_queue(s, Kind::Return, taxid, dry, source, move |r, now| {
                builders::sales_return_from(r, &t2, &body, now)
            })
            .await
        }
    }
}
