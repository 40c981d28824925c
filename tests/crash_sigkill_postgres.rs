//! Many runners on one PostgreSQL queue, killed at random: each trial starts three `moadian`
//! processes at once on the same queue and memory ID (`submit` of the trial's files, and two
//! `run`s), and SIGKILLs one of them after a random delay. Only the lease holder sends; the
//! others find the memory ID busy. A killed holder's lease expires (short lifetime here) and
//! the next `run` takes over, reconciling its unknown attempts by inquiry before sending.
//! Every valid invoice must end SUCCESS exactly once in the sandbox's ledger. As in
//! `crash_sigkill`, a trial whose runners all ended before the kill is not counted and lowers
//! the ceiling of the random delay (the test adapts to the machine's speed).
//!
//! Needs SoftHSM2 and the PostgreSQL server `scripts/test.sh` starts; fails without them.

mod e2e_support;
mod pg_support;
use e2e_support::*;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TRIALS: u64 = 30;
const PER_TRIAL: u64 = 10;
const LEASE_TTL_MS: &str = "600";

/// The pid of the runner holding a live lease, if any.
fn lease_holder(url: &str) -> Option<u32> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).ok()?;
        let now = chrono::Utc::now().timestamp_millis();
        c.query_opt(
            "SELECT pid FROM leases WHERE expires > $1 AND runner <> '' LIMIT 1",
            &[&now],
        )
        .ok()
        .flatten()
        .map(|r| r.get::<_, i64>(0) as u32)
    })
    .join()
    .ok()
    .flatten()
}

fn runner(env: &Env, queue: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = env.command_q(queue, args);
    c.env("MOADIAN_LEASE_TTL_MS", LEASE_TTL_MS);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_on_one_postgres_queue_sigkilled_at_random_send_each_invoice_once() {
    let env = Env::new(
        moadian::sandbox::Faults {
            latency_ms: 10,
            processing_delay_ms: 40,
            ..moadian::sandbox::Faults::default()
        },
        3,
    )
    .await;
    let queue = PathBuf::from(pg_support::schema_url("kill", None));
    let seed: u64 = std::env::var("MOADIAN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("multi-runner crash trials with MOADIAN_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut all = Vec::new();
    let mut kills = 0;
    // SoftHSM rewrites its token files at every login, so a SIGKILL can cut one short; after
    // each trial, with no process using the token, the files are put back (see
    // `repair_cut_token_files`): an artefact of the file-based stand-in, not of the queue.
    let tokens = hsm().dir.join("tokens");
    let token_backup = env.path("token-backup");
    copy_token_files(&tokens, &token_backup);
    let mut holder_kills = 0u64;
    let mut ceiling_ms = 600u64;
    for trial in 0..TRIALS * 4 {
        if kills == TRIALS {
            break;
        }
        let dir = env.path(&format!("trial-{trial}"));
        let taxids = write_invoices(&dir, 1 + trial * 1000, PER_TRIAL);
        let d = dir.to_str().unwrap();
        let mut children = vec![
            runner(&env, &queue, &["submit", "--wait", "10s", d])
                .spawn()
                .unwrap(),
            runner(&env, &queue, &["run", "--wait", "10s"])
                .spawn()
                .unwrap(),
            runner(&env, &queue, &["run", "--wait", "10s"])
                .spawn()
                .unwrap(),
        ];
        // After a random delay, SIGKILL the runner holding the lease (the one sending), or
        // else one still running.
        let after = Duration::from_millis(rng.gen_range(0..ceiling_ms.max(1)));
        tokio::time::sleep(after).await;
        let holder = lease_holder(queue.to_str().unwrap());
        let mut running = Vec::new();
        for (i, c) in children.iter_mut().enumerate() {
            if c.try_wait().ok().flatten().is_none() {
                running.push(i);
            }
        }
        let victim = running
            .iter()
            .copied()
            .find(|&i| children[i].id() == holder && holder.is_some())
            .or_else(|| (!running.is_empty()).then(|| running[rng.gen_range(0..running.len())]));
        let mut killed = false;
        let was_holder = victim.is_some_and(|v| holder.is_some() && children[v].id() == holder);
        if let Some(v) = victim {
            let _ = children[v].start_kill();
            let status = children[v].wait().await.expect("wait");
            killed = std::os::unix::process::ExitStatusExt::signal(&status) == Some(9);
        }
        for c in &mut children {
            let _ = c.wait().await;
        }
        if repair_cut_token_files(&token_backup, &tokens) > 0 {
            eprintln!("trial {trial}: the kill cut SoftHSM's token file; put back (re-plugged)");
        }
        if killed {
            kills += 1;
            holder_kills += u64::from(was_holder);
            eprintln!(
                "trial {trial}: killed runner {victim:?} after {after:?} (the lease holder: {was_holder})"
            );
        } else {
            // This machine is faster than the ceiling assumed: kills land earlier from now on.
            ceiling_ms = (after.as_millis() as u64).max(1);
            eprintln!(
                "trial {trial}: every runner ended before {after:?}; not counted, kills now land below {ceiling_ms} ms"
            );
        }
        // Finish the trial: submit the files again (a kill before enqueueing left them out),
        // then run until everything is final; a dead holder's lease expires meanwhile.
        let mut done = false;
        let mut last = serde_json::Value::Null;
        for _ in 0..40 {
            let (code, out, _err) = env
                .run_q(&queue, &["submit", "--wait", "10s", "--json", d])
                .await;
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) {
                let st = statuses(&v);
                last = v;
                if code == 0
                    && taxids
                        .iter()
                        .all(|t| st.get(t).map(String::as_str) == Some("SUCCESS"))
                {
                    done = true;
                    break;
                }
            }
            // Busy (a killed holder's lease has not expired yet): wait for it, then again.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(done, "trial {trial} did not complete: {last:#}");
        all.extend(taxids);
    }
    assert_eq!(
        kills, TRIALS,
        "every counted trial killed a running process"
    );
    eprintln!("{holder_kills} of {kills} kills hit the runner holding the lease");
    assert!(
        holder_kills > 0,
        "at least one kill hit the sending runner, so another had to take over its lease"
    );
    let ledger = env.sandbox.ledger();
    for t in &all {
        assert_eq!(
            ledger.succeeded(t),
            1,
            "tax ID {t} must be SUCCESS exactly once"
        );
        assert_eq!(
            ledger.taxids[t].failed, 0,
            "tax ID {t}: {:?}",
            ledger.taxids[t]
        );
    }
}
