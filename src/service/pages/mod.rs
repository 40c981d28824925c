//! The dashboard: server-rendered pages (maud escapes every value), Persian right-to-left by
//! default with an English switch (`?lang=en`), no script, readable on a phone. Pages read the
//! same queue and reports as the API; nothing here changes the queue.
//!
//! When the service has an access token, the pages need it too: it is entered once at `/login`
//! and kept in an `HttpOnly`, `SameSite=Strict` cookie.

pub mod invoices;
pub mod login;
pub mod overview;
pub mod report;
pub mod upload;

use super::ServiceState;
use crate::lang::{Lang, Message};
use crate::pipeline::ReportStatus;
use axum::extract::{Request, State};
use axum::http::{header, Uri};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::sync::Arc;

/// The cookie that carries the access token.
pub const TOKEN_COOKIE: &str = "moadian_token";

/// The page's language: `?lang=en`, else Persian.
pub fn lang_of(uri: &Uri) -> Lang {
    let en = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "lang=en"));
    if en {
        Lang::En
    } else {
        Lang::Fa
    }
}

/// A link inside the dashboard keeping the page's language.
pub fn href(path: &str, lang: Lang) -> String {
    match lang {
        Lang::Fa => path.to_string(),
        Lang::En if path.contains('?') => format!("{path}&lang=en"),
        Lang::En => format!("{path}?lang=en"),
    }
}

/// One text in the page's language.
pub fn t(lang: Lang, fa: &str, en: &str) -> String {
    match lang {
        Lang::Fa => fa.to_string(),
        Lang::En => en.to_string(),
    }
}

pub fn msg(lang: Lang, m: &Message) -> String {
    m.get(lang).to_string()
}

/// A status as a badge: its code for machines (`data-status`) and its meaning for people.
pub fn badge(lang: Lang, s: ReportStatus) -> Markup {
    html! {
        span class={"badge s-" (s.as_str())} data-status=(s.as_str()) title=(s.as_str()) {
            (msg(lang, &s.label()))
        }
    }
}

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font-family:Vazirmatn,Tahoma,"Segoe UI",sans-serif;background:#f6f7f9;color:#1d2530;line-height:1.6}
header{background:#17324d;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a{color:#fff;text-decoration:none}header .brand{font-weight:bold;margin-inline-end:auto}
main{padding:1rem;max-width:72rem;margin:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem}
.card{color:inherit;text-decoration:none;background:#fff;border-radius:.5rem;padding:.6rem .8rem;box-shadow:0 1px 2px #0002}
.card .n{font-size:1.6rem;font-weight:bold;display:block}
table{width:100%;border-collapse:collapse;background:#fff;font-size:.9rem}
th,td{padding:.4rem .5rem;border-bottom:1px solid #e3e6ea;text-align:start;vertical-align:top}
.scroll{overflow-x:auto}
.badge{padding:.1rem .45rem;border-radius:.3rem;background:#e3e6ea;white-space:nowrap}
.s-SUCCESS{background:#d8f3dc}.s-FAILED,.s-INVALID,.s-CONFLICT,.s-NEEDS_ATTENTION{background:#ffd6d6}
.s-QUEUED,.s-IN_PROGRESS,.s-UNKNOWN{background:#fff1c1}
.ltr{direction:ltr;unicode-bidi:embed;font-family:monospace}
.problem{background:#fff;border-inline-start:4px solid #c0392b;padding:.5rem .8rem;margin:.5rem 0}
.note{color:#555}form.filters{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
"#;

/// The page frame: header with navigation and the language switch.
pub fn layout(lang: Lang, uri: &Uri, title: &str, body: Markup) -> Html<String> {
    let (code, dir) = match lang {
        Lang::Fa => ("fa", "rtl"),
        Lang::En => ("en", "ltr"),
    };
    let path = uri.path();
    let other = match lang {
        Lang::Fa => href(path, Lang::En),
        Lang::En => path.to_string(),
    };
    let page = html! {
        (DOCTYPE)
        html lang=(code) dir=(dir) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · moadian" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href=(href("/", lang)) { (t(lang, "مؤدیان", "moadian")) }
                    a href=(href("/", lang)) { (t(lang, "نمای کلی", "Overview")) }
                    a href=(href("/invoices", lang)) { (t(lang, "صورتحساب‌ها", "Invoices")) }
                    a href=(href("/upload", lang)) { (t(lang, "بارگذاری", "Upload")) }
                    a href=(href("/report", lang)) { (t(lang, "گزارش", "Report")) }
                    a #lang-switch href=(other) { (t(lang, "English", "فارسی")) }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    Html(page.into_string())
}

/// Sends a browser without the access token (when the service has one) to `/login`.
pub async fn require_cookie(
    State(state): State<Arc<ServiceState>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(req).await;
    };
    if req.uri().path() == "/login" {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == TOKEN_COOKIE)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    if super::same_secret(&given, token) {
        return next.run(req).await;
    }
    Redirect::to(&href("/login", lang_of(req.uri()))).into_response()
}

/// A problem as a page (the API answers the same problem as JSON).
pub fn error_page(lang: Lang, uri: &Uri, p: super::problem::Problem) -> Response {
    let status = axum::http::StatusCode::from_u16(p.0.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = html! {
        div.problem #problem data-type=(p.0.kind) { (msg(lang, &p.0.message)) }
        @for e in &p.0.errors {
            div.problem {
                @if let Some(src) = e.get("source").and_then(|v| v.as_str()) { span.ltr { (src) } " " }
                @if let Some(m) = e.get("message").and_then(|m| m.get(match lang { Lang::Fa => "fa", Lang::En => "en" })).and_then(|v| v.as_str()) { (m) }
            }
        }
        p { a href=(href("/", lang)) { (t(lang, "نمای کلی", "Overview")) } }
    };
    (status, layout(lang, uri, &t(lang, "مشکل", "Problem"), body)).into_response()
}
