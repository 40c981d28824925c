//! What the send and poll pipeline tests share: a sandbox over 127.0.0.1, a queue file holding
//! `n` valid invoices of A11216, its runner, a key-file client, and an observer that records
//! every pipeline event.
#![allow(dead_code)]

use moadian::api::{Client, ClientOptions};
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::crypto::{open_signer, PinSource, Signer, SignerConfig};
use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use moadian::pipeline::{self, Event, Observer};
use moadian::sandbox::{Sandbox, SandboxConfig};
use moadian_queue::{AnyQueue, QueueOptions, Store};
use std::sync::{Arc, Mutex};

pub const NATIONAL_ID: &str = "14003778990";

/// Every pipeline event, in order.
pub struct Recorder(pub Mutex<Vec<Event>>);

impl Recorder {
    pub fn new() -> Self {
        Recorder(Mutex::new(Vec::new()))
    }

    /// The numbers `pick` finds in the events, in order.
    pub fn counts(&self, pick: fn(&Event) -> Option<usize>) -> Vec<usize> {
        self.0.lock().unwrap().iter().filter_map(pick).collect()
    }
}

impl Observer for Recorder {
    fn event(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }
}

/// A valid invoice of A11216 with serial `serial`, issued at `indatim`.
pub fn invoice(serial: u64, indatim: i64) -> serde_json::Value {
    let mem = MemoryId::parse("A11216").unwrap();
    let taxid = TaxId::generate(&mem, indatim, serial).unwrap();
    serde_json::json!({
        "header": {"taxid": taxid.as_str(), "inno": inno_for_serial(serial), "indatim": indatim,
            "inty": 1, "inp": 1, "ins": 1, "tins": NATIONAL_ID, "tob": 2, "bid": "10100302746",
            "tinb": "10100302746", "tprdis": 20000, "tdis": 500, "tadis": 19500, "tvam": 1755,
            "todam": 0, "tbill": 21255, "setm": 2},
        "body": [{"sstid": "2710000138624", "sstt": "قطعات", "mu": "164", "am": 2,
            "fee": 10000, "prdis": 20000, "dis": 500, "adis": 19500, "vra": 9, "vam": 1755,
            "tsstam": 21255}],
        "payments": []
    })
}

pub struct World {
    pub sandbox: moadian::sandbox::RunningSandbox,
    pub queue: AnyQueue,
    pub runner: Arc<moadian_queue::AnyRunner>,
    pub client: Arc<Client>,
    pub _dir: tempfile::TempDir,
}

/// A sandbox started with `config`, a queue file with `n` valid invoices, and a client whose
/// key-file signer is passed through `wrap` (e.g. to make it fail).
pub async fn world(
    config: SandboxConfig,
    n: u64,
    wrap: impl FnOnce(Arc<dyn Signer>) -> Arc<dyn Signer>,
) -> World {
    let sandbox = Sandbox::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id = make_identity(&IdentityOptions::new(NATIONAL_ID)).unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    std::fs::write(&key, id.key_pem()).unwrap();
    std::fs::write(&cert, id.cert_pem()).unwrap();
    let cfg = SignerConfig {
        key_file: Some(key),
        cert_file: Some(cert),
        ..Default::default()
    };
    let signer: Arc<dyn Signer> =
        Arc::from(open_signer(&cfg, PinSource::None, Some(NATIONAL_ID)).unwrap());
    let signer = wrap(signer);
    let queue = AnyQueue::open_file(&dir.path().join("q.sqlite"), QueueOptions::default()).unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    let indatim = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let now = chrono::Utc::now().timestamp_millis();
    let items = (1..=n)
        .map(|s| {
            let input = pipeline::Input {
                source: format!("t#{s}"),
                value: Ok(invoice(s, indatim)),
            };
            pipeline::prepare(input, &mem, &moadian::rules::Context::at(now))
        })
        .collect();
    queue.enqueue_batch(items).unwrap();
    let runner = Arc::new(queue.acquire_runner_for(&["A11216".to_string()]).unwrap());
    let client = Arc::new(
        Client::new(
            &sandbox.base_url(),
            "A11216",
            signer,
            ClientOptions::default(),
        )
        .unwrap(),
    );
    World {
        sandbox,
        queue,
        runner,
        client,
        _dir: dir,
    }
}
