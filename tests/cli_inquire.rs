//! `moadian inquire` and its exit code: 0 only when every invoice asked about was found and
//! answered without an error, whichever way it was asked (`--taxid`, `--uid`, `--reference`).
//! Runs against the project's sandbox on 127.0.0.1 with the sandbox's key-file test identity.

use moadian::sandbox::identity::TestIdentity;
use moadian::sandbox::{Faults, Sandbox, SandboxConfig};
use std::path::Path;
use std::process::Command;

/// A tax ID of memory ID A11216 that the sandbox never received.
const UNKNOWN_TAXID: &str = "A112160513300000000001";

fn moadian(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_HOME")
        .env_remove("MOADIAN_BASE_URL")
        .env("MOADIAN_RETRY_ATTEMPTS", "1")
        .env("MOADIAN_POLL_FIRST_MS", "100")
        .env("MOADIAN_POLL_MAX_MS", "300")
        .args(["--lang", "en"])
        .args(args)
        .output()
        .expect("moadian runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn inquire_by_taxid_exits_1_unless_every_invoice_is_found() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig {
            server_key_bits: 2048,
            faults: Faults {
                processing_delay_ms: 50,
                ..Faults::default()
            },
            ..SandboxConfig::default()
        }))
        .expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let id = TestIdentity::ensure(&dir.path().join("id")).expect("test identity");
    std::fs::write(
        dir.path().join("moadian.toml"),
        format!(
            "[profiles.demo]\nmemory_id = \"A11216\"\nnational_id = \"14003778990\"\nendpoint = \"{}\"\n[profiles.demo.signer]\nkey_file = \"{}\"\ncert_file = \"{}\"\n",
            sandbox.base_url(),
            id.key_path.display(),
            id.cert_path.display()
        ),
    )
    .unwrap();

    // Not found: the server answers error NOT_FOUND, and the exit code says so.
    for json in [false, true] {
        let mut args = vec!["inquire", "--profile", "demo", "--taxid", UNKNOWN_TAXID];
        if json {
            args.push("--json");
        }
        let (code, out, err) = moadian(dir.path(), &args);
        assert_eq!(
            code, 1,
            "NOT_FOUND is not a success (json {json}):\n{out}\n{err}"
        );
        assert!(out.contains("NOT_FOUND"), "{out}\n{err}");
    }

    // An invoice the server holds: 0; with one it does not hold beside it: 1.
    let sale = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/invoices/valid/t1-p1-sale.json"
    );
    let (code, out, err) = moadian(
        dir.path(),
        &[
            "submit",
            "--profile",
            "demo",
            "--json",
            "--wait",
            "60s",
            sale,
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let taxid = v["invoices"][0]["taxid"]
        .as_str()
        .expect("taxid")
        .to_string();
    let (code, out, err) = moadian(
        dir.path(),
        &["inquire", "--profile", "demo", "--taxid", &taxid],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("APPROVED"), "{out}");
    let (code, out, err) = moadian(
        dir.path(),
        &[
            "inquire",
            "--profile",
            "demo",
            "--taxid",
            &taxid,
            UNKNOWN_TAXID,
        ],
    );
    assert_eq!(code, 1, "one of two not found:\n{out}\n{err}");
    rt.block_on(sandbox.shutdown());
}
