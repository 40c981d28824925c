//! `/report`: totals and VAT per Jalali month or season, with a bar chart (SVG, drawn on the
//! server) and downloads (CSV, HTML) of the same report `moadian report` writes.

use super::{error_page, lang_of, layout, t};
use crate::report::{group, period_label, Period};
use crate::service::reports;
use crate::service::ServiceState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use rust_decimal::Decimal;
use std::sync::Arc;

const BAR_AREA: i64 = 160;

/// VAT per period as bars; heights in whole pixels computed with exact decimals.
fn chart(periods: &[Period], lang: crate::Lang) -> Markup {
    let max = periods
        .iter()
        .map(|p| p.tvam)
        .max()
        .unwrap_or(Decimal::ZERO);
    let width = 48 * periods.len().max(1) as i64 + 16;
    html! {
        svg #vat-chart xmlns="http://www.w3.org/2000/svg" role="img" width=(width) height=(BAR_AREA + 40)
            viewBox={"0 0 " (width) " " (BAR_AREA + 40)} {
            title { (t(lang, "مالیات بر ارزش افزوده هر دوره", "VAT per period")) }
            @for (i, p) in periods.iter().enumerate() {
                @let h = if max.is_zero() { 0 } else {
                    (p.tvam * Decimal::from(BAR_AREA) / max).round().try_into().unwrap_or(0i64)
                };
                @let x = 16 + 48 * i as i64;
                rect x=(x) y=(BAR_AREA - h + 8) width="32" height=(h) fill="#2e6da4" data-period=(p.period) {
                    title { (period_label(&p.period, lang)) ": " (group(&p.tvam)) }
                }
                text x=(x + 16) y=(BAR_AREA + 28) font-size="10" text-anchor="middle" { (p.period) }
            }
        }
    }
}

pub async fn page(State(s): State<Arc<ServiceState>>, uri: Uri) -> Response {
    let lang = lang_of(&uri);
    let st = s.clone();
    let u = uri.clone();
    let built = tokio::task::spawn_blocking(move || reports::totals(&st, &u)).await;
    let (periods, total) = match built {
        Ok(Ok(t)) => t,
        Ok(Err(p)) => return error_page(lang, &uri, p),
        Err(e) => return error_page(lang, &uri, crate::service::problem::Problem::internal(e)),
    };
    let query = uri.query().unwrap_or("");
    // Read (and refused when unreadable) by `totals` above.
    let given = |name: &str| {
        crate::service::query_param(&uri, name)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let (from, to, season) = (given("from"), given("to"), given("period") == "season");
    let download = |format: &str| {
        let rest: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("format="))
            .collect();
        let mut q = format!("format={format}");
        for kv in rest {
            q.push('&');
            q.push_str(kv);
        }
        format!("/report/download?{q}")
    };
    let body = html! {
        form.filters method="get" action="/report" {
            @if lang == crate::Lang::En { input type="hidden" name="lang" value="en"; }
            label for="from" { (t(lang, "از", "From")) }
            input #from name="from" placeholder="1405/01/01" value=(from);
            label for="to" { (t(lang, "تا", "To")) }
            input #to name="to" placeholder="1405/12/29" value=(to);
            label for="period" { (t(lang, "دوره", "Period")) }
            select #period name="period" {
                option value="month" selected[!season] { (t(lang, "ماه", "month")) }
                option value="season" selected[season] { (t(lang, "فصل", "season")) }
            }
            button type="submit" { (t(lang, "نمایش", "Show")) }
        }
        p {
            a #download-csv href=(download("csv")) { "CSV" } " · "
            a #download-html href=(download("html")) { "HTML" }
        }
        (chart(&periods, lang))
        div.scroll { table #periods {
            thead { tr {
                th { (t(lang, "دوره", "Period")) }
                th { (t(lang, "صورتحساب", "Invoices")) }
                th { (t(lang, "موفق", "Accepted")) }
                th { (t(lang, "ناموفق", "Rejected")) }
                th { (t(lang, "در جریان", "Pending")) }
                th { (t(lang, "مبلغ پس از تخفیف", "After discount")) }
                th { (t(lang, "مالیات بر ارزش افزوده", "VAT")) }
                th { (t(lang, "مبلغ کل", "Total")) }
            } }
            tbody {
                @for p in periods.iter().chain(std::iter::once(&total)) {
                    tr data-period=(p.period) {
                        td { @if p.period == "total" { strong { (t(lang, "جمع", "Total")) } } @else { (period_label(&p.period, lang)) } }
                        td.ltr { (p.invoices) }
                        td.ltr { (p.success) }
                        td.ltr { (p.failed) }
                        td.ltr { (p.pending) }
                        td.ltr { (group(&p.tadis)) }
                        td.ltr data-field="tvam" { (group(&p.tvam)) }
                        td.ltr { (group(&p.tbill)) }
                    }
                }
            }
        } }
        p.note { (t(lang, "مبالغ فقط صورتحساب‌های موفقی را می‌شمارد که ابطال یا جایگزین نشده‌اند.", "Amounts count only accepted invoices that were not cancelled or replaced.")) }
    };
    layout(lang, &uri, &t(lang, "گزارش", "Report"), body).into_response()
}
