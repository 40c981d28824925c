//! Every way a call to the tax API can fail, and what to do about it: retry later
//! (network, timeout, 5xx, 5xxx codes), stop with an explained code (final), or — for an
//! invoice POST whose answer never arrived — treat the outcome as unknown and reconcile it by
//! inquiry before anything is sent again (architecture invariant 3).

use crate::api::types::ServerCode;
use crate::crypto::SignError;

/// What the caller should do with a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Try again after a backoff: nothing was accepted.
    Retry,
    /// Do not try again as is: the server refused, or the local signer failed.
    Final,
    /// The request may have reached the server and been accepted (connection lost after it was
    /// sent, timeout waiting for the answer). For an invoice POST: reconcile, never resend.
    Unknown,
}

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The connection could not be made; the request never left this machine.
    #[error("cannot connect to the tax server at {url}: {detail} (check the network / VPN)")]
    Connect { url: String, detail: String },
    /// The request was (or may have been) sent, but no answer came back.
    #[error("no answer from the tax server for {url}: {detail}")]
    NoAnswer {
        url: String,
        detail: String,
        timeout: bool,
    },
    /// The server answered with an HTTP error and (usually) the error envelope.
    #[error("the tax server answered HTTP {status} for {url}: {}", describe(.codes))]
    Server {
        url: String,
        status: u16,
        codes: Vec<ServerCode>,
        trace_id: Option<String>,
        /// The start of the body when it was not an error envelope.
        body: Option<String>,
        /// Seconds the server asked to wait before trying again (`Retry-After`, e.g. with
        /// HTTP 429 or 503).
        retry_after: Option<u32>,
    },
    /// A 2xx answer that is not what the API documents.
    #[error("unexpected answer from the tax server for {url} (HTTP {status}): {detail}")]
    Decode {
        url: String,
        status: u16,
        detail: String,
    },
    /// The auth token could not be signed (token removed, PIN problem…). Stops the run.
    #[error("cannot sign the auth token: {0}")]
    Sign(#[from] SignError),
    /// The call was refused before sending (too many ids, bad arguments).
    #[error("{0}")]
    Invalid(String),
    /// The server offered no usable RSA encryption key.
    #[error("the tax server offered no RSA encryption key in server-information")]
    NoServerKey,
    /// A step before the request itself failed (the nonce of its auth token): nothing of the
    /// request left this machine, whatever the step's own failure says (an HTTP 503 of the
    /// nonce is not an invoice POST the server may have taken).
    #[error("{step} (before the request: nothing of it was sent)")]
    NotSent { step: Box<ApiError> },
    /// The server could not be reached (or kept failing) for the whole outage budget: the
    /// last failure, and how long the outage lasted.
    /// (Said once, by whoever reports it: what it means for the user's invoices is theirs.)
    #[error("gave up after {:.0} s of failures; the last: {last}", .lasted.as_secs_f64())]
    Outage {
        last: Box<ApiError>,
        lasted: std::time::Duration,
    },
}

/// The server's codes as `code (message)`, joined by `; ` ("no error code" for none).
pub(crate) fn describe(codes: &[ServerCode]) -> String {
    if codes.is_empty() {
        return "no error code".into();
    }
    codes
        .iter()
        .map(|c| {
            if c.message.is_empty() {
                c.code.clone()
            } else {
                format!("{} ({})", c.code, c.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// The outage that `last` ends, after `lasted`. An outage already given up on (a call made
    /// inside another, e.g. the nonce inside a signed call) is not wrapped again: its own
    /// failure is the last one.
    pub fn outage(last: ApiError, lasted: std::time::Duration) -> ApiError {
        let last = match last {
            ApiError::Outage { last, .. } => *last,
            other => other,
        };
        ApiError::Outage {
            last: Box::new(last),
            lasted,
        }
    }

    /// The first server code, when the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Server { codes, .. } => codes.first().map(|c| c.code.as_str()),
            Self::Outage { last: inner, .. } | Self::NotSent { step: inner } => inner.code(),
            _ => None,
        }
    }

    /// Whether any of the server's codes is `code`.
    pub fn has_code(&self, code: &str) -> bool {
        match self {
            Self::Server { codes, .. } => codes.iter().any(|c| c.code == code),
            Self::Outage { last: inner, .. } | Self::NotSent { step: inner } => {
                inner.has_code(code)
            }
            _ => false,
        }
    }

    /// The network or the server is down (connection refused, no answer, HTTP 5xx or a 5xxx
    /// code), as opposed to a refusal that concerns the request, the certificate or the data.
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Outage { .. } | Self::Connect { .. } | Self::NoAnswer { .. } => true,
            Self::NotSent { step } => step.is_outage(),
            Self::Server { status, codes, .. } => {
                *status >= 500 || *status == 429 || codes.iter().any(|c| is_retryable_code(&c.code))
            }
            _ => false,
        }
    }

    /// What failed, in a few words, for a retry line: `connection refused`, `HTTP 500 (5199)`,
    /// `timeout`…
    pub fn short(&self) -> String {
        match self {
            Self::Connect { detail, .. } => {
                let d = detail.to_ascii_lowercase();
                if d.contains("refused") {
                    "connection refused".into()
                } else if d.contains("timed out") || d.contains("timeout") {
                    "connection timeout".into()
                } else {
                    format!("cannot connect: {detail}")
                }
            }
            Self::NoAnswer { timeout: true, .. } => "timeout waiting for the answer".into(),
            Self::NoAnswer { detail, .. } => format!("no answer: {detail}"),
            Self::Server {
                status,
                codes,
                retry_after,
                ..
            } => {
                let c: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
                let mut s = if c.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status} ({})", c.join(", "))
                };
                if let Some(secs) = retry_after {
                    s += &format!(", Retry-After {secs} s");
                }
                s
            }
            Self::Outage { last, .. } => last.short(),
            Self::NotSent { step } => format!("{} (nothing sent)", step.short()),
            other => other.to_string(),
        }
    }

    /// Retry, final or unknown — for a request that is not idempotent (the invoice POST).
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Connect { .. } => Disposition::Retry,
            Self::NoAnswer { .. } => Disposition::Unknown,
            Self::Server { status, codes, .. } => {
                if codes.iter().any(|c| is_pre_acceptance_code(&c.code)) || *status == 429 {
                    // Refused in the auth / key-management stage, before any invoice was read.
                    Disposition::Retry
                } else if *status >= 500 {
                    // The server failed somewhere; it may have taken the invoices first.
                    Disposition::Unknown
                } else if codes.iter().any(|c| is_retryable_code(&c.code)) {
                    Disposition::Retry
                } else {
                    Disposition::Final
                }
            }
            Self::Decode { .. } => Disposition::Unknown,
            Self::Outage { last, .. } => last.disposition(),
            // Whatever the step met, the request never left: it may be sent again.
            Self::NotSent { step } => match step.disposition() {
                Disposition::Unknown => Disposition::Retry,
                d => d,
            },
            Self::Sign(_) | Self::Invalid(_) | Self::NoServerKey => Disposition::Final,
        }
    }

    /// How long the server asked to wait before the next try (`Retry-After`).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Server { retry_after, .. } => {
                retry_after.map(|s| std::time::Duration::from_secs(u64::from(s)))
            }
            Self::NotSent { step } => step.retry_after(),
            _ => None,
        }
    }

    /// Whether an idempotent call (a GET) may simply be repeated.
    pub fn is_retryable_read(&self) -> bool {
        if matches!(self, Self::Outage { .. }) {
            return false;
        }
        match self.disposition() {
            Disposition::Retry => true,
            Disposition::Unknown => !matches!(self, Self::Decode { .. }),
            Disposition::Final => false,
        }
    }

    /// The signer failed (e.g. token removed): the run must stop cleanly.
    pub fn is_signer_failure(&self) -> bool {
        matches!(self, Self::Sign(_))
    }
}

/// 5xxx codes raised while authenticating the request or fetching keys — before the server
/// reads any invoice: key management unavailable (5051, 5206), unexpected errors loading the
/// taxpayer / TSP file or verifying the token (5119, 5129, 5139), auth / key / tax-file
/// services unavailable (5201, 5202, 5207). After these nothing was accepted.
pub fn is_pre_acceptance_code(code: &str) -> bool {
    matches!(
        code.trim(),
        "5051" | "5119" | "5129" | "5139" | "5201" | "5202" | "5206" | "5207"
    )
}

/// Codes that mean "the service is unwell, try later": the 5xxx family (5051 key management
/// unavailable, 5199 unexpected…).
pub fn is_retryable_code(code: &str) -> bool {
    let c = code.trim_start_matches('0');
    code.len() == 4 && c.starts_with('5') && c.chars().all(|ch| ch.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: u16, code: &str) -> ApiError {
        ApiError::Server {
            url: "u".into(),
            status,
            codes: vec![ServerCode {
                code: code.into(),
                message: String::new(),
            }],
            trace_id: None,
            body: None,
            retry_after: None,
        }
    }

    /// An outage given up on inside another call is said once.
    #[test]
    fn an_outage_is_not_wrapped_in_another() {
        let connect = ApiError::Connect {
            url: "u".into(),
            detail: "refused".into(),
        };
        let inner = ApiError::outage(connect, std::time::Duration::from_secs(2));
        let outer = ApiError::outage(inner, std::time::Duration::from_secs(3));
        let text = outer.to_string();
        assert_eq!(text.matches("gave up").count(), 1, "{text}");
        assert!(text.contains("after 3 s"), "{text}");
    }

    #[test]
    fn classification() {
        assert_eq!(server(500, "5051").disposition(), Disposition::Retry);
        assert_eq!(server(500, "5139").disposition(), Disposition::Retry);
        assert_eq!(server(500, "5199").disposition(), Disposition::Unknown);
        assert!(server(500, "5199").is_retryable_read());
        assert_eq!(server(400, "5051").disposition(), Disposition::Retry);
        assert_eq!(server(401, "4103").disposition(), Disposition::Final);
        assert_eq!(server(400, "4143").disposition(), Disposition::Final);
        assert_eq!(server(504, "x").disposition(), Disposition::Unknown);
        let conn = ApiError::Connect {
            url: "u".into(),
            detail: "refused".into(),
        };
        assert_eq!(conn.disposition(), Disposition::Retry);
        let lost = ApiError::NoAnswer {
            url: "u".into(),
            detail: "reset".into(),
            timeout: false,
        };
        assert_eq!(lost.disposition(), Disposition::Unknown);
        assert!(lost.is_retryable_read());
    }

    #[test]
    fn text_codes_are_final() {
        assert_eq!(
            server(401, "Unable to load certificate").disposition(),
            Disposition::Final
        );
        assert!(!is_retryable_code("05151"));
    }
}
