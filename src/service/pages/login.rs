//! `/login`: the access token, entered once, kept in an `HttpOnly`, `SameSite=Strict` cookie.
//! Only when the service was started with `--token-file`.

use super::{href, lang_of, layout, t, TOKEN_COOKIE};
use crate::service::ServiceState;
use axum::extract::{Form, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: String,
}

fn page(uri: &Uri, failed: bool) -> Response {
    let lang = lang_of(uri);
    let body = html! {
        @if failed {
            p.problem role="alert" { (t(lang, "توکن درست نیست.", "That is not the access token.")) }
        }
        form method="post" action=(href("/login", lang)) {
            label for="token" { (t(lang, "توکن دسترسی این سرویس", "This service's access token")) }
            " "
            input #token type="password" name="token" autocomplete="current-password" required;
            " "
            button type="submit" { (t(lang, "ورود", "Sign in")) }
        }
        p.note { (t(lang, "رمز توکن امضا (PIN) هرگز اینجا پرسیده نمی‌شود.", "The signing token's PIN is never asked for here.")) }
    };
    let code = if failed {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (code, layout(lang, uri, &t(lang, "ورود", "Sign in"), body)).into_response()
}

pub async fn show(uri: Uri) -> Response {
    page(&uri, false)
}

pub async fn submit(
    State(s): State<Arc<ServiceState>>,
    uri: Uri,
    Form(f): Form<LoginForm>,
) -> Response {
    let Some(token) = &s.token else {
        return Redirect::to(&href("/", lang_of(&uri))).into_response();
    };
    let given = f.token.trim();
    if !crate::service::same_secret(given, token) {
        return page(&uri, true);
    }
    let cookie = format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(&href("/", lang_of(&uri))),
    )
        .into_response()
}
