//! End to end on the sandbox with a SoftHSM token: 10,000 invoices (own tax IDs) enqueued,
//! signed, encrypted, sent in batches of 1000, polled to SUCCESS. Prints invoices/s as a ratio
//! to the raw SoftHSM signing rate on the same key (goal ≥ 0.8: the token is the only
//! bottleneck) and token signatures per invoice, auth tokens included (goal ≤ 1.02).
//! Run: `cargo bench --bench submit` (needs SoftHSM2). `MOADIAN_BENCH_N` changes the count.
//! With `MOADIAN_BENCH_POSTGRES_URL=postgres://…` the own-process leg runs again on a
//! PostgreSQL queue (a schema of its own on that server) and prints its rates as ratios to the
//! SQLite queue's.

use moadian::api::{Client, ClientOptions};
use moadian::cli::submit::CountingSigner;
use moadian::crypto::softhsm::SoftHsm;
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::crypto::{open_signer, Pin, PinSource, Signer, SignerConfig};
use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use moadian::pipeline::{self, PassOptions, PollOptions, Silent};
use moadian::sandbox::{Faults, Sandbox, SandboxConfig};
use moadian_queue::{AnyQueue, QueueOptions, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NATIONAL_ID: &str = "14003778990";

fn invoice_text(serial: u64, indatim: i64) -> String {
    let mem = MemoryId::parse("A11216").expect("memory id");
    let taxid = TaxId::generate(&mem, indatim, serial).expect("taxid");
    serde_json::json!({
        "header": {"taxid": taxid.as_str(), "inno": inno_for_serial(serial), "indatim": indatim,
            "inty": 1, "inp": 1, "ins": 1, "tins": NATIONAL_ID, "tob": 2, "bid": "10100302746",
            "tinb": "10100302746", "tprdis": 20000, "tdis": 500, "tadis": 19500, "tvam": 1755,
            "todam": 0, "tbill": 21255, "setm": 2},
        "body": [{"sstid": "2710000138624", "sstt": "قطعات سرسیلندر", "mu": "164", "am": 2,
            "fee": 10000, "prdis": 20000, "dis": 500, "adis": 19500, "vra": 9, "vam": 1755,
            "tsstam": 21255}],
        "payments": []
    })
    .to_string()
}

fn main() {
    let n: u64 = std::env::var("MOADIAN_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let hsm = SoftHsm::setup(dir.path()).unwrap_or_else(|e| panic!("needs SoftHSM2: {e}"));
    let id = make_identity(&IdentityOptions::new(NATIONAL_ID)).expect("identity");
    hsm.init_token("bench", "87654321", "1234").expect("token");
    hsm.import("bench", "1234", &[1], &id.key, &id.cert, None)
        .expect("import");
    let cfg = SignerConfig {
        pkcs11_module: Some(hsm.module.clone()),
        token_label: Some("bench".into()),
        ..Default::default()
    };
    let signer: Arc<dyn Signer> = Arc::from(
        open_signer(&cfg, PinSource::Given(Pin::new("1234")), Some(NATIONAL_ID)).expect("signer"),
    );

    // Raw rate of the token on the same key: RS256 over a JWS signing input of invoice size.
    let input = vec![b'a'; 1400];
    let raw_n = 2000;
    let t = Instant::now();
    for _ in 0..raw_n {
        signer.sign_rs256(&input).expect("sign");
    }
    let raw_rate = raw_n as f64 / t.elapsed().as_secs_f64();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sandbox = Sandbox::start(SandboxConfig {
            faults: Faults {
                processing_delay_ms: 0,
                ..Faults::default()
            },
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox");
        println!(
            "== sandbox in this process (its decrypt/verify/validate competes for the 2 cores)"
        );
        let base = sandbox.base_url();
        let succeeded = run_once(
            &dir.path().join("q1.sqlite").display().to_string(),
            &base,
            signer.clone(),
            raw_rate,
            n,
            1,
        )
        .await;
        let ledger = sandbox.ledger();
        let ok = ledger.taxids.values().filter(|e| e.succeeded == 1).count();
        println!("SUCCESS in queue / ledger:   {succeeded} / {ok}");
        sandbox.shutdown().await;

        println!("== sandbox in its own process at nice 19 (the token's work comes first)");
        let mut child = tokio::process::Command::new("nice")
            .args([
                "-n",
                "19",
                env!("CARGO_BIN_EXE_moadian"),
                "sandbox",
                "serve",
                "--server-key-bits",
                "2048",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moadian sandbox serve");
        let mut line = String::new();
        {
            use tokio::io::AsyncBufReadExt;
            let out = child.stdout.take().expect("stdout");
            let mut r = tokio::io::BufReader::new(out);
            r.read_line(&mut line).await.expect("base url");
        }
        let base = line.trim().to_string();
        let (succeeded, sqlite_rates) = run_once_rates(
            &dir.path().join("q2.sqlite").display().to_string(),
            &base,
            signer.clone(),
            raw_rate,
            n,
            1_000_001,
        )
        .await;
        let root = base
            .split("/requestsmanager")
            .next()
            .unwrap_or_default()
            .to_string();
        let ledger: moadian::sandbox::ledger::Ledger =
            reqwest::get(format!("{root}/sandbox/ledger"))
                .await
                .expect("ledger")
                .json()
                .await
                .expect("ledger json");
        let ok = ledger.taxids.values().filter(|e| e.succeeded == 1).count();
        println!("SUCCESS in queue / ledger:   {succeeded} / {ok}");
        if let Ok(pg) = std::env::var("MOADIAN_BENCH_POSTGRES_URL") {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let (b, s) = (pg.clone(), schema.clone());
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&b, postgres::NoTls).expect("postgres");
                c.batch_execute(&format!("CREATE SCHEMA {s}")).expect("schema");
            })
            .join()
            .expect("schema thread");
            let sep = if pg.contains('?') { '&' } else { '?' };
            let url = format!("{pg}{sep}options=-csearch_path%3D{schema}");
            println!("== the same on a PostgreSQL queue (one runner)");
            let (_, pg_rates) =
                run_once_rates(&url, &base, signer.clone(), raw_rate, n, 2_000_001).await;
            println!(
                "PostgreSQL / SQLite:         enqueue {:.3}, send {:.3}, send+poll {:.3} (per-invoice overhead {:+.1} %)",
                pg_rates.0 / sqlite_rates.0,
                pg_rates.1 / sqlite_rates.1,
                pg_rates.2 / sqlite_rates.2,
                (sqlite_rates.2 / pg_rates.2 - 1.0) * 100.0
            );
        }
        let _ = child.kill().await;
    });
}

/// Enqueues `n` invoices (serials from `first`), sends them through `base` and polls them to a
/// final status; prints the numbers and returns the count of SUCCESS in the queue.
async fn run_once(
    queue_spec: &str,
    base: &str,
    signer: Arc<dyn Signer>,
    raw_rate: f64,
    n: u64,
    first: u64,
) -> u64 {
    run_once_rates(queue_spec, base, signer, raw_rate, n, first)
        .await
        .0
}

/// As [`run_once`], also returning (enqueue, send, send+poll) invoices per second.
async fn run_once_rates(
    queue_spec: &str,
    base: &str,
    signer: Arc<dyn Signer>,
    raw_rate: f64,
    n: u64,
    first: u64,
) -> (u64, (f64, f64, f64)) {
    let queue = AnyQueue::open_with(queue_spec, QueueOptions::default()).expect("queue");
    let mem = MemoryId::parse("A11216").expect("memory id");
    let indatim = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let t_enq = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    for chunk in (first..first + n).collect::<Vec<_>>().chunks(1000) {
        let items = chunk
            .iter()
            .map(|s| {
                pipeline::prepare(
                    pipeline::Input {
                        source: format!("bench#{s}"),
                        value: Ok(serde_json::from_str(&invoice_text(*s, indatim)).expect("json")),
                    },
                    &mem,
                    &moadian::rules::Context::at(now),
                )
            })
            .collect();
        queue.enqueue_batch(items).expect("enqueue");
    }
    let enqueue_s = t_enq.elapsed().as_secs_f64();
    let runner = Arc::new(queue.acquire_runner().expect("runner"));
    let counting = Arc::new(CountingSigner::new(signer.clone()));
    let client = Arc::new(
        Client::new(base, "A11216", counting.clone(), ClientOptions::default()).expect("client"),
    );
    let opts = PassOptions {
        batch_size: 1000,
        wait: Duration::from_secs(600),
        poll: PollOptions {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
        },
        ..PassOptions::default()
    };
    let t = Instant::now();
    let sent = pipeline::send::send_queued(
        runner.clone(),
        client.clone(),
        opts.batch_size,
        opts.sign_threads,
        opts.jws.clone(),
        &Silent,
    )
    .await
    .expect("send");
    let send_secs = t.elapsed().as_secs_f64();
    let polled = pipeline::poll::poll(
        runner.clone(),
        &client,
        Instant::now() + opts.wait,
        &opts.poll,
        true,
        pipeline::poll::Learning {
            known: &Default::default(),
            since_ms: 0,
        },
        &Silent,
    )
    .await
    .expect("poll");
    let secs = t.elapsed().as_secs_f64();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let summary = runner.queue().summary().expect("summary");
    let rate = n as f64 / secs;
    let sigs = counting.count() as f64 / n as f64;
    println!("invoices:                    {n}");
    println!(
        "enqueue (prepare+validate):  {enqueue_s:.2} s ({:.0}/s)",
        n as f64 / enqueue_s
    );
    println!("raw SoftHSM RS256 rate:      {raw_rate:.0} signatures/s");
    let send_rate = n as f64 / send_secs;
    println!(
            "sign+encrypt+send (acked):   {send_secs:.2} s = {send_rate:.0} invoices/s, ratio {:.3} (goal >= 0.8)",
            send_rate / raw_rate
        );
    println!(
        "... until all SUCCESS:       {secs:.2} s = {rate:.0} invoices/s, ratio {:.3}",
        rate / raw_rate
    );
    println!("load average at the end:     {}", load.trim());
    println!(
        "token signatures:            {} = {sigs:.4} per invoice (goal ≤ 1.02); auth tokens {}",
        counting.count(),
        client.auth_signatures()
    );
    println!(
        "POSTed {} in batches, {} inquiry calls in {} poll rounds",
        sent.posted, polled.inquiries, polled.rounds
    );
    (summary.success, (n as f64 / enqueue_s, send_rate, rate))
}
