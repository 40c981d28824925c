//! One problem found in an invoice: what, where, how bad, and the server code it prevents.

use crate::lang::Message;
use serde::{Deserialize, Serialize};

/// How bad a finding is. An error stops the invoice from being sent; a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A finding of the rules engine (or of loading a file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable rule id, e.g. `arith.line.vam` or `matrix.required`. Documented in `schemas/`.
    pub rule: String,
    /// JSON path of the field: `header.tbill`, `body[0].vam`, `payments[1].pv`; empty for the
    /// invoice as a whole.
    pub field: String,
    /// The official code the server would answer with, where one is known (e.g. `0100504`).
    pub code: Option<String>,
    /// What is wrong and how to fix it, in Persian and English.
    pub message: Message,
}

impl Finding {
    pub fn error(rule: impl Into<String>, field: impl Into<String>, message: Message) -> Self {
        Self {
            severity: Severity::Error,
            rule: rule.into(),
            field: field.into(),
            code: None,
            message,
        }
    }

    pub fn warning(rule: impl Into<String>, field: impl Into<String>, message: Message) -> Self {
        Self {
            severity: Severity::Warning,
            rule: rule.into(),
            field: field.into(),
            code: None,
            message,
        }
    }

    /// The same finding with the server's code attached.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
