//! Many runners on one PostgreSQL queue for two taxpayers, killed at random. Two memory IDs,
//! each with its own SoftHSM token, certificate and national ID (profile `a`: the demo
//! taxpayer on A11216; profile `b`: a second taxpayer on B22336). Each trial starts three
//! `moadian` processes at once on the same queue: `submit` of A's files by a runner whose
//! configuration has ONLY profile `a` (it has no signer for B), `submit` of B's files, and a
//! `run` for A or B (alternating), and SIGKILLs one of them after a random delay — the holder of
//! a live lease when there is one. Only a memory ID's lease holder sends for it; the others find
//! it busy. A killed holder's lease expires (short lifetime here) and the next runner takes over,
//! reconciling its unknown attempts by inquiry before sending.
//!
//! Every valid invoice must end SUCCESS exactly once in the sandbox's ledger, and the queue's
//! own records show that the runner without B's signer never held B's lease (a watcher samples
//! the lease table throughout) and never wrote an event on one of B's invoices. As in
//! `crash_sigkill`, a trial whose runners all ended before the kill is not counted and lowers
//! the ceiling of the random delay (the test adapts to the machine's speed).
//!
//! Needs SoftHSM2 and the PostgreSQL server `scripts/test.sh` starts; fails without them.

mod e2e_support;
mod pg_support;
use e2e_support::*;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TRIALS: u64 = 30;
/// Invoices per memory ID and trial.
const PER_TRIAL: u64 = 5;
const LEASE_TTL_MS: &str = "600";
const MEMORY_B: &str = "B22336";
const NATIONAL_B: &str = "10100302746";

/// The live leases: (memory ID, pid of the holder).
fn live_leases(c: &mut postgres::Client) -> Vec<(String, u32)> {
    let now = chrono::Utc::now().timestamp_millis();
    c.query(
        "SELECT memory_id, pid FROM leases WHERE expires > $1 AND runner <> ''",
        &[&now],
    )
    .map(|rows| {
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u32))
            .collect()
    })
    .unwrap_or_default()
}

/// Off the async runtime (the blocking client makes its own).
fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().expect("blocking query")
}

/// Samples the lease table until stopped: every (memory ID, holder pid) seen live.
struct LeaseWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeSet<(String, u32)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaseWatch {
    fn start(url: &str) -> LeaseWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let (s, v, url) = (stop.clone(), seen.clone(), url.to_string());
        let thread = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("watcher");
            while !s.load(Ordering::SeqCst) {
                v.lock().unwrap().extend(live_leases(&mut c));
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        LeaseWatch {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> BTreeSet<(String, u32)> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().expect("watcher");
        self.seen.lock().unwrap().clone()
    }
}

/// Profile `name` for memory ID `memory` signed on token `label`.
fn profile(env: &Env, name: &str, memory: &str, national: &str, label: &str) -> String {
    format!(
        "[profiles.{name}]\nmemory_id = \"{memory}\"\nnational_id = \"{national}\"\neconomic_code = \"{national}\"\nendpoint = \"{}\"\nbatch_size = 3\n[profiles.{name}.signer]\npkcs11_module = \"{}\"\ntoken_label = \"{label}\"\n",
        env.sandbox.base_url(),
        hsm().module.display()
    )
}

fn runner(env: &Env, config: &Path, queue: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = env.command_cq(config, queue, args);
    c.env("MOADIAN_LEASE_TTL_MS", LEASE_TTL_MS);
    c
}

/// Runs to the end: (pid, exit code, stdout).
async fn run_pid(mut c: tokio::process::Command) -> (u32, i32, String) {
    let child = c.spawn().expect("moadian runs");
    let pid = child.id().expect("pid");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("moadian finishes within 2 minutes")
        .expect("moadian runs");
    (
        pid,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn all_success(out: &str, taxids: &[String]) -> bool {
    serde_json::from_str::<serde_json::Value>(out).is_ok_and(|v| {
        let st = statuses(&v);
        taxids
            .iter()
            .all(|t| st.get(t).map(String::as_str) == Some("SUCCESS"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_two_memory_ids_on_one_postgres_queue_sigkilled_send_each_invoice_once() {
    let sandbox = moadian::sandbox::SandboxConfig {
        faults: moadian::sandbox::Faults {
            latency_ms: 10,
            processing_delay_ms: 40,
            ..moadian::sandbox::Faults::default()
        },
        taxpayers: vec![moadian::sandbox::TaxpayerConfig {
            memory_id: MEMORY_B.into(),
            national_id: NATIONAL_B.into(),
            economic_code: NATIONAL_B.into(),
            name_trade: None,
            authorized_national_ids: Vec::new(),
            fiscal_status: None,
        }],
        ..moadian::sandbox::SandboxConfig::default()
    };
    let env = Env::with_sandbox(sandbox, 3).await;
    // Two tokens: A's (made by Env) and B's, each with its own certificate and national ID.
    let (label_b, _ident_b) = token_of("e2e-b", NATIONAL_B);
    let prof_a = profile(&env, "a", MEMORY_ID, NATIONAL_ID, &env.label);
    let prof_b = profile(&env, "b", MEMORY_B, NATIONAL_B, &label_b);
    let both = env.path("both.toml");
    std::fs::write(&both, format!("{prof_a}{prof_b}")).unwrap();
    // The runner that holds only A's signer: its configuration has no profile for B.
    let only_a = env.path("only-a.toml");
    std::fs::write(&only_a, &prof_a).unwrap();

    let queue = PathBuf::from(pg_support::schema_url("kill", None));
    let url = queue.to_str().unwrap().to_string();
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
    // Every pid of a process started with only A's profile.
    let mut only_a_pids: HashSet<u32> = HashSet::new();
    let mut holder_kills = [0u64; 2];
    let mut ceiling_ms = 800u64;
    let watch = LeaseWatch::start(&url);
    let mut probe = {
        let u = url.clone();
        blocking(move || postgres::Client::connect(&u, postgres::NoTls).map(|c| OffThread(Some(c))))
            .expect("probe connection")
    };
    for trial in 0..TRIALS * 4 {
        if kills == TRIALS {
            break;
        }
        let dir_a = env.path(&format!("trial-{trial}-a"));
        let dir_b = env.path(&format!("trial-{trial}-b"));
        let from = 1 + trial * 1000;
        let ids_a = write_invoices(&dir_a, from, PER_TRIAL);
        let ids_b = write_invoices_of(&dir_b, from, PER_TRIAL, |s, t| {
            invoice_of(MEMORY_B, NATIONAL_B, NATIONAL_ID, s, t)
        });
        let (da, db) = (dir_a.to_str().unwrap(), dir_b.to_str().unwrap());
        let third = if trial % 2 == 0 { "b" } else { "a" };
        let mut children = vec![
            runner(
                &env,
                &only_a,
                &queue,
                &["submit", "--profile", "a", "--wait", "10s", da],
            )
            .spawn()
            .unwrap(),
            runner(
                &env,
                &both,
                &queue,
                &["submit", "--profile", "b", "--wait", "10s", db],
            )
            .spawn()
            .unwrap(),
            runner(
                &env,
                &both,
                &queue,
                &["run", "--profile", third, "--wait", "10s"],
            )
            .spawn()
            .unwrap(),
        ];
        only_a_pids.extend(children[0].id());
        // After a random delay, SIGKILL a runner holding a lease (one sending; A's or B's
        // holder by turns), or else one still running.
        let after = Duration::from_millis(rng.gen_range(0..ceiling_ms.max(1)));
        tokio::time::sleep(after).await;
        let leases = probe.run(live_leases);
        let running: Vec<usize> = (0..children.len())
            .filter(|&i| children[i].try_wait().ok().flatten().is_none())
            .collect();
        let holds = |i: usize, mem: &str| {
            let pid = children[i].id();
            leases.iter().any(|(m, p)| m == mem && Some(*p) == pid)
        };
        let (first, second) = if trial % 2 == 0 {
            (MEMORY_ID, MEMORY_B)
        } else {
            (MEMORY_B, MEMORY_ID)
        };
        let victim_holds = [first, second]
            .into_iter()
            .find_map(|m| running.iter().find(|&&i| holds(i, m)).map(|&i| (i, m)));
        let victim = victim_holds
            .map(|(i, _)| i)
            .or_else(|| (!running.is_empty()).then(|| running[rng.gen_range(0..running.len())]));
        let mut killed = false;
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
            if let Some((_, m)) = victim_holds {
                holder_kills[usize::from(m == MEMORY_B)] += 1;
            }
            eprintln!(
                "trial {trial}: killed runner {victim:?} after {after:?} (holding the lease of {:?})",
                victim_holds.map(|(_, m)| m)
            );
        } else {
            // This machine is faster than the ceiling assumed: kills land earlier from now on.
            ceiling_ms = (after.as_millis() as u64).max(1);
            eprintln!(
                "trial {trial}: every runner ended before {after:?}; not counted, kills now land below {ceiling_ms} ms"
            );
        }
        // Finish the trial: submit both taxpayers' files again (a kill before enqueueing left
        // them out), then run until everything is final; a dead holder's lease expires
        // meanwhile.
        let (mut done_a, mut done_b) = (false, false);
        for _ in 0..40 {
            let a = async {
                if done_a {
                    return None;
                }
                let c = runner(
                    &env,
                    &only_a,
                    &queue,
                    &["submit", "--profile", "a", "--wait", "10s", "--json", da],
                );
                Some(run_pid(c).await)
            };
            let b = async {
                if done_b {
                    return None;
                }
                let c = runner(
                    &env,
                    &both,
                    &queue,
                    &["submit", "--profile", "b", "--wait", "10s", "--json", db],
                );
                Some(run_pid(c).await)
            };
            let (ra, rb) = tokio::join!(a, b);
            if let Some((pid, code, out)) = ra {
                only_a_pids.insert(pid);
                done_a = code == 0 && all_success(&out, &ids_a);
            }
            if let Some((_, code, out)) = rb {
                done_b = code == 0 && all_success(&out, &ids_b);
            }
            if done_a && done_b {
                break;
            }
            // Busy (a killed holder's lease has not expired yet): wait for it, then again.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            done_a && done_b,
            "trial {trial} did not complete (A {done_a}, B {done_b})"
        );
        all.extend(ids_a);
        all.extend(ids_b);
    }
    let seen = watch.finish();
    assert_eq!(
        kills, TRIALS,
        "every counted trial killed a running process"
    );
    eprintln!(
        "{} of {kills} kills hit A's lease holder, {} B's",
        holder_kills[0], holder_kills[1]
    );
    assert!(
        holder_kills[0] > 0 && holder_kills[1] > 0,
        "kills hit the sending runner of each memory ID, so another had to take over its lease: {holder_kills:?}"
    );

    // The runner without B's signer never held B's lease, and never touched B's invoices.
    let held_by_only_a: BTreeSet<&str> = seen
        .iter()
        .filter(|(_, p)| only_a_pids.contains(p))
        .map(|(m, _)| m.as_str())
        .collect();
    assert_eq!(
        held_by_only_a,
        BTreeSet::from([MEMORY_ID]),
        "the runner with only A's profile held A's lease and never B's (leases seen: {seen:?})"
    );
    let pids: Vec<i64> = only_a_pids.iter().map(|&p| i64::from(p)).collect();
    let per_memory = probe.run(move |c| {
        c.query(
            "SELECT i.memory_id, count(*) FROM events e JOIN invoices i ON i.id = e.invoice_id
             WHERE e.pid = ANY($1) GROUP BY i.memory_id ORDER BY i.memory_id",
            &[&pids],
        )
        .expect("events")
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect::<Vec<_>>()
    });
    assert!(
        per_memory.len() == 1 && per_memory[0].0 == MEMORY_ID && per_memory[0].1 > 0,
        "events written by the runner with only A's profile, by memory ID: {per_memory:?}"
    );
    // B's invoices were sent by runners holding B's lease (other processes).
    let b_attempts = probe.run(|c| {
        c.query_one(
            "SELECT count(*) FROM events e JOIN invoices i ON i.id = e.invoice_id
             WHERE i.memory_id = $1 AND e.kind = 'attempt_started'",
            &[&MEMORY_B],
        )
        .expect("events")
        .get::<_, i64>(0)
    });
    assert!(
        b_attempts >= (TRIALS * PER_TRIAL) as i64,
        "B's attempts: {b_attempts}"
    );

    let client = probe.0.take();
    blocking(move || drop(client));

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

/// A blocking client used from the async test: each query runs on a plain thread.
struct OffThread(Option<postgres::Client>);

impl OffThread {
    fn run<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
    ) -> T {
        // The blocking client must not run on a runtime thread: moved to one and back.
        let mut c = self.0.take().expect("client");
        let (t, c) = blocking(move || {
            let t = f(&mut c);
            (t, c)
        });
        self.0 = Some(c);
        t
    }
}
