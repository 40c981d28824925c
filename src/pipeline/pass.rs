//! One pass over a queue: reconcile what is unknown, send what is queued, poll what is pending —
//! repeated while invoices come back to the queue (declared lost) and `wait` allows. This is
//! what `submit` runs after enqueueing and what `run` (cron) runs as is.

use crate::api::Client;
use crate::crypto::jws::JwsOptions;
use crate::pipeline::poll::{poll, Learning, PollOptions, PollStats};
use crate::pipeline::send::{blocking, send_queued, SendStats};
use crate::pipeline::{Observer, PipelineError, Runner, StopReason};
use moadian_queue::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a pass runs.
#[derive(Debug, Clone)]
pub struct PassOptions {
    /// Invoices per POST (≤1000).
    pub batch_size: usize,
    /// How long to keep polling for final statuses (0: one inquiry round, no waiting).
    pub wait: Duration,
    pub poll: PollOptions,
    /// JWS header options of the invoices.
    pub jws: JwsOptions,
    /// Send QUEUED invoices (false: only reconcile and poll).
    pub send: bool,
    /// Threads that sign and encrypt at once.
    pub sign_threads: usize,
}

impl Default for PassOptions {
    fn default() -> Self {
        Self {
            batch_size: crate::api::MAX_BATCH,
            wait: Duration::from_secs(60),
            poll: PollOptions::from_env(),
            jws: JwsOptions::default(),
            send: true,
            sign_threads: crate::crypto::config::sign_threads(None),
        }
    }
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct PassStats {
    pub send: SendStats,
    pub poll: PollStats,
    /// Why the pass stopped early (queue intact), if it did.
    pub stopped: Option<StopReason>,
    /// The process's CPU time when the server had answered the last POST of the pass (none
    /// when nothing was sent): what getting these invoices accepted cost, polling aside.
    pub accepted_cpu: Option<Duration>,
}

/// CPU time (user + system) this process has used so far, all its threads counted.
pub fn process_cpu() -> Option<Duration> {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given and returns 0, or fails and leaves it.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { u.assume_init() };
    let t = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec.max(0) as u64)
            + Duration::from_micros(tv.tv_usec.max(0) as u64)
    };
    Some(t(u.ru_utime) + t(u.ru_stime))
}

fn add(total: &mut SendStats, s: SendStats) {
    total.posted += s.posted;
    total.accepted += s.accepted;
    total.unknown += s.unknown;
    total.requeued += s.requeued;
    total.signed += s.signed;
}

fn add_poll(total: &mut PollStats, p: PollStats) {
    total.rounds += p.rounds;
    total.inquiries += p.inquiries;
    total.finalized += p.finalized;
    total.requeued += p.requeued;
    total.open = p.open;
    total.learned.merge(&p.learned);
}

/// Runs one pass for the client's memory ID.
pub async fn run_pass(
    runner: Arc<Runner>,
    client: Arc<Client>,
    opts: &PassOptions,
    obs: &dyn Observer,
) -> Result<PassStats, PipelineError> {
    let mut stats = PassStats::default();
    let deadline = Instant::now() + opts.wait;
    // What the server's processing time is learned from: the attempts of this pass.
    let started_ms = chrono::Utc::now().timestamp_millis();

    // Reconcile first what earlier runs left open (crash, lost answers): one round, no wait.
    let open = {
        let r = runner.clone();
        let m = client.memory_id().to_string();
        blocking(move || r.queue().open_count(&m)).await??
    };
    if open > 0 {
        match poll(
            runner.clone(),
            &client,
            Instant::now(),
            &opts.poll,
            false,
            Learning {
                known: &stats.poll.learned,
                since_ms: started_ms,
            },
            obs,
        )
        .await
        {
            Ok(p) => add_poll(&mut stats.poll, p),
            Err(PipelineError::Api(e)) => {
                stats.stopped = Some(StopReason::from_api(e));
                return Ok(stats);
            }
            Err(e) => return Err(e),
        }
    }

    loop {
        let mut posted = 0;
        if opts.send {
            let mut s = send_queued(
                runner.clone(),
                client.clone(),
                opts.batch_size,
                opts.sign_threads,
                opts.jws.clone(),
                obs,
            )
            .await?;
            posted = s.posted;
            if posted > 0 {
                stats.accepted_cpu = process_cpu();
            }
            let stopped = s.stopped.take();
            add(&mut stats.send, s);
            if let Some(reason) = stopped {
                stats.stopped = Some(reason);
            }
        }
        if matches!(stats.stopped, Some(StopReason::Signer(_))) {
            // Without the token no inquiry can be authenticated either.
            return Ok(stats);
        }
        let wait_first = posted > 0;
        match poll(
            runner.clone(),
            &client,
            deadline,
            &opts.poll,
            wait_first,
            Learning {
                known: &stats.poll.learned,
                since_ms: started_ms,
            },
            obs,
        )
        .await
        {
            Ok(p) => {
                let requeued = p.requeued;
                add_poll(&mut stats.poll, p);
                if requeued > 0 && opts.send && stats.stopped.is_none() && Instant::now() < deadline
                {
                    continue;
                }
            }
            Err(PipelineError::Api(e)) => {
                if stats.stopped.is_none() {
                    stats.stopped = Some(StopReason::from_api(e));
                }
            }
            Err(e) => return Err(e),
        }
        return Ok(stats);
    }
}
