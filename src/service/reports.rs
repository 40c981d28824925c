//! `GET /api/v1/report`: invoices, amounts and VAT per Jalali month or season, as
//! `moadian report` builds it — JSON, CSV or the self-contained HTML page.

use super::problem::{Problem, ProblemDetails};
use super::ServiceState;
use crate::dates::{self, When};
use crate::lang::{Lang, Message};
use crate::report::{self, html, render, Grouping};
use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn param(uri: &Uri, name: &str) -> Result<Option<String>, Problem> {
    Ok(super::query_param(uri, name)?.filter(|v| !v.is_empty()))
}

/// A day parameter (Jalali or Gregorian).
pub fn date(uri: &Uri, name: &str) -> Result<Option<When>, Problem> {
    match param(uri, name)? {
        None => Ok(None),
        Some(v) => dates::arg(&v).map(Some).map_err(|e| {
            Problem::bad_request(Message::new(
                format!("تاریخ {name}={v} خوانده نشد: {e} (جلالی 1405/09/01 یا میلادی 2026-11-22)"),
                format!("date {name}={v} cannot be read: {e} (Jalali 1405/09/01 or Gregorian 2026-11-22)"),
            ))
        }),
    }
}

/// What the request asks for: dates, grouping and language.
pub fn scope(uri: &Uri) -> Result<report::Scope, Problem> {
    let from = date(uri, "from")?.map(When::tehran_start);
    let to = date(uri, "to")?.map(When::tehran_end);
    let grouping = match param(uri, "period")?.as_deref() {
        None | Some("month") => Grouping::Month,
        Some("season") => Grouping::Season,
        Some(other) => {
            return Err(Problem::bad_request(Message::new(
                format!("period={other} شناخته نیست: month یا season."),
                format!("period={other} is unknown: month or season."),
            )))
        }
    };
    let lang = if param(uri, "lang")?.as_deref() == Some("en") {
        Lang::En
    } else {
        Lang::Fa
    };
    Ok(report::Scope {
        from,
        to,
        lang,
        grouping,
    })
}

/// The totals per period and over all of the service's queue, for the asked scope.
pub fn totals(
    s: &ServiceState,
    uri: &Uri,
) -> Result<(Vec<report::Period>, report::Period), Problem> {
    let scope = scope(uri)?;
    let q = s.queue();
    let now = chrono::Utc::now().timestamp_millis();
    let r = report::QueueReport::new(&q, scope, now)?;
    let v = r.view();
    Ok((v.periods.to_vec(), v.total.clone()))
}

/// The report rendered as `format` (json, csv or html), read from the queue a page at a time.
fn render_to(s: &ServiceState, uri: &Uri, format: &str) -> Result<Vec<u8>, Problem> {
    let scope = scope(uri)?;
    let q = s.queue();
    let now = chrono::Utc::now().timestamp_millis();
    let r = report::QueueReport::new(&q, scope, now)?;
    let v = r.view();
    let mut out = Vec::new();
    match format {
        "csv" => render::write_csv(&v, scope.lang, &mut out)?,
        "html" => html::write(&v, scope.lang, &mut out)?,
        _ => render::write_json(&v, &mut out)?,
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/report", tag = "report",
    params(("from" = Option<String>, Query, description = "First issue day: Jalali (1405/09/01) or Gregorian (2026-11-22), Tehran time"),
           ("to" = Option<String>, Query, description = "Last issue day (whole day)"),
           ("period" = Option<String>, Query, description = "month (default) or season"),
           ("format" = Option<String>, Query, description = "json (default), csv or html"),
           ("lang" = Option<String>, Query, description = "fa (default) or en, for CSV and HTML")),
    responses((status = 200, description = "Totals and VAT per period, every invoice with its problems explained", body = Object),
              (status = 400, description = "A parameter is not valid", body = ProblemDetails)))]
pub async fn report(State(s): State<Arc<ServiceState>>, uri: Uri) -> Result<Response, Problem> {
    let format = param(&uri, "format")?.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "csv" | "html") {
        return Err(Problem::bad_request(Message::new(
            format!("format={format} شناخته نیست: json، csv یا html."),
            format!("format={format} is unknown: json, csv or html."),
        )));
    }
    let st = s.clone();
    let ctype = match format.as_str() {
        "csv" => "text/csv; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        _ => "application/json",
    };
    let body = tokio::task::spawn_blocking(move || render_to(&st, &uri, &format))
        .await
        .map_err(Problem::internal)??;
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}
