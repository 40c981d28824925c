//! `moadian doctor` warns, with the fix, about a key file that group or others may read and
//! about a private key that is not protected by a passphrase; a private, encrypted key file
//! gets neither warning.

use assert_cmd::Command;
use moadian::sandbox::identity::TestIdentity;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn doctor(dir: &Path, key: &Path, cert: &Path, pin: Option<&str>) -> (i32, String) {
    let mut c = Command::cargo_bin("moadian").unwrap();
    c.current_dir(dir)
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_PIN")
        .args([
            "--lang",
            "en",
            "doctor",
            "--offline",
            "--national-id",
            "14003778990",
        ])
        .arg("--key")
        .arg(key)
        .arg("--cert")
        .arg(cert);
    if let Some(p) = pin {
        c.env("MOADIAN_PIN", p);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_readable_plain_key_file_is_warned_about_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let id = TestIdentity::ensure(&dir.path().join("id")).expect("test identity");
    std::fs::set_permissions(&id.key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = doctor(dir.path(), &id.key_path, &id.cert_path, None);
    assert_eq!(code, 0, "warnings only: {out}");
    assert!(
        out.contains("key.file_permissions") && out.contains("chmod 600"),
        "{out}"
    );
    assert!(
        out.contains("key.unprotected") && out.contains("openssl pkcs8"),
        "{out}"
    );

    // Encrypted and private: no warning about the file.
    let pem = std::fs::read(&id.key_path).unwrap();
    let key = openssl::pkey::PKey::private_key_from_pem(&pem).unwrap();
    let enc = key
        .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"s3cret")
        .unwrap();
    let enc_path = dir.path().join("key.enc.pem");
    std::fs::write(&enc_path, enc).unwrap();
    std::fs::set_permissions(&enc_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out) = doctor(dir.path(), &enc_path, &id.cert_path, Some("s3cret"));
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("key.file_permissions") && !out.contains("key.unprotected"),
        "{out}"
    );
}
