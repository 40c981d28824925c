//! Starting and stopping the sandbox: the sandbox key, the router under
//! `/requestsmanager/api/v2/`, the fault layer (latency, 5xx), the `/sandbox/…` test endpoints
//! (ledger, faults), and a listener on 127.0.0.1 whose connections a handler can kill (the
//! dropped-connection faults).

use super::config::{ConfigError, Faults, SandboxConfig};
use super::errors::ApiError;
use super::jose::Decrypter;
use super::ledger::Ledger;
use super::persist::Persist;
use super::processing::Examiner;
use super::registry::Registry;
use super::state::{lock, AppState, ServerKey, Shared, Store, Work};
use super::{api, inquiry, invoice};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::SeedableRng;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The path prefix of the v2 API.
pub const API_PREFIX: &str = "/requestsmanager/api/v2";
/// Largest invoice POST body: 1000 packets of a few KB each (the JWE carries the certificate);
/// axum's 2 MB default would refuse a full batch.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// The default key id published in `server-information`.
pub const DEFAULT_KEY_ID: &str = "6a2bcd88-a871-4245-a393-2843eafe6e02";

/// Why a sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("sandbox key: {0} / کلید سندباکس ساخته یا خوانده نشد")]
    Key(String),
    #[error("cannot listen on 127.0.0.1:{port}: {source} / پورت در دسترس نیست؛ پورت دیگری بدهید")]
    Bind { port: u16, source: std::io::Error },
    #[error("{0}; the sandbox's state file could not be read or written: fix its permissions, or remove it (and the sandbox's queue) with `moadian sandbox reset` / فایل وضعیت سندباکس خوانده یا نوشته نشد: دسترسی آن را درست کنید، یا آن را (با صف سندباکس) با moadian sandbox reset پاک کنید")]
    State(#[from] super::persist::PersistError),
}

/// One accepted connection, as handlers see it: its peer and a switch that kills it.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub peer: SocketAddr,
    killed: Arc<AtomicBool>,
}

impl ConnHandle {
    /// The connection dies: the answer being written is lost and the socket closes.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

/// A TCP stream that fails every read and write once killed.
pub struct KillableIo {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

fn aborted() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "sandbox fault: connection dropped",
    )
}

impl AsyncRead for KillableIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// 127.0.0.1 listener handing out killable connections.
pub struct KillableListener(TcpListener);

impl axum::serve::Listener for KillableListener {
    type Io = KillableIo;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (KillableIo, ConnHandle) {
        loop {
            match self.0.accept().await {
                Ok((inner, peer)) => {
                    let _ = inner.set_nodelay(true);
                    let killed = Arc::new(AtomicBool::new(false));
                    let io = KillableIo {
                        inner,
                        killed: killed.clone(),
                    };
                    return (io, ConnHandle { peer, killed });
                }
                Err(e) => {
                    tracing::warn!("sandbox accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<ConnHandle> {
        Ok(ConnHandle {
            peer: self.0.local_addr()?,
            killed: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, KillableListener>>
    for ConnHandle
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Latency, 429 and 5xx faults, before any handler.
async fn fault_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let f = state.faults();
    if f.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(f.latency_ms)).await;
    }
    if let Some(retry_after) = too_many_requests(&state) {
        let mut r = (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
        )
            .into_response();
        if let Some(secs) = retry_after {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        return r;
    }
    if state.chance(f.error_rate) {
        lock(&state.store).ledger.faults.server_errors += 1;
        return ApiError::new(&f.error_code, state.now_ms()).into_response();
    }
    next.run(req).await
}

/// Whether this request is answered 429, counting down `too_many_requests_next`; with the
/// `Retry-After` seconds to send.
fn too_many_requests(state: &AppState) -> Option<Option<u64>> {
    let mut f = lock(&state.faults);
    super::invoice::take_one(&mut f.too_many_requests_next).then_some(f.retry_after_secs)
}

async fn method_not_allowed(State(state): State<AppState>) -> ApiError {
    ApiError::new("4100", state.now_ms())
}

async fn ledger_endpoint(State(state): State<AppState>) -> Json<Ledger> {
    Json(lock(&state.store).ledger.clone())
}

async fn get_faults(State(state): State<AppState>) -> Json<Faults> {
    Json(state.faults())
}

async fn put_faults(State(state): State<AppState>, Json(f): Json<Faults>) -> Response {
    match f.check() {
        Ok(()) => {
            *lock(&state.faults) = f;
            Json(state.faults()).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// The whole router (state applied).
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/nonce", get(api::nonce))
        .route("/server-information", get(api::server_information))
        .route("/fiscal-information", get(api::fiscal_information))
        .route("/taxpayer", get(api::taxpayer))
        .route("/taxpayer-info", get(api::taxpayer_info))
        .route("/taxpayer-article6-status", get(api::article6_status))
        .route(
            "/invoice",
            post(invoice::post_invoice).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/invoice-payment", post(api::invoice_payment))
        .route("/inquiry", get(inquiry::by_time))
        .route("/inquiry-by-uid", get(inquiry::by_uid))
        .route("/inquiry-by-reference-id", get(inquiry::by_reference))
        .route("/inquiry-invoice-status", get(inquiry::invoice_status))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            fault_layer,
        ));
    Router::new()
        .nest(API_PREFIX, api)
        .route("/sandbox/ledger", get(ledger_endpoint))
        .route("/sandbox/faults", get(get_faults).put(put_faults))
        .with_state(state)
}

/// The sandbox key: from a PEM file, else the one kept in the state file, else a fresh key of
/// `server_key_bits` (kept in the state file, when there is one, for the next start).
fn server_key(
    config: &SandboxConfig,
    persist: Option<&Persist>,
) -> Result<(ServerKey, Decrypter), SandboxError> {
    let key_err = |e: &dyn std::fmt::Display| SandboxError::Key(e.to_string());
    let kept = match (&config.server_key_pem, persist) {
        (None, Some(p)) => p.key_pem()?,
        _ => None,
    };
    let pkey = match (&config.server_key_pem, kept) {
        (Some(path), _) => {
            let pem = std::fs::read(path)
                .map_err(|e| SandboxError::Key(format!("{}: {e}", path.display())))?;
            openssl::pkey::PKey::private_key_from_pem(&pem).map_err(|e| key_err(&e))?
        }
        (None, Some(pem)) => {
            openssl::pkey::PKey::private_key_from_pem(&pem).map_err(|e| key_err(&e))?
        }
        (None, None) => {
            let rsa =
                openssl::rsa::Rsa::generate(config.server_key_bits).map_err(|e| key_err(&e))?;
            let pkey = openssl::pkey::PKey::from_rsa(rsa).map_err(|e| key_err(&e))?;
            if let Some(p) = persist {
                let pem = pkey.private_key_to_pem_pkcs8().map_err(|e| key_err(&e))?;
                p.save_key_pem(&pem)?;
            }
            pkey
        }
    };
    let pkcs8 = pkey.private_key_to_pkcs8().map_err(|e| key_err(&e))?;
    let spki_der = pkey.public_key_to_der().map_err(|e| key_err(&e))?;
    let id = config
        .server_key_id
        .clone()
        .unwrap_or_else(|| DEFAULT_KEY_ID.to_string());
    let decrypter = Decrypter::new(&pkcs8, &id).map_err(|e| key_err(&e))?;
    let signer = josekit::jws::RS256
        .signer_from_der(&pkcs8)
        .map_err(|e| key_err(&e))?;
    Ok((
        ServerKey {
            id,
            spki_der,
            signer,
        },
        decrypter,
    ))
}

/// Builds the shared state of a sandbox from its configuration.
pub fn build_state(config: &SandboxConfig) -> Result<AppState, SandboxError> {
    build_state_restored(config).map(|(state, _)| state)
}

/// Builds the shared state, restoring what the state file remembers; also returns the packets
/// whose examination had not finished when the sandbox last stopped (to examine now).
pub fn build_state_restored(config: &SandboxConfig) -> Result<(AppState, Work), SandboxError> {
    config.check()?;
    let persist = config
        .state_file
        .as_deref()
        .map(Persist::open)
        .transpose()?;
    let (key, decrypter) = server_key(config, persist.as_ref())?;
    let mut store = Store::default();
    let pending = match &persist {
        Some(p) => {
            let stored = p.load()?;
            store.restore(stored)
        }
        None => Vec::new(),
    };
    store.persist = persist;
    let registry = Registry::new(config.all_taxpayers());
    let rng = match config.seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_entropy(),
    };
    let state = Arc::new(Shared {
        clock: super::clock::Clock::new(config.pinned_clock_ms),
        published: std::sync::RwLock::new((key.id.clone(), key.spki_der.clone())),
        retired: std::sync::OnceLock::new(),
        examiner: Examiner {
            decrypter: std::sync::RwLock::new(Arc::new(decrypter)),
            registry: registry.clone(),
        },
        registry,
        key,
        faults: Mutex::new(config.faults.clone()),
        rng: Mutex::new(rng),
        nonces: Mutex::new(HashMap::new()),
        store: Mutex::new(store),
    });
    let exp = state.now_ms() + i64::try_from(config.seed_nonce_ttl_secs).unwrap_or(3600) * 1000;
    for n in &config.seed_nonces {
        state.remember_nonce(n, exp);
    }
    Ok((state, pending))
}

/// Binds 127.0.0.1:`port` (0 = free) and serves until the returned sender fires or drops.
pub async fn serve(
    state: AppState,
    port: u16,
) -> Result<
    (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ),
    SandboxError,
> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| SandboxError::Bind { port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SandboxError::Bind { port, source })?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state).into_make_service_with_connect_info::<ConnHandle>();
    let task = tokio::spawn(async move {
        let server = axum::serve(KillableListener(listener), app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!("sandbox server stopped: {e}");
        }
    });
    Ok((addr, tx, task))
}
