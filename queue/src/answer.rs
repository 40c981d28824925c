//! What an inquiry answer does to an attempt, decided the same way by every store: whether
//! its row records the answer, whether the attempt (and its invoice) moves and to what, the
//! event that says so, and what the caller is told. The stores only write the decision.

use crate::error::{QueueError, Result};
use crate::sqlite::attempts::invoice_status_for;
use crate::sqlite::Millis;
use crate::types::*;

/// The attempt as it stands when the answer is recorded.
pub(crate) struct Standing {
    pub(crate) status: AttemptStatus,
    /// It was acknowledged with a reference number.
    pub(crate) acknowledged: bool,
    pub(crate) unknown_since: Option<Millis>,
}

/// What one answer writes to its attempt's row.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touch {
    /// Nothing (an answer that conflicts with a final status: only an event).
    None,
    /// Only the time it was asked (the same final answer again).
    Polled,
    /// The server's status, reference, errors and warnings, and the time.
    Answer,
}

/// What one answer does: the row write, an optional move with its event (or an event alone),
/// and the result the caller gets.
pub(crate) struct Decision {
    pub(crate) touch: Touch,
    pub(crate) to: Option<AttemptStatus>,
    pub(crate) event: Option<Event>,
    pub(crate) result: Result<Transition>,
}

/// The event an answer writes: a move's (with the invoice's statuses) or a conflict's.
pub(crate) struct Event {
    pub(crate) kind: &'static str,
    pub(crate) from: Option<InvoiceStatus>,
    pub(crate) to: Option<InvoiceStatus>,
    pub(crate) detail: String,
}

/// What recording `o` does to an attempt standing as `cur`, `grace` ms being how long an
/// unacknowledged attempt stays UNKNOWN while the server says NOT_FOUND.
pub(crate) fn decide(o: &Outcome, cur: &Standing, now: Millis, grace: i64) -> Decision {
    let keep = |touch, result| Decision {
        touch,
        to: None,
        event: None,
        result,
    };
    if cur.status.is_final() {
        let same = matches!(
            (o.status, cur.status),
            (ServerStatus::Success, AttemptStatus::Success)
                | (ServerStatus::Failed, AttemptStatus::Failed)
        );
        if same {
            return keep(Touch::Polled, Ok(Transition::Unchanged(cur.status)));
        }
        let detail = serde_json::json!({
            "server_status": o.status.as_str(),
            "note": format!("answer for an attempt already {}", cur.status.as_str()),
            "errors": o.errors,
        })
        .to_string();
        return Decision {
            touch: Touch::None,
            to: None,
            event: Some(Event {
                kind: "conflicting_answer",
                from: None,
                to: None,
                detail,
            }),
            result: Err(QueueError::InvalidTransition {
                uid: o.uid,
                from: cur.status,
                what: "an inquiry answer",
            }),
        };
    }
    let (to, kind, detail, result) = match (o.status, cur.status) {
        (ServerStatus::Success, _) | (ServerStatus::Failed, _) => {
            let to = if o.status == ServerStatus::Success {
                AttemptStatus::Success
            } else {
                AttemptStatus::Failed
            };
            let detail = format!(r#"{{"server_status":"{}"}}"#, o.status.as_str());
            let moved = Transition::Moved {
                from: cur.status,
                to,
            };
            (to, "outcome", detail, moved)
        }
        (ServerStatus::InProgress | ServerStatus::Pending, AttemptStatus::InProgress) => {
            return keep(
                Touch::Answer,
                Ok(Transition::Unchanged(AttemptStatus::InProgress)),
            )
        }
        (ServerStatus::InProgress | ServerStatus::Pending, _) => {
            let to = AttemptStatus::InProgress;
            let detail = format!(r#"{{"server_status":"{}"}}"#, o.status.as_str());
            let moved = Transition::Moved {
                from: cur.status,
                to,
            };
            (to, "outcome", detail, moved)
        }
        (ServerStatus::Timeout, _) => {
            let detail = r#"{"server_status":"TIMEOUT","note":"not registered by the server; queued again with the same tax ID"}"#;
            let to = AttemptStatus::Lost;
            (to, "timeout", detail.to_string(), Transition::Requeued)
        }
        (ServerStatus::NotFound, AttemptStatus::Unknown) => {
            let acknowledged = cur.acknowledged || o.reference.is_some();
            let waited = cur.unknown_since.is_some_and(|t| now - t >= grace);
            if acknowledged || !waited {
                return keep(Touch::Answer, Ok(Transition::StillUnknown));
            }
            let detail = format!(
                r#"{{"server_status":"NOT_FOUND","unknown_since":{},"grace_ms":{grace}}}"#,
                cur.unknown_since.unwrap_or_default()
            );
            (AttemptStatus::Lost, "lost", detail, Transition::Requeued)
        }
        (ServerStatus::NotFound, _) => return keep(Touch::Answer, Ok(Transition::StillUnknown)),
    };
    let then = AfterRejection::Requeue;
    Decision {
        touch: Touch::Answer,
        to: Some(to),
        event: Some(Event {
            kind,
            from: Some(invoice_status_for(cur.status, then)),
            to: Some(invoice_status_for(to, then)),
            detail,
        }),
        result: Ok(result),
    }
}
