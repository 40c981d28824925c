//! The tax API v2 client (reqwest): nonce, signed token per call, server keys, invoice POST
//! in batches, inquiries; every failure classified as retryable, final or unknown.

pub mod client;
pub mod error;
pub mod retry;
pub mod types;

pub use client::{
    api_time, normalize_base, Client, ClientOptions, EncryptionKey, MAX_BATCH, MAX_INQUIRY_IDS,
    PRODUCTION_URL, TAX_SANDBOX_URL,
};
pub use error::{ApiError, Disposition};
pub use retry::RetryPolicy;
pub use types::*;
