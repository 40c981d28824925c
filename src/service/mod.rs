//! `moadian serve`: the same library and queue behind a local HTTP API (`/api/v1`, described by
//! the OpenAPI document at `/api/v1/openapi.json`), for accounting software that can call a URL
//! more easily than drive a command line. The runner inside sends on a schedule with the same
//! guarantees as `moadian run` (it holds the queue's one runner lock for as long as it serves).
//!
//! Security: loopback by default; any other address needs an access token, sent as
//! `Authorization: Bearer …` (compared in constant time). The token PIN never crosses HTTP: it
//! comes from the environment or the terminal when the service starts.
//!
//! Library only: [`router`] builds the routes over a [`ServiceState`]; the command-line face
//! (`src/cli/serve.rs`) binds the socket, starts the runner loop and prints where it listens.

pub mod handlers;
pub mod openapi;
pub mod pages;
pub mod problem;
pub mod referrals;
pub mod reports;
pub mod upload;

use crate::lang::Message;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use problem::Problem;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Default `--max-upload`: 32 MiB per request.
pub const DEFAULT_MAX_UPLOAD: usize = 32 << 20;

/// What the last runner pass did, for `/api/v1/health`.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct LastPass {
    /// When it ended (RFC 3339, UTC).
    pub at: Option<String>,
    /// Why it stopped early (signer, certificate, server unreachable…), both languages.
    #[schema(value_type = Option<Object>)]
    pub stopped: Option<Message>,
    /// The server could not be reached.
    pub outage: bool,
    /// A failure of the pass itself.
    pub error: Option<String>,
}

/// The doctor's checklist as last run by the service (at start, then every
/// [`CHECKLIST_EVERY`]).
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Checklist {
    /// When it ran (RFC 3339, UTC).
    pub at: Option<String>,
    /// Each check: id, status (ok, warn, fail), message and fix in both languages.
    #[schema(value_type = Vec<Object>)]
    pub checks: Vec<crate::crypto::checks::Check>,
    /// The checklist itself could not run (e.g. no PIN in the environment).
    pub error: Option<String>,
}

/// How many passes the overview lists.
pub const RECENT_PASSES: usize = 10;

impl ServiceState {
    /// Records a finished pass.
    pub fn record_pass(&self, pass: LastPass) {
        if let Ok(mut r) = self.recent.lock() {
            r.push_front(pass.clone());
            r.truncate(RECENT_PASSES);
        }
        if let Ok(mut l) = self.last_pass.lock() {
            *l = pass;
        }
    }
}

/// How often the service runs the doctor's checklist again.
pub const CHECKLIST_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Everything the handlers share.
pub struct ServiceState {
    /// The taxpayer the service sends for.
    pub memory_id: String,
    /// Encoding and size limits for uploaded files.
    pub input: crate::import::limits::ReadOptions,
    /// The queue's one sending handle (its read side is `runner.queue()`).
    pub runner: Arc<crate::pipeline::Runner>,
    /// Where uploaded files are kept (each enqueued invoice's source names its file there).
    pub uploads: std::path::PathBuf,
    /// Largest accepted request body.
    pub max_upload: usize,
    /// The access token every `/api` call must carry, when set.
    pub token: Option<String>,
    /// The runner's schedule, in seconds.
    pub every_secs: u64,
    pub last_pass: Mutex<LastPass>,
    /// The last [`RECENT_PASSES`] passes, newest first.
    pub recent: Mutex<std::collections::VecDeque<LastPass>>,
    pub checklist: Mutex<Checklist>,
    /// Wakes the runner early (after an enqueue).
    pub wake: Notify,
    /// The token every dashboard form carries (CSRF), new at each start.
    pub csrf: String,
    /// Serializes enqueues (each one numbers invoices from the queue's counter).
    pub enqueue_lock: tokio::sync::Mutex<()>,
}

impl ServiceState {
    pub fn queue(&self) -> moadian_queue::QueueRef<'_> {
        self.runner.queue()
    }
}

/// The routes of the API over `state`.
pub fn router(state: Arc<ServiceState>) -> Router {
    let limit = state.max_upload;
    let api = Router::new()
        .route("/health", get(handlers::health))
        .route("/validate", post(handlers::validate))
        .route(
            "/invoices",
            post(handlers::enqueue).get(handlers::list_invoices),
        )
        .route("/invoices/{taxid}", get(handlers::get_invoice))
        .route("/invoices/{taxid}/cancel", post(referrals::cancel))
        .route("/invoices/{taxid}/correct", post(referrals::correct))
        .route("/invoices/{taxid}/return", post(referrals::sales_return))
        .route("/report", get(reports::report))
        .route("/explain/{code}", get(handlers::explain))
        .route("/openapi.json", get(openapi::document))
        .fallback(handlers::no_such_endpoint)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    let pages = Router::new()
        .route("/", get(pages::overview::page))
        .route("/invoices", get(pages::invoices::list))
        .route("/invoices/{taxid}", get(pages::invoices::one))
        .route("/login", get(pages::login::show).post(pages::login::submit))
        .route(
            "/upload",
            get(pages::upload::form).post(pages::upload::receive),
        )
        .route("/report", get(pages::report::page))
        .route("/report/download", get(reports::report))
        .route("/upload/{id}", get(pages::upload::preview))
        .route("/upload/{id}/confirm", post(pages::upload::confirm))
        .route("/upload/{id}/discard", post(pages::upload::discard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::require_cookie,
        ));
    let app = Router::new()
        .merge(pages)
        .nest("/api/v1", api)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state);
    // Around the whole app: a 405's `Allow` header is added outside any route's own layers.
    Router::new()
        .fallback_service(app)
        .layer(axum::middleware::from_fn(handlers::method_not_allowed))
}

/// [`crate::pipeline::report::build`] as the service tells it: its own runner sends and asks
/// again (a `moadian run` meanwhile is told the queue is busy).
pub fn report_of<S: moadian_queue::Store>(
    store: &S,
    ids: Option<Vec<moadian_queue::InvoiceId>>,
    memory_id: Option<&str>,
) -> Result<crate::pipeline::Report, moadian_queue::QueueError> {
    let mut report = crate::pipeline::report::build(store, ids, memory_id)?;
    crate::pipeline::report::under_service(&mut report.invoices);
    Ok(report)
}

/// Two secrets compared in constant time (tokens, CSRF).
pub fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len() && openssl::memcmp::eq(given.as_bytes(), secret.as_bytes())
}

/// A query parameter's value, decoded as `application/x-www-form-urlencoded` (what a browser's
/// form sends: `+` for a space, every other byte percent-encoded), or `None` when absent. The
/// first occurrence counts. A value that is not UTF-8 once decoded is a 400 naming it.
pub fn query_param(uri: &axum::http::Uri, name: &str) -> Result<Option<String>, Problem> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(k).as_deref() != Ok(name) {
            continue;
        }
        return form_decode(v).map(Some).map_err(|_| {
            Problem::bad_request(Message::new(
                format!("مقدار پارامتر {name} پس از رمزگشایی درصدی (%XX) متن UTF-8 نیست."),
                format!("the value of the parameter {name} is not UTF-8 text once percent-decoded (%XX)."),
            ))
        });
    }
    Ok(None)
}

/// One key or value of a form-encoded query: `+` is a space, `%XX` a byte.
fn form_decode(raw: &str) -> Result<String, std::str::Utf8Error> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
}

/// Refuses an `/api` call without the access token (when one is set).
async fn require_token(
    State(state): State<Arc<ServiceState>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if same_secret(given, token) {
        return next.run(req).await;
    }
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Access token required",
        Message::new(
            "این سرویس فقط با توکن دسترسی پاسخ می‌دهد: سرآیند Authorization: Bearer <توکن> را بفرستید (فایل ‎--token-file‎ سرویس).",
            "this service answers only with its access token: send Authorization: Bearer <token> (the service's --token-file).",
        ),
    )
    .into_response()
}
