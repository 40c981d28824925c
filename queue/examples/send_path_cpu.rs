//! CPU the SQLite queue spends on the send path, per invoice: enqueue N invoices into a fresh
//! file, then, in batches of the send size (100), `begin_attempt`, `record_accepted_many` and
//! `record_outcome_many` (SUCCESS), timing each phase by the process's user + system CPU
//! (`getrusage`), not wall time, so other work on the machine counts for little.
//!
//! Run: `cargo run --release -p moadian-queue --example send_path_cpu [N] [runs]`
//! (default N = 10000, 1 run; with several runs each prints its line and the medians follow).

#[path = "../benches/support/mod.rs"]
mod support;

use moadian_queue::*;
use support::{accepted, items, successes};

const BATCH: usize = 100;
const MEM: &str = "A11111";

fn cpu_us() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// One run: CPU µs per invoice of (begin, accepted, outcome).
fn run(n: usize) -> [f64; 3] {
    let dir = tempfile::tempdir().unwrap();
    let q = SqliteQueue::open(dir.path().join("q.sqlite")).unwrap();
    for start in (0..n).step_by(BATCH) {
        q.enqueue_batch(items(MEM, start, BATCH.min(n - start)))
            .expect("enqueue");
    }
    let runner = q.acquire_runner().expect("runner");
    let mut spent = [0.0f64; 3];
    let mut after = None;
    loop {
        let batch = runner.next_sendable(MEM, BATCH, after).expect("next");
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        let keys: Vec<_> = batch.iter().map(|i| i.key()).collect();
        let t = cpu_us();
        let attempts = runner.begin_attempt(&keys, "bench").expect("begin");
        spent[0] += cpu_us() - t;
        let acc = accepted(&attempts);
        let t = cpu_us();
        for r in runner.record_accepted_many(&acc).expect("accept") {
            r.expect("accepted");
        }
        spent[1] += cpu_us() - t;
        let out = successes(&attempts);
        let t = cpu_us();
        for r in runner.record_outcome_many(&out).expect("outcome") {
            r.expect("outcome");
        }
        spent[2] += cpu_us() - t;
    }
    spent.map(|s| s / n as f64)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut all = Vec::new();
    for _ in 0..runs {
        let r = run(n);
        println!(
            "N={n}: CPU µs per invoice: begin {:.1}, accepted {:.1}, outcome {:.1}, total {:.1}",
            r[0],
            r[1],
            r[2],
            r.iter().sum::<f64>()
        );
        all.push(r);
    }
    if runs > 1 {
        let median = |i: usize| {
            let mut v: Vec<f64> = all.iter().map(|r| r[i]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let m = [median(0), median(1), median(2)];
        println!(
            "median of {runs}: begin {:.1}, accepted {:.1}, outcome {:.1}, total {:.1}",
            m[0],
            m[1],
            m[2],
            m.iter().sum::<f64>()
        );
    }
}
