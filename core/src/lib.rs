//! # moadian-core
//!
//! The invoice side of moadian, shared by the client and, deliberately, by the sandbox's content
//! checks: files → [`invoice`] (load, typed model, tax ID; spreadsheets through [`import`]) →
//! [`rules`] (the official pre-submission validation), with every message in Persian and English
//! ([`lang`]). No network, no signing, no queue; it never prints.

pub mod import;
pub mod invoice;
pub mod lang;
pub mod rules;

pub use lang::Lang;
