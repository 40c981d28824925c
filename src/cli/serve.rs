//! `moadian serve`: the local HTTP API (see [`crate::service`]) over the same queue, with the
//! runner inside on a schedule (`--every`), holding the queue's one runner lock as `run` does.
//! Binds 127.0.0.1 by default; another address needs `--token-file`.
//!
//! Exit codes: 0 stopped by Ctrl-C / SIGTERM; 1 the queue is busy (another runner holds it) or
//! the address cannot be used; 2 usage errors.

use super::submit::{send_and_poll, Session, Target};
use super::Global;
use crate::lang::Message;
use crate::pipeline;
use crate::service::{self, LastPass, ServiceState};
use moadian_queue::QueueError;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  moadian serve --sandbox\n  moadian serve --profile shop --every 5m\n  curl -s -X POST --data-binary @examples/invoices/valid/t1-p1-sale.json -H 'content-type: application/json' http://127.0.0.1:8700/api/v1/invoices"
)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Address to listen on. Anything but a loopback address needs --token-file.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, value_name = "N", default_value_t = 8700)]
    pub port: u16,
    /// How often the runner inside sends what is queued and polls what is pending (an enqueue
    /// through the API also wakes it).
    #[arg(long, value_name = "INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub every: Duration,
    /// A file holding the access token every API call must carry (`Authorization: Bearer`).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = service::DEFAULT_MAX_UPLOAD)]
    pub max_upload: usize,
    #[command(flatten)]
    pub pacing: super::pacing::PacingArgs,
}

fn read_token(path: &PathBuf) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: {e} / فایل توکن دسترسی خوانده نشد", path.display()))?;
    let token = text.trim().to_string();
    if !token
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '"' | '\\'))
    {
        anyhow::bail!(
            "{}: the access token may hold only visible ASCII characters other than ; , \" \\ / توکن دسترسی فقط نویسه‌های ASCII دیدنی (جز ; , \" \\) دارد",
            path.display()
        );
    }
    if token.len() < 16 {
        anyhow::bail!(
            "{}: the access token must be at least 16 characters / توکن دسترسی باید دست‌کم ۱۶ نویسه باشد",
            path.display()
        );
    }
    Ok(token)
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let token = match &args.token_file {
        Some(p) => Some(read_token(p)?),
        None => None,
    };
    if !args.bind.is_loopback() && token.is_none() {
        let m = Message::new(
            format!("گوش دادن روی {} (غیر از loopback) بدون توکن دسترسی مجاز نیست: ‎--token-file FILE‎ را بدهید.", args.bind),
            format!("listening on {} (not loopback) needs an access token: give --token-file FILE.", args.bind),
        );
        crate::say_err!("{}", lang.text(&m));
        return Ok(2);
    }
    let mut session = Session::open(&args.target).await?;
    session.apply_pacing(&args.pacing)?;
    let queue = session.open_queue()?;
    let runner = match queue.acquire_runner_for(std::slice::from_ref(&session.profile.memory_id)) {
        Ok(r) => Arc::new(r),
        Err(e @ QueueError::Busy { .. }) => {
            crate::say_err!("queue busy: {e}\n{}", e.persian());
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    // Uploads are kept beside a queue file; for a PostgreSQL queue, in the data directory, one
    // folder per memory ID.
    let spec = session.queue_path.to_string_lossy();
    let uploads = if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        crate::config::data_dir()
            .join("uploads")
            .join(&session.profile.memory_id)
    } else {
        session
            .queue_path
            .parent()
            .map(|d| d.join("uploads"))
            .unwrap_or_else(|| PathBuf::from("uploads"))
    };
    let state = Arc::new(ServiceState {
        memory_id: session.profile.memory_id.clone(),
        input: session.input.clone(),
        runner,
        uploads,
        max_upload: args.max_upload,
        token,
        every_secs: args.every.as_secs(),
        last_pass: Default::default(),
        recent: Default::default(),
        checklist: Default::default(),
        csrf: uuid::Uuid::new_v4().simple().to_string(),
        wake: Default::default(),
        enqueue_lock: Default::default(),
    });
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            let m = Message::new(
                format!("روی {addr} نمی‌توان گوش داد: {e} (پورت دیگری با ‎--port‎ بدهید)"),
                format!("cannot listen on {addr}: {e} (give another --port)"),
            );
            crate::say_err!("{}", lang.text(&m));
            return Ok(1);
        }
    };
    let local = listener.local_addr()?;
    crate::say_err!(
        "{}: http://{local}/api/v1/ (OpenAPI: http://{local}/api/v1/openapi.json)",
        lang.label("سرویس آماده است", "listening")
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut runner_task = tokio::spawn(runner_loop(state.clone(), session, args.every, stop_rx));
    let app = service::router(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await;
    // Let a pass under way finish (its attempts are recorded before each POST, so even a cut
    // pass loses nothing: the next run reconciles it), but do not wait forever.
    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(30), &mut runner_task)
        .await
        .is_err()
    {
        runner_task.abort();
    }
    served?;
    Ok(0)
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = super::terminate::sigterm() => {}
    }
}

/// Sends and polls every `every` (or sooner, when an enqueue wakes it), recording each pass
/// for `/api/v1/health`.
async fn runner_loop(
    state: Arc<ServiceState>,
    session: Session,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut checked: Option<std::time::Instant> = None;
    loop {
        if checked.is_none_or(|t| t.elapsed() >= service::CHECKLIST_EVERY) {
            let mut list = service::Checklist {
                at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                ..Default::default()
            };
            match session.checklist().await {
                Ok(c) => list.checks = c,
                Err(e) => list.error = Some(format!("{e:#}")),
            }
            if let Ok(mut l) = state.checklist.lock() {
                *l = list;
            }
            checked = Some(std::time::Instant::now());
        }
        let out = send_and_poll(
            &session,
            state.runner.clone(),
            Duration::ZERO,
            &pipeline::Silent,
        )
        .await;
        let mut last = LastPass {
            at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ..LastPass::default()
        };
        match out {
            Ok(Some(stop)) => {
                last.outage = stop.outage;
                last.stopped = Some(stop.message);
            }
            Ok(None) => {}
            Err(e) => last.error = Some(format!("{e:#}")),
        }
        state.record_pass(last);
        let open = {
            let st = state.clone();
            let m = st.memory_id.clone();
            tokio::task::spawn_blocking(move || {
                pipeline::poll::open_attempts(&st.queue(), &m)
                    .map(|v| !v.is_empty())
                    .unwrap_or(false)
            })
            .await
            .unwrap_or(false)
        };
        // While invoices are on their way, come back at the poll pace, not the schedule's.
        let pause = if open {
            every.min(session.poll.first_delay)
        } else {
            every
        };
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = state.wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}
