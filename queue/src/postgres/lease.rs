//! Many runners on one PostgreSQL queue: a runner holds a **lease** per memory ID it sends
//! for (the memory IDs whose signer it has), renewed by a heartbeat thread. While a lease is
//! live no other runner may start an attempt for that memory ID (checked inside
//! `begin_attempt`'s transaction, with the lease row share-locked). A runner that dies
//! (SIGKILL, machine lost) stops renewing; once its lease has expired another runner takes it
//! over, and at that moment the dead runner's SENDING attempts of those memory IDs become
//! UNKNOWN — reconciled by inquiry before anything new is sent (the pipeline inquires first).
//!
//! A runner acquired without naming memory IDs ([`crate::Store::acquire_runner`]) holds the
//! whole-queue lease `*`: it excludes, and is excluded by, every other live lease.
//!
//! Lease claims run under a transaction advisory lock (claims are rare and short), and pick
//! their rows with `FOR UPDATE SKIP LOCKED`, so a claimer never waits for a runner's own
//! transactions. Lease times come from the queue's clock ([`crate::Clock`], the system clock
//! outside tests): keep the runners' machines on NTP.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::pool::{OffRuntime, Tx};
use super::{PgQueue, PgRunner};
use crate::error::{QueueError, Result};
use crate::sqlite::Millis;

/// The whole-queue lease.
pub const WHOLE_QUEUE: &str = "*";

/// Default lease lifetime: a runner that has not renewed for this long is presumed dead.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// One live or expired lease, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    pub memory_id: String,
    pub runner: String,
    pub host: String,
    pub pid: u32,
    /// Epoch ms when this runner took it.
    pub since: Millis,
    pub heartbeat: Millis,
    pub expires: Millis,
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

fn busy(q: &PgQueue, l: &Lease) -> QueueError {
    let shown = q.pool.shown();
    QueueError::Busy {
        db: shown.clone().into(),
        lock: format!(
            "{shown}: lease on memory ID {} held by runner {} on {} (pid {}) until {} UTC",
            l.memory_id,
            l.runner,
            l.host,
            l.pid,
            crate::error::utc(l.expires)
        )
        .into(),
        pid: Some(l.pid),
    }
}

fn lease_from(r: &postgres::Row) -> Lease {
    Lease {
        memory_id: r.get(0),
        runner: r.get(1),
        host: r.get(2),
        pid: r.get::<_, i64>(3) as u32,
        since: r.get(4),
        heartbeat: r.get(5),
        expires: r.get(6),
    }
}

const LEASE_COLS: &str = "memory_id, runner, host, pid, since, heartbeat, expires";

/// A live lease of another runner that keeps `runner` from sending for `memory_id`, if any
/// (row share-locked until the caller's transaction ends).
pub(crate) fn blocking_lease(
    tx: &mut Tx<'_>,
    memory_id: &str,
    runner: &str,
    now: Millis,
) -> Result<Option<Lease>> {
    let row = tx.opt(
        &format!(
            "SELECT {LEASE_COLS} FROM leases
             WHERE memory_id IN ($1, '*') AND runner <> $2 AND expires > $3
             ORDER BY memory_id LIMIT 1 FOR SHARE"
        ),
        &[&memory_id, &runner, &now],
    )?;
    Ok(row.as_ref().map(lease_from))
}

impl PgQueue {
    /// The leases recorded in this queue (live and expired), by memory ID.
    pub fn leases(&self) -> Result<Vec<Lease>> {
        self.read(|tx| {
            Ok(tx
                .query(
                    &format!("SELECT {LEASE_COLS} FROM leases ORDER BY memory_id"),
                    &[],
                )?
                .iter()
                .map(lease_from)
                .collect())
        })
    }

    /// Become a runner for these memory IDs (or the whole queue: `*`), or fail with
    /// [`QueueError::Busy`] naming the live lease in the way. All or nothing.
    pub fn acquire_runner_for(&self, memory_ids: &[String]) -> Result<PgRunner> {
        super::pool::off_runtime(|| self.acquire_here(memory_ids))
    }

    fn acquire_here(&self, memory_ids: &[String]) -> Result<PgRunner> {
        if self.read_only {
            return Err(QueueError::InvalidInput(
                "this queue was opened read-only; open it read-write to send".into(),
            ));
        }
        if memory_ids.is_empty() {
            return Err(QueueError::InvalidInput(
                "a runner needs at least one memory ID to send for".into(),
            ));
        }
        let me = uuid::Uuid::new_v4().to_string();
        let host = host();
        let pid = i64::from(self.pid);
        let ttl = self.lease_ttl.as_millis() as i64;
        let now = self.now();
        let whole = memory_ids.iter().any(|m| m == WHOLE_QUEUE);
        self.write(|tx| {
            tx.batch(
                "SELECT pg_advisory_xact_lock(hashtext('moadian-leases:' || current_schema()))",
            )?;
            // What is in the way: for the whole queue, any live lease; else a live lease on
            // one of these memory IDs or on the whole queue.
            let other = if whole {
                tx.opt(
                    &format!(
                        "SELECT {LEASE_COLS} FROM leases WHERE expires > $1 ORDER BY memory_id
                         LIMIT 1"
                    ),
                    &[&now],
                )?
            } else {
                tx.opt(
                    &format!(
                        "SELECT {LEASE_COLS} FROM leases
                         WHERE (memory_id = ANY($1) OR memory_id = '*') AND expires > $2
                         ORDER BY memory_id LIMIT 1"
                    ),
                    &[&memory_ids, &now],
                )?
            };
            if let Some(r) = other {
                return Err(busy(self, &lease_from(&r)));
            }
            tx.exec(
                "INSERT INTO leases (memory_id, runner, host, pid, since, heartbeat, expires)
                 SELECT m, '', '', 0, 0, 0, 0 FROM unnest($1::text[]) AS m
                 ON CONFLICT (memory_id) DO NOTHING",
                &[&memory_ids],
            )?;
            let claimed = tx.exec(
                "UPDATE leases SET runner = $2, host = $3, pid = $4, since = $5, heartbeat = $5,
                        expires = $5 + $6
                 WHERE memory_id IN (SELECT memory_id FROM leases
                                     WHERE memory_id = ANY($1) AND expires <= $5
                                     FOR UPDATE SKIP LOCKED)",
                &[&memory_ids, &me, &host, &pid, &now, &ttl],
            )?;
            if claimed as usize != memory_ids.len() {
                return Err(QueueError::Corrupt(format!(
                    "claimed {claimed} of {} leases",
                    memory_ids.len()
                )));
            }
            Ok(())
        })?;
        let runner_q = PgQueue {
            pool: super::pool::Pool::new(self.pool.url(), 4)?,
            opts: self.opts.clone(),
            read_only: false,
            pid: self.pid,
            lease_ttl: self.lease_ttl,
        };
        // Whatever a previous holder left SENDING is unknown now: reconciled before sending.
        let scope: Option<Vec<String>> = (!whole).then(|| memory_ids.to_vec());
        runner_q.recover_sending(scope.as_deref())?;
        let heartbeat = Heartbeat::start(&runner_q, me.clone())?;
        Ok(PgRunner {
            q: runner_q,
            id: me,
            memory_ids: memory_ids.to_vec(),
            heartbeat: Mutex::new(Some(heartbeat)),
        })
    }
}

/// The thread renewing a runner's leases every third of their lifetime, on its own
/// connection. Stopped (and the leases released) when the runner is dropped.
pub(crate) struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
    lost: Arc<std::sync::atomic::AtomicBool>,
}

impl Heartbeat {
    fn start(q: &PgQueue, me: String) -> Result<Heartbeat> {
        let mut client = OffRuntime(Some(q.pool.connect_raw()?));
        let (stop, rx) = mpsc::channel::<()>();
        let ttl = q.lease_ttl;
        let clock = q.opts.clock.clone();
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lost2 = lost.clone();
        let thread = std::thread::Builder::new()
            .name("moadian-lease".into())
            .spawn(move || {
                let every = (ttl / 3).max(Duration::from_millis(50));
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    let now = clock.now();
                    let ttl_ms = ttl.as_millis() as i64;
                    let renewed = client.execute(
                        "UPDATE leases SET heartbeat = $2, expires = $2 + $3
                         WHERE runner = $1 AND expires > $2",
                        &[&me, &now, &ttl_ms],
                    );
                    if !matches!(renewed, Ok(n) if n > 0) {
                        lost2.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                let _ = client.execute("DELETE FROM leases WHERE runner = $1", &[&me]);
            })
            .map_err(|e| QueueError::Corrupt(format!("cannot start the lease heartbeat: {e}")))?;
        Ok(Heartbeat {
            stop,
            thread: Some(thread),
            lost,
        })
    }

    /// Whether a renewal found the lease gone (expired and taken over).
    pub(crate) fn lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl PgRunner {
    /// This runner's id (in the lease table and `status`).
    pub fn runner_id(&self) -> &str {
        &self.id
    }

    /// Whether this runner may send for `memory_id` (it leased it, or the whole queue).
    pub fn holds(&self, memory_id: &str) -> bool {
        self.memory_ids
            .iter()
            .any(|m| m == memory_id || m == WHOLE_QUEUE)
    }

    /// The memory IDs it holds leases for (`*`: the whole queue).
    pub fn memory_ids(&self) -> &[String] {
        &self.memory_ids
    }

    /// Whether the heartbeat found a lease taken over (this runner paused past its lease):
    /// its `begin_attempt` is refused from then on.
    pub fn lease_lost(&self) -> bool {
        self.heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(Heartbeat::lost)
    }
}

impl Drop for PgRunner {
    fn drop(&mut self) {
        let hb = self
            .heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        super::pool::off_runtime(move || drop(hb));
    }
}
