//! Queue throughput with realistic invoices (~1.5 KB JSON each): enqueue in batches of 1,000
//! (goal ≥ 20,000 invoices/s), and the send-side bookkeeping (begin_attempt + acceptance) for
//! a 1,000-packet POST. Run with `cargo bench -p moadian-queue`. The 100,000-invoice run with
//! peak memory is `moadian-queue-stress enqueue DB 100000` under `/usr/bin/time -v`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use moadian_queue::{Built, Content, NewInvoice, Queue, RunnerStore, Store};
use std::time::Duration;

const BATCH: usize = 1000;

fn payload(taxid: &str, serial: u64) -> String {
    let item = r#"{"sstid":"2330001234567","sstt":"کالای نمونه","am":"2","mu":"164","fee":"1250000","prdis":"2500000","dis":"0","adis":"2500000","vra":"10","vam":"250000","tsstam":"2750000"}"#;
    let items = [item; 5].join(",");
    format!(
        r#"{{"header":{{"taxid":"{taxid}","inno":"{serial:010X}","indatim":1700000000000,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"0012345678","tprdis":"12500000","tdis":"0","tadis":"12500000","tvam":"1250000","tbill":"13750000","setm":1}},"body":[{items}],"payments":[]}}"#
    )
}

fn items(n: usize) -> Vec<NewInvoice<'static>> {
    (0..n)
        .map(|i| NewInvoice {
            source: format!("bench/{i}.json"),
            memory_id: "A11111".into(),
            indatim: Some(1_700_000_000_000),
            kind: Some("1".into()),
            ins: Some(1),
            dedup_key: None,
            content: Content::Allocate(Box::new(|serial| {
                let taxid = format!("A11111{serial:016X}");
                Ok(Built {
                    payload: payload(&taxid, serial),
                    taxid,
                    findings: None,
                    invalid: false,
                    indatim: None,
                })
            })),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let queue = Queue::open(dir.path().join("bench.db")).expect("open");
    let mut g = c.benchmark_group("queue");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("enqueue_batch_1000x1.5KB", |b| {
        b.iter_batched(
            || items(BATCH),
            |it| queue.enqueue_batch(it).expect("enqueue"),
            BatchSize::PerIteration,
        )
    });
    let runner = queue.acquire_runner().expect("runner");
    g.bench_function("begin_attempt+accept_1000", |b| {
        b.iter_batched(
            || {
                queue.enqueue_batch(items(BATCH)).expect("enqueue");
                runner
                    .next_sendable("A11111", BATCH, None)
                    .expect("sendable")
            },
            |invoices| {
                let keys: Vec<_> = invoices.iter().map(|i| i.key()).collect();
                let attempts = runner.begin_attempt(&keys, "bench").expect("begin");
                let acc: Vec<_> = attempts
                    .iter()
                    .map(|a| (a.uid, a.uid.to_string()))
                    .collect();
                runner.record_accepted_many(&acc).expect("accept");
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
