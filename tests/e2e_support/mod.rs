//! Fixtures of the end-to-end tests: a sandbox on 127.0.0.1 in the test process (so its ledger
//! survives a killed `moadian`), a SoftHSM token holding the demo taxpayer's identity, a
//! `moadian.toml` pointing at both, invoices with their own tax IDs, and a runner for the
//! real `moadian` binary. A missing SoftHSM fails the test; nothing is skipped.
#![allow(dead_code)]

use moadian::crypto::softhsm::SoftHsm;
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use moadian::sandbox::{Faults, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const MEMORY_ID: &str = "A11216";
pub const NATIONAL_ID: &str = "14003778990";
pub const USER_PIN: &str = "1234";
pub const SO_PIN: &str = "87654321";

pub fn hsm() -> &'static SoftHsm {
    SoftHsm::shared().unwrap_or_else(|e| {
        panic!("the end-to-end tests sign on SoftHSM2 (a real PKCS#11 token): {e}")
    })
}

static N: AtomicU32 = AtomicU32::new(0);

/// A fresh SoftHSM token holding a new identity of the demo taxpayer. Returns the label and
/// the identity (to import it again after a "removal").
pub fn token(prefix: &str) -> (String, moadian::crypto::testcert::TestIdentity) {
    token_of(prefix, NATIONAL_ID)
}

/// A fresh SoftHSM token holding a new identity of the taxpayer `national_id`.
pub fn token_of(
    prefix: &str,
    national_id: &str,
) -> (String, moadian::crypto::testcert::TestIdentity) {
    let label = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    hsm()
        .init_token(&label, SO_PIN, USER_PIN)
        .unwrap_or_else(|e| panic!("init token {label}: {e}"));
    let ident = make_identity(&IdentityOptions::new(national_id)).expect("identity");
    hsm()
        .import(&label, USER_PIN, &[1], &ident.key, &ident.cert, None)
        .unwrap_or_else(|e| panic!("import onto {label}: {e}"));
    (label, ident)
}

/// A private copy of the `moadian` binary, one per build (named by its size and mtime, written
/// under a temporary name and renamed into place), so a concurrent rebuild of the shared target
/// directory cannot swap it in the middle of a test, and repeated runs reuse one copy.
pub fn binary() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_BIN_EXE_moadian"));
        let Ok(meta) = std::fs::metadata(&src) else {
            return src;
        };
        let stamp = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let dst = std::env::temp_dir().join(format!("moadian-e2e-{}-{stamp}", meta.len()));
        remove_stale_copies(&dst);
        if dst.exists() {
            return dst;
        }
        let tmp = dst.with_extension(format!("tmp{}", std::process::id()));
        match std::fs::copy(&src, &tmp).and_then(|_| std::fs::rename(&tmp, &dst)) {
            Ok(()) => dst,
            Err(_) => src,
        }
    })
}

/// Copies of earlier builds (a day old or more) are removed: one is made per build, and
/// without this they piled up in the temporary directory (79 MB each).
fn remove_stale_copies(keep: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let day = Duration::from_secs(24 * 3600);
    for e in entries.flatten() {
        let p = e.path();
        let ours = e.file_name().to_string_lossy().starts_with("moadian-e2e-");
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
        if ours && old && p != keep && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Everything one test needs.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub sandbox: RunningSandbox,
    pub config: PathBuf,
    pub queue: PathBuf,
    pub label: String,
    pub identity: moadian::crypto::testcert::TestIdentity,
}

pub fn quick_faults() -> Faults {
    Faults {
        processing_delay_ms: 50,
        ..Faults::default()
    }
}

impl Env {
    pub async fn new(faults: Faults, batch_size: usize) -> Env {
        Env::with_sandbox(
            SandboxConfig {
                faults,
                ..SandboxConfig::default()
            },
            batch_size,
        )
        .await
    }

    /// As [`Env::new`] with a sandbox configured by `cfg` (e.g. more taxpayers).
    pub async fn with_sandbox(cfg: SandboxConfig, batch_size: usize) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SandboxConfig {
            // A 2048-bit sandbox key starts faster; the 4096-bit default has its own test.
            server_key_bits: 2048,
            ..cfg
        };
        let sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
        let (label, identity) = token("e2e");
        let config = dir.path().join("moadian.toml");
        std::fs::write(
            &config,
            format!(
                "default_profile = \"t\"\n[profiles.t]\nmemory_id = \"{MEMORY_ID}\"\nnational_id = \"{NATIONAL_ID}\"\neconomic_code = \"{NATIONAL_ID}\"\nendpoint = \"{}\"\nbatch_size = {batch_size}\n[profiles.t.signer]\npkcs11_module = \"{}\"\ntoken_label = \"{label}\"\n",
                sandbox.base_url(),
                hsm().module.display()
            ),
        )
        .expect("write config");
        let queue = dir.path().join("queue.sqlite");
        Env {
            dir,
            sandbox,
            config,
            queue,
            label,
            identity,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `moadian` command with this environment (config, queue, PIN, quick pacing).
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_q(&self.queue, args)
    }

    /// As [`Env::command`] with another queue file.
    pub fn command_q(&self, queue: &Path, args: &[&str]) -> tokio::process::Command {
        self.command_cq(&self.config, queue, args)
    }

    /// As [`Env::command_q`] with another `moadian.toml`.
    pub fn command_cq(
        &self,
        config: &Path,
        queue: &Path,
        args: &[&str],
    ) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(binary());
        c.arg("--lang").arg("en");
        if let Some((first, rest)) = args.split_first() {
            c.arg(first);
            c.arg("--config").arg(config);
            c.arg("--queue").arg(queue);
            c.args(rest);
        }
        c.env("SOFTHSM2_CONF", &hsm().conf)
            .env("MOADIAN_PIN", USER_PIN)
            .env("MOADIAN_HOME", self.dir.path().join("home"))
            .env("MOADIAN_STATE_DIR", self.dir.path().join("state"))
            .env("MOADIAN_RETRY_BASE_MS", "20")
            .env("MOADIAN_RETRY_MAX_MS", "200")
            .env("MOADIAN_RETRY_ATTEMPTS", "10")
            .env("MOADIAN_POLL_FIRST_MS", "100")
            .env("MOADIAN_POLL_MAX_MS", "300")
            .env("MOADIAN_NOT_FOUND_GRACE_MS", "600")
            .env_remove("MOADIAN_CONFIG")
            .env_remove("MOADIAN_LANG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// Runs `moadian ARGS` to the end: (exit code, stdout, stderr).
    pub async fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_q(&self.queue, args).await
    }

    /// As [`Env::run`] with another queue file.
    pub async fn run_q(&self, queue: &Path, args: &[&str]) -> (i32, String, String) {
        self.run_cq(&self.config, queue, args).await
    }

    /// As [`Env::run_q`] with another `moadian.toml`.
    pub async fn run_cq(
        &self,
        config: &Path,
        queue: &Path,
        args: &[&str],
    ) -> (i32, String, String) {
        let out = tokio::time::timeout(
            Duration::from_secs(120),
            self.command_cq(config, queue, args).output(),
        )
        .await
        .expect("moadian finishes within 2 minutes")
        .expect("moadian runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs with `--json` and parses the report.
    pub async fn run_json(&self, args: &[&str]) -> (i32, Value, String) {
        self.run_json_q(&self.queue, args).await
    }

    /// As [`Env::run_json`] with another queue file.
    pub async fn run_json_q(&self, queue: &Path, args: &[&str]) -> (i32, Value, String) {
        let mut a: Vec<&str> = args.to_vec();
        a.push("--json");
        let (code, out, err) = self.run_q(queue, &a).await;
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}\nstderr:\n{err}"));
        (code, v, err)
    }
}

/// Issue time of the test invoices: an hour ago (within the sending window).
pub fn indatim() -> i64 {
    chrono::Utc::now().timestamp_millis() - 3_600_000
}

/// A valid invoice of the demo taxpayer (the official example's figures) with its own tax ID.
pub fn invoice(serial: u64, indatim_ms: i64) -> (String, Value) {
    invoice_of(MEMORY_ID, NATIONAL_ID, "10100302746", serial, indatim_ms)
}

/// As [`invoice`] for the taxpayer `seller` (national ID and economic number) on `memory_id`,
/// sold to `buyer` (a legal national ID).
pub fn invoice_of(
    memory_id: &str,
    seller: &str,
    buyer: &str,
    serial: u64,
    indatim_ms: i64,
) -> (String, Value) {
    let mem = MemoryId::parse(memory_id).expect("memory id");
    let taxid = TaxId::generate(&mem, indatim_ms, serial).expect("taxid");
    let v = json!({
        "header": {"taxid": taxid.as_str(), "inno": inno_for_serial(serial), "indatim": indatim_ms,
            "inty": 1, "inp": 1, "ins": 1, "tins": seller, "tob": 2, "bid": buyer,
            "tinb": buyer, "tprdis": 20000, "tdis": 500, "tadis": 19500, "tvam": 1755,
            "todam": 0, "tbill": 21255, "setm": 2},
        "body": [{"sstid": "2710000138624", "sstt": "قطعات سرسیلندر", "mu": "164", "am": 2,
            "fee": 10000, "prdis": 20000, "dis": 500, "adis": 19500, "vra": 9, "vam": 1755,
            "tsstam": 21255}],
        "payments": []
    });
    (taxid.as_str().to_string(), v)
}

/// `n` consecutive serials from `from` (the tax IDs of the test invoices).
pub fn good_serials(from: u64, n: u64, _indatim_ms: i64) -> Vec<u64> {
    (from..from + n).collect()
}

/// Writes `n` valid invoices with serials from `from` into `dir` (one file each); their tax IDs.
pub fn write_invoices(dir: &Path, from: u64, n: u64) -> Vec<String> {
    write_invoices_of(dir, from, n, invoice)
}

/// As [`write_invoices`] with invoices made by `make(serial, indatim)`.
pub fn write_invoices_of(
    dir: &Path,
    from: u64,
    n: u64,
    make: impl Fn(u64, i64) -> (String, Value),
) -> Vec<String> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let t = indatim();
    good_serials(from, n, t)
        .into_iter()
        .map(|s| {
            let (taxid, v) = make(s, t);
            std::fs::write(dir.join(format!("inv-{s:06}.json")), v.to_string()).expect("write");
            taxid
        })
        .collect()
}

/// Status of each invoice in a `--json` report, by tax ID.
pub fn statuses(report: &Value) -> std::collections::HashMap<String, String> {
    report["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .map(|i| {
            (
                i["taxid"].as_str().unwrap_or_default().to_string(),
                i["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Asserts: every tax ID succeeded exactly once in the sandbox ledger (none lost, none twice).
pub fn assert_exactly_once(sandbox: &RunningSandbox, taxids: &[String]) {
    let ledger = sandbox.ledger();
    for t in taxids {
        assert_eq!(
            ledger.succeeded(t),
            1,
            "tax ID {t} must be SUCCESS exactly once"
        );
    }
    assert!(
        ledger.received_twice().is_empty(),
        "received twice: {:?}",
        ledger.received_twice()
    );
}

/// Copies every token's files (SoftHSM's file backend: `token.object`, `generation`, the key and
/// certificate objects) from `from` to `to`.
pub fn copy_token_files(from: &Path, to: &Path) {
    for token in std::fs::read_dir(from).expect("token directory").flatten() {
        let dest = to.join(token.file_name());
        std::fs::create_dir_all(&dest).expect("backup directory");
        for file in std::fs::read_dir(token.path())
            .expect("token files")
            .flatten()
        {
            if file.path().is_file() && file.file_name() != "token.lock" {
                std::fs::copy(file.path(), dest.join(file.file_name())).expect("backup token file");
            }
        }
    }
}

/// SoftHSM rewrites a token's files at every login (it keeps the PIN counters in
/// `token.object`), so a SIGKILL landing inside that write can damage a file, and the token then
/// vanishes from the slot list. That is an artefact of the file-based stand-in, not of the
/// queue: a hardware token keeps no file on this machine. After each kill, with no process using
/// the token, its files are put back as they were before the trials (the same PIN and objects;
/// as a person would re-plug the token). Returns how many files had been cut short.
pub fn repair_cut_token_files(backup: &Path, live: &Path) -> usize {
    let mut cut = 0;
    for token in std::fs::read_dir(backup).expect("token backup").flatten() {
        for saved in std::fs::read_dir(token.path())
            .expect("backup files")
            .flatten()
        {
            let current = live.join(token.file_name()).join(saved.file_name());
            let want = std::fs::read(saved.path()).expect("backup token file");
            let have = std::fs::read(&current).unwrap_or_default();
            if have != want {
                if have.len() < want.len() {
                    cut += 1;
                }
                std::fs::write(&current, &want).expect("restore token file");
            }
        }
    }
    cut
}
