//! Helpers for the sandbox tests: a hand-rolled client that builds requests the way the official
//! connection guide shows them — JWS and JWE made with openssl directly (not the project's
//! crypto module, so a client mistake and a server mistake cannot cancel out).
#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use moadian::sandbox::identity::self_signed;
use moadian::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use openssl::encrypt::Encrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::Signer;
use openssl::symm::{encrypt_aead, Cipher};
use serde_json::{json, Value};
use std::time::Duration;

pub const DEMO: &str = "A11216";
pub const DEMO_NID: &str = "14003778990";

pub fn b64u(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// A signing identity: key + certificate with a subject serialNumber.
pub struct Ident {
    pub key: PKey<Private>,
    pub cert_der: Vec<u8>,
}

impl Ident {
    pub fn new(national_id: &str) -> Self {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let cert = self_signed(&key, national_id).unwrap();
        Ident {
            cert_der: cert.to_der().unwrap(),
            key,
        }
    }

    pub fn x5c(&self) -> String {
        STANDARD.encode(&self.cert_der)
    }

    /// Header JSON with the guide's four keys in its order (crit, sigT, x5c, alg).
    pub fn header4(&self, sig_t: &str) -> String {
        format!(
            r#"{{"crit":["sigT"],"sigT":"{sig_t}","x5c":["{}"],"alg":"RS256"}}"#,
            self.x5c()
        )
    }

    /// Header JSON as the official SDKs send it (six keys, another order).
    pub fn header6(&self, sig_t: &str) -> String {
        format!(
            r#"{{"alg":"RS256","typ":"jose","x5c":["{}"],"sigT":"{sig_t}","crit":["sigT"],"cty":"text/plain"}}"#,
            self.x5c()
        )
    }

    /// Compact JWS over `payload` with the header JSON given as text.
    pub fn sign_with_header(&self, header_json: &str, payload: &[u8]) -> String {
        let input = format!("{}.{}", b64u(header_json.as_bytes()), b64u(payload));
        let mut s = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        s.update(input.as_bytes()).unwrap();
        format!("{input}.{}", b64u(&s.sign_to_vec().unwrap()))
    }

    pub fn sign(&self, payload: &[u8]) -> String {
        self.sign_with_header(&self.header4(&utc_sig_t()), payload)
    }
}

pub fn utc_sig_t() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Compact JWE (RSA-OAEP-256 + A256GCM) built by hand; `header_json` as given, IV of `iv_len`.
pub fn jwe(plain: &[u8], server_spki: &[u8], header_json: &str, iv_len: usize) -> String {
    let pubkey = PKey::public_key_from_der(server_spki).unwrap();
    let mut cek = [0u8; 32];
    openssl::rand::rand_bytes(&mut cek).unwrap();
    let mut enc = Encrypter::new(&pubkey).unwrap();
    enc.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    enc.set_rsa_oaep_md(MessageDigest::sha256()).unwrap();
    enc.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
    let mut wrapped = vec![0u8; enc.encrypt_len(&cek).unwrap()];
    let n = enc.encrypt(&cek, &mut wrapped).unwrap();
    wrapped.truncate(n);
    let mut iv = vec![0u8; iv_len];
    openssl::rand::rand_bytes(&mut iv).unwrap();
    let h = b64u(header_json.as_bytes());
    let mut tag = [0u8; 16];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        &cek,
        Some(&iv),
        h.as_bytes(),
        plain,
        &mut tag,
    )
    .unwrap();
    format!(
        "{h}.{}.{}.{}.{}",
        b64u(&wrapped),
        b64u(&iv),
        b64u(&ct),
        b64u(&tag)
    )
}

pub fn jwe_header(kid: Option<&str>) -> String {
    match kid {
        Some(k) => format!(r#"{{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"{k}"}}"#),
        None => r#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#.to_string(),
    }
}

/// A tax ID for memory ID / day / serial (RC_DCPS.SN_V01.3).
pub fn taxid(memory_id: &str, indatim_ms: i64, serial: u64) -> String {
    let days = indatim_ms.div_euclid(86_400_000) as u64;
    let dec: String = memory_id
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                c.to_string()
            } else {
                (c as u32).to_string()
            }
        })
        .collect();
    let control = format!("{dec}{days:06}{serial:012}");
    let check = moadian::sandbox::taxid::verhoeff(&control).unwrap();
    format!("{memory_id}{days:05X}{serial:010X}{check}")
}

/// The official example invoice (RC_TICS §7) re-dated to `indatim` with its tax ID.
pub fn invoice(memory_id: &str, indatim: i64, serial: u64) -> Value {
    json!({
        "header": {
            "taxid": taxid(memory_id, indatim, serial), "inno": format!("{serial:010X}"),
            "indatim": indatim, "inty": 1, "inp": 1, "ins": 1, "tins": DEMO_NID, "tob": 2,
            "bid": "10100302746", "tinb": "10100302746", "tprdis": 20000, "tdis": 500,
            "tadis": 19500, "tvam": 1755, "todam": 0, "tbill": 21255, "setm": 2
        },
        "body": [{
            "sstid": "2710000138624", "sstt": "سرسیلندر فولاد صنعت قطعات سازی", "mu": "164",
            "am": 2, "fee": 10000, "prdis": 20000, "dis": 500, "adis": 19500, "vra": 9,
            "vam": 1755, "tsstam": 21255
        }],
        "payments": []
    })
}

/// A started sandbox plus a client that talks to it like the guide's curl examples.
pub struct Bench {
    pub sandbox: RunningSandbox,
    pub http: reqwest::Client,
    pub ident: Ident,
    pub memory_id: String,
}

pub async fn start() -> Bench {
    start_with(SandboxConfig::default()).await
}

/// Starts a sandbox with `cfg`, its key made at 2048 bits for a faster start (the 4096-bit
/// default has its own test).
pub async fn start_with(cfg: SandboxConfig) -> Bench {
    let cfg = SandboxConfig {
        server_key_bits: 2048,
        ..cfg
    };
    let sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
    Bench {
        sandbox,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        ident: Ident::new(DEMO_NID),
        memory_id: DEMO.to_string(),
    }
}

impl Bench {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    pub async fn nonce(&self) -> String {
        let v: Value = self
            .http
            .get(self.url("nonce?timeToLive=60"))
            .header("accept", "*/*")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["nonce"].as_str().unwrap().to_string()
    }

    /// A fresh auth token for `client_id`, signed by `ident`.
    pub async fn token_for(&self, ident: &Ident, client_id: &str) -> String {
        let nonce = self.nonce().await;
        let payload = format!(r#"{{"nonce":"{nonce}","clientId":"{client_id}"}}"#);
        ident.sign(payload.as_bytes())
    }

    pub async fn token(&self) -> String {
        self.token_for(&self.ident, &self.memory_id).await
    }

    /// GET with a fresh token; returns (HTTP status, JSON body or Null).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let token = self.token().await;
        self.get_with(path, &format!("Bearer {token}")).await
    }

    pub async fn get_with(&self, path: &str, authorization: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .header("accept", "*/*")
            .header("Authorization", authorization)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: String) -> (u16, Value) {
        let token = self.token().await;
        let r = self
            .http
            .post(self.url(path))
            .header("accept", "*/*")
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The packet for an invoice: JWS by `ident`, JWE to the sandbox key with its kid.
    pub fn packet(&self, inv: &Value, uid: &str) -> Value {
        let jws = self.ident.sign(inv.to_string().as_bytes());
        let (spki, kid) = self.sandbox.server_key();
        json!({
            "payload": jwe(jws.as_bytes(), &spki, &jwe_header(Some(&kid)), 12),
            "header": {"requestTraceId": uid, "fiscalId": self.memory_id}
        })
    }

    pub async fn post_packets(&self, packets: Vec<Value>) -> (u16, Value) {
        self.post_raw("invoice", Value::Array(packets).to_string())
            .await
    }

    /// Waits until inquiry-by-uid gives a final status (see [`eventually`]).
    pub async fn final_status(&self, uid: &str) -> Value {
        eventually(&format!("{uid} leaves IN_PROGRESS"), move || async move {
            let (status, v) = self
                .get(&format!(
                    "inquiry-by-uid?uidList={uid}&fiscalId={}",
                    self.memory_id
                ))
                .await;
            assert_eq!(status, 200, "{v}");
            let s = v[0]["status"].as_str().unwrap_or("").to_string();
            (s != "IN_PROGRESS").then(|| v[0].clone())
        })
        .await
    }

    pub fn now(&self) -> i64 {
        self.sandbox.now_ms()
    }
}

/// How long a test waits for something that must happen before it calls it a hang. Not a
/// speed goal: a loaded 2-core CI machine may take its time; only a hang reaches this.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// Waits until `check` gives `Some` (it is asked again as soon as it answers `None`, with a
/// short pause so the server gets the CPU): the test waits on the event, not on a time window.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{what}: still not after {PATIENCE:?} (a hang)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The code of an error envelope.
pub fn code(v: &Value) -> &str {
    v["errors"][0]["code"].as_str().unwrap_or("")
}

/// The error codes of an inquiry result.
pub fn error_codes(result: &Value) -> Vec<String> {
    result["data"]["error"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}
