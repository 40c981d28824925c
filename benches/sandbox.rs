//! How many invoices per second the sandbox accepts through the full path the real server
//! runs after the POST: JWE decrypt (RSA-OAEP-256 + A256GCM) → JWS verify against x5c →
//! certificate/memory-ID check → rules engine + server-only checks → duplicate check and ledger.
//! `examine/2_threads`: the path on two threads (the machine's two cores);
//! `http/post_1000_and_process`: one POST of 1000 packets over loopback until all are final.
//! Run: `cargo bench --bench sandbox`.

#[path = "../tests/sandbox_support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use moadian::sandbox::server::build_state;
use moadian::sandbox::state::{lock, Store};
use moadian::sandbox::SandboxConfig;
use std::time::{Duration, Instant};
use support::*;

const BATCH: usize = 200;

fn packets(ident: &Ident, spki: &[u8], kid: &str, n: usize, offset: u64) -> Vec<String> {
    let now = chrono::Utc::now().timestamp_millis();
    (0..n)
        .map(|i| {
            let inv = invoice(DEMO, now, offset + i as u64);
            let jws = ident.sign(inv.to_string().as_bytes());
            jwe(jws.as_bytes(), spki, &jwe_header(Some(kid)), 12)
        })
        .collect()
}

fn examine(c: &mut Criterion) {
    let state = build_state(&SandboxConfig::default()).expect("sandbox state");
    let ident = Ident::new(DEMO_NID);
    let payloads = packets(&ident, &state.key.spki_der, &state.key.id, BATCH, 1);
    let mut g = c.benchmark_group("examine");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    g.bench_function("2_threads", |b| {
        b.iter(|| {
            *lock(&state.store) = Store::default();
            std::thread::scope(|s| {
                for chunk in payloads.chunks(BATCH / 2) {
                    let state = &state;
                    s.spawn(move || {
                        for p in chunk {
                            let outcome = state.examiner.examine(p, DEMO, state.now_ms());
                            assert!(outcome.success, "{:?}", outcome.errors);
                        }
                    });
                }
            });
        })
    });
    g.finish();
}

fn http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bench = rt.block_on(start());
    let (spki, kid) = bench.sandbox.server_key();
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let mut round = 0u64;
    g.bench_function("post_1000_and_process", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let payloads = packets(&bench.ident, &spki, &kid, 1000, round * 10_000);
                let body: Vec<serde_json::Value> = payloads
                    .into_iter()
                    .map(|p| {
                        serde_json::json!({"payload": p, "header": {"requestTraceId": new_uid(), "fiscalId": DEMO}})
                    })
                    .collect();
                let before = bench.sandbox.ledger().taxids.len();
                let t = Instant::now();
                rt.block_on(async {
                    let (s, _) = bench.post_packets(body).await;
                    assert_eq!(s, 200);
                    while bench.sandbox.ledger().taxids.len() < before + 1000 {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                });
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, examine, http);
criterion_main!(benches);
