//! # moadian-sandbox
//!
//! A faithful local tax API v2 on 127.0.0.1: what `--sandbox` runs against and what the
//! end-to-end tests use, with fault knobs and a ledger of accepted tax IDs.
//!
//! It is a crate of its own so that its independence from the client shows: it shares only the
//! rules engine of `moadian-core` (the real server re-checks content by the same official
//! tables), and keeps its own JOSE checks, tax-ID check and state. The client's test identity
//! for `--sandbox` runs lives with the client (`moadian::sandbox::TestIdentity`).
//!
//! It behaves like the real server as the official connection guide (RC_TICS.IS) and error
//! catalogue (RC_TXPS.EC_V02) describe it — strict where that catches client mistakes, lenient
//! where the real server is lenient:
//!
//! * `nonce` (10..200 s, 4146), single-use nonces `<uuid>-<ms>`; every other call needs
//!   `Authorization: Bearer <JWS>` verified against its own `x5c` certificate (four- or six-key
//!   headers in any order, `crit: ["sigT"]` required, `sigT` in UTC or local forms, any
//!   whitespace after `Bearer`), codes 4101/4102/4103/4110/4130/4131/4134/4135/4136/4148; no
//!   token → HTTP 401 with an empty body (as the catalogue says).
//! * `POST invoice`: envelope codes 4143/4144/4145/4162/4163 at once; then asynchronously the
//!   JWE is decrypted with the sandbox key (04150/04152/04153; a missing `kid` is tolerated), the
//!   inner JWS verified (04130/04131), the certificate checked against the memory ID
//!   (04148/04133/04132), the content re-checked by [`moadian_core::rules::validate`] plus server-only
//!   checks: tax ID vs memory ID and issue day (0300101), `tins` vs the registered economic
//!   number (0300901), and a tax ID that already reached SUCCESS fails again with
//!   [`processing::DUPLICATE_TAXID_CODE`] — **a sandbox-defined use** of `0300101`: the official
//!   catalogue names no code for a re-sent tax ID.
//! * Inquiries: ≤100 ids (4141), `start` < `end` (4140), window ≤ 1 week (4164), status filter
//!   (4142), paging where 0 and 1 are the first page, NOT_FOUND outside the window or unknown.
//! * Fault knobs ([`Faults`]): latency, a rate of HTTP 500 answers with a 5xxx code, dropping the
//!   connection before or after the invoices are recorded, invoices stuck IN_PROGRESS or ending
//!   TIMEOUT, acknowledged invoices forgotten (NOT_FOUND), the encryption key rotating when an
//!   invoice POST arrives (04150 for packets encrypted to the old key), a `serverTime` offset;
//!   a pinned clock; a seed for deterministic fault draws. The ledger counts how often each
//!   fault fired.
//! * The [`Ledger`] of every tax ID received and how often it reached SUCCESS:
//!   `GET /sandbox/ledger` or [`RunningSandbox::ledger`]. `GET`/`PUT /sandbox/faults` read and
//!   change the knobs of a running sandbox.
//!
//! ```no_run
//! # async fn demo() -> Result<(), moadian_sandbox::SandboxError> {
//! use moadian_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("{}", sandbox.base_url()); // http://127.0.0.1:PORT/requestsmanager/api/v2/
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod errors;
pub mod inquiry;
pub mod invoice;
pub mod jose;
pub mod ledger;
pub mod persist;
pub mod processing;
pub mod registry;
pub mod server;
pub mod state;
pub mod taxid;

pub use config::{
    ConfigError, Faults, SandboxConfig, TaxpayerConfig, DEMO_AUTH_CLIENT_ID, DEMO_MEMORY_ID,
    DEMO_NATIONAL_ID,
};
pub use ledger::{FaultCounts, Ledger, LedgerEntry};
pub use processing::DUPLICATE_TAXID_CODE;
pub use server::{SandboxError, API_PREFIX};
pub use state::UNLISTED_STATUS;

use state::{lock, AppState};
use std::net::SocketAddr;

/// Every code the sandbox can emit by itself (envelope codes, transport codes inside inquiry
/// results, its own content checks). Codes of [`moadian_core::rules::validate`] findings come from the
/// rules engine and are not listed here.
pub const EMITTED_CODES: &[&str] = &[
    // envelope (HTTP 4xx/5xx)
    "4100", "4101", "4102", "4103", "4110", "4130", "4131", "4134", "4135", "4136", "4140", "4141",
    "4142", "4143", "4144", "4145", "4146", "4147", "4148", "4160", "4162", "4163", "4164", "4170",
    "4171", "5051", "5119", "5139", "5199",
    // transport layer, inside FAILED inquiry results
    "04130", "04131", "04132", "04133", "04148", "04150", "04152", "04153",
    // content checks of the server (0300101 also for the sandbox-defined duplicate)
    "0100010", "0300101", "0300901", "00000",
];

/// Where the built-in sandbox keeps its state for a queue file: beside it, named after it
/// (`queue.sqlite` → `queue.sandbox-state.sqlite`), so a queue and the server it was sent to
/// are kept, restored and reset together.
pub fn state_file_beside(queue: &std::path::Path) -> std::path::PathBuf {
    let stem = queue
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "queue".into());
    queue.with_file_name(format!("{stem}.sandbox-state.sqlite"))
}

/// Entry point: `Sandbox::start(config).await`.
#[derive(Debug, Clone, Copy)]
pub struct Sandbox;

impl Sandbox {
    /// Starts a sandbox on 127.0.0.1 (the configured port or a free one).
    pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        let cfg = config.clone();
        let (state, pending) =
            tokio::task::spawn_blocking(move || server::build_state_restored(&cfg))
                .await
                .map_err(|e| SandboxError::Key(e.to_string()))??;
        if !pending.is_empty() {
            tracing::info!(
                count = pending.len(),
                "sandbox: examining invoices received before the restart"
            );
            invoice::process_in_background(state.clone(), pending);
        }
        let (addr, stop, task) = server::serve(state.clone(), config.port).await?;
        tracing::info!(%addr, "sandbox listening");
        Ok(RunningSandbox {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A sandbox serving in the background; dropping it stops the server.
pub struct RunningSandbox {
    addr: SocketAddr,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSandbox")
            .field("addr", &self.addr)
            .finish()
    }
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT/requestsmanager/api/v2/` (with the trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}{}/", self.addr, API_PREFIX)
    }

    /// `http://127.0.0.1:PORT/` (the `/sandbox/…` endpoints live there).
    pub fn root_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the ledger.
    pub fn ledger(&self) -> Ledger {
        lock(&self.state.store).ledger.clone()
    }

    /// The current fault knobs.
    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Replaces the fault knobs (checked first).
    pub fn set_faults(&self, faults: Faults) -> Result<(), ConfigError> {
        faults.check()?;
        *lock(&self.state.faults) = faults;
        Ok(())
    }

    /// Changes some knobs in place: `sandbox.update_faults(|f| f.stuck_in_progress = false)`.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) -> Result<(), ConfigError> {
        let mut f = self.faults();
        change(&mut f);
        self.set_faults(f)
    }

    /// The sandbox clock (Unix ms).
    pub fn now_ms(&self) -> i64 {
        self.state.now_ms()
    }

    /// Makes a nonce known for `ttl_secs` (e.g. the nonce of the guide's example token).
    pub fn seed_nonce(&self, nonce: &str, ttl_secs: u64) {
        let exp = self.state.now_ms() + i64::try_from(ttl_secs).unwrap_or(200) * 1000;
        self.state.remember_nonce(nonce, exp);
    }

    /// The sandbox's public key (SPKI DER) and its id, as `server-information` publishes them.
    pub fn server_key(&self) -> (Vec<u8>, String) {
        let (id, spki) = self.state.published_key();
        (spki, id)
    }

    /// Rotates the encryption key now (a fresh RSA key under a new id); returns the new id.
    pub fn rotate_key(&self) -> Result<String, SandboxError> {
        self.state.rotate_key().map_err(SandboxError::Key)
    }

    /// Stops serving and waits (at most 5 s) for open requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
    }

    /// Serves until the process gets Ctrl-C.
    pub async fn serve_until_ctrl_c(self) -> std::io::Result<()> {
        tokio::signal::ctrl_c().await?;
        self.shutdown().await;
        Ok(())
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
