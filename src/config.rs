//! `moadian.toml`: taxpayer profiles (memory ID, national ID, economic number, signer,
//! endpoint, batch size). Filled in by the submission work; see `examples/moadian.toml`.
