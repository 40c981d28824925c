//! The submission pipeline: preflight, signing pipelined with sending, polling and
//! reconciliation of unknown outcomes, on top of the durable queue.
//!
//! load → prepare (serial, tax ID, inno) → validate → enqueue ([`prepare`]) → preflight →
//! sign + encrypt + send ([`send`]) → poll / reconcile ([`poll`]) → report ([`report`]).
//! Library only: progress goes to an [`Observer`]; the CLI draws it.

pub mod browse;
pub mod ingest;
pub mod listing;
pub mod pace;
pub mod pass;
pub mod poll;
pub mod preflight;
pub mod prepare;
pub mod referral;
pub mod report;
pub mod resend_same;
pub mod send;
pub mod settle;
mod spool;
pub mod verdict;

pub use ingest::{IngestOptions, Placements};
pub use listing::Listing;
pub use pace::Timing;
pub use pass::{process_cpu, run_pass, PassOptions, PassStats};
pub use poll::{PollOptions, PollStats};
pub use prepare::{load_inputs, load_inputs_with, prepare, Input};
pub use report::{InvoiceReport, Report, ReportStatus, Summary};
pub use send::SendStats;

use crate::api::ApiError;
use crate::crypto::SignError;
use moadian_queue::QueueError;

/// An input the queue refused (not an invoice row): source and why.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    pub source: String,
    pub error: crate::lang::Message,
}

/// Why the pipeline could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Api(ApiError),
    #[error(transparent)]
    Sign(SignError),
    #[error("internal task failed: {0}")]
    Task(String),
}

/// Why sending stopped before the queue was empty. The queue stays intact: unsent invoices are
/// QUEUED, sent ones are followed up by the next run.
#[derive(Debug)]
pub enum StopReason {
    /// The signer failed (token removed, PIN…).
    Signer(SignError),
    /// The server refused or could not be reached after the retries.
    Api(ApiError),
    /// The queue refused to go on: another runner took this one's memory ID over.
    Queue(moadian_queue::QueueError),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Signer(e) => write!(f, "{e}"),
            StopReason::Api(e) => write!(f, "{e}"),
            StopReason::Queue(e) => write!(f, "{e}"),
        }
    }
}

impl StopReason {
    /// The server or the network is down (as opposed to a refusal or the signer).
    pub fn is_outage(&self) -> bool {
        matches!(self, StopReason::Api(e) if e.is_outage())
    }

    /// The text in both languages.
    pub fn message(&self) -> crate::lang::Message {
        match self {
            StopReason::Signer(e) => e.message(),
            StopReason::Queue(e) => crate::lang::Message::new(e.persian(), e.to_string()),
            StopReason::Api(e) if e.is_outage() => crate::lang::Message::new(
                format!("سرور سامانه مودیان در دسترس نیست یا پیوسته خطا می‌دهد ({}). این مشکل شبکه یا سرور است، نه صورتحساب‌ها، شناسه حافظه یا گواهی. اجرا متوقف شد؛ صف دست‌نخورده است و اجرای بعدی `moadian run` ادامه می‌دهد.", e.short()),
                format!("the tax server cannot be reached or keeps failing ({}). This is a network or server problem, not your invoices, memory ID or certificate. Stopped; the queue is intact and the next `moadian run` goes on. Detail: {e}", e.short()),
            ),
            StopReason::Api(e @ ApiError::Server { status: 413, .. }) => crate::lang::Message::new(
                "سرور (یا پراکسی جلوی آن) درخواست را برای بزرگی رد کرد (HTTP 413). صورتحساب‌ها در صف ماندند؛ `batch_size` را در moadian.toml کمتر کنید (مثلاً 200) و دوباره اجرا کنید.".to_string(),
                format!("the server (or a proxy in front of it) refused the request as too large (HTTP 413). The invoices stay queued; lower `batch_size` in moadian.toml (200, say) and run again. Detail: {e}"),
            ),
            StopReason::Api(e) => {
                let code = e.code().map(str::to_string);
                let fa = code
                    .as_deref()
                    .and_then(|c| crate::codes::one_line(c, crate::Lang::Fa))
                    .map(|m| format!("{m} ({})", code.clone().unwrap_or_default()))
                    .unwrap_or_else(|| "ارتباط با سامانه مودیان ناموفق بود؛ صورتحساب‌ها در صف می‌مانند و اجرای بعدی ادامه می‌دهد".into());
                crate::lang::Message::new(fa, e.to_string())
            }
        }
    }
}

/// Progress of a pass, for a progress bar.
#[derive(Debug, Clone)]
pub enum Event {
    Enqueued { total: usize, invalid: usize },
    Signed { count: usize },
    Posting { count: usize },
    Accepted { count: usize },
    Unknown { count: usize },
    Waiting { open: usize, seconds: f64 },
    Polled { finalized: usize },
}

/// Receives [`Event`]s. The CLI draws bars; tests and `--json` ignore them.
pub trait Observer: Send + Sync {
    fn event(&self, e: &Event);
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _e: &Event) {}
}

/// The sending handle of the queue (its read side is `runner.queue()`).
pub type Runner = moadian_queue::AnyRunner;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_too_large_says_to_lower_the_batch_size() {
        let e = ApiError::Server {
            url: "http://127.0.0.1/invoice".into(),
            status: 413,
            codes: Vec::new(),
            trace_id: None,
            body: Some("<html>413 Request Entity Too Large</html>".into()),
            retry_after: None,
        };
        let m = StopReason::Api(e).message();
        assert!(
            m.en.contains("batch_size") && m.en.contains("413"),
            "{}",
            m.en
        );
        assert!(m.fa.contains("batch_size"), "{}", m.fa);
    }
}
