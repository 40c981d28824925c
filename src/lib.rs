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
//! The library never prints; only [`cli`] formats for people.

pub mod api;
pub mod cli;
pub mod codes;
pub mod config;
pub mod crypto;
pub mod import;
pub mod invoice;
pub mod lang;
pub mod pipeline;
pub mod report;
pub mod rules;
pub mod sandbox;

pub use lang::Lang;
