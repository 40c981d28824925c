//! The tax API v2 client (reqwest): nonce, signed token per call, server keys, invoice POST
//! in batches, inquiries; every failure classified as retryable or final.
