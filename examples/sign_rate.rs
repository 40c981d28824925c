//! Signing thread scaling, on the client's real work per invoice: RS256 over the invoice JSON
//! with a 2048-bit key file (`jws::sign_compact`), then encryption to a 2048-bit server key
//! (`ServerKey::encrypt`: RSA-OAEP key wrap + AES-GCM). Prints invoices per second on 1..=N
//! threads, and one thread signing only. Compare with `openssl speed rsa2048` (sign/s on one
//! core): `scripts/bench.sh` does.
//!
//! `cargo run --release --example sign_rate -- [INVOICES] [MAX_THREADS]`

use moadian::crypto::jwe::ServerKey;
use moadian::crypto::jws::{sign_compact, JwsOptions};
use moadian::crypto::keyfile::KeyFileSigner;
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::crypto::Signer;
use std::sync::Arc;
use std::time::Instant;

const PAYLOAD: &str = r#"{"header":{"taxid":"A11216051320000000001B","inno":"0000000001","indatim":1683997837988,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2},"body":[{"sstid":"2710000138624","sstt":"فولاد صنعت قطعات سرسیلندرسازی","mu":"164","am":2,"fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}],"payments":[]}"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4000);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let max: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(cores);
    let id = make_identity(&IdentityOptions::new("14003778990")).expect("identity");
    let signer: Arc<dyn Signer> =
        Arc::new(KeyFileSigner::from_pem(&id.key_pem(), &id.cert_pem()).expect("key file signer"));
    let server = openssl::rsa::Rsa::generate(2048).expect("server key");
    let spki = openssl::pkey::PKey::from_rsa(server)
        .and_then(|k| k.public_key_to_der())
        .expect("server spki");
    let key = Arc::new(ServerKey::from_der(&spki, "bench").expect("server key"));
    let opts = JwsOptions::default();

    let t = Instant::now();
    for _ in 0..n {
        signer.sign_rs256(PAYLOAD.as_bytes()).expect("sign");
    }
    let sign_only = n as f64 / t.elapsed().as_secs_f64();
    println!("sign only, 1 thread: {sign_only:.0}/s");
    let mut one = 0.0;
    for threads in 1..=max {
        let t = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let signer = signer.clone();
                let key = key.clone();
                let opts = opts.clone();
                let share = n / threads + usize::from(k < n % threads);
                std::thread::spawn(move || {
                    for _ in 0..share {
                        let jws = sign_compact(PAYLOAD.as_bytes(), &*signer, &opts).expect("sign");
                        std::hint::black_box(key.encrypt(&jws).expect("encrypt"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        if threads == 1 {
            one = rate;
        }
        println!(
            "sign+encrypt, {threads} thread(s): {rate:.0}/s ({:.2} x one thread)",
            rate / one
        );
    }
}
