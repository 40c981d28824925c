//! Errors as RFC 9457 problem details (`application/problem+json`): a stable `type`, an English
//! `title` and `detail`, and the same text in both languages under `message`; when a server or
//! content code is at fault, the code with its explanation from the catalogue.

use crate::lang::Message;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One problem (boxed: handlers return it as their error, and it is large).
#[derive(Debug, Clone)]
pub struct Problem(pub Box<ProblemDetails>);

/// One problem, as the API answers it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails {
    /// A URN naming the kind of problem, e.g. `urn:moadian:problem:not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short English title.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, in English (the same as `message.en`).
    pub detail: String,
    /// What went wrong, in Persian and English.
    #[schema(value_type = Object)]
    pub message: Message,
    /// The tax-system or content code at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The catalogue's explanation of `code` (meaning and fix, both languages).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub explanation: Option<crate::codes::Explanation>,
    /// Per-item details (e.g. each file or line that could not be read).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, message: Message) -> Self {
        Problem(Box::new(ProblemDetails {
            kind: format!("urn:moadian:problem:{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: message.en.clone(),
            message,
            code: None,
            explanation: None,
            errors: Vec::new(),
        }))
    }

    /// Names the code at fault and attaches its explanation.
    pub fn with_code(mut self, code: &str) -> Self {
        self.0.explanation = crate::codes::explain(code);
        self.0.code = Some(code.to_string());
        self
    }

    pub fn with_errors(mut self, errors: Vec<serde_json::Value>) -> Self {
        self.0.errors = errors;
        self
    }

    pub fn not_found(message: Message) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", message)
    }

    pub fn bad_request(message: Message) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            message,
        )
    }

    /// A storage or internal failure: the text names it; nothing was changed half-way (every
    /// queue write is one transaction).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            Message::new(
                format!("خطای داخلی: {e}. چیزی نیمه‌کاره ثبت نشد."),
                format!("internal error: {e}. Nothing was half-written."),
            ),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<anyhow::Error> for Problem {
    fn from(e: anyhow::Error) -> Self {
        Problem::internal(format!("{e:#}"))
    }
}

impl From<moadian_queue::QueueError> for Problem {
    fn from(e: moadian_queue::QueueError) -> Self {
        Problem::internal(e)
    }
}
