//! A small driver for a queue file, used by the crash-safety tests and the benchmark:
//!
//! * `moadian-queue-stress enqueue DB COUNT [BATCH] [PAYLOAD_BYTES]` — enqueue COUNT invoices
//!   (~PAYLOAD_BYTES of JSON each) in batches, print the rate (run it under `/usr/bin/time -v`
//!   for peak memory).
//! * `moadian-queue-stress churn DB SEED` — hold the runner lock and cycle enqueue → attempt →
//!   acceptance → outcome forever, printing a line after each commit (`E id`, `B uid`,
//!   `A uid ref`, `O uid STATUS`). The crash tests SIGKILL it and check what it reported.
//! * `moadian-queue-stress hold DB` — hold the runner lock until stdin closes.

use moadian_queue::{Built, Content, NewInvoice, Queue, RunnerStore, ServerStatus, Store};
use std::io::Read;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn payload(taxid: &str, serial: u64, bytes: usize) -> String {
    // A realistic invoice body: header + items, padded with more items up to `bytes`.
    let mut items = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < bytes.saturating_sub(300) {
        let item = format!(
            r#"{{"sstid":"2330001234567","sstt":"کالای شماره {i}","am":"2","mu":"164","fee":"1250000","prdis":"2500000","dis":"0","adis":"2500000","vra":"10","vam":"250000","tsstam":"2750000"}}"#
        );
        len += item.len();
        items.push(item);
        i += 1;
    }
    format!(
        r#"{{"header":{{"taxid":"{taxid}","inno":"{serial:010X}","indatim":1700000000000,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"0012345678","tprdis":"2500000","tdis":"0","tadis":"2500000","tvam":"250000","tbill":"2750000","setm":1}},"body":[{}],"payments":[]}}"#,
        items.join(",")
    )
}

fn taxid_for(memory: &str, serial: u64) -> String {
    format!("{memory}{serial:016X}")
}

fn alloc(source: String, memory: &'static str, bytes: usize) -> NewInvoice<'static> {
    NewInvoice {
        source,
        memory_id: memory.into(),
        indatim: Some(1_700_000_000_000),
        kind: Some("1".into()),
        ins: Some(1),
        dedup_key: None,
        content: Content::Allocate(Box::new(move |serial| {
            let taxid = taxid_for(memory, serial);
            Ok(Built {
                payload: payload(&taxid, serial, bytes),
                taxid,
                findings: None,
                invalid: false,
                indatim: None,
            })
        })),
    }
}

fn enqueue(db: &str, count: usize, batch: usize, bytes: usize) -> Res<()> {
    let q = Queue::open(db)?;
    let start = Instant::now();
    let mut done = 0;
    while done < count {
        let n = batch.min(count - done);
        let items = (0..n)
            .map(|i| alloc(format!("bench/{}.json", done + i), "A11111", bytes))
            .collect();
        q.enqueue_batch(items)?;
        done += n;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "enqueued {count} invoices of ~{bytes} B in batches of {batch}: {secs:.2} s, {:.0} invoices/s",
        count as f64 / secs
    );
    Ok(())
}

/// xorshift: deterministic choices without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn churn(db: &str, seed: u64) -> Res<()> {
    let q = Queue::open(db)?;
    let runner = q.acquire_runner()?;
    println!("READY {}", std::process::id());
    let mut rng = Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut round = 0u64;
    loop {
        round += 1;
        let n = 20 + (rng.next() % 200) as usize;
        let items = (0..n)
            .map(|i| alloc(format!("churn/{round}/{i}"), "A22222", 600))
            .collect();
        for e in q.enqueue_batch(items)? {
            if let Some(p) = e.placed() {
                println!("E {}", p.id.0);
            }
        }
        // Reconcile what an earlier killed run left unknown: found SUCCESS, no resend.
        let unknown: Vec<_> = q.to_reconcile()?.into_iter().map(|a| a.uid).collect();
        for uid in unknown {
            runner.record_outcome(uid, ServerStatus::Success, None, None)?;
            println!("O {uid} SUCCESS");
        }
        let sendable = runner.next_sendable("A22222", 1 + (rng.next() % 150) as usize, None)?;
        let keys: Vec<_> = sendable.iter().map(|i| i.key()).collect();
        if keys.is_empty() {
            continue;
        }
        let attempts = runner.begin_attempt(&keys, &format!("b{round}"))?;
        for a in &attempts {
            println!("B {}", a.uid);
        }
        let accepted: Vec<_> = attempts
            .iter()
            .filter(|_| !rng.next().is_multiple_of(4))
            .map(|a| (a.uid, format!("ref-{}", a.uid)))
            .collect();
        for r in runner.record_accepted_many(&accepted)? {
            r?;
        }
        for (uid, reference) in &accepted {
            println!("A {uid} {reference}");
        }
        let lost: Vec<_> = attempts
            .iter()
            .map(|a| a.uid)
            .filter(|u| !accepted.iter().any(|(x, _)| x == u))
            .collect();
        for r in runner.mark_unknown_many(&lost, "timeout")? {
            r?;
        }
        for (uid, _) in &accepted {
            if rng.next().is_multiple_of(2) {
                continue;
            }
            let status = if rng.next().is_multiple_of(5) {
                ServerStatus::Failed
            } else {
                ServerStatus::Success
            };
            runner.record_outcome(*uid, status, None, None)?;
            println!("O {uid} {}", status.as_str());
        }
    }
}

fn hold(db: &str) -> Res<()> {
    let q = Queue::open(db)?;
    let _runner = q.acquire_runner()?;
    println!("READY {}", std::process::id());
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}

fn usage() -> Res<()> {
    Err("usage: moadian-queue-stress (enqueue DB COUNT [BATCH] [PAYLOAD_BYTES] | churn DB SEED | hold DB)".into())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: usize| -> Res<usize> {
        Ok(match args.get(i) {
            Some(s) => s.parse()?,
            None => default,
        })
    };
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("enqueue"), Some(db)) => enqueue(db, num(2, 100_000)?, num(3, 1000)?, num(4, 1500)?),
        (Some("churn"), Some(db)) => churn(db, num(2, 1)? as u64),
        (Some("hold"), Some(db)) => hold(db),
        _ => usage(),
    }
}
