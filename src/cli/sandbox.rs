//! `moadian sandbox`: run the local sandbox of the tax API (`serve`), or make the test identity
//! that `--sandbox` runs sign with (`identity`).

use super::Global;
use crate::sandbox::{Sandbox, SandboxConfig, TestIdentity};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox on 127.0.0.1 until Ctrl-C; prints its base URL on stdout.
    Serve(Box<ServeArgs>),
    /// Make (once) the test key and "[Stamp]" certificate of the demo taxpayer; prints paths.
    Identity(IdentityArgs),
    /// Forget everything the built-in sandbox remembers: its queue and its server state (or the
    /// files given). Says what it will remove first; asks unless --yes.
    Reset(ResetArgs),
}

#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// The queue file to remove (default: the built-in sandbox's).
    #[arg(long, value_name = "FILE")]
    pub queue: Option<PathBuf>,
    /// The sandbox state file to remove (default: the one beside that queue).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Remove without asking.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Sandbox TOML file: taxpayers, faults, clock, seed (flags below override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Added latency per API answer, milliseconds.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Share of answers that are HTTP 500 with a 5xxx code (0.0–1.0).
    #[arg(long, value_name = "RATE")]
    pub error_rate: Option<f64>,
    /// The 5xxx code of those answers (5051, 5119, 5139, 5199).
    #[arg(long, value_name = "CODE")]
    pub error_code: Option<String>,
    /// Share of invoice POSTs dropped before the invoices are recorded.
    #[arg(long, value_name = "RATE")]
    pub drop_before_rate: Option<f64>,
    /// Share of invoice POSTs dropped after the invoices are recorded (lost response).
    #[arg(long, value_name = "RATE")]
    pub drop_after_rate: Option<f64>,
    /// Drop the next N invoice POSTs after recording them.
    #[arg(long, value_name = "N")]
    pub drop_after_next: Option<u32>,
    /// How long invoices show IN_PROGRESS, milliseconds.
    #[arg(long, value_name = "MS")]
    pub delay_ms: Option<u64>,
    /// Invoices stay IN_PROGRESS (until the knob is switched off via PUT /sandbox/faults).
    #[arg(long)]
    pub stuck: bool,
    /// Share of invoices that end TIMEOUT (not registered; a resend is legitimate).
    #[arg(long, value_name = "RATE")]
    pub timeout_rate: Option<f64>,
    /// The next N invoice packets end TIMEOUT.
    #[arg(long, value_name = "N")]
    pub timeout_next: Option<u32>,
    /// Share of invoice POSTs on whose arrival the encryption key rotates (packets encrypted to
    /// the old key then fail 04150).
    #[arg(long, value_name = "RATE")]
    pub rotate_key_rate: Option<f64>,
    /// The next N invoice POSTs each rotate the encryption key on arrival.
    #[arg(long, value_name = "N")]
    pub rotate_key_next: Option<u32>,
    /// Share of invoice packets acknowledged and then forgotten (inquiry: NOT_FOUND).
    #[arg(long, value_name = "RATE")]
    pub forget_after_accept_rate: Option<f64>,
    /// Added to serverTime of server-information, milliseconds (may be negative).
    #[arg(long, value_name = "MS", allow_hyphen_values = true)]
    pub clock_offset_ms: Option<i64>,
    /// Start the sandbox clock at this instant (RFC 3339, e.g. 2024-03-06T09:36:00Z).
    #[arg(long, value_name = "TIME")]
    pub pin_clock: Option<String>,
    /// Seed for the fault draws (repeatable runs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Remember the key, received invoices, statuses, reference numbers and the ledger across
    /// restarts in this SQLite file (created when missing).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Size of a newly made sandbox key: 4096 (default, like the real server), 3072 or 2048
    /// (faster start, for benchmarks).
    #[arg(long, value_name = "BITS")]
    pub server_key_bits: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct IdentityArgs {
    /// Directory for key.pem / cert.pem (default: the user data dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The configuration `serve` runs with: the file, then the flags.
pub fn build_config(a: &ServeArgs) -> anyhow::Result<SandboxConfig> {
    let mut cfg = match &a.config {
        Some(p) => SandboxConfig::from_toml_file(p)?,
        None => SandboxConfig::default(),
    };
    if let Some(p) = a.port {
        cfg.port = p;
    }
    let f = &mut cfg.faults;
    if let Some(v) = a.latency_ms {
        f.latency_ms = v;
    }
    if let Some(v) = a.error_rate {
        f.error_rate = v;
    }
    if let Some(v) = &a.error_code {
        f.error_code = v.clone();
    }
    if let Some(v) = a.drop_before_rate {
        f.drop_before_accept_rate = v;
    }
    if let Some(v) = a.drop_after_rate {
        f.drop_after_accept_rate = v;
    }
    if let Some(v) = a.drop_after_next {
        f.drop_after_accept_next = v;
    }
    if let Some(v) = a.delay_ms {
        f.processing_delay_ms = v;
    }
    if let Some(v) = a.timeout_rate {
        f.timeout_rate = v;
    }
    if a.stuck {
        f.stuck_in_progress = true;
    }
    if let Some(v) = a.timeout_next {
        f.timeout_next = v;
    }
    if let Some(v) = a.rotate_key_rate {
        f.rotate_key_rate = v;
    }
    if let Some(v) = a.rotate_key_next {
        f.rotate_key_next = v;
    }
    if let Some(v) = a.forget_after_accept_rate {
        f.forget_after_accept_rate = v;
    }
    if let Some(v) = a.clock_offset_ms {
        f.clock_offset_ms = v;
    }
    if let Some(t) = &a.pin_clock {
        let ms = crate::sandbox::clock::parse_query_time(t).ok_or_else(|| {
            anyhow::anyhow!(
                "--pin-clock {t:?} is not an RFC 3339 time (e.g. 2024-03-06T09:36:00Z) / زمان معتبر نیست"
            )
        })?;
        cfg.pinned_clock_ms = Some(ms);
    }
    if a.seed.is_some() {
        cfg.seed = a.seed;
    }
    if a.state.is_some() {
        cfg.state_file = a.state.clone();
    }
    if let Some(bits) = a.server_key_bits {
        cfg.server_key_bits = bits;
    }
    cfg.check()?;
    Ok(cfg)
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let l = global.lang;
    match args.command {
        SandboxCommand::Serve(a) => {
            let cfg = build_config(&a)?;
            let sandbox = Sandbox::start(cfg).await?;
            let mut out = std::io::stdout();
            writeln!(out, "{}", sandbox.base_url())?;
            out.flush()?;
            crate::say_err!(
                "sandbox serving on {} (ledger: {}sandbox/ledger); Ctrl-C stops it / سندباکس در حال اجراست",
                sandbox.base_url(),
                sandbox.root_url()
            );
            sandbox.serve_until_ctrl_c().await?;
            Ok(0)
        }
        SandboxCommand::Identity(a) => {
            let dir = match a.dir.or_else(TestIdentity::default_dir) {
                Some(d) => d,
                None => anyhow::bail!("no data directory; pass --dir / پوشه را با --dir بدهید"),
            };
            let id = TestIdentity::ensure(&dir)?;
            println!("{}: {}", l.label("کلید", "key"), id.key_path.display());
            println!("{}: {}", l.label("گواهی", "cert"), id.cert_path.display());
            println!(
                "{}: {}",
                l.label("شناسه ملی (serialNumber)", "national ID (serialNumber)"),
                id.national_id
            );
            Ok(0)
        }
        SandboxCommand::Reset(a) => reset(a),
    }
}

/// `sandbox reset`: the files (with their SQLite `-wal`/`-shm` companions) that exist, listed,
/// then removed once confirmed.
fn reset(a: ResetArgs) -> anyhow::Result<u8> {
    use std::io::IsTerminal;
    let queue = a
        .queue
        .unwrap_or_else(|| crate::config::sandbox_dir().join("queue.sqlite"));
    let state = a
        .state
        .unwrap_or_else(|| crate::sandbox::state_file_beside(&queue));
    let files: Vec<PathBuf> = [&queue, &state]
        .iter()
        .flat_map(|p| {
            ["", "-wal", "-shm"].map(|suffix| {
                let mut s = p.as_os_str().to_owned();
                s.push(suffix);
                PathBuf::from(s)
            })
        })
        .filter(|p| p.exists())
        .collect();
    if files.is_empty() {
        println!(
            "nothing to remove: neither {} nor {} exists / چیزی برای پاک کردن نیست",
            queue.display(),
            state.display()
        );
        return Ok(0);
    }
    println!("sandbox reset removes / این فایل‌ها پاک می‌شوند:");
    for f in &files {
        println!("  {}", f.display());
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            crate::say_err!("add --yes to remove them / برای پاک کردن ‎--yes‎ را اضافه کنید");
            return Ok(2);
        }
        crate::say_err_part!("remove? [y/N] / پاک شوند؟ ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "بله") {
            println!("nothing removed / چیزی پاک نشد");
            return Ok(1);
        }
    }
    for f in &files {
        std::fs::remove_file(f)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e} / پاک نشد", f.display()))?;
    }
    println!("removed {} file(s) / پاک شد", files.len());
    Ok(0)
}
