//! # moadian-queue
//!
//! The durable submission queue of moadian: a SQLite file holding invoices, attempts, the
//! per-memory-ID serial counter and an event log. It knows no HTTP and no crypto.
