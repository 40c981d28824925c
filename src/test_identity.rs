//! The client's test identity for `--sandbox` runs: an RSA-2048 key and a self-signed "[Stamp]"
//! certificate whose subject serialNumber is the demo taxpayer's national ID `14003778990`,
//! generated once and cached in a directory as `key.pem` (PKCS#8) and `cert.pem`. The sandbox
//! accepts it for memory IDs A11216 / A11226; the real server would not (self-signed).

use moadian_sandbox::config::DEMO_NATIONAL_ID;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use std::path::{Path, PathBuf};

/// Common name of the generated certificate.
pub const TEST_CN: &str = "Moadian Sandbox Test Company [Stamp]";

/// Why the test identity could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("test identity in {path}: {source} / فایل هویت آزمایشی خوانده یا نوشته نشد")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("test identity: {0} / ساخت کلید یا گواهی آزمایشی ممکن نشد")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("test identity in {0}: key.pem and cert.pem do not belong together; delete both to regenerate / کلید و گواهی با هم نمی‌خوانند؛ هر دو را پاک کنید")]
    Mismatch(PathBuf),
    #[error("test identity on SoftHSM: {0} / قرار دادن هویت آزمایشی روی SoftHSM ممکن نشد")]
    SoftHsm(String),
}

/// Label of the SoftHSM token holding the test identity.
pub const SOFTHSM_LABEL: &str = "moadian-sandbox";
/// User PIN of that token (a test token; never a real PIN).
pub const SOFTHSM_USER_PIN: &str = "1234";
const SOFTHSM_SO_PIN: &str = "12345678";

/// The test identity on a SoftHSM token: point the token signer at `hsm.module` with
/// `SOFTHSM2_CONF = hsm.conf`, token `label`, PIN `user_pin`, key/certificate under `key_id`.
#[derive(Debug, Clone)]
pub struct SoftHsmIdentity {
    pub hsm: crate::crypto::softhsm::SoftHsm,
    pub label: String,
    pub user_pin: String,
    pub key_id: Vec<u8>,
}

/// A generated key + certificate for the demo taxpayer.
#[derive(Clone)]
pub struct TestIdentity {
    pub dir: PathBuf,
    pub key_path: PathBuf,
    pub cert_path: PathBuf,
    /// PKCS#8 DER of the private key (a test key; never a real taxpayer's).
    pub key_pkcs8_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    /// The certificate's subject serialNumber.
    pub national_id: String,
}

impl std::fmt::Debug for TestIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdentity")
            .field("key_path", &self.key_path)
            .field("cert_path", &self.cert_path)
            .field("national_id", &self.national_id)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl TestIdentity {
    /// The default cache directory: `<data dir>/moadian/sandbox-identity`.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join("moadian").join("sandbox-identity"))
    }

    /// Loads the identity cached in `dir`, or generates and writes it there.
    pub fn ensure(dir: &Path) -> Result<TestIdentity, IdentityError> {
        let key_path = dir.join("key.pem");
        let cert_path = dir.join("cert.pem");
        if key_path.exists() && cert_path.exists() {
            let key =
                PKey::private_key_from_pem(&std::fs::read(&key_path).map_err(io_err(&key_path))?)?;
            let cert = X509::from_pem(&std::fs::read(&cert_path).map_err(io_err(&cert_path))?)?;
            if !cert.public_key()?.public_eq(&key) {
                return Err(IdentityError::Mismatch(dir.to_path_buf()));
            }
            return Self::from_parts(dir, key, &cert);
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let cert = self_signed(&key, DEMO_NATIONAL_ID)?;
        write_private(&key_path, &key.private_key_to_pem_pkcs8()?)?;
        std::fs::write(&cert_path, cert.to_pem()?).map_err(io_err(&cert_path))?;
        Self::from_parts(dir, key, &cert)
    }

    fn from_parts(
        dir: &Path,
        key: PKey<Private>,
        cert: &X509,
    ) -> Result<TestIdentity, IdentityError> {
        Ok(TestIdentity {
            dir: dir.to_path_buf(),
            key_path: dir.join("key.pem"),
            cert_path: dir.join("cert.pem"),
            key_pkcs8_der: key.private_key_to_pkcs8()?,
            cert_der: cert.to_der()?,
            national_id: moadian_sandbox::jose::national_id_of(cert).unwrap_or_default(),
        })
    }

    /// The key (PKCS#8 DER) and certificate (DER).
    pub fn pkcs8_and_cert(&self) -> (&[u8], &[u8]) {
        (&self.key_pkcs8_der, &self.cert_der)
    }

    /// Puts the identity on a SoftHSM token kept in `<dir>/softhsm` (once; later calls reuse
    /// it) with the crypto module's helper. SoftHSM reads its configuration once per process,
    /// so call this before anything else in the process loads the module.
    pub fn ensure_on_softhsm(&self) -> Result<SoftHsmIdentity, IdentityError> {
        use crate::crypto::softhsm::SoftHsm;
        let soft = |e: crate::crypto::SignError| IdentityError::SoftHsm(e.to_string());
        let hsm_dir = self.dir.join("softhsm");
        std::fs::create_dir_all(&hsm_dir).map_err(io_err(&hsm_dir))?;
        let hsm = SoftHsm::setup(&hsm_dir).map_err(soft)?;
        let digest = openssl::sha::sha256(&self.cert_der);
        let key_id = digest[..8].to_vec();
        let marker = hsm_dir.join("imported");
        if !marker.exists() {
            hsm.init_token(SOFTHSM_LABEL, SOFTHSM_SO_PIN, SOFTHSM_USER_PIN)
                .map_err(soft)?;
            let key = PKey::private_key_from_der(&self.key_pkcs8_der)?;
            let cert = X509::from_der(&self.cert_der)?;
            hsm.import(SOFTHSM_LABEL, SOFTHSM_USER_PIN, &key_id, &key, &cert, None)
                .map_err(soft)?;
            std::fs::write(&marker, SOFTHSM_LABEL).map_err(io_err(&marker))?;
        }
        Ok(SoftHsmIdentity {
            hsm,
            label: SOFTHSM_LABEL.to_string(),
            user_pin: SOFTHSM_USER_PIN.to_string(),
            key_id,
        })
    }
}

/// Writes a private key readable by the owner only.
fn write_private(path: &Path, pem: &[u8]) -> Result<(), IdentityError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io_err(path))?;
    f.write_all(pem).map_err(io_err(path))
}

/// A self-signed legal-entity ("[Stamp]") certificate with subject serialNumber `national_id`,
/// valid from 2020-01-01 (so sandbox clocks pinned to the guide's 2024 dates accept it) for
/// ten years from now.
pub fn self_signed(
    key: &PKey<Private>,
    national_id: &str,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COUNTRYNAME, "IR")?;
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Non-Governmental")?;
    name.append_entry_by_nid(Nid::COMMONNAME, TEST_CN)?;
    name.append_entry_by_nid(Nid::SERIALNUMBER, national_id)?;
    let name = name.build();
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(key)?;
    let not_before = Asn1Time::from_unix(1_577_836_800)?;
    b.set_not_before(&not_before)?;
    let not_after = Asn1Time::days_from_now(3650)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()?,
    )?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_cached() {
        let dir = tempfile::tempdir().unwrap();
        let a = TestIdentity::ensure(dir.path()).unwrap();
        assert_eq!(a.national_id, DEMO_NATIONAL_ID);
        let b = TestIdentity::ensure(dir.path()).unwrap();
        assert_eq!(a.cert_der, b.cert_der);
        assert_eq!(a.key_pkcs8_der, b.key_pkcs8_der);
        let cert = X509::from_der(&a.cert_der).unwrap();
        let cn = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .unwrap();
        assert!(String::from_utf8_lossy(cn.data().as_slice()).contains("[Stamp]"));
    }
}
