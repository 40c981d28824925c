//! `moadian sandbox serve` as a user runs it: prints the base URL on stdout and serves on
//! 127.0.0.1; `moadian sandbox identity` makes and caches the test identity.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Kills the child when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_prints_its_base_url_and_answers_on_localhost() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sandbox.toml");
    std::fs::write(
        &config,
        "[faults]\nclock_offset_ms = 5000\n\n[[taxpayers]]\nmemory_id = \"B22222\"\nnational_id = \"10100302746\"\neconomic_code = \"10100302746\"\n",
    )
    .unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_moadian"))
            .args(["sandbox", "serve", "--port", "0", "--config"])
            .arg(&config)
            .args(["--latency-ms", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("moadian binary runs"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(base.ends_with("/requestsmanager/api/v2/"), "{base}");
    let v: serde_json::Value = reqwest::get(format!("{base}nonce?timeToLive=20"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["nonce"].is_string());
    let root = base.trim_end_matches("requestsmanager/api/v2/");
    let f: serde_json::Value = reqwest::get(format!("{root}sandbox/faults"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["clock_offset_ms"], 5000);
    assert_eq!(f["latency_ms"], 1);
}

#[test]
fn bad_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[faults]\nerror_rate = 3.0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(["sandbox", "serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error_rate"), "{err}");
}

#[test]
fn identity_is_made_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
            .args(["sandbox", "identity", "--dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    assert!(first.contains("14003778990"));
    let cert = std::fs::read(dir.path().join("cert.pem")).unwrap();
    run();
    assert_eq!(cert, std::fs::read(dir.path().join("cert.pem")).unwrap());
}
