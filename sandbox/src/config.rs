//! What a sandbox is started with: the port, the registered taxpayers, the clock, the fault
//! knobs and the randomness seed. Serde-able so `moadian sandbox serve --config FILE` can read it
//! from TOML; `Default` gives the demo taxpayer of the official connection guide and no faults.
//!
//! ```toml
//! port = 8090                        # 0 or absent: a free port
//! seed = 7                           # repeatable fault draws
//! pinned_clock_ms = 1709717760000    # clock starts at 2024-03-06T09:36:00Z
//! seed_nonces = ["91dc28af-4c95-47f0-9913-87f8162b1708-1709717749862"]
//!
//! [faults]
//! latency_ms = 50
//! error_rate = 0.05                  # HTTP 500 with error_code
//! error_code = "5199"                # 5051, 5119, 5139 or 5199
//! drop_after_accept_rate = 0.1       # lost responses
//! processing_delay_ms = 2000         # IN_PROGRESS that long
//! timeout_rate = 0.0                 # invoices ending TIMEOUT (not registered)
//! clock_offset_ms = -300000          # serverTime five minutes behind
//! rotate_key_rate = 0.0              # invoice POSTs that rotate the encryption key (04150)
//! rotate_key_next = 0
//! forget_after_accept_rate = 0.0     # acknowledged, then NOT_FOUND
//! forget_after_accept_next = 0
//! inquiry_errors_after = 3           # inquiries by uid after the third answer HTTP 500
//! too_many_requests_next = 2         # the next two requests answer HTTP 429
//! retry_after_secs = 30              # … with Retry-After: 30
//! taxid_inquiry_denied = false      # inquiry-invoice-status answers ACCESS_DENIED
//! retired_key_first = false         # server-information lists a retired key first (04150)
//! internal_error_next = 0           # packets failing inside the server (05151)
//! unlisted_status = false           # inquiries answer UNDER_REVIEW
//! errors_in_200_next = 0            # invoice POSTs answered 200 with errors, no result
//!
//! [[taxpayers]]
//! memory_id = "B22222"
//! national_id = "10100302746"
//! economic_code = "10100302746"
//! authorized_national_ids = ["0023457708"]
//! fiscal_status = "ACTIVE"           # fiscal-information's fiscalStatus, e.g. PERMANENT_UNAUTHORIZE
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Demo memory ID of the official example invoice (RC_TICS connection guide §7).
pub const DEMO_MEMORY_ID: &str = "A11216";
/// Memory ID used as `clientId` in the guide's example auth token (same taxpayer).
pub const DEMO_AUTH_CLIENT_ID: &str = "A11226";
/// Legal national ID / economic number of the demo taxpayer (the guide's certificate carries
/// it as subject serialNumber).
pub const DEMO_NATIONAL_ID: &str = "14003778990";

/// One registered memory ID (شناسه یکتای حافظه مالیاتی) and the taxpayer who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxpayerConfig {
    /// The 6-character memory ID (`clientId` / `fiscalId`).
    pub memory_id: String,
    /// National ID (legal, 11 digits) or national code (natural person, 10 digits) of the
    /// owner: the certificate's subject serialNumber must be this (4103 / 04132).
    pub national_id: String,
    /// Economic number (`tins` must equal it).
    pub economic_code: String,
    /// Trade name shown by `fiscal-information` / `taxpayer`.
    #[serde(default)]
    pub name_trade: Option<String>,
    /// Further national IDs allowed to sign invoices for this memory ID (e.g. a trusted
    /// company's, شرکت معتمد).
    #[serde(default)]
    pub authorized_national_ids: Vec<String>,
    /// `fiscalStatus` of `fiscal-information` (default `ACTIVE`).
    #[serde(default)]
    pub fiscal_status: Option<String>,
}

impl TaxpayerConfig {
    /// The built-in demo taxpayer: memory IDs `A11216` and `A11226`, national ID and economic
    /// number `14003778990`.
    pub fn demo() -> Vec<TaxpayerConfig> {
        [DEMO_MEMORY_ID, DEMO_AUTH_CLIENT_ID]
            .iter()
            .map(|m| TaxpayerConfig {
                memory_id: (*m).to_string(),
                national_id: DEMO_NATIONAL_ID.to_string(),
                economic_code: DEMO_NATIONAL_ID.to_string(),
                name_trade: Some("پیشخوان الکترونیک ایرانیان منطقه آزاد انزلی".to_string()),
                authorized_national_ids: Vec::new(),
                fiscal_status: None,
            })
            .collect()
    }
}

/// A fault-injection rate: the share (0.0–1.0) of requests a knob applies to.
pub type Rate = f64;

/// Fault knobs; all can be changed while the sandbox runs ([`super::RunningSandbox::set_faults`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every API answer, in milliseconds.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of API requests answered with HTTP 500 and `error_code`.
    pub error_rate: f64,
    /// The 5xxx code of those answers: one of 5051, 5119, 5139, 5199.
    pub error_code: String,
    /// Share of invoice POSTs whose connection is dropped before the invoices are recorded.
    pub drop_before_accept_rate: f64,
    /// Share of invoice POSTs whose connection is dropped after the invoices are recorded
    /// (the lost-response case: the server has them, the client never hears).
    pub drop_after_accept_rate: f64,
    /// The next N invoice POSTs are dropped before being recorded (counts down).
    pub drop_before_accept_next: u32,
    /// The next N invoice POSTs are dropped after being recorded (counts down).
    pub drop_after_accept_next: u32,
    /// How long a received invoice shows IN_PROGRESS before its final status, in ms.
    pub processing_delay_ms: u64,
    /// Invoices received while this is on stay IN_PROGRESS until it is switched off.
    pub stuck_in_progress: bool,
    /// Share of received invoices that end TIMEOUT (processing took too long; not registered,
    /// so sending the same tax ID again is legitimate).
    pub timeout_rate: f64,
    /// The next N received invoice packets end TIMEOUT (counts down).
    pub timeout_next: u32,
    /// Added to `serverTime` of `server-information` (simulates a server clock ahead/behind).
    pub clock_offset_ms: i64,
    /// The next N invoice POSTs each rotate the server's encryption key when they arrive,
    /// before their packets are examined (counts down): packets encrypted to the old key then
    /// fail 04150, as on the real server after a key change.
    pub rotate_key_next: u32,
    /// Share of invoice POSTs on whose arrival the encryption key rotates.
    pub rotate_key_rate: f64,
    /// The next N invoice packets are acknowledged with a reference number and then forgotten
    /// (counts down): inquiry answers NOT_FOUND although the POST was acknowledged.
    pub forget_after_accept_next: u32,
    /// Share of invoice packets acknowledged and then forgotten.
    pub forget_after_accept_rate: f64,
    /// Inquiries by uid answered as usual before every further one is answered HTTP 500 with
    /// `error_code` (counts down; absent: never): a server that fails in the middle of a sweep.
    pub inquiry_errors_after: Option<u32>,
    /// `inquiry-invoice-status` answers `error: "ACCESS_DENIED"` for every tax ID, also the
    /// caller's own (the connection guide §10 lists it beside NOT_FOUND): a server that will
    /// not say whether it holds a tax ID.
    pub taxid_inquiry_denied: bool,
    /// `server-information` lists, before the key in use, a retired key the server no longer
    /// decrypts with (packets encrypted to it fail 04150). The guide gives `publicKeys` as a
    /// list with no rule for choosing.
    pub retired_key_first: bool,
    /// The next N received packets fail inside the server (05151, «مشکل داخلی سمت سرور»),
    /// not registered (counts down).
    pub internal_error_next: u32,
    /// Inquiries by uid and reference answer a status word the connection guide does not list
    /// (`UNDER_REVIEW`) while this is on.
    pub unlisted_status: bool,
    /// The next N invoice POSTs are answered HTTP 200 with the error envelope
    /// (`errors: [{"code": "4145"}]`) and no result, nothing recorded (counts down).
    pub errors_in_200_next: u32,
    /// The next N API requests (any endpoint) are answered HTTP 429 Too Many Requests, as a
    /// rate limiter in front of the real server answers (counts down).
    pub too_many_requests_next: u32,
    /// `Retry-After` of those 429 answers, in seconds (absent: no header).
    pub retry_after_secs: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            error_code: "5199".to_string(),
            drop_before_accept_rate: 0.0,
            drop_after_accept_rate: 0.0,
            drop_before_accept_next: 0,
            drop_after_accept_next: 0,
            processing_delay_ms: 0,
            stuck_in_progress: false,
            timeout_rate: 0.0,
            timeout_next: 0,
            clock_offset_ms: 0,
            rotate_key_next: 0,
            rotate_key_rate: 0.0,
            forget_after_accept_next: 0,
            forget_after_accept_rate: 0.0,
            inquiry_errors_after: None,
            taxid_inquiry_denied: false,
            retired_key_first: false,
            internal_error_next: 0,
            unlisted_status: false,
            errors_in_200_next: 0,
            too_many_requests_next: 0,
            retry_after_secs: None,
        }
    }
}

/// How a sandbox starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Register the demo taxpayer (A11216 / A11226 → 14003778990). Default true.
    pub demo_taxpayer: bool,
    /// More taxpayers (`[[taxpayers]]` in the TOML file).
    pub taxpayers: Vec<TaxpayerConfig>,
    /// Fault knobs at start.
    pub faults: Faults,
    /// The sandbox clock reads this instant (Unix ms) when it starts and advances in real time
    /// from there. For tests: 2024-03-06 makes the official example token verify.
    pub pinned_clock_ms: Option<i64>,
    /// Seed for the fault decisions (deterministic runs); none = from the OS.
    pub seed: Option<u64>,
    /// Nonces known from the start (valid for `seed_nonce_ttl_secs`), e.g. the nonce of the
    /// guide's example token.
    pub seed_nonces: Vec<String>,
    /// Lifetime of `seed_nonces`, seconds from start.
    pub seed_nonce_ttl_secs: u64,
    /// PEM file of the sandbox's own RSA key (PKCS#8); none = the key kept in `state_file`, or
    /// a fresh key of `server_key_bits` (kept there when there is a state file).
    pub server_key_pem: Option<PathBuf>,
    /// Size of a freshly made sandbox key: 4096 like the real server's (its JWE wraps the key
    /// in 512 bytes); 2048 makes a faster start for benchmarks and tests.
    pub server_key_bits: u32,
    /// SQLite file where the sandbox keeps its key, received invoices, statuses, reference
    /// numbers and ledger across restarts; none = it forgets everything when it stops.
    pub state_file: Option<PathBuf>,
    /// Key id published in `server-information` (default: a fixed UUID).
    pub server_key_id: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            demo_taxpayer: true,
            taxpayers: Vec::new(),
            faults: Faults::default(),
            pinned_clock_ms: None,
            seed: None,
            seed_nonces: Vec::new(),
            seed_nonce_ttl_secs: 3600,
            server_key_pem: None,
            server_key_bits: 4096,
            state_file: None,
            server_key_id: None,
        }
    }
}

/// Problems with a sandbox configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read sandbox config {path}: {source} / فایل تنظیمات سندباکس خوانده نشد")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "sandbox config {path} is not valid TOML: {source} / فایل تنظیمات سندباکس TOML معتبر نیست"
    )]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("sandbox config: {0}")]
    Invalid(String),
}

impl SandboxConfig {
    /// Reads a TOML file (every key optional; `[faults]`, `[[taxpayers]]`).
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: SandboxConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks values a TOML file or a caller could get wrong.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.faults.check()?;
        if !matches!(self.server_key_bits, 2048 | 3072 | 4096) {
            return Err(ConfigError::Invalid(format!(
                "server_key_bits must be 2048, 3072 or 4096, not {}",
                self.server_key_bits
            )));
        }
        for t in &self.taxpayers {
            if !super::registry::valid_memory_id(&t.memory_id) {
                return Err(ConfigError::Invalid(format!(
                    "taxpayer memory_id {:?} must be 6 characters A-Z/0-9 (fix `memory_id` in [[taxpayers]])",
                    t.memory_id
                )));
            }
        }
        Ok(())
    }

    /// Every registered taxpayer: the demo (unless switched off) and the configured ones.
    pub fn all_taxpayers(&self) -> Vec<TaxpayerConfig> {
        let mut v = if self.demo_taxpayer {
            TaxpayerConfig::demo()
        } else {
            Vec::new()
        };
        v.extend(self.taxpayers.iter().cloned());
        v
    }
}

impl Faults {
    /// Rates within 0..1 and a known 5xxx code.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, r) in [
            ("error_rate", self.error_rate),
            ("drop_before_accept_rate", self.drop_before_accept_rate),
            ("drop_after_accept_rate", self.drop_after_accept_rate),
            ("timeout_rate", self.timeout_rate),
            ("rotate_key_rate", self.rotate_key_rate),
            ("forget_after_accept_rate", self.forget_after_accept_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(ConfigError::Invalid(format!(
                    "{name} = {r} must be between 0.0 and 1.0"
                )));
            }
        }
        if !super::errors::FAULT_CODES.contains(&self.error_code.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "error_code {:?} must be one of {:?}",
                self.error_code,
                super::errors::FAULT_CODES
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_with_taxpayers_and_faults() {
        let text = r#"
            port = 0
            pinned_clock_ms = 1709717755000
            seed = 7
            [faults]
            latency_ms = 5
            error_rate = 0.25
            error_code = "5051"
            [[taxpayers]]
            memory_id = "B22222"
            national_id = "10100302746"
            economic_code = "10100302746"
        "#;
        let cfg: SandboxConfig = toml::from_str(text).unwrap();
        cfg.check().unwrap();
        assert_eq!(cfg.faults.error_code, "5051");
        assert_eq!(cfg.all_taxpayers().len(), 3);
        let back = toml::to_string(&cfg).unwrap();
        let again: SandboxConfig = toml::from_str(&back).unwrap();
        assert_eq!(again, cfg);
    }

    #[test]
    fn bad_rate_and_code_are_refused() {
        let mut f = Faults {
            error_rate: 1.5,
            ..Faults::default()
        };
        assert!(f.check().is_err());
        f.error_rate = 0.1;
        f.error_code = "4000".into();
        assert!(f.check().is_err());
    }
}
