//! `/invoices` (a filterable table) and `/invoices/{taxid}` (one invoice: its lines and totals,
//! attempts, and every code explained with its fix).

use super::{badge, error_page, href, lang_of, layout, msg, t};
use crate::pipeline::{self, report::CodeLine};
use crate::service::problem::Problem;
use crate::service::ServiceState;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use moadian_queue::{InvoiceId, Store};
use serde_json::Value;
use std::sync::Arc;

const PAGE: usize = 100;

fn param(uri: &Uri, name: &str) -> Result<Option<String>, Problem> {
    Ok(crate::service::query_param(uri, name)?.filter(|v| !v.is_empty()))
}

/// A parameter [`crate::service::handlers::browse_of`] already read, to show in the form.
fn given(uri: &Uri, name: &str) -> String {
    crate::service::query_param(uri, name)
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub async fn list(State(s): State<Arc<ServiceState>>, uri: Uri) -> Response {
    let lang = lang_of(&uri);
    // A tax ID typed in the search box opens that invoice.
    let taxid = match param(&uri, "taxid") {
        Ok(t) => t,
        Err(p) => return error_page(lang, &uri, p),
    };
    if let Some(tx) = taxid {
        let tx = tx.trim().to_ascii_uppercase();
        return Redirect::to(&href(&format!("/invoices/{tx}"), lang)).into_response();
    }
    let browse = match crate::service::handlers::browse_of(&uri, PAGE) {
        Ok(b) => b,
        Err(p) => return error_page(lang, &uri, p),
    };
    let status = browse.status;
    let st = s.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, Problem> {
        let q = &st.queue();
        let (rows, next) = pipeline::browse::page(q, &browse)?;
        let ids: Vec<InvoiceId> = rows.iter().map(|r| r.id).collect();
        let report = crate::service::report_of(q, Some(ids), None)?.invoices;
        Ok((report, next.map(|n| n.0)))
    })
    .await;
    let (rows, next) = match found {
        Ok(Ok(x)) => x,
        Ok(Err(p)) => return error_page(lang, &uri, p),
        Err(e) => return error_page(lang, &uri, Problem::internal(e)),
    };
    let (from, to, buyer) = (given(&uri, "from"), given(&uri, "to"), given(&uri, "buyer"));
    // A page size asked for in the address stays for the next pages.
    let limit = match given(&uri, "limit") {
        l if l.is_empty() => String::new(),
        l => format!("&limit={}", enc(&l)),
    };
    let statuses = std::iter::once("")
        .chain(pipeline::report::ReportStatus::ALL.map(|s| s.as_str()))
        .collect::<Vec<_>>();
    let chosen = status.map(|s| s.as_str()).unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/invoices" {
            @if lang == crate::Lang::En { input type="hidden" name="lang" value="en"; }
            label for="status" { (t(lang, "وضعیت", "Status")) }
            select #status name="status" {
                @for v in statuses {
                    option value=(v) selected[v == chosen] {
                        @if v.is_empty() { (t(lang, "همه", "all")) } @else { (v) }
                    }
                }
            }
            label for="from" { (t(lang, "صادره از", "Issued from")) }
            input #from name="from" placeholder="1405/09/01" value=(from);
            label for="to" { (t(lang, "تا", "to")) }
            input #to name="to" placeholder="1405/09/30" value=(to);
            label for="buyer" { (t(lang, "خریدار (شماره اقتصادی یا ملی)", "Buyer (economic or national ID)")) }
            input #buyer.ltr name="buyer" value=(buyer);
            button type="submit" { (t(lang, "نمایش", "Show")) }
        }
        form.filters method="get" action="/invoices" {
            @if lang == crate::Lang::En { input type="hidden" name="lang" value="en"; }
            label for="taxid" { (t(lang, "شماره مالیاتی", "Tax ID")) }
            input #taxid.ltr name="taxid" size="24" maxlength="22";
            button type="submit" { (t(lang, "برو", "Open")) }
        }
        @if rows.is_empty() {
            p #no-invoices { (t(lang, "صورتحسابی نیست.", "No invoices.")) }
        } @else {
            div.scroll { table #invoices {
                thead { tr {
                    th { (t(lang, "شماره مالیاتی", "Tax ID")) }
                    th { (t(lang, "منبع", "Source")) }
                    th { (t(lang, "وضعیت", "Status")) }
                    th { (t(lang, "شماره پیگیری", "Reference")) }
                    th { (t(lang, "خطاها", "Errors")) }
                } }
                tbody { @for r in &rows {
                    tr data-taxid=[r.taxid.as_deref()] {
                        td.ltr { @match &r.taxid {
                            Some(tx) => a href=(href(&format!("/invoices/{tx}"), lang)) { (tx) },
                            None => "-",
                        } }
                        td.ltr { (r.source) }
                        td { (badge(lang, r.status)) }
                        td.ltr { (r.reference.as_deref().unwrap_or("-")) }
                        td { (r.errors.len()) }
                    }
                } }
            } }
            @if let Some(n) = next {
                p { a #next-page href=(href(&format!("/invoices?status={chosen}&from={}&to={}&buyer={}&after={n}{limit}", enc(&from), enc(&to), enc(&buyer)), lang)) { (t(lang, "صفحه بعد", "Next page")) } }
            }
        }
    };
    layout(lang, &uri, &t(lang, "صورتحساب‌ها", "Invoices"), body).into_response()
}

/// A code line with its catalogue explanation (meaning, fixes).
struct CodeLineView<'a> {
    code: Option<&'a str>,
    field: Option<&'a str>,
    message: &'a crate::lang::Message,
    explanation: Option<crate::codes::Explanation>,
}

impl<'a> CodeLineView<'a> {
    fn of(c: &'a CodeLine) -> Self {
        CodeLineView {
            code: c.code.as_deref(),
            field: c.field.as_deref(),
            message: &c.message,
            explanation: c.code.as_deref().and_then(crate::codes::explain),
        }
    }
}

fn code_line(lang: crate::Lang, c: &CodeLineView) -> Markup {
    html! {
        div.problem {
            @if let Some(code) = &c.code { strong.ltr { (code) } " " }
            @if let Some(f) = &c.field { span.ltr { (f) } " " }
            (msg(lang, c.message))
            @if let Some(x) = &c.explanation {
                @if !x.fix.is_empty() {
                    ul { @for f in &x.fix { li { (msg(lang, f)) } } }
                }
            }
        }
    }
}

fn cell(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// One invoice's page; an unknown tax ID (or any failure) is a page too, as everywhere on the
/// dashboard.
pub async fn one(s: State<Arc<ServiceState>>, uri: Uri, taxid: Path<String>) -> Response {
    let lang = lang_of(&uri);
    match invoice_page(s, uri.clone(), taxid).await {
        Ok(page) => page.into_response(),
        Err(p) => error_page(lang, &uri, p),
    }
}

async fn invoice_page(
    State(s): State<Arc<ServiceState>>,
    uri: Uri,
    Path(taxid): Path<String>,
) -> Result<Html<String>, Problem> {
    let lang = lang_of(&uri);
    let st = s.clone();
    let tx = taxid.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, Problem> {
        let q = &st.queue();
        let Some(inv) = q.find_by_taxid(&tx)? else {
            return Ok(None);
        };
        let report = crate::service::report_of(q, Some(vec![inv.id]), None)?;
        let attempts = q.attempts(inv.id)?;
        let payload: Value = inv
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null);
        Ok(report
            .invoices
            .into_iter()
            .next()
            .map(|r| (r, attempts, payload)))
    })
    .await
    .map_err(Problem::internal)??;
    let Some((r, attempts, payload)) = found else {
        return Err(Problem::not_found(crate::lang::Message::new(
            format!("صورتحسابی با شماره مالیاتی «{taxid}» در این صف نیست."),
            format!("no invoice with tax ID \"{taxid}\" in this queue."),
        )));
    };
    let lines = payload
        .get("body")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let header = payload.get("header").cloned().unwrap_or(Value::Null);
    let errors: Vec<CodeLineView> = r.errors.iter().map(CodeLineView::of).collect();
    let warnings: Vec<CodeLineView> = r.warnings.iter().map(CodeLineView::of).collect();
    let body = html! {
        p { (t(lang, "شماره مالیاتی", "Tax ID")) ": " span.ltr #taxid { (taxid) } " " (badge(lang, r.status)) }
        p { (t(lang, "منبع", "Source")) ": " span.ltr { (r.source) } }
        @if let Some(reference) = &r.reference {
            p { (t(lang, "شماره پیگیری", "Reference")) ": " span.ltr #reference { (reference) } }
        }
        @if let Some(n) = &r.note { p.note { (msg(lang, n)) } }
        @if let Some(n) = &r.next { p.note { (msg(lang, n)) } }
        @if !errors.is_empty() {
            h2 { (t(lang, "خطاها", "Errors")) }
            @for c in &errors { (code_line(lang, c)) }
        }
        @if !warnings.is_empty() {
            h2 { (t(lang, "هشدارها", "Warnings")) }
            @for c in &warnings { (code_line(lang, c)) }
        }
        h2 { (t(lang, "اقلام", "Lines")) }
        div.scroll { table #lines {
            thead { tr {
                th { (t(lang, "شناسه کالا/خدمت", "Item ID")) }
                th { (t(lang, "شرح", "Description")) }
                th { (t(lang, "مقدار", "Quantity")) }
                th { (t(lang, "مبلغ واحد", "Unit price")) }
                th { (t(lang, "مالیات بر ارزش افزوده", "VAT")) }
                th { (t(lang, "مبلغ کل", "Total")) }
            } }
            tbody { @for l in &lines {
                tr {
                    td.ltr { (cell(l, "sstid")) }
                    td { (cell(l, "sstt")) }
                    td.ltr { (cell(l, "am")) }
                    td.ltr { (cell(l, "fee")) }
                    td.ltr { (cell(l, "vam")) }
                    td.ltr { (cell(l, "tsstam")) }
                }
            } }
        } }
        h2 { (t(lang, "جمع‌ها", "Totals")) }
        table #totals { tbody {
            @for (key, fa, en) in [("tprdis", "مبلغ قبل از تخفیف", "Before discount"), ("tdis", "تخفیف", "Discount"), ("tadis", "پس از تخفیف", "After discount"), ("tvam", "مالیات بر ارزش افزوده", "VAT"), ("tbill", "مبلغ کل", "Total")] {
                tr { th { (t(lang, fa, en)) } td.ltr data-field=(key) { (cell(&header, key)) } }
            }
        } }
        h2 { (t(lang, "تلاش‌های ارسال", "Attempts")) }
        div.scroll { table #attempts {
            thead { tr { th { "uid" } th { (t(lang, "وضعیت", "Status")) } th { (t(lang, "شماره پیگیری", "Reference")) } } }
            tbody { @for a in &attempts {
                tr { td.ltr { (a.uid) } td.ltr { (format!("{:?}", a.status)) } td.ltr { (a.reference.as_deref().unwrap_or("-")) } }
            } }
        } }
    };
    Ok(layout(lang, &uri, &t(lang, "صورتحساب", "Invoice"), body))
}

/// A filter's value as it goes back into a link: every byte but letters and digits escaped
/// (a value holding `&`, `=` or `#` stays one value).
fn enc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_filter_value_stays_one_value_in_the_next_page_link() {
        assert_eq!(
            super::enc("a&b=c#d ۱۴۰۵"),
            "a%26b%3Dc%23d%20%DB%B1%DB%B4%DB%B0%DB%B5"
        );
    }
}
