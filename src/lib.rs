//! # moadian
//!
//! Gets a taxpayer's electronic invoices into the Iranian tax system (سامانه مودیان, API v2)
//! and to a final SUCCESS, safely.
//!
//! The data walks one way (see `README.md`):
//! files → [`invoice`] (load, typed model, tax ID) → [`rules`] (pre-submission validation) →
//! queue (crate `moadian-queue`) → [`pipeline`] (preflight, sign, encrypt, send, poll) →
//! [`codes`] (every server code explained) → report.
//!
//! The library never prints; only [`cli`] formats for people. The built-in sandbox is the crate
//! `moadian-sandbox`, re-exported as [`sandbox`] with the client's test identity beside it.

pub mod api;
pub mod cli;
pub mod codes;
pub mod config;
pub mod crypto;
pub mod dates;
pub mod pipeline;
pub mod report;
pub mod sandbox;
pub mod service;
pub mod test_identity;

// The invoice model, loaders and rules live in `moadian-core` (shared, deliberately, with the
// sandbox); they keep their paths here (`moadian::rules`, `crate::invoice`, …).
pub use moadian_core::{import, invoice, lang, rules};

pub use lang::Lang;
