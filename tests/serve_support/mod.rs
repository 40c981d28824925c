//! A running `moadian serve --sandbox` for the service's tests (API and dashboard).
#![allow(dead_code)]

pub mod cdp;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const SALE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/invoices/valid/t1-p1-sale.json"
);
pub const SHEET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/spreadsheets/one-row-per-line.xlsx"
);

/// A running `moadian serve --sandbox` with its own home and queue; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub home: tempfile::TempDir,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let home = tempfile::tempdir().unwrap();
        Self::start_in(home, extra).unwrap_or_else(|(code, err)| {
            panic!("moadian serve exited ({code:?}) before listening:\n{err}")
        })
    }

    /// Starts the service; `Err((exit code, stderr))` when it ends before listening.
    pub fn start_in(
        home: tempfile::TempDir,
        extra: &[&str],
    ) -> Result<Server, (Option<i32>, String)> {
        moadian::crypto::softhsm::module_path()
            .unwrap_or_else(|e| panic!("`serve --sandbox` signs on SoftHSM2 here: {e}"));
        let queue = home.path().join("queue.sqlite");
        let mut c = Command::new(env!("CARGO_BIN_EXE_moadian"));
        c.args([
            "--lang",
            "en",
            "serve",
            "--sandbox",
            "--port",
            "0",
            "--every",
            "1s",
        ]);
        // A `--queue` in `extra` (a PostgreSQL URL) takes the place of the file in the home.
        if !extra.contains(&"--queue") {
            c.arg("--queue").arg(&queue);
        }
        let mut child = c
            .args(extra)
            .env("MOADIAN_HOME", home.path())
            .env("MOADIAN_SANDBOX_DELAY_MS", "50")
            .env("MOADIAN_POLL_FIRST_MS", "100")
            .env("MOADIAN_POLL_MAX_MS", "300")
            .env_remove("MOADIAN_CONFIG")
            .env_remove("MOADIAN_LANG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moadian starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if let Some(at) = line.find("http://") {
                        let url = &line[at..];
                        let end = url
                            .find("/api/v1/")
                            .expect("the printed URL names /api/v1/");
                        break url[..end].to_string();
                    }
                }
                _ => {
                    let status = child.wait().expect("wait");
                    return Err((status.code(), seen));
                }
            }
        };
        // Keep draining standard error so the service never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(Server {
            child,
            base,
            home,
            http: reqwest::Client::new(),
            token: None,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub fn auth(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String, Value) {
        let r = self
            .auth(self.http.get(self.url(path)))
            .send()
            .await
            .expect("GET");
        answer(r).await
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, String, Value) {
        let r = self
            .auth(self.http.post(self.url(path)))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST");
        answer(r).await
    }

    pub fn uploads(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.home.path().join("uploads")) {
            Ok(d) => d.flatten().map(|e| e.path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits (bounded, as a guard against a hang) until the invoice's status is final.
    pub async fn until_final(&self, taxid: &str) -> Value {
        for _ in 0..240 {
            let (code, _, v) = self.get(&format!("/invoices/{taxid}")).await;
            assert_eq!(code, 200, "{v:#}");
            if matches!(v["status"].as_str(), Some("SUCCESS" | "FAILED")) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("{taxid} did not reach a final status")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn answer(r: reqwest::Response) -> (u16, String, Value) {
    let code = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (code, ctype, v)
}

/// A problem-details answer: the content type, the status echoed, both languages.
pub fn assert_problem(code: u16, ctype: &str, v: &Value, want: u16) {
    assert_eq!(code, want, "{v:#}");
    assert_eq!(ctype, "application/problem+json", "{v:#}");
    assert_eq!(v["status"], want, "{v:#}");
    assert!(
        v["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:moadian:problem:"),
        "{v:#}"
    );
    assert!(!v["message"]["fa"].as_str().unwrap().is_empty(), "{v:#}");
    assert!(!v["message"]["en"].as_str().unwrap().is_empty(), "{v:#}");
    assert_eq!(v["detail"], v["message"]["en"], "{v:#}");
}

pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
