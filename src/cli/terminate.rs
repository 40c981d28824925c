//! SIGTERM (`systemctl stop`, `docker stop`, a scheduler's time limit) during a command that
//! holds the queue's runner: the work is dropped where it stands (what is committed stays
//! committed; an attempt begun but not answered is reconciled by inquiry, as after a crash),
//! the runner is released (on PostgreSQL its lease, so the next runner need not wait for it to
//! expire), and the process then ends by the same signal, as the service manager expects.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

static TERMINATED: AtomicBool = AtomicBool::new(false);

/// Runs `work` until it ends or SIGTERM arrives; on SIGTERM, says so in both languages and
/// returns 143 (the process is then ended by the signal: see [`end_if_terminated`]).
pub async fn stoppable(work: impl Future<Output = anyhow::Result<u8>>) -> anyhow::Result<u8> {
    tokio::select! {
        done = work => done,
        () = sigterm() => {
            TERMINATED.store(true, Ordering::SeqCst);
            crate::say_err!(
                "stopped by SIGTERM; the queue is intact and the next run goes on from where this one stopped\nبا SIGTERM متوقف شد؛ صف دست‌نخورده است و اجرای بعدی از همین‌جا ادامه می‌دهد"
            );
            Ok(143)
        }
    }
}

/// Resolves when SIGTERM arrives (never, where it cannot be watched).
pub async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// After the runtime is gone (every runner released): ends the process by SIGTERM when that is
/// what stopped it.
pub fn end_if_terminated() {
    if TERMINATED.load(Ordering::SeqCst) {
        #[cfg(unix)]
        // SAFETY: the default action restored, then the signal raised at this very process.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            libc::raise(libc::SIGTERM);
        }
    }
}
