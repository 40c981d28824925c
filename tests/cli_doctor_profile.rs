//! `moadian doctor --profile NAME`: the taxpayer, the signer and the endpoint come from
//! `moadian.toml`, so the preflight checks exactly what a submission with that profile would use.
//! Runs against the project's sandbox on 127.0.0.1 with the sandbox's key-file test identity.

use assert_cmd::Command;
use moadian::sandbox::identity::TestIdentity;
use moadian::sandbox::{Sandbox, SandboxConfig};

fn doctor(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("moadian")
        .unwrap()
        .current_dir(dir)
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_BASE_URL")
        .env("MOADIAN_RETRY_ATTEMPTS", "1")
        .args(["--lang", "en", "doctor"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Writes `dir/moadian.toml` with one profile per `(name, national ID)` for memory ID A11216,
/// all signing with the test identity's key file, on `endpoint` when given.
fn write_profiles(
    dir: &std::path::Path,
    id: &TestIdentity,
    endpoint: Option<&str>,
    profiles: &[(&str, &str)],
) {
    let mut toml = String::new();
    for (name, national_id) in profiles {
        toml += &format!(
            "[profiles.{name}]\nmemory_id = \"A11216\"\nnational_id = \"{national_id}\"\n"
        );
        if let Some(url) = endpoint {
            toml += &format!("endpoint = \"{url}\"\n");
        }
        toml += &format!(
            "[profiles.{name}.signer]\nkey_file = \"{}\"\ncert_file = \"{}\"\n\n",
            id.key_path.display(),
            id.cert_path.display()
        );
    }
    std::fs::write(dir.join("moadian.toml"), toml).unwrap();
}

#[test]
fn doctor_takes_taxpayer_signer_and_endpoint_from_the_profile() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig::default()))
        .expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let id = TestIdentity::ensure(&dir.path().join("id")).expect("test identity");
    write_profiles(
        dir.path(),
        &id,
        Some(&sandbox.base_url()),
        &[("demo", "14003778990"), ("other", "10100302746")],
    );

    let (code, out) = doctor(dir.path(), &["--profile", "demo"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cert.national_id_matches"), "{out}");
    assert!(out.contains("server.reachable"), "{out}");
    assert!(out.contains("clock.ok"), "{out}");

    // The profile's national ID is not the certificate's: caught before anything is sent.
    let (code, out) = doctor(dir.path(), &["--profile", "other", "--offline"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cert.national_id_mismatch"), "{out}");
    assert!(
        out.contains("moadian explain cert.national_id_mismatch"),
        "a failed check points to its explanation: {out}"
    );

    // Several profiles and none chosen: a clear usage error naming them.
    let (code, out) = doctor(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--profile") && out.contains("demo"), "{out}");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn sign_takes_the_signer_and_national_id_from_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let id = TestIdentity::ensure(&dir.path().join("id")).expect("test identity");
    write_profiles(
        dir.path(),
        &id,
        None,
        &[("demo", "14003778990"), ("wrong", "10100302746")],
    );
    let invoice = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/invoices/official-example.json"
    );
    let sign = |profile: &str| {
        Command::cargo_bin("moadian")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("MOADIAN_CONFIG")
            .args(["--lang", "en", "sign", "--profile", profile, invoice])
            .output()
            .unwrap()
    };
    let out = sign("demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let jws = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        jws.split('.').count(),
        3,
        "a compact JWS on the last line: {stdout}"
    );
    let verified = moadian::crypto::jws::verify_compact(jws, None).expect("verifies");
    assert_eq!(verified.certificate_der, id.cert_der);

    // The profile's taxpayer is not the certificate's: refused before signing.
    let out = sign("wrong");
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("national_id_mismatch"), "{all}");
}

/// Starts a sandbox whose demo memory ID A11216 answers `status` in `fiscal-information`.
fn sandbox_with_status(
    rt: &tokio::runtime::Runtime,
    status: &str,
) -> moadian::sandbox::RunningSandbox {
    let mut taxpayers = moadian::sandbox::TaxpayerConfig::demo();
    for t in &mut taxpayers {
        t.fiscal_status = Some(status.to_string());
    }
    rt.block_on(Sandbox::start(SandboxConfig {
        demo_taxpayer: false,
        taxpayers,
        server_key_bits: 2048,
        ..SandboxConfig::default()
    }))
    .expect("sandbox starts")
}

/// The statuses of the connection guide (§9-2) that stop invoices fail the memory ID check,
/// saying what they mean and what to do, in both languages; a temporary stop is a warning.
#[test]
fn doctor_fails_a_memory_id_the_tax_system_does_not_authorize() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id = TestIdentity::ensure(&dir.path().join("id")).expect("test identity");
    for (status, fails, en_says, fa_says) in [
        (
            "PERMANENT_UNAUTHORIZE",
            true,
            "tax office",
            "اداره امور مالیاتی",
        ),
        ("NOT_ALLOCATED", true, "not allocated", "تخصیص"),
        (
            "TEMPORARY_UNAUTHORIZE",
            false,
            "tax office",
            "اداره امور مالیاتی",
        ),
    ] {
        let sandbox = sandbox_with_status(&rt, status);
        write_profiles(
            dir.path(),
            &id,
            Some(&sandbox.base_url()),
            &[("demo", "14003778990")],
        );
        let (code, out) = doctor(dir.path(), &["--profile", "demo"]);
        let line = out
            .lines()
            .find(|l| l.contains("memory_id.status"))
            .unwrap_or_else(|| panic!("{status}: no memory ID check: {out}"));
        if fails {
            assert_eq!(code, 1, "{status} fails doctor: {out}");
            assert!(line.contains("[FAIL]"), "{status}: {out}");
        } else {
            assert_eq!(code, 0, "{status} is a warning: {out}");
            assert!(line.contains("[warn]"), "{status}: {out}");
        }
        assert!(line.contains(status), "{status}: {out}");
        assert!(out.contains(en_says), "{status}: {out}");
        let fa = Command::cargo_bin("moadian")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("MOADIAN_CONFIG")
            .env("MOADIAN_RETRY_ATTEMPTS", "1")
            .args(["--lang", "fa", "doctor", "--profile", "demo"])
            .output()
            .unwrap();
        let fa = String::from_utf8_lossy(&fa.stdout).to_string();
        assert!(fa.contains(fa_says), "{status}: {fa}");
        rt.block_on(sandbox.shutdown());
    }
}
