//! The error envelope of the v2 API and the table of codes the sandbox answers with: HTTP
//! status and the official Persian message (RC_TXPS.EC_V02 §4.2–§4.6), so every refusal looks
//! like the real server's `{"timestamp","requestTraceId","errors":[{"code","message"}]}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One row of the code table: code, HTTP status of the envelope, official message (fa).
struct CodeRow {
    code: &'static str,
    status: u16,
    message: &'static str,
}

#[rustfmt::skip]
const TABLE: &[CodeRow] = &[
    CodeRow { code: "4100", status: 401, message: "متد درخواست ارسالی پشتیبانی نمی‌شود." },
    CodeRow { code: "4101", status: 401, message: "ساختار payload توکن JWT فرستاده شده مطابق با ساختار {\"nonce\":\"string\",\"clientId\":\"string\"} نمی‌باشد." },
    CodeRow { code: "4102", status: 401, message: "چالش تصادفی امضا شده در توکن JWT معتبر نمی‌باشد (قبلا استفاده شده یا زمان استفاده آن گذشته است)." },
    CodeRow { code: "4103", status: 401, message: "کد ملی گواهی امضایی که توکن JWT با آن امضا شده با کد ملی شناسه کلاینت قرار داده شده در توکن مطابقت ندارد." },
    CodeRow { code: "4110", status: 401, message: "شناسه کلاینت (شناسه حافظه) وارد شده در توکن JWT یافت نشد." },
    CodeRow { code: "4130", status: 401, message: "ساختار توکن JWT فرستاده شده صحیح نیست." },
    CodeRow { code: "4131", status: 401, message: "امضای توکن JWT یا گواهی امضای فرستاده شده معتبر نمی‌باشد." },
    CodeRow { code: "4134", status: 401, message: "Encoding برابر با UTF-8 نیست." },
    CodeRow { code: "4135", status: 401, message: "گواهی امضایی در فیلد x5c یافت نشد." },
    CodeRow { code: "4136", status: 401, message: "فرمت گواهی امضای ارسالی در فیلد x5c معتبر نمی‌باشد." },
    CodeRow { code: "4140", status: 400, message: "زمان شروع بازه‌ی استعلام باید قبل از زمان پایان آن باشد." },
    CodeRow { code: "4141", status: 400, message: "در یک درخواست نمی‌توانید وضعیت بیش از 100 صورتحساب را استعلام بگیرید." },
    CodeRow { code: "4142", status: 400, message: "مقدار status وارد شده نامعتبر است. مقادیر مجاز: [SUCCESS, FAILED, IN_PROGRESS, TIMEOUT]" },
    CodeRow { code: "4143", status: 400, message: "در یک درخواست نمی‌توانید بیشتر از 1000 صورتحساب ارسال نمایید." },
    CodeRow { code: "4144", status: 400, message: "بدنه‌ی درخواست ارسالی خالی است یا از نظر ساختار JSON معتبر نیست." },
    CodeRow { code: "4145", status: 400, message: "بعضی از فیلدهای ضروری در بدنه‌ی درخواست خالی است (برای هر صورتحساب باید payload، requestTraceId و fiscalId موجود باشد)." },
    CodeRow { code: "4146", status: 400, message: "زمان اعتبار چالش تصادفی باید بین 10 تا 200 ثانیه باشد." },
    CodeRow { code: "4147", status: 400, message: "فرمت ورودی‌های درخواست نادرست می‌باشد." },
    CodeRow { code: "4148", status: 400, message: "شناسه یکتای ارسالی نامعتبر است." },
    CodeRow { code: "4160", status: 403, message: "دسترسی مشاهده اطلاعات شناسه یکتای درخواست شده ممکن نیست." },
    CodeRow { code: "4162", status: 400, message: "شناسه درخواست (requestTraceId) داخل درخواست معتبر نمی‌باشد." },
    CodeRow { code: "4163", status: 400, message: "شناسه درخواست تکراری وجود دارد." },
    CodeRow { code: "4164", status: 400, message: "بازه زمانی استعلام حداکثر یک هفته است." },
    CodeRow { code: "4170", status: 404, message: "شماره اقتصادی وارد شده یافت نشد." },
    CodeRow { code: "4171", status: 404, message: "شماره اقتصادی وارد شده از نظر طول معتبر نیست." },
    CodeRow { code: "5051", status: 500, message: "پردازه مدیریت کلید در دسترس نمی‌باشد، مدتی بعد تلاش کنید." },
    CodeRow { code: "5119", status: 500, message: "مشکل غیرمنتظره در دریافت اطلاعات پرونده مالیاتی رخ داد." },
    CodeRow { code: "5139", status: 500, message: "خطای غیرمنتظره‌ای در بررسی صحت امضای توکن JWT رخ داد." },
    CodeRow { code: "5199", status: 500, message: "خطای غیرمنتظره‌ای در انجام درخواست رخ داد." },
];

/// Codes the fault knob may answer with (HTTP 500).
pub const FAULT_CODES: &[&str] = &["5051", "5119", "5139", "5199"];

/// Codes of the envelope (non-2xx answers) the sandbox can give.
pub fn envelope_codes() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|r| r.code)
}

fn row(code: &str) -> Option<&'static CodeRow> {
    TABLE.iter().find(|r| r.code == code)
}

/// A refusal of the API: one code, answered as the official error envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub timestamp_ms: i64,
    /// The official answer to a request without a Bearer token: HTTP 401 with no message.
    pub empty_body: bool,
}

impl ApiError {
    /// The envelope for `code` at sandbox time `now_ms`, with the official message.
    pub fn new(code: &str, now_ms: i64) -> Self {
        let (status, message) = match row(code) {
            Some(r) => (r.status, r.message.to_string()),
            None => (500, String::new()),
        };
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.to_string(),
            message,
            timestamp_ms: now_ms,
            empty_body: false,
        }
    }

    /// The same code with a more precise message (the official message stays first).
    pub fn detail(mut self, detail: impl AsRef<str>) -> Self {
        self.message = format!("{} ({})", self.message, detail.as_ref());
        self
    }

    /// HTTP 401 with an empty body: no `Authorization: Bearer` header at all.
    pub fn unauthorized_empty(now_ms: i64) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: String::new(),
            message: String::new(),
            timestamp_ms: now_ms,
            empty_body: true,
        }
    }
}

/// A server-generated trace id: 32 hex characters without dashes, as the real server sends.
pub fn trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.empty_body {
            return self.status.into_response();
        }
        let body = json!({
            "timestamp": self.timestamp_ms,
            "requestTraceId": trace_id(),
            "errors": [{"code": self.code, "message": self.message}],
        });
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_code_is_in_the_table() {
        for c in FAULT_CODES {
            assert!(row(c).is_some(), "{c}");
            assert_eq!(
                ApiError::new(c, 0).status,
                StatusCode::INTERNAL_SERVER_ERROR
            );
        }
    }

    #[test]
    fn statuses_follow_the_catalogue() {
        assert_eq!(ApiError::new("4102", 0).status, StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::new("4146", 0).status, StatusCode::BAD_REQUEST);
        assert_eq!(ApiError::new("4160", 0).status, StatusCode::FORBIDDEN);
        assert_eq!(ApiError::new("4170", 0).status, StatusCode::NOT_FOUND);
        assert_eq!(trace_id().len(), 32);
    }
}
