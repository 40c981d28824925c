//! One preflight check result: a stable id (shared with the code catalogue), ok / warn / fail,
//! what was found and the fix, in Persian and English. `moadian doctor` prints a list of these;
//! the pipeline runs the same checks before each submission.

use crate::lang::{Lang, Message};
use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id, e.g. `cert.expired`, `pin.count_low` (see [`CHECK_IDS`]).
    pub id: &'static str,
    pub status: CheckStatus,
    /// What was found.
    pub message: Message,
    /// What to do (absent when nothing needs doing).
    pub fix: Option<Message>,
}

impl Check {
    pub fn ok(id: &'static str, message: Message) -> Self {
        Check {
            id,
            status: CheckStatus::Ok,
            message,
            fix: None,
        }
    }
    pub fn warn(id: &'static str, message: Message, fix: Message) -> Self {
        Check {
            id,
            status: CheckStatus::Warn,
            message,
            fix: Some(fix),
        }
    }
    pub fn fail(id: &'static str, message: Message, fix: Message) -> Self {
        Check {
            id,
            status: CheckStatus::Fail,
            message,
            fix: Some(fix),
        }
    }
    /// A failed check made from a signer error (its message already carries the fix).
    pub fn from_error(e: &super::SignError) -> Self {
        let m = e.message();
        Check {
            id: e.check_id(),
            status: CheckStatus::Fail,
            fix: None,
            message: m,
        }
    }
    /// One line for a person: `[ok] …` / `[warn] … — fix` / `[FAIL] … — fix`.
    pub fn line(&self, lang: Lang) -> String {
        let tag = match self.status {
            CheckStatus::Ok => "ok  ",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "FAIL",
        };
        match &self.fix {
            Some(f) => format!(
                "[{tag}] {}: {} — {}",
                self.id,
                self.message.get(lang),
                f.get(lang)
            ),
            None => format!("[{tag}] {}: {}", self.id, self.message.get(lang)),
        }
    }
}

/// True when any check failed.
pub fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == CheckStatus::Fail)
}

/// Every check id this module and the signer produce (for the code catalogue).
pub const CHECK_IDS: &[&str] = &[
    "module.not_found",
    "module.loaded",
    "module.mechanism_missing",
    "token.not_present",
    "token.present",
    "token.several",
    "token.removed",
    "token.error",
    "pin.locked",
    "pin.final_try",
    "pin.count_low",
    "pin.ok",
    "pin.expired",
    "pin.incorrect",
    "pin.invalid",
    "pin.unavailable",
    "pin.stored_refused",
    "login.ok",
    "key.not_found",
    "key.file",
    "key.passphrase",
    "key.file_permissions",
    "key.unprotected",
    "key.mismatch",
    "key.matches",
    "cert.not_found",
    "cert.unreadable",
    "cert.several",
    "cert.chosen",
    "cert.valid",
    "cert.expired",
    "cert.not_yet_valid",
    "cert.expiring",
    "cert.no_national_id",
    "cert.national_id_checksum",
    "cert.national_id_mismatch",
    "cert.national_id_matches",
    "cert.key_usage",
    "cert.is_ca",
    "cert.self_signed",
    "cert.weak_key",
    "server.unreachable",
    "server.reachable",
    "clock.skew",
    "clock.ok",
    "memory_id.status",
    "memory_id.owner_mismatch",
    "signer.config",
    "jws.invalid",
    "jose.error",
    "sign.other",
];
