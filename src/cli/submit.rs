//! `moadian submit`: validate, queue, sign, send and follow invoices to a final status.
//! Also home of what `enqueue`, `run`, `status` and `inquire` share: choosing the taxpayer
//! (profile or `--sandbox`), opening the queue, the signer and the API client.

use super::Global;
use crate::api::{Client, ClientOptions};
use crate::config::{self, Config, Endpoint, Profile};
use crate::crypto::{SignError, Signer};
use crate::pipeline::{self, PassOptions, PollOptions};
use crate::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use anyhow::Context as _;
use moadian_queue::{
    Enqueued, InvoiceId, QueueError, QueueOptions, RunnerStore, SqliteQueue, Store,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which taxpayer, which queue, which server: shared by submit / enqueue / run / status / inquire.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Use the built-in sandbox (started in-process) with a generated test identity for the
    /// demo taxpayer A11216 / 14003778990, and a sandbox-only queue file.
    #[arg(long)]
    pub sandbox: bool,
    /// The queue file (default: in the user's data directory, one per memory ID).
    #[arg(long, value_name = "FILE")]
    pub queue: Option<PathBuf>,
    /// Profile of moadian.toml to use.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// moadian.toml to read (default: ./moadian.toml, then the user's config directory).
    #[arg(long, value_name = "FILE", env = "MOADIAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override the profile's endpoint: production, tax-sandbox or a base URL.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
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
}

fn env_ms(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_millis)
}

impl Session {
    /// Reads the profile (or makes the sandbox one) and starts the sandbox when asked.
    pub async fn open(t: &Target) -> anyhow::Result<Session> {
        if t.sandbox {
            return Self::open_sandbox(t).await;
        }
        let found = Config::discover(t.config.as_deref())?;
        let Some((path, cfg)) = found else {
            anyhow::bail!(
                "no moadian.toml found (looked in: {}). Copy examples/moadian.toml there and fill in your taxpayer, or try --sandbox / فایل moadian.toml پیدا نشد؛ نمونه را از examples/moadian.toml کپی کنید یا ‎--sandbox‎ را امتحان کنید",
                config::default_paths()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let (name, mut profile) = cfg.profile(t.profile.as_deref(), &path)?;
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
        cfg.faults.processing_delay_ms = env_ms("MOADIAN_SANDBOX_DELAY_MS")
            .map(|d| d.as_millis() as u64)
            .unwrap_or(1500);
        let sb = Sandbox::start(cfg)
            .await
            .context("cannot start the built-in sandbox")?;
        let profile = Profile {
            memory_id: crate::sandbox::config::DEMO_MEMORY_ID.into(),
            national_id: crate::sandbox::config::DEMO_NATIONAL_ID.into(),
            economic_code: Some(crate::sandbox::config::DEMO_NATIONAL_ID.into()),
            endpoint: Endpoint::Sandbox,
            batch_size: crate::api::MAX_BATCH,
            queue: None,
            signer: None,
        };
        Ok(Session {
            queue_path: t.queue.clone().unwrap_or_else(|| dir.join("queue.sqlite")),
            base_url: sb.base_url(),
            sandbox: Some(sb),
            profile,
            profile_name: "sandbox".into(),
            sandbox_identity: Some(identity),
        })
    }

    /// Queue options: the NOT_FOUND grace is short for the local sandbox (it forgets everything
    /// when it stops), else 10 minutes; `MOADIAN_NOT_FOUND_GRACE_MS` overrides.
    pub fn queue_options(&self) -> QueueOptions {
        let mut o = QueueOptions::default();
        if self.sandbox.is_some() {
            o.not_found_grace = Duration::from_secs(3);
        }
        if let Some(g) = env_ms("MOADIAN_NOT_FOUND_GRACE_MS") {
            o.not_found_grace = g;
        }
        o
    }

    /// Opens (creating) the queue file.
    pub fn open_queue(&self) -> anyhow::Result<SqliteQueue> {
        if let Some(dir) = self
            .queue_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(SqliteQueue::open_with(
            &self.queue_path,
            self.queue_options(),
        )?)
    }

    /// Opens the signer (token or key file) off the async runtime, checking its certificate
    /// belongs to the profile's national ID.
    pub async fn open_signer(&self) -> anyhow::Result<Arc<CountingSigner>> {
        let signer: Box<dyn Signer> = if let Some(id) = &self.sandbox_identity {
            let key = id.key_path.clone();
            let cert = id.cert_path.clone();
            tokio::task::spawn_blocking(move || -> Result<Box<dyn Signer>, SignError> {
                let s = crate::crypto::keyfile::KeyFileSigner::open(
                    &key,
                    Some(&cert),
                    &crate::crypto::pin::PinSource::None,
                )?;
                Ok(Box::new(s))
            })
            .await??
        } else {
            let cfg: crate::crypto::config::SignerConfig = self
                .profile
                .signer_config()?
                .ok_or_else(|| anyhow::anyhow!(
                    "profile {} has no [profiles.{}.signer] section: give pkcs11_module/token_label or key_file/cert_file / بخش signer در پروفایل نیست",
                    self.profile_name, self.profile_name
                ))?;
            let nid = self.profile.national_id.clone();
            tokio::task::spawn_blocking(move || {
                crate::crypto::config::open_signer(
                    &cfg,
                    crate::crypto::pin::PinSource::Interactive,
                    Some(&nid),
                )
            })
            .await??
        };
        Ok(Arc::new(CountingSigner::new(signer)))
    }

    /// The API client signing with `signer`.
    pub fn client(&self, signer: Arc<CountingSigner>) -> anyhow::Result<Arc<Client>> {
        let signer: Arc<dyn Signer> = signer;
        Ok(Arc::new(Client::new(
            &self.base_url,
            &self.profile.memory_id,
            signer,
            ClientOptions::from_env(),
        )?))
    }
}

/// A signer that counts its signatures (auth tokens and invoices alike).
pub struct CountingSigner {
    inner: Box<dyn Signer>,
    count: AtomicU64,
}

impl CountingSigner {
    pub fn new(inner: Box<dyn Signer>) -> Self {
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

/// `submit` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// How long to wait for final statuses after sending (e.g. 90s, 10m; 0 = don't wait).
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Compute what follows from the lines (prdis, adis, vam, tsstam, totals) before validating.
    #[arg(long)]
    pub fill: bool,
    /// Invoice files or directories (JSON).
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang.unwrap_or_default();
    let session = Session::open(&args.target).await?;
    let queue = session.open_queue()?;
    let runner = Arc::new(queue.acquire_runner()?);
    let (ids, refused) = enqueue_paths(&session, runner.queue(), &args.paths, args.fill)?;
    let progress = super::status::Progress::new(!args.json);
    let stopped = send_and_poll(&session, runner.clone(), args.wait, &progress).await?;
    progress.finish();
    let report = pipeline::report::build(runner.queue(), Some(ids), None, lang)?;
    super::status::print_report(&report, &refused, stopped.as_ref(), args.json, lang)?;
    Ok(
        if report.all_success() && refused.is_empty() && stopped.is_none() {
            0
        } else {
            1
        },
    )
}

/// An input the queue refused (not an invoice row): source and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    pub source: String,
    pub error: String,
}

/// load → prepare → validate → enqueue. Returns the queue ids of the inputs (including ones
/// already in the queue: the same tax ID already SUCCESS or in flight) and the refusals.
pub fn enqueue_paths(
    session: &Session,
    queue: &SqliteQueue,
    paths: &[PathBuf],
    fill: bool,
) -> anyhow::Result<(Vec<InvoiceId>, Vec<Refusal>)> {
    for p in paths {
        if !p.exists() {
            anyhow::bail!(
                "{} does not exist / مسیر {} وجود ندارد",
                p.display(),
                p.display()
            );
        }
    }
    let memory_id = crate::invoice::MemoryId::parse(&session.profile.memory_id)
        .map_err(|e| anyhow::anyhow!("memory_id of the profile: {}", e.message().en))?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut inputs = pipeline::load_inputs(paths);
    if fill {
        for i in &mut inputs {
            if let Ok(v) = &mut i.value {
                if let Err(e) = crate::import::fill::fill_invoice(v) {
                    i.value = Err(e);
                }
            }
        }
    }
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    // Chunks keep memory flat for large inputs; each chunk is one transaction.
    let mut it = inputs.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<_> = it
            .by_ref()
            .take(1000)
            .map(|i| pipeline::prepare(i, &memory_id, now))
            .collect();
        for r in queue.enqueue_batch(chunk)? {
            match r {
                Enqueued::Inserted(p) | Enqueued::Replaced(p) | Enqueued::Unchanged(p) => {
                    ids.push(p.id)
                }
                Enqueued::Refused { source, error } => match &error {
                    QueueError::TaxIdSucceeded { invoice, .. }
                    | QueueError::TaxIdInFlight { invoice, .. } => ids.push(*invoice),
                    _ => refused.push(Refusal {
                        source,
                        error: error.to_string(),
                    }),
                },
            }
        }
    }
    ids.sort();
    ids.dedup();
    Ok((ids, refused))
}

/// Opens the signer only if there is something to send or follow, runs the pass, and returns
/// why it stopped early (if it did), in both languages.
pub async fn send_and_poll(
    session: &Session,
    runner: Arc<moadian_queue::SqliteRunner>,
    wait: Duration,
    obs: &dyn pipeline::Observer,
) -> anyhow::Result<Option<crate::lang::Message>> {
    let memory_id = session.profile.memory_id.clone();
    let work = {
        let r = runner.clone();
        let m = memory_id.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let queued = !r.next_sendable(&m, 1, None)?.is_empty();
            let open = !pipeline::poll::open_attempts(r.queue(), &m)?.is_empty();
            Ok(queued || open)
        })
        .await??
    };
    if !work {
        return Ok(None);
    }
    let signer = match session.open_signer().await {
        Ok(s) => s,
        Err(e) => {
            return Ok(Some(match e.downcast_ref::<SignError>() {
                Some(se) => se.message(),
                None => crate::lang::Message::new(e.to_string(), e.to_string()),
            }))
        }
    };
    let client = session.client(signer.clone())?;
    let opts = PassOptions {
        batch_size: session.profile.batch(),
        wait,
        poll: poll_options(session),
        ..PassOptions::default()
    };
    let stats = pipeline::run_pass(runner, client, &opts, obs).await?;
    tracing::info!(
        signatures = signer.count(),
        posted = stats.send.posted,
        inquiries = stats.poll.inquiries,
        "pass done"
    );
    Ok(stats.stopped.map(|s| s.message()))
}

/// Polling pace: quick against the local sandbox, patient against the real server.
pub fn poll_options(session: &Session) -> PollOptions {
    let mut p = PollOptions::from_env();
    if session.sandbox.is_some() && std::env::var_os("MOADIAN_POLL_FIRST_MS").is_none() {
        p.first_delay = Duration::from_millis(1000);
        p.max_delay = Duration::from_secs(3);
    }
    p
}
