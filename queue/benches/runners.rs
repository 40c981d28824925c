//! The queue's own cost per invoice with 1, 2 and 4 runners on one PostgreSQL queue (each
//! runner a thread with its own connections and its own memory ID, as runners on several
//! machines would be), against one runner on an SQLite file: enqueue (batches of 100), then
//! per batch of 100 the runner's bookkeeping — `begin_attempt`, `record_accepted_many`,
//! `record_outcome_many` (SUCCESS). No HTTP, no signing: what the queue adds.
//!
//! Run: `MOADIAN_BENCH_POSTGRES_URL=postgres://… cargo bench -p moadian-queue --bench runners`
//! (`MOADIAN_BENCH_N` invoices per runner, default 2000). Prints invoices/s and ratios.

mod support;

use moadian_queue::*;
use std::time::Instant;
use support::{accepted, items, successes};

const BATCH: usize = 100;

/// One runner's work: enqueue `n`, then send-side bookkeeping batch by batch. Returns
/// (enqueue seconds, send seconds).
fn work(q: &AnyQueue, memory: &str, n: usize) -> (f64, f64) {
    let t = Instant::now();
    for start in (0..n).step_by(BATCH) {
        q.enqueue_batch(items(memory, start, BATCH.min(n - start)))
            .expect("enqueue");
    }
    let enq = t.elapsed().as_secs_f64();
    let runner = q.acquire_runner_for(&[memory.to_string()]).expect("runner");
    let t = Instant::now();
    loop {
        let batch = runner.next_sendable(memory, BATCH, None).expect("next");
        if batch.is_empty() {
            break;
        }
        let keys: Vec<_> = batch.iter().map(|i| i.key()).collect();
        let attempts = runner.begin_attempt(&keys, "bench").expect("begin");
        runner
            .record_accepted_many(&accepted(&attempts))
            .expect("accept");
        runner
            .record_outcome_many(&successes(&attempts))
            .expect("outcome");
    }
    (enq, t.elapsed().as_secs_f64())
}

fn schema(base: &str) -> String {
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut c = ::postgres::Client::connect(base, ::postgres::NoTls).expect("postgres");
    c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{name}")
}

fn main() {
    let n: usize = std::env::var("MOADIAN_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.sqlite");
    let q = AnyQueue::open_with(file.to_str().unwrap(), QueueOptions::default()).unwrap();
    let (e, s) = work(&q, "A11111", n);
    let (sq_enq, sq_send) = (n as f64 / e, n as f64 / s);
    println!("SQLite, 1 runner:      enqueue {sq_enq:>7.0}/s, send bookkeeping {sq_send:>7.0}/s");
    let Ok(base) = std::env::var("MOADIAN_BENCH_POSTGRES_URL") else {
        println!("(set MOADIAN_BENCH_POSTGRES_URL for the PostgreSQL runs)");
        return;
    };
    let mut one = 0.0;
    for runners in [1usize, 2, 4] {
        let url = schema(&base);
        // Created (and migrated) once, as a deployment would be.
        drop(AnyQueue::open_with(&url, QueueOptions::default()).unwrap());
        let t = Instant::now();
        let times: Vec<(f64, f64)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..runners)
                .map(|r| {
                    let url = url.clone();
                    s.spawn(move || {
                        let q = AnyQueue::open_with(&url, QueueOptions::default()).unwrap();
                        work(&q, &format!("B{r:05}"), n)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let wall = t.elapsed().as_secs_f64();
        let total = (n * runners) as f64;
        let enq = times.iter().map(|t| t.0).fold(0.0, f64::max);
        let send = times.iter().map(|t| t.1).fold(0.0, f64::max);
        let rate = total / wall;
        if runners == 1 {
            one = rate;
        }
        println!(
            "PostgreSQL, {runners} runner{}: enqueue {:>7.0}/s ({:.2} × SQLite), send bookkeeping {:>7.0}/s ({:.2} × SQLite); all {rate:.0}/s = {:.2} × one runner",
            if runners == 1 { " " } else { "s" },
            total / enq,
            total / enq / sq_enq,
            total / send,
            total / send / sq_send,
            rate / one
        );
    }
}
