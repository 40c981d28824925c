//! Which taxpayer, which queue, which server — shared by `submit`, `enqueue`, `run`, `status`,
//! `inquire`, `report` and the referral commands: the profile or `--sandbox` (with its test
//! identity on a SoftHSM token), the queue file, the signer and the API client.

use super::signer_args::{ProfileArgs, TaxpayerArgs};
use crate::api::{Client, ClientOptions};
use crate::config::{self, Endpoint, Profile};
use crate::crypto::{SignError, Signer};
use crate::lang::Message;
use crate::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use anyhow::Context as _;
use moadian_queue::{AnyQueue, QueueOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which taxpayer, which queue, which server, which signer: shared by every command that signs
/// (submit / enqueue / run / inquire / correct / cancel / return).
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Use the built-in sandbox (started in-process) with a generated test identity for the
    /// demo taxpayer A11216 / 14003778990, and a sandbox-only queue file.
    #[arg(long)]
    pub sandbox: bool,
    /// The queue file (default: in the user's data directory, one per memory ID), or a
    /// PostgreSQL queue shared by several runners: postgres://USER@HOST/DB.
    #[arg(long, value_name = "FILE|URL")]
    pub queue: Option<PathBuf>,
    /// Override the profile's endpoint: production, tax-sandbox or a base URL (e.g. the one
    /// `moadian sandbox serve` prints).
    #[arg(long, value_name = "URL", value_parser = crate::config::endpoint_arg)]
    pub endpoint: Option<String>,
    #[command(flatten)]
    pub who: TaxpayerArgs,
}

/// Which queue, for the commands that only read it (`status`, `report`): no profile is needed
/// when `--queue FILE` (or `--memory-id`, for the default queue file) says which.
#[derive(Debug, Clone, clap::Args)]
pub struct QueueTarget {
    /// Read the built-in sandbox's queue file.
    #[arg(long)]
    pub sandbox: bool,
    /// The queue file (default: the profile's, else the one of --memory-id in the user's data
    /// directory), or a PostgreSQL queue: postgres://USER@HOST/DB.
    #[arg(long, value_name = "FILE|URL")]
    pub queue: Option<PathBuf>,
    /// Memory ID whose default queue file to read (instead of a profile).
    #[arg(long, value_name = "ID")]
    pub memory_id: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// Whether a `--queue` value (or a profile's `queue = …`) names a PostgreSQL queue.
pub fn is_postgres(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(moadian_queue::postgres::is_url)
}

/// The queue as shown to a person: a file's path, or a URL without its password.
pub fn shown(path: &std::path::Path) -> String {
    match path.to_str() {
        Some(s) if moadian_queue::postgres::is_url(s) => moadian_queue::postgres::redact(s),
        _ => path.display().to_string(),
    }
}

/// Run `f` on the queue opened read-only (a file, or a PostgreSQL URL), on a thread that may
/// block (the PostgreSQL client blocks; the queue is opened, used and closed inside `f`'s call).
pub fn with_read_only_queue<R>(
    path: &std::path::Path,
    f: impl FnOnce(&moadian_queue::AnyQueue) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    let spec = path.to_string_lossy().into_owned();
    tokio::task::block_in_place(|| {
        let queue = moadian_queue::AnyQueue::open_read_only(&spec)?;
        f(&queue)
    })
}

impl QueueTarget {
    /// The queue file: `--queue`, else the sandbox's, else the profile's (a profile is read only
    /// when named or when `--memory-id` is not given), else the memory ID's default one.
    pub fn queue_path(&self) -> anyhow::Result<PathBuf> {
        if let Some(q) = &self.queue {
            return Ok(q.clone());
        }
        if self.sandbox {
            return Ok(config::sandbox_dir().join("queue.sqlite"));
        }
        if let Some((_, p)) = self.profile.load_named(self.memory_id.is_none())? {
            let memory_id = self.memory_id.clone().unwrap_or(p.memory_id);
            return Ok(p
                .queue
                .filter(|_| self.memory_id.is_none())
                .unwrap_or_else(|| config::default_queue_path(&memory_id)));
        }
        match &self.memory_id {
            Some(m) => Ok(config::default_queue_path(m)),
            None => anyhow::bail!(
                "which queue? give --queue FILE, --memory-id ID or --sandbox (no moadian.toml found in: {}) / کدام صف؟ ‎--queue FILE‎ یا ‎--memory-id ID‎ یا ‎--sandbox‎ را بدهید",
                searched()
            ),
        }
    }
}

/// Where `moadian.toml` was looked for, for messages.
fn searched() -> String {
    config::default_paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The chosen taxpayer with everything needed to talk about it.
pub struct Session {
    pub profile: Profile,
    pub profile_name: String,
    pub queue_path: PathBuf,
    /// The in-process sandbox, for `--sandbox` (kept alive as long as the session).
    pub sandbox: Option<RunningSandbox>,
    /// Where the API is (known once the sandbox runs).
    pub base_url: String,
    /// Key/cert files of the sandbox test identity.
    sandbox_identity: Option<crate::sandbox::identity::TestIdentity>,
    /// CSV encoding and size limits for the input files (`--encoding`, `--max-…`).
    pub input: crate::import::limits::ReadOptions,
    /// The sending deadline the rules judge enqueued invoices by (`--deadline-days`).
    pub deadline: super::validate::DeadlineArgs,
    /// Signer flags of the command line, over the profile's `[signer]`.
    signer_flags: super::signer_args::SignerArgs,
    /// Retries and outage deadline of the API client (see [`super::pacing`]).
    pub retry: crate::api::RetryPolicy,
    /// Polling pace.
    pub poll: crate::pipeline::PollOptions,
}

/// Label and PIN of the SoftHSM token that holds the sandbox's test identity (a test token:
/// its PIN is no secret).
pub const SANDBOX_TOKEN_LABEL: &str = "moadian-sandbox";
const SANDBOX_TOKEN_PIN: &str = "1234";
const SANDBOX_TOKEN_SO_PIN: &str = "12345678";

/// Puts the sandbox test identity on a SoftHSM token under `dir` (once) and returns the signer
/// settings for it; `None` when SoftHSM is not installed (the key file is used then).
fn sandbox_token(
    dir: &std::path::Path,
    id: &crate::sandbox::identity::TestIdentity,
) -> Option<crate::crypto::config::SignerConfig> {
    use crate::crypto::softhsm::{module_path, SoftHsm};
    module_path().ok()?;
    std::fs::create_dir_all(dir).ok()?;
    let hsm = SoftHsm::setup(dir).ok()?;
    let marker = dir.join("identity-imported");
    if !marker.exists() {
        let key = openssl::pkey::PKey::private_key_from_pkcs8(&id.key_pkcs8_der).ok()?;
        let cert = openssl::x509::X509::from_der(&id.cert_der).ok()?;
        let made = hsm
            .init_token(SANDBOX_TOKEN_LABEL, SANDBOX_TOKEN_SO_PIN, SANDBOX_TOKEN_PIN)
            .and_then(|_| {
                hsm.import(
                    SANDBOX_TOKEN_LABEL,
                    SANDBOX_TOKEN_PIN,
                    &[1],
                    &key,
                    &cert,
                    None,
                )
            });
        if let Err(e) = made {
            tracing::warn!(error = %e, "cannot put the sandbox identity on SoftHSM; using the key file");
            return None;
        }
        let _ = std::fs::write(&marker, b"ok\n");
    }
    Some(crate::crypto::config::SignerConfig {
        pkcs11_module: Some(hsm.module.clone()),
        token_label: Some(SANDBOX_TOKEN_LABEL.into()),
        ..Default::default()
    })
}

impl Session {
    /// Reads the profile (or makes the sandbox one) and starts the sandbox when asked.
    pub async fn open(t: &Target) -> anyhow::Result<Session> {
        if t.sandbox {
            let w = &t.who;
            if w.memory_id.is_some() || w.national_id.is_some() || w.signer.any() {
                anyhow::bail!(
                    "--sandbox runs as its own test taxpayer (A11216 / 14003778990) with its own test key; leave out --memory-id, --national-id and the signer flags, or use --endpoint URL of a `moadian sandbox serve` instead of --sandbox / ‎--sandbox‎ با مودی و کلید آزمایشی خودش کار می‌کند؛ این پرچم‌ها را ندهید یا به جای آن ‎--endpoint‎ بدهید"
                );
            }
            return Self::open_sandbox(t).await;
        }
        let Some((name, mut profile)) = t.who.resolve()? else {
            anyhow::bail!(
                "no moadian.toml found (looked in: {}). Give the taxpayer and signer as flags (--memory-id ID --national-id ID with --token-label LABEL or --key FILE --cert FILE), run `moadian init`, or try --sandbox / فایل moadian.toml پیدا نشد؛ مودی و امضاکننده را با ‎--memory-id‎ و ‎--national-id‎ و ‎--token-label‎ یا ‎--key‎ بدهید، ‎moadian init‎ را اجرا کنید، یا ‎--sandbox‎ را امتحان کنید",
                searched()
            );
        };
        if let Some(e) = &t.endpoint {
            profile.endpoint = Endpoint::parse(e);
        }
        if profile.endpoint == Endpoint::Sandbox {
            let mut s = Self::open_sandbox(t).await?;
            s.profile_name = name;
            return Ok(s);
        }
        let base_url = profile.endpoint.url().unwrap_or_default();
        let queue_path = t
            .queue
            .clone()
            .or_else(|| profile.queue.clone())
            .unwrap_or_else(|| config::default_queue_path(&profile.memory_id));
        Ok(Session {
            profile,
            profile_name: name,
            queue_path,
            sandbox: None,
            base_url,
            sandbox_identity: None,
            input: Default::default(),
            deadline: Default::default(),
            signer_flags: t.who.signer.clone(),
            retry: crate::api::RetryPolicy::from_env(),
            poll: crate::pipeline::PollOptions::from_env(),
        })
    }

    async fn open_sandbox(t: &Target) -> anyhow::Result<Session> {
        let dir = config::sandbox_dir();
        let id_dir = dir.join("identity");
        let identity = tokio::task::spawn_blocking(move || {
            crate::sandbox::identity::TestIdentity::ensure(&id_dir)
        })
        .await??;
        let mut cfg = SandboxConfig::default();
        cfg.faults.processing_delay_ms = crate::pipeline::poll::env_ms("MOADIAN_SANDBOX_DELAY_MS")
            .map(|d| d.as_millis() as u64)
            .unwrap_or(1500);
        if let Some(bits) = std::env::var("MOADIAN_SANDBOX_KEY_BITS")
            .ok()
            .and_then(|b| b.parse().ok())
        {
            cfg.server_key_bits = bits;
        }
        let queue_path = t.queue.clone().unwrap_or_else(|| dir.join("queue.sqlite"));
        cfg.state_file = Some(if is_postgres(&queue_path) {
            // No file to sit beside: one state file per PostgreSQL queue in the sandbox's
            // folder, named by the URL without its password.
            use sha2::Digest;
            let h = sha2::Sha256::digest(shown(&queue_path).as_bytes());
            let name: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
            dir.join(format!("pg-{name}.sandbox-state.sqlite"))
        } else {
            crate::sandbox::state_file_beside(&queue_path)
        });
        let sb = Sandbox::start(cfg)
            .await
            .context("cannot start the built-in sandbox")?;
        let profile = Profile {
            economic_code: Some(crate::sandbox::config::DEMO_NATIONAL_ID.into()),
            endpoint: Endpoint::Sandbox,
            ..Profile::new(
                crate::sandbox::config::DEMO_MEMORY_ID,
                crate::sandbox::config::DEMO_NATIONAL_ID,
            )
        };
        Ok(Session {
            queue_path,
            base_url: sb.base_url(),
            sandbox: Some(sb),
            profile,
            profile_name: "sandbox".into(),
            sandbox_identity: Some(identity),
            input: Default::default(),
            deadline: Default::default(),
            signer_flags: Default::default(),
            retry: crate::api::RetryPolicy::from_env(),
            poll: sandbox_poll(),
        })
    }

    /// Applies the pacing flags and profile keys (`run`, `submit`).
    pub fn apply_pacing(&mut self, p: &super::pacing::PacingArgs) -> anyhow::Result<()> {
        let (retry, poll) = p.resolve(&self.profile, self.retry.clone(), self.poll.clone())?;
        self.retry = retry;
        self.poll = poll;
        Ok(())
    }

    /// Queue options: the NOT_FOUND grace is short for the local sandbox (it forgets everything
    /// when it stops), else 10 minutes; `MOADIAN_NOT_FOUND_GRACE_MS` overrides.
    pub fn queue_options(&self) -> QueueOptions {
        let mut o = QueueOptions::default();
        if self.sandbox.is_some() {
            o.not_found_grace = Duration::from_secs(3);
        }
        if let Some(g) = crate::pipeline::poll::env_ms("MOADIAN_NOT_FOUND_GRACE_MS") {
            o.not_found_grace = g;
        }
        o
    }

    /// Opens (creating) the queue: a file, or a PostgreSQL queue when `--queue` / the
    /// profile's `queue` is a `postgres://` URL.
    pub fn open_queue(&self) -> anyhow::Result<AnyQueue> {
        if is_postgres(&self.queue_path) {
            let spec = self.queue_path.to_string_lossy().into_owned();
            let mut q = moadian_queue::PgQueue::open_with(&spec, self.queue_options())?;
            // How long a dead runner's memory IDs wait before another runner takes them over.
            if let Some(ttl) = crate::pipeline::poll::env_ms("MOADIAN_LEASE_TTL_MS") {
                q = q.with_lease_ttl(ttl);
            }
            return Ok(AnyQueue::Postgres(q));
        }
        if let Some(dir) = self
            .queue_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        AnyQueue::open_file(&self.queue_path, self.queue_options()).map_err(|e| match e {
            // Both languages: the file, what is wrong, what to do.
            moadian_queue::QueueError::EmptyFile { .. } => {
                anyhow::anyhow!("{e}\n{}", e.persian())
            }
            e => e.into(),
        })
    }

    /// The signer settings and PIN source of this session: the profile's, or for the sandbox
    /// its SoftHSM token (else the test identity's key file).
    async fn signer_settings(
        &self,
    ) -> anyhow::Result<(crate::crypto::SignerConfig, crate::crypto::PinSource)> {
        use crate::crypto::{Pin, PinSource, SignerConfig};
        if let Some(id) = &self.sandbox_identity {
            let hsm_dir = crate::config::sandbox_dir().join("softhsm");
            let ident = id.clone();
            let on_token =
                tokio::task::spawn_blocking(move || sandbox_token(&hsm_dir, &ident)).await?;
            let threads = self.signer_flags.sign_threads.map(usize::from);
            return Ok(match on_token {
                Some(cfg) => (
                    SignerConfig {
                        sign_threads: threads,
                        ..cfg
                    },
                    PinSource::Given(Pin::new(SANDBOX_TOKEN_PIN)),
                ),
                None => (
                    SignerConfig {
                        key_file: Some(id.key_path.clone()),
                        cert_file: Some(id.cert_path.clone()),
                        sign_threads: threads,
                        ..Default::default()
                    },
                    PinSource::None,
                ),
            });
        }
        let base: Option<SignerConfig> = self.profile.signer_config()?;
        if base.is_none() && !self.signer_flags.any() {
            anyhow::bail!(
                "no signer: give --pkcs11-module PATH --token-label LABEL (a token) or --key FILE --cert FILE, or a [profiles.{}.signer] section in moadian.toml / امضاکننده مشخص نیست: ‎--token-label‎ یا ‎--key‎ و ‎--cert‎ را بدهید",
                self.profile_name
            );
        }
        let cfg = self.signer_flags.over(&base.unwrap_or_default());
        Ok((cfg, PinSource::Interactive))
    }

    /// How many threads sign: `--sign-threads`, else the profile's `sign_threads`, else one
    /// per core.
    pub fn sign_threads(&self) -> usize {
        let profile = self
            .profile
            .signer_config()
            .ok()
            .flatten()
            .and_then(|c: crate::crypto::SignerConfig| c.sign_threads);
        crate::crypto::config::sign_threads(
            self.signer_flags.sign_threads.map(usize::from).or(profile),
        )
    }

    /// Preflight (the doctor checks, once per run): opens the signer, checks the certificate
    /// against the profile's national ID and the key against the certificate, then — through
    /// the client — the server, the clock and the memory ID. `Err(message)` names every failed
    /// check with its fix; nothing may be sent then.
    pub async fn connect(
        &self,
    ) -> anyhow::Result<Result<(Arc<CountingSigner>, Arc<Client>), Message>> {
        Ok(self.connect_checked().await?.map_err(|f| f.message))
    }

    /// As [`Session::connect`], telling an unreachable or failing server apart.
    /// The doctor's checklist for this session — token, PIN state, certificate and its expiry,
    /// national ID ↔ certificate, then (when the signer opened) the server, the memory ID's
    /// owner and the clock — without stopping at the first failure.
    pub async fn checklist(&self) -> anyhow::Result<Vec<crate::crypto::checks::Check>> {
        use crate::pipeline::preflight;
        let (cfg, pin) = self.signer_settings().await?;
        let nid = self.profile.national_id.clone();
        let pre = preflight::run_offline(cfg, pin, Some(nid.clone())).await;
        let failed = pre.failed();
        let signer = pre.signer;
        let mut checks = pre.checks;
        if let (false, Some(s)) = (failed, signer) {
            let client = self.client(Arc::new(CountingSigner::new(s)))?;
            checks.extend(
                preflight::server_checks(&*client, &self.profile.memory_id, Some(&nid)).await,
            );
        }
        Ok(checks)
    }

    pub async fn connect_checked(
        &self,
    ) -> anyhow::Result<Result<(Arc<CountingSigner>, Arc<Client>), ConnectFailure>> {
        use crate::pipeline::preflight;
        let (cfg, pin) = self.signer_settings().await?;
        let nid = self.profile.national_id.clone();
        let pre = preflight::run_offline(cfg, pin, Some(nid.clone())).await;
        let signer = match (pre.failed(), pre.signer) {
            (false, Some(s)) => Arc::new(CountingSigner::new(s)),
            _ => {
                return Ok(Err(ConnectFailure {
                    message: failed_checks(&pre.checks),
                    outage: false,
                }))
            }
        };
        for c in &pre.checks {
            // The sandbox's test certificate is self-signed by design.
            let expected = self.sandbox.is_some() && c.id == "cert.self_signed";
            if c.status != crate::crypto::checks::CheckStatus::Ok && !expected {
                tracing::warn!("{}", c.line(crate::lang::Lang::En));
            }
        }
        let client = self.client(signer.clone())?;
        let online = preflight::server_checks(&*client, &self.profile.memory_id, Some(&nid)).await;
        if crate::crypto::checks::any_failed(&online) {
            let outage = online.iter().any(|c| {
                c.id == "server.unreachable" && c.status == crate::crypto::checks::CheckStatus::Fail
            });
            return Ok(Err(ConnectFailure {
                message: failed_checks(&online),
                outage,
            }));
        }
        Ok(Ok((signer, client)))
    }

    /// The API client signing with `signer`.
    pub fn client(&self, signer: Arc<CountingSigner>) -> anyhow::Result<Arc<Client>> {
        let signer: Arc<dyn Signer> = signer;
        Ok(Arc::new(Client::new(
            &self.base_url,
            &self.profile.memory_id,
            signer,
            ClientOptions {
                retry: self.retry.clone(),
                ..ClientOptions::default()
            },
        )?))
    }
}

/// Polling pace against the local sandbox: quick unless `MOADIAN_POLL_FIRST_MS` says otherwise.
fn sandbox_poll() -> crate::pipeline::PollOptions {
    let mut p = crate::pipeline::PollOptions::from_env();
    if std::env::var_os("MOADIAN_POLL_FIRST_MS").is_none() {
        p.first_delay = Duration::from_millis(250);
        p.max_delay = Duration::from_secs(3);
    }
    p
}

/// Why the session could not connect: the message (both languages) and whether the server
/// or the network is down (rather than the signer, certificate or memory ID being wrong).
pub struct ConnectFailure {
    pub message: Message,
    pub outage: bool,
}

/// The failed checks of a preflight, each with its fix, in both languages.
fn failed_checks(checks: &[crate::crypto::checks::Check]) -> Message {
    let bad: Vec<&crate::crypto::checks::Check> = checks
        .iter()
        .filter(|c| c.status == crate::crypto::checks::CheckStatus::Fail)
        .collect();
    let join = |lang| {
        bad.iter()
            .map(|c| c.line(lang))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Message::new(
        format!(
            "پیش‌بررسی ناموفق بود؛ چیزی ارسال نشد:\n{}",
            join(crate::lang::Lang::Fa)
        ),
        format!(
            "preflight failed; nothing was sent:\n{}",
            join(crate::lang::Lang::En)
        ),
    )
}

/// A signer that counts its signatures (auth tokens and invoices alike).
pub struct CountingSigner {
    inner: Arc<dyn Signer>,
    count: AtomicU64,
}

impl CountingSigner {
    pub fn new(inner: Arc<dyn Signer>) -> Self {
        Self {
            inner,
            count: AtomicU64::new(0),
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl Signer for CountingSigner {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inner.sign_rs256(message)
    }
    fn certificate_der(&self) -> &[u8] {
        self.inner.certificate_der()
    }
}
