//! [`Client`]: one tax API v2 endpoint for one memory ID. Every authenticated call gets a fresh
//! nonce and a freshly signed auth token (signing is blocking, so it runs on
//! `spawn_blocking`); reads are retried with backoff; the invoice POST is retried only when
//! nothing can have been accepted (architecture invariant 3).

use crate::api::error::{ApiError, Disposition};
use crate::api::retry::{RetryNotice, RetryPolicy};
use crate::api::types::*;
use crate::crypto::jws::{sign_compact, JwsOptions};
use crate::crypto::Signer;
use base64::Engine as _;
use chrono::{DateTime, FixedOffset, Utc};
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The production base URL of API v2.
pub const PRODUCTION_URL: &str = "https://tp.tax.gov.ir/requestsmanager/api/v2/";
/// The tax authority's own test server (reachable from Iran only).
pub const TAX_SANDBOX_URL: &str = "https://sandboxrc.tax.gov.ir/requestsmanager/api/v2/";
/// Most ids one inquiry may carry (4141).
pub const MAX_INQUIRY_IDS: usize = 100;
/// Most packets one invoice POST may carry (4143).
pub const MAX_BATCH: usize = 1000;

/// Tunables of the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// `timeToLive` asked for each nonce (10..200 s).
    pub nonce_ttl: u32,
    pub retry: RetryPolicy,
    /// Header options of the auth token JWS.
    pub jws: JwsOptions,
    /// Server keys are fetched again after this long.
    pub key_refresh: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            nonce_ttl: 60,
            retry: RetryPolicy::default(),
            jws: JwsOptions::default(),
            key_refresh: Duration::from_secs(3600),
        }
    }
}

impl ClientOptions {
    /// Defaults with the retry policy from the environment (see [`RetryPolicy::from_env`]).
    pub fn from_env() -> Self {
        Self {
            retry: RetryPolicy::from_env(),
            ..Self::default()
        }
    }
}

/// The server's encryption key chosen for the JWE.
#[derive(Debug, Clone)]
pub struct EncryptionKey {
    pub id: String,
    /// SPKI DER.
    pub der: Arc<Vec<u8>>,
}

struct CachedKey {
    key: EncryptionKey,
    fetched: Instant,
}

/// A client of the tax API v2 for one memory ID.
pub struct Client {
    http: reqwest::Client,
    base: String,
    memory_id: String,
    signer: Arc<dyn Signer>,
    opts: ClientOptions,
    key: Mutex<Option<CachedKey>>,
    /// Keys the server refused to decrypt with (04150) in this run: passed over while
    /// `server-information` offers another.
    avoided_keys: Mutex<std::collections::HashSet<String>>,
    auth_signatures: AtomicU64,
    /// When the current run of failures began (none since the last success).
    outage_since: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("memory_id", &self.memory_id)
            .finish_non_exhaustive()
    }
}

/// `Retry-After` in seconds (RFC 9110 §10.2.3): as given, or an HTTP date taken as the time
/// left until it.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u32> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(u32::try_from(secs).unwrap_or(u32::MAX));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some(u32::try_from((at - Utc::now()).num_seconds().max(0)).unwrap_or(u32::MAX))
}

/// `base` as the v2 root ending in `/`: a bare `http://host:port` gets `/requestsmanager/api/v2/`.
pub fn normalize_base(base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    if trimmed.contains("/api/v2") {
        format!("{trimmed}/")
    } else {
        format!("{trimmed}/requestsmanager/api/v2/")
    }
}

/// A time as the inquiry endpoints take it: RFC 3339, 9 fractional digits, Tehran offset.
pub fn api_time(t: DateTime<Utc>) -> String {
    let tehran = FixedOffset::east_opt(3 * 3600 + 1800).unwrap_or_else(|| Utc.fix());
    t.with_timezone(&tehran)
        .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
        .to_string()
}

use chrono::Offset as _;

impl Client {
    /// A client of the API at `base_url` (production, a test server, or the local sandbox),
    /// signing auth tokens as `memory_id` with `signer`.
    pub fn new(
        base_url: &str,
        memory_id: &str,
        signer: Arc<dyn Signer>,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("moadian/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: normalize_base(base_url),
            memory_id: memory_id.to_string(),
            signer,
            opts: options,
            key: Mutex::new(None),
            avoided_keys: Mutex::new(Default::default()),
            auth_signatures: AtomicU64::new(0),
            outage_since: Mutex::new(None),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn memory_id(&self) -> &str {
        &self.memory_id
    }

    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// How many auth tokens this client has signed (each is one signature on the token).
    pub fn auth_signatures(&self) -> u64 {
        self.auth_signatures.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The server answered: the outage (if any) is over.
    fn note_success(&self) {
        if let Ok(mut s) = self.outage_since.lock() {
            *s = None;
        }
    }

    /// After a failure that may be retried: the wait before the next try, reported as one
    /// line (`tracing` warn, target `moadian::retry`), or the error to give up with — the
    /// same one when the tries are used up, [`ApiError::Outage`] when the server has been
    /// failing for the whole outage budget ([`RetryPolicy::deadline`]).
    fn backoff(&self, call: &str, err: ApiError, retries: u32) -> Result<Duration, ApiError> {
        let now = Instant::now();
        let since = match self.outage_since.lock() {
            Ok(mut s) => *s.get_or_insert(now),
            Err(_) => now,
        };
        let policy = &self.opts.retry;
        if retries >= policy.max_retries {
            return Err(err);
        }
        let wait = policy.wait(retries + 1, err.retry_after());
        let lasted = now.saturating_duration_since(since);
        if lasted + wait > policy.deadline {
            if err.is_outage() {
                tracing::warn!(target: "moadian::retry", "{call} failed ({}): giving up after {:.1} s of failures (deadline {:.0} s) / پس از {:.1} ثانیه خطا، تلاش متوقف شد", err.short(), lasted.as_secs_f64(), policy.deadline.as_secs_f64(), lasted.as_secs_f64());
                return Err(ApiError::outage(err, lasted));
            }
            return Err(err);
        }
        let notice = RetryNotice {
            what: err.short(),
            call: call.to_string(),
            attempt: retries + 1,
            of: policy.max_retries + 1,
            wait,
        };
        tracing::warn!(target: "moadian::retry", "{notice}");
        Ok(wait)
    }

    /// `GET nonce` (unauthenticated), retried while the network is unwell.
    pub async fn nonce(&self) -> Result<NonceResponse, ApiError> {
        let mut retries = 0;
        loop {
            let url = self.url("nonce");
            let req = self
                .http
                .get(&url)
                .query(&[("timeToLive", self.opts.nonce_ttl.to_string())]);
            match self.execute::<NonceResponse>(&url, req).await {
                // A nonce alone does not end an outage: the authenticated call must answer.
                Ok(n) => return Ok(n),
                Err(e) if e.is_retryable_read() => {
                    let wait = self.backoff("nonce", e, retries)?;
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A fresh signed auth token: nonce, then `{"nonce","clientId"}` signed on the signer.
    pub async fn auth_token(&self) -> Result<String, ApiError> {
        // Nothing of the real request left yet: safe to send it again whatever happened.
        let nonce = self.nonce().await.map_err(|e| match e {
            ApiError::Outage { last, lasted } => ApiError::Outage {
                last: Box::new(ApiError::NotSent { step: last }),
                lasted,
            },
            other => ApiError::NotSent {
                step: Box::new(other),
            },
        })?;
        let payload = serde_json::to_vec(&serde_json::json!({
            "nonce": nonce.nonce,
            "clientId": self.memory_id,
        }))
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
        let signer = self.signer.clone();
        let jws = self.opts.jws.clone();
        let token = tokio::task::spawn_blocking(move || sign_compact(&payload, &*signer, &jws))
            .await
            .map_err(|e| ApiError::Invalid(format!("signing task failed: {e}")))??;
        self.auth_signatures.fetch_add(1, Ordering::Relaxed);
        Ok(token)
    }

    async fn execute<T: DeserializeOwned>(
        &self,
        url: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let resp = req.send().await.map_err(|e| transport(url, &e))?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| transport(url, &e))?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
                url: url.to_string(),
                status,
                detail: format!("{e}: {}", snippet(&bytes)),
            })
        } else {
            let env: Option<ErrorEnvelope> = serde_json::from_slice(&bytes).ok();
            let codes = env.as_ref().map(|e| e.codes()).unwrap_or_default();
            let body = if codes.is_empty() && !bytes.is_empty() {
                Some(snippet(&bytes))
            } else {
                None
            };
            Err(ApiError::Server {
                url: url.to_string(),
                status,
                codes,
                trace_id: env.and_then(|e| e.request_trace_id),
                body,
                retry_after,
            })
        }
    }

    /// One authenticated call with the retry rules: 4102 → once more with a new nonce; reads
    /// retried on retryable and unknown failures; writes only on retryable ones.
    async fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Option<bytes::Bytes>,
    ) -> Result<T, ApiError> {
        let url = self.url(path);
        let mut retries = 0;
        let mut nonce_retry = false;
        loop {
            let result = async {
                let token = self.auth_token().await?;
                let mut req = match &body {
                    Some(b) => self
                        .http
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.clone()),
                    None => self.http.get(&url),
                };
                if !query.is_empty() {
                    req = req.query(query);
                }
                req = req
                    .bearer_auth(token)
                    .header(reqwest::header::ACCEPT, "application/json");
                self.execute::<T>(&url, req).await
            }
            .await;
            let err = match result {
                Ok(v) => {
                    self.note_success();
                    return Ok(v);
                }
                Err(e) => e,
            };
            if err.has_code("4102") && !nonce_retry {
                nonce_retry = true;
                tracing::debug!("4102: the nonce was refused, once more with a new one");
                continue;
            }
            let may_retry = if body.is_none() {
                err.is_retryable_read()
            } else {
                err.disposition() == Disposition::Retry
            };
            if may_retry {
                let wait = self.backoff(path, err, retries)?;
                retries += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            if err.is_outage() {
                // A failure that is not retried here (the POST's unknown outcome) still
                // starts the outage clock.
                if let Ok(mut s) = self.outage_since.lock() {
                    s.get_or_insert_with(Instant::now);
                }
            }
            return Err(err);
        }
    }

    /// `GET server-information`: server time (epoch ms) and its public keys. Refreshes the
    /// cached encryption key as a side effect.
    pub async fn server_information(&self) -> Result<ServerInformation, ApiError> {
        let info: ServerInformation = self.call("server-information", &[], None).await?;
        if let Some(key) = self.pick_key(&info) {
            if let Ok(mut k) = self.key.lock() {
                *k = Some(CachedKey {
                    key,
                    fetched: Instant::now(),
                });
            }
        }
        Ok(info)
    }

    /// The server key to encrypt invoices to: cached, fetched again hourly (or after
    /// [`Self::invalidate_server_key`], e.g. on 04150/04152).
    pub async fn encryption_key(&self) -> Result<EncryptionKey, ApiError> {
        if let Ok(k) = self.key.lock() {
            if let Some(c) = k.as_ref() {
                if c.fetched.elapsed() < self.opts.key_refresh {
                    return Ok(c.key.clone());
                }
            }
        }
        let info = self.server_information().await?;
        self.pick_key(&info).ok_or(ApiError::NoServerKey)
    }

    /// Passes over key `id` from now on while the server offers another (it refused to
    /// decrypt with it), and forgets it if it is the cached one.
    pub fn avoid_key(&self, id: &str) {
        if let Ok(mut a) = self.avoided_keys.lock() {
            a.insert(id.to_string());
        }
        if let Ok(mut k) = self.key.lock() {
            if k.as_ref().is_some_and(|c| c.key.id == id) {
                *k = None;
            }
        }
    }

    /// The first RSA key of `server-information` not passed over; the first RSA key when every
    /// one is (the connection guide gives no rule for choosing among several).
    fn pick_key(&self, info: &ServerInformation) -> Option<EncryptionKey> {
        let avoided = self
            .avoided_keys
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        let keys = rsa_keys(info);
        keys.iter()
            .find(|k| !avoided.contains(&k.id))
            .or(keys.first())
            .cloned()
    }

    /// Forget the cached server key; the next [`Self::encryption_key`] fetches it again.
    pub fn invalidate_server_key(&self) {
        if let Ok(mut k) = self.key.lock() {
            *k = None;
        }
    }

    /// `GET fiscal-information?memoryId=…`.
    pub async fn fiscal_information(&self, memory_id: &str) -> Result<FiscalInformation, ApiError> {
        self.call(
            "fiscal-information",
            &[("memoryId", memory_id.to_string())],
            None,
        )
        .await
    }

    /// `GET taxpayer?economicCode=…`.
    pub async fn taxpayer(&self, economic_code: &str) -> Result<Taxpayer, ApiError> {
        self.call(
            "taxpayer",
            &[("economicCode", economic_code.to_string())],
            None,
        )
        .await
    }

    /// `POST invoice` with up to 1000 packets. Retried only on failures after which nothing can
    /// have been accepted; an [`ApiError`] with [`Disposition::Unknown`] means the caller must
    /// reconcile by inquiry before sending any of these packets again.
    pub async fn send_invoices(&self, packets: Vec<Packet>) -> Result<SendResponse, ApiError> {
        if packets.is_empty() {
            return Ok(SendResponse {
                timestamp: None,
                result: Vec::new(),
                errors: Vec::new(),
            });
        }
        if packets.len() > MAX_BATCH {
            return Err(ApiError::Invalid(format!(
                "{} packets in one request; the server takes at most {MAX_BATCH} (4143)",
                packets.len()
            )));
        }
        // Written once: a retry sends the same bytes, and the packets (their JWEs are most of
        // a batch's memory) are gone before the POST instead of living beside their JSON.
        let body = serde_json::to_vec(&packets)
            .map_err(|e| ApiError::Invalid(format!("the batch could not be written: {e}")))?;
        drop(packets);
        self.call("invoice", &[], Some(bytes::Bytes::from(body)))
            .await
    }

    fn check_ids(n: usize) -> Result<(), ApiError> {
        if n == 0 || n > MAX_INQUIRY_IDS {
            return Err(ApiError::Invalid(format!(
                "{n} ids in one inquiry; give 1 to {MAX_INQUIRY_IDS} (4141)"
            )));
        }
        Ok(())
    }

    /// `GET inquiry-by-uid` (≤100 uids; window ≤ 1 week).
    pub async fn inquiry_by_uid(
        &self,
        uids: &[String],
        fiscal_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<InquiryResult>, ApiError> {
        Self::check_ids(uids.len())?;
        let mut q: Vec<(&str, String)> = uids.iter().map(|u| ("uidList", u.clone())).collect();
        q.push(("fiscalId", fiscal_id.to_string()));
        q.push(("start", api_time(start)));
        q.push(("end", api_time(end)));
        self.call("inquiry-by-uid", &q, None).await
    }

    /// `GET inquiry-by-reference-id` (≤100 reference numbers; window ≤ 1 week).
    pub async fn inquiry_by_reference(
        &self,
        reference_ids: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<InquiryResult>, ApiError> {
        Self::check_ids(reference_ids.len())?;
        let mut q: Vec<(&str, String)> = reference_ids
            .iter()
            .map(|r| ("referenceIds", r.clone()))
            .collect();
        q.push(("start", api_time(start)));
        q.push(("end", api_time(end)));
        self.call("inquiry-by-reference-id", &q, None).await
    }

    /// `GET inquiry` by time range, optionally filtered by status, one page.
    pub async fn inquiry(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        status: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Vec<InquiryResult>, ApiError> {
        let mut q: Vec<(&str, String)> = vec![("start", api_time(start)), ("end", api_time(end))];
        if let Some(s) = status {
            q.push(("status", s.to_string()));
        }
        q.push(("pageNumber", page.to_string()));
        q.push(("pageSize", page_size.clamp(1, 100).to_string()));
        self.call("inquiry", &q, None).await
    }

    /// `GET inquiry-invoice-status` by tax IDs (≤100).
    pub async fn inquiry_invoice_status(
        &self,
        tax_ids: &[String],
    ) -> Result<Vec<TaxIdStatus>, ApiError> {
        Self::check_ids(tax_ids.len())?;
        let q: Vec<(&str, String)> = tax_ids.iter().map(|t| ("taxIds", t.clone())).collect();
        self.call("inquiry-invoice-status", &q, None).await
    }
}

/// The RSA encryption keys `server-information` offers, in its order.
fn rsa_keys(info: &ServerInformation) -> Vec<EncryptionKey> {
    info.public_keys
        .iter()
        .filter(|k| {
            k.algorithm
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case("RSA"))
        })
        .filter_map(|k| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(k.key.trim())
                .ok()?;
            Some(EncryptionKey {
                id: k.id.clone(),
                der: Arc::new(der),
            })
        })
        .collect()
}

fn transport(url: &str, e: &reqwest::Error) -> ApiError {
    let detail = error_chain(e);
    if e.is_connect() {
        ApiError::Connect {
            url: url.to_string(),
            detail,
        }
    } else {
        ApiError::NoAnswer {
            url: url.to_string(),
            detail,
            timeout: e.is_timeout(),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalized() {
        assert_eq!(
            normalize_base("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/requestsmanager/api/v2/"
        );
        assert_eq!(normalize_base(PRODUCTION_URL), PRODUCTION_URL);
        assert_eq!(
            normalize_base("https://x/requestsmanager/api/v2"),
            "https://x/requestsmanager/api/v2/"
        );
    }

    #[test]
    fn api_time_has_tehran_offset_and_nanos() {
        let t = DateTime::<Utc>::from_timestamp_millis(1_709_700_000_123).unwrap();
        assert_eq!(api_time(t), "2024-03-06T08:10:00.123000000+03:30");
    }
}
