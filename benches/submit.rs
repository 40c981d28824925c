//! End to end on the sandbox with a SoftHSM token: 10,000 invoices (own tax IDs) enqueued,
//! signed, encrypted, sent in batches of 1000, polled to SUCCESS. Prints invoices/s as a ratio
//! to the raw SoftHSM signing rate on the same key (goal ≥ 0.8: the token is the only
//! bottleneck) and token signatures per invoice, auth tokens included (goal ≤ 1.02).
//! Run: `cargo bench --bench submit` (needs SoftHSM2). `MOADIAN_BENCH_N` changes the count.

use moadian::api::{Client, ClientOptions};
use moadian::cli::submit::CountingSigner;
use moadian::crypto::softhsm::SoftHsm;
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::crypto::{open_signer, Pin, PinSource, Signer, SignerConfig};
use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use moadian::pipeline::{self, PassOptions, PollOptions, Silent};
use moadian::sandbox::{Faults, Sandbox, SandboxConfig};
use moadian_queue::{SqliteQueue, Store};
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
        let queue = SqliteQueue::open(dir.path().join("queue.sqlite")).expect("queue");
        let mem = MemoryId::parse("A11216").expect("memory id");
        let indatim = chrono::Utc::now().timestamp_millis() - 3_600_000;
        let t_enq = Instant::now();
        let now = chrono::Utc::now().timestamp_millis();
        for chunk in (1..=n).collect::<Vec<_>>().chunks(1000) {
            let items = chunk
                .iter()
                .map(|s| {
                    pipeline::prepare(
                        pipeline::Input {
                            source: format!("bench#{s}"),
                            value: Ok(
                                serde_json::from_str(&invoice_text(*s, indatim)).expect("json")
                            ),
                        },
                        &mem,
                        now,
                    )
                })
                .collect();
            queue.enqueue_batch(items).expect("enqueue");
        }
        let enqueue_s = t_enq.elapsed().as_secs_f64();
        let runner = Arc::new(queue.acquire_runner().expect("runner"));
        let counting = Arc::new(CountingSigner::new(signer.clone()));
        let client = Arc::new(
            Client::new(
                &sandbox.base_url(),
                "A11216",
                counting.clone(),
                ClientOptions::default(),
            )
            .expect("client"),
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
        let stats = pipeline::run_pass(runner.clone(), client.clone(), &opts, &Silent)
            .await
            .expect("pass");
        let secs = t.elapsed().as_secs_f64();
        let summary = runner.queue().summary().expect("summary");
        let ledger = sandbox.ledger();
        let ok = ledger.taxids.values().filter(|e| e.succeeded == 1).count();
        let rate = n as f64 / secs;
        let sigs = counting.count() as f64 / n as f64;
        println!("invoices:                    {n}");
        println!("SUCCESS in queue / ledger:   {} / {ok}", summary.success);
        println!(
            "enqueue (prepare+validate):  {enqueue_s:.2} s ({:.0}/s)",
            n as f64 / enqueue_s
        );
        println!("raw SoftHSM RS256 rate:      {raw_rate:.0} signatures/s");
        println!("sign+encrypt+send+poll:      {secs:.2} s = {rate:.0} invoices/s");
        println!(
            "ratio to raw signing rate:   {:.3} (goal ≥ 0.8)",
            rate / raw_rate
        );
        println!(
            "token signatures:            {} = {sigs:.4} per invoice (goal ≤ 1.02); auth tokens {}",
            counting.count(),
            client.auth_signatures()
        );
        println!(
            "POSTed {} in batches, {} inquiry calls in {} poll rounds",
            stats.send.posted, stats.poll.inquiries, stats.poll.rounds
        );
    });
}
