//! A faithful local tax API v2 on 127.0.0.1: what `--sandbox` runs against and what the
//! end-to-end tests use, with fault knobs and a ledger of accepted tax IDs.
