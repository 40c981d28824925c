//! Architecture invariant 5, proved: the PIN is never logged or stored. A whole `moadian
//! submit` against the sandbox on 127.0.0.1, at trace log level, with a PIN nothing else could
//! contain — then every byte the run left behind is searched for it: stdout, stderr, the queue
//! database and its journal, the state directory, the home directory, the configuration. A
//! wrong stored PIN is refused and remembered too, so the mark of a refused PIN is searched
//! as well.

mod e2e_support;
use e2e_support::*;
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::sandbox::{Sandbox, SandboxConfig};

const PIN: &str = "Qz7#pin-5309-Xk";
const WRONG_PIN: &str = "Wq4#nip-9035-Kx";

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    let utf16: Vec<u8> = needle
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
        || hay.windows(utf16.len()).any(|w| w == utf16.as_slice())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_5_the_pin_is_never_logged_or_stored() {
    let sandbox = Sandbox::start(SandboxConfig {
        faults: quick_faults(),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let label = format!("pinlog-{}", std::process::id());
    hsm().init_token(&label, SO_PIN, PIN).expect("token");
    let ident = make_identity(&IdentityOptions::new(NATIONAL_ID)).unwrap();
    hsm()
        .import(&label, PIN, &[1], &ident.key, &ident.cert, None)
        .expect("identity");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("moadian.toml");
    std::fs::write(
        &config,
        format!(
            "default_profile = \"t\"\n[profiles.t]\nmemory_id = \"{MEMORY_ID}\"\nnational_id = \"{NATIONAL_ID}\"\neconomic_code = \"{NATIONAL_ID}\"\nendpoint = \"{}\"\n[profiles.t.signer]\npkcs11_module = \"{}\"\ntoken_label = \"{label}\"\n",
            sandbox.base_url(),
            hsm().module.display()
        ),
    )
    .unwrap();
    let invoices = dir.path().join("invoices");
    let taxids = write_invoices(&invoices, 1, 3);
    let run = |pin: &'static str, args: Vec<String>| {
        let mut c = std::process::Command::new(binary());
        c.args(["--lang", "en"])
            .args(&args)
            .env("SOFTHSM2_CONF", &hsm().conf)
            .env("MOADIAN_PIN", pin)
            .env("MOADIAN_LOG", "trace")
            .env("MOADIAN_HOME", dir.path().join("home"))
            .env("MOADIAN_STATE_DIR", dir.path().join("state"))
            .env("MOADIAN_POLL_FIRST_MS", "100")
            .env("MOADIAN_POLL_MAX_MS", "300")
            .env_remove("MOADIAN_CONFIG")
            .env_remove("MOADIAN_LANG");
        c.output().expect("moadian runs")
    };
    let submit = |pin: &'static str| {
        run(
            pin,
            vec![
                "submit".into(),
                "--config".into(),
                config.display().to_string(),
                "--queue".into(),
                dir.path().join("queue.sqlite").display().to_string(),
                "--wait".into(),
                "60s".into(),
                "--json".into(),
                invoices.display().to_string(),
            ],
        )
    };
    // A wrong stored PIN first: refused, remembered.
    let wrong = submit(WRONG_PIN);
    assert_eq!(wrong.status.code(), Some(1));
    let wrong_all = format!(
        "{}{}",
        String::from_utf8_lossy(&wrong.stdout),
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(wrong_all.contains("pin.incorrect"), "{wrong_all}");
    // What the refusal left behind (the mark is removed by the next good login).
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("pin-refused-")),
        "the refusal is remembered: {files:?}"
    );
    let after_refusal: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read(f).unwrap_or_default(),
            )
        })
        .collect();
    // Then the right one: the whole submission, at trace level.
    let good = submit(PIN);
    let stdout = String::from_utf8_lossy(&good.stdout);
    let stderr = String::from_utf8_lossy(&good.stderr);
    assert_eq!(good.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "the run logged at trace level: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let st = statuses(&report);
    for t in &taxids {
        assert_eq!(st.get(t).map(String::as_str), Some("SUCCESS"), "{report:#}");
    }
    // Search everything.
    let mut outputs: Vec<(String, Vec<u8>)> = after_refusal;
    for (name, o) in [("refused run", &wrong), ("submit", &good)] {
        outputs.push((format!("{name} stdout"), o.stdout.clone()));
        outputs.push((format!("{name} stderr"), o.stderr.clone()));
    }
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("queue.sqlite")),
        "{files:?}"
    );
    for f in &files {
        outputs.push((
            f.display().to_string(),
            std::fs::read(f).unwrap_or_default(),
        ));
    }
    for (what, bytes) in &outputs {
        for pin in [PIN, WRONG_PIN] {
            assert!(!contains(bytes, pin), "the PIN {pin:?} is in {what}");
        }
    }
}
