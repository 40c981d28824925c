//! Crash safety (invariants 2 and 3): `moadian submit` is killed with SIGKILL at random moments
//! — while enqueueing, signing, POSTing, polling — and `moadian run` is started again. Every
//! valid invoice must end SUCCESS exactly once in the sandbox's ledger: none lost, none sent
//! twice. The sandbox lives in the test process, so its ledger survives each kill.

mod e2e_support;
use e2e_support::*;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::Duration;

const TRIALS: u64 = 24;
const PER_TRIAL: u64 = 12;

/// The trials put SoftHSM's token files back after each kill, so two of them must not run at
/// once (one would rewrite the files of the other's token while it is in use).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_2_and_3_sigkill_at_random_points_then_run_completes_exactly_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    let faults = moadian::sandbox::Faults {
        latency_ms: 15,
        processing_delay_ms: 60,
        ..moadian::sandbox::Faults::default()
    };
    // Small batches, so a kill can land between two POSTs of one submission.
    let env = Env::new(faults, 4).await;
    kill_trials(&env, TRIALS, PER_TRIAL, 0..450).await;
}

/// Issue #10: the same trials while the sandbox rotates its encryption key (04150 for what was
/// encrypted to the old key) and answers TIMEOUT (not registered): both are sent again with the
/// same tax ID, and still every valid invoice is SUCCESS exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_the_key_rotates_and_the_server_answers_timeout() {
    let _one = ONE_AT_A_TIME.lock().await;
    let faults = moadian::sandbox::Faults {
        latency_ms: 10,
        processing_delay_ms: 40,
        rotate_key_rate: 0.15,
        timeout_rate: 0.15,
        ..moadian::sandbox::Faults::default()
    };
    let env = Env::new(faults, 3).await;
    kill_trials(&env, 30, 6, 0..400).await;
    let f = env.sandbox.ledger().faults;
    assert!(
        f.key_rotations > 0,
        "the key rotated during the trials: {f:?}"
    );
    assert!(
        f.timeouts > 0,
        "TIMEOUT answers happened during the trials: {f:?}"
    );
}

/// `trials` submissions of `per_trial` invoices, each killed with SIGKILL after a random delay
/// below a ceiling; then `run` (and the same `submit` again) until every invoice is SUCCESS: each
/// exactly once in the ledger (none lost, none twice). Every counted trial must really kill a
/// running process (a submission that finished first proves nothing): when one finishes before
/// its kill, this machine is faster than the ceiling assumed, so the ceiling drops to that delay
/// and the trial is done again with fresh invoices. The test fails if it cannot reach `trials`
/// real kills.
async fn kill_trials(env: &Env, trials: u64, per_trial: u64, kill_ms: std::ops::Range<u64>) {
    let seed: u64 = std::env::var("MOADIAN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash trials with MOADIAN_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut all = Vec::new();
    let mut kills = 0;
    let mut ceiling_ms = kill_ms.end;
    let tokens = hsm().dir.join("tokens");
    let token_backup = env.path("token-backup");
    copy_token_files(&tokens, &token_backup);
    let max_attempts = trials * 3;
    for trial in 0..max_attempts {
        if kills == trials {
            break;
        }
        let dir = env.path(&format!("trial-{trial}"));
        let taxids = write_invoices(&dir, 1 + trial * 1000, per_trial);
        let queue = env.path(&format!("queue-{trial}.sqlite"));
        let mut child = env
            .command_q(&queue, &["submit", "--wait", "10s", dir.to_str().unwrap()])
            .spawn()
            .expect("moadian starts");
        let low = kill_ms.start.min(ceiling_ms.saturating_sub(1));
        let after = Duration::from_millis(rng.gen_range(low..ceiling_ms.max(low + 1)));
        let mut finished = tokio::time::timeout(after, child.wait()).await.is_ok();
        if !finished {
            child.start_kill().expect("SIGKILL");
            let status = child.wait().await.expect("wait for the killed process");
            // It may have ended by itself between the timer and the signal.
            finished = std::os::unix::process::ExitStatusExt::signal(&status) != Some(9);
        }
        if finished {
            ceiling_ms = (after.as_millis() as u64).max(1);
            eprintln!(
                "trial {trial}: submit finished before the kill at {after:?}; not counted, \
                 kills now land below {ceiling_ms} ms"
            );
            complete_and_check(env, trial, after, &queue, &dir, &taxids).await;
            all.extend(taxids);
            continue;
        }
        kills += 1;
        let repaired = repair_cut_token_files(&token_backup, &tokens);
        if repaired > 0 {
            eprintln!("trial {trial}: the kill cut SoftHSM's token file; put back (re-plugged)");
        }
        let ledger = env.sandbox.ledger();
        let sent_before = taxids.iter().filter(|t| ledger.received(t) > 0).count();
        eprintln!(
            "trial {trial}: killed after {after:?}; {sent_before}/{per_trial} already at the server"
        );
        complete_and_check(env, trial, after, &queue, &dir, &taxids).await;
        all.extend(taxids);
    }
    assert_eq!(
        kills, trials,
        "every counted trial killed a running process (ceiling reached {ceiling_ms} ms)"
    );
    assert_succeeded_once(env, &all);
}

/// After a kill (or a submission that ended by itself): the next scheduled `run` reconciles and
/// sends what was left in the queue, the person submits the same files again, and `run` goes on
/// until exit 0; every invoice of the trial is then SUCCESS exactly once.
async fn complete_and_check(
    env: &Env,
    trial: u64,
    after: Duration,
    queue: &Path,
    dir: &Path,
    taxids: &[String],
) {
    let _ = env.run_json_q(queue, &["run", "--wait", "5s"]).await;
    // A kill before enqueueing left some out of the queue; nothing already sent may go out twice.
    let _ = env
        .run_json_q(queue, &["submit", "--wait", "5s", dir.to_str().unwrap()])
        .await;
    let mut done = false;
    let mut last = serde_json::Value::Null;
    for _ in 0..6 {
        let (code, report, _err) = env.run_json_q(queue, &["run", "--wait", "10s"]).await;
        last = report;
        if code == 0 {
            done = true;
            break;
        }
    }
    assert!(
        done,
        "trial {trial} (killed after {after:?}) did not complete: {last:#}"
    );
    let st = statuses(&last);
    for t in taxids {
        assert_eq!(
            st.get(t).map(String::as_str),
            Some("SUCCESS"),
            "trial {trial}: {last:#}"
        );
    }
    assert_succeeded_once(env, taxids);
}

/// Every tax ID SUCCESS exactly once; received more than once only when the earlier packets
/// were not registered (TIMEOUT, or refused because the key changed — those never reach the
/// ledger as received).
fn assert_succeeded_once(env: &Env, taxids: &[String]) {
    let ledger = env.sandbox.ledger();
    for t in taxids {
        assert_eq!(
            ledger.succeeded(t),
            1,
            "tax ID {t} must be SUCCESS exactly once"
        );
        let e = &ledger.taxids[t];
        assert_eq!(
            e.failed, 0,
            "tax ID {t}: a FAILED packet (a duplicate?) after a resend: {e:?}"
        );
    }
}
