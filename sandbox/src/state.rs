//! What the running sandbox remembers: its key, clock, registry, fault knobs, issued nonces, the
//! received invoices with their (possibly still hidden) outcomes, and the ledger of tax IDs.

use super::clock::Clock;
use super::config::Faults;
use super::ledger::Ledger;
use super::processing::Examiner;
use super::registry::Registry;
use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The sandbox's own RSA key: decrypts invoices, signs the `sign` field of SUCCESS results.
pub struct ServerKey {
    pub id: String,
    /// SubjectPublicKeyInfo DER (published base64 in `server-information`).
    pub spki_der: Vec<u8>,
    pub signer: josekit::jws::alg::rsassa::RsassaJwsSigner,
}

/// One error or warning of an inquiry result: `{code, message, errorType}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub code: String,
    pub message: String,
    /// `ERROR` or `WARNING`.
    pub error_type: &'static str,
}

/// A notice as the state file keeps it.
#[derive(Deserialize)]
struct StoredNotice {
    code: String,
    message: String,
    error_type: String,
}

impl<'de> Deserialize<'de> for Notice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StoredNotice::deserialize(d).map(Notice::from)
    }
}

impl From<StoredNotice> for Notice {
    fn from(n: StoredNotice) -> Self {
        let error_type = if n.error_type == "WARNING" {
            "WARNING"
        } else {
            "ERROR"
        };
        Self {
            code: n.code,
            message: n.message,
            error_type,
        }
    }
}

impl Notice {
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            error_type: "ERROR",
        }
    }
    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            error_type: "WARNING",
        }
    }
    pub fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "errorType": self.error_type})
    }
}

/// The decided fate of one invoice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub success: bool,
    pub errors: Vec<Notice>,
    pub warnings: Vec<Notice>,
    pub taxid: Option<String>,
}

/// One received packet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub uid: String,
    pub reference_number: String,
    pub fiscal_id: String,
    /// The memory ID (`clientId`) of the token the packet was sent with.
    pub sender: String,
    pub received_ms: i64,
    /// The final status shows from this instant on.
    pub visible_ms: i64,
    /// Received while `stuck_in_progress` was on: IN_PROGRESS as long as it stays on.
    pub stuck: bool,
    /// Drawn by the `timeout_rate` knob at receipt: ends TIMEOUT, not registered.
    pub timeout: bool,
    pub outcome: Option<Outcome>,
}

/// Packets to examine: index in the store, encrypted payload, fiscal ID.
pub type Work = Vec<(usize, String, String)>;

/// Every received invoice, indexed.
#[derive(Debug, Default)]
pub struct Store {
    pub invoices: Vec<InvoiceRecord>,
    by_reference: HashMap<String, usize>,
    by_uid: HashMap<(String, String), usize>,
    /// Tax IDs that reached SUCCESS → index of that invoice.
    accepted: HashMap<String, usize>,
    pub ledger: Ledger,
    /// The state file, when the sandbox remembers across restarts.
    pub persist: Option<super::persist::Persist>,
}

impl Store {
    /// Records a received packet (kept in the state file with its encrypted payload until it
    /// is examined).
    pub fn insert(&mut self, rec: InvoiceRecord, payload: &str) -> usize {
        let i = self.index(rec);
        if let Some(p) = &self.persist {
            p.insert(i, &self.invoices[i], payload);
        }
        i
    }

    /// Rebuilds the store from a state file, in the order the invoices came; returns the
    /// packets whose examination had not finished (index, payload, fiscal ID).
    pub fn restore(&mut self, stored: Vec<super::persist::Stored>) -> Vec<(usize, String, String)> {
        let mut pending = Vec::new();
        for s in stored {
            let mut rec = s.record;
            let outcome = rec.outcome.take();
            let fiscal_id = rec.fiscal_id.clone();
            let i = self.index(rec);
            match (outcome, s.pending_payload) {
                (Some(o), _) => self.apply(i, o),
                (None, Some(payload)) => pending.push((i, payload, fiscal_id)),
                (None, None) => {}
            }
        }
        pending
    }

    fn index(&mut self, rec: InvoiceRecord) -> usize {
        let i = self.invoices.len();
        self.by_reference.insert(rec.reference_number.clone(), i);
        self.by_uid
            .insert((rec.fiscal_id.clone(), rec.uid.to_ascii_lowercase()), i);
        self.invoices.push(rec);
        self.ledger.packets_received += 1;
        i
    }

    pub fn by_reference(&self, r: &str) -> Option<&InvoiceRecord> {
        self.by_reference.get(r).map(|&i| &self.invoices[i])
    }

    /// The latest invoice sent with this uid for this memory ID.
    pub fn by_uid(&self, fiscal_id: &str, uid: &str) -> Option<&InvoiceRecord> {
        self.by_uid
            .get(&(fiscal_id.to_string(), uid.to_ascii_lowercase()))
            .map(|&i| &self.invoices[i])
    }

    /// The invoice that made `taxid` SUCCESS, if any.
    pub fn accepted(&self, taxid: &str) -> Option<&InvoiceRecord> {
        self.accepted.get(taxid).map(|&i| &self.invoices[i])
    }

    /// Records the outcome of invoice `i` (duplicate tax ID check included) and the ledger.
    pub fn decide(&mut self, i: usize, outcome: Outcome) {
        self.apply(i, outcome);
        if let Some(p) = &self.persist {
            p.decided(i, &self.invoices[i]);
        }
    }

    fn apply(&mut self, i: usize, mut outcome: Outcome) {
        if self.invoices[i].timeout {
            outcome.success = false;
        }
        if let Some(taxid) = outcome.taxid.clone() {
            let timed_out = self.invoices[i].timeout;
            if !timed_out && outcome.success && self.accepted.contains_key(&taxid) {
                outcome.success = false;
                outcome
                    .errors
                    .push(super::processing::duplicate_notice(&taxid));
            }
            if outcome.success {
                self.accepted.insert(taxid.clone(), i);
            }
            let uid = self.invoices[i].uid.clone();
            if timed_out {
                self.ledger.record_timeout(&taxid, &uid);
            } else {
                self.ledger.record(&taxid, &uid, outcome.success);
            }
        }
        self.invoices[i].outcome = Some(outcome);
    }
}

/// The status word inquiries answer with the `unlisted_status` knob on: not one of the
/// connection guide's (§8: SUCCESS, FAILED, IN_PROGRESS, NOT_FOUND; TIMEOUT in RC_TXPS.EC_V02).
pub const UNLISTED_STATUS: &str = "UNDER_REVIEW";

/// Everything the handlers share.
pub struct Shared {
    pub clock: Clock,
    /// The encryption key published in `server-information`: (id, SPKI DER). Changes when the
    /// key rotates ([`Shared::rotate_key`]).
    pub published: std::sync::RwLock<(String, Vec<u8>)>,
    /// A retired key (id, SPKI DER) the server no longer decrypts with, made the first time
    /// the `retired_key_first` knob asks for it.
    pub retired: std::sync::OnceLock<Option<(String, Vec<u8>)>>,
    pub registry: Registry,
    pub examiner: Examiner,
    pub key: ServerKey,
    pub faults: Mutex<Faults>,
    pub rng: Mutex<StdRng>,
    /// Issued nonces → expiry (sandbox ms).
    pub nonces: Mutex<HashMap<String, i64>>,
    pub store: Mutex<Store>,
}

/// Handler state.
pub type AppState = Arc<Shared>;

/// Locks a mutex, taking the data even if another thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// The published encryption key: (id, SPKI DER).
    pub fn published_key(&self) -> (String, Vec<u8>) {
        self.published
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A retired key, made once: a fresh RSA-2048 public key nothing here decrypts with.
    pub fn retired_key(&self) -> Option<(String, Vec<u8>)> {
        self.retired
            .get_or_init(|| {
                let rsa = openssl::rsa::Rsa::generate(2048).ok()?;
                let spki = openssl::pkey::PKey::from_rsa(rsa)
                    .ok()?
                    .public_key_to_der()
                    .ok()?;
                Some((format!("retired-{}", uuid::Uuid::new_v4()), spki))
            })
            .clone()
    }

    /// Replaces the encryption key by a fresh RSA-2048 key under a new id: packets encrypted
    /// to the old key fail 04150 from now on, as on the real server after a key change.
    pub fn rotate_key(&self) -> Result<String, String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let rsa = openssl::rsa::Rsa::generate(2048).map_err(|e| err(&e))?;
        let pkey = openssl::pkey::PKey::from_rsa(rsa).map_err(|e| err(&e))?;
        let pkcs8 = pkey.private_key_to_pkcs8().map_err(|e| err(&e))?;
        let spki = pkey.public_key_to_der().map_err(|e| err(&e))?;
        let id = uuid::Uuid::new_v4().to_string();
        let decrypter = super::jose::Decrypter::new(&pkcs8, &id).map_err(|e| err(&e))?;
        *self
            .examiner
            .decrypter
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(decrypter);
        *self.published.write().unwrap_or_else(|p| p.into_inner()) = (id.clone(), spki);
        lock(&self.store).ledger.faults.key_rotations += 1;
        Ok(id)
    }

    /// Draws against a rate with the (possibly seeded) generator.
    pub fn chance(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        lock(&self.rng).gen_bool(rate)
    }

    /// Issues a nonce valid `ttl_secs` seconds: opaque `<uuid4>-<epoch ms>`.
    pub fn issue_nonce(&self, ttl_secs: u64) -> (String, i64) {
        let now = self.now_ms();
        let nonce = format!("{}-{}", uuid::Uuid::new_v4(), now);
        let exp = now.saturating_add(i64::try_from(ttl_secs).unwrap_or(200) * 1000);
        self.remember_nonce(&nonce, exp);
        (nonce, exp)
    }

    /// Makes `nonce` known until `exp_ms` (prunes expired ones).
    pub fn remember_nonce(&self, nonce: &str, exp_ms: i64) {
        let now = self.now_ms();
        let mut n = lock(&self.nonces);
        if n.len() > 10_000 {
            n.retain(|_, exp| *exp >= now);
        }
        n.insert(nonce.to_string(), exp_ms);
    }

    /// Uses a nonce up: true when it was issued, unused and not expired.
    pub fn consume_nonce(&self, nonce: &str) -> bool {
        let now = self.now_ms();
        match lock(&self.nonces).remove(nonce) {
            Some(exp) => exp >= now,
            None => false,
        }
    }

    /// Whether `client_id` may see `rec`: the owner of its memory ID, or whoever sent it.
    pub fn visible_to(&self, rec: &InvoiceRecord, client_id: &str) -> bool {
        rec.sender == client_id
            || self.registry.same_owner(&rec.fiscal_id, client_id)
            || self.registry.same_owner(&rec.sender, client_id)
    }

    /// The status an inquiry shows for `rec` now.
    ///
    /// With the `unlisted_status` knob, [`UNLISTED_STATUS`], a word the connection guide does
    /// not list.
    pub fn visible_status(&self, rec: &InvoiceRecord, faults: &Faults) -> &'static str {
        match &rec.outcome {
            _ if faults.unlisted_status => UNLISTED_STATUS,
            None => "IN_PROGRESS",
            Some(_) if rec.stuck && faults.stuck_in_progress => "IN_PROGRESS",
            Some(_) if self.now_ms() < rec.visible_ms => "IN_PROGRESS",
            Some(_) if rec.timeout => "TIMEOUT",
            Some(o) if o.success => "SUCCESS",
            Some(_) => "FAILED",
        }
    }

    /// The inquiry result object for `rec` (RC_TICS §8).
    pub fn inquiry_json(&self, rec: &InvoiceRecord, faults: &Faults) -> Value {
        let status = self.visible_status(rec, faults);
        let (data, packet_type, sign) = match (&rec.outcome, status) {
            (Some(_), "TIMEOUT") => (
                json!({"error": [], "warning": [], "success": false}),
                json!("receive_invoice_confirm"),
                String::new(),
            ),
            (Some(o), "SUCCESS" | "FAILED") => {
                let mut all: Vec<Value> = o.errors.iter().map(Notice::to_json).collect();
                let warn: Vec<Value> = o.warnings.iter().map(Notice::to_json).collect();
                let total = all.len() + warn.len();
                let (errors, warnings) = cap_notices(&mut all, warn, total);
                let sign = if o.success {
                    self.sign_result(rec, o.taxid.as_deref().unwrap_or(""))
                } else {
                    String::new()
                };
                (
                    json!({"error": errors, "warning": warnings, "success": o.success}),
                    json!("receive_invoice_confirm"),
                    sign,
                )
            }
            // IN_PROGRESS: "this object is empty" (RC_TXPS.EC_V02 §5).
            _ => (json!({}), json!("invoice.v01"), String::new()),
        };
        json!({
            "referenceNumber": rec.reference_number,
            "uid": rec.uid,
            "status": status,
            "data": data,
            "packetType": packet_type,
            "fiscalId": rec.fiscal_id,
            "sign": sign,
        })
    }

    /// The `sign` of a SUCCESS result: a JWS by the sandbox key over
    /// `{referenceNumber, clientId, taxId, receivedDate}`, header `{alg, sigT}` (RC_TICS §8-1).
    fn sign_result(&self, rec: &InvoiceRecord, taxid: &str) -> String {
        let payload = json!({
            "referenceNumber": rec.reference_number,
            "clientId": rec.fiscal_id,
            "taxId": taxid,
            "receivedDate": super::clock::iso_millis(rec.received_ms),
        });
        let mut header = josekit::jws::JwsHeader::new();
        let _ = header.set_claim(
            "sigT",
            Some(Value::String(super::clock::sig_t(self.now_ms()))),
        );
        josekit::jws::serialize_compact(payload.to_string().as_bytes(), &header, &self.key.signer)
            .unwrap_or_default()
    }
}

/// Errors first, at most 50 notices; beyond that the official `00000` warning is added.
fn cap_notices(
    errors: &mut Vec<Value>,
    warnings: Vec<Value>,
    total: usize,
) -> (Vec<Value>, Vec<Value>) {
    const CAP: usize = 50;
    if total <= CAP {
        return (std::mem::take(errors), warnings);
    }
    let e: Vec<Value> = errors.drain(..).take(CAP).collect();
    let mut w: Vec<Value> = warnings.into_iter().take(CAP - e.len()).collect();
    w.push(
        Notice::warning(
            "00000",
            "تعداد پیام های خطا/هشدار بیش تر از 50 مورد است و امکان نمایش بیش تر از این تعداد وجود ندارد.",
        )
        .to_json(),
    );
    (e, w)
}
