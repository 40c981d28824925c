//! Test identities: an RSA key and a certificate with the subject layout GICA issues
//! (token-and-certs.md §4.2), for the sandbox's generated identity, the tests and the
//! benchmarks. Self-signed unless an issuer is given — the real server rejects these.

use super::SignError;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// What the test certificate says.
#[derive(Debug, Clone)]
pub struct IdentityOptions {
    /// Subject serialNumber: 10-digit national code (individual) or 11-digit national ID (legal).
    pub national_id: String,
    /// Subject CN; `None` = "Test Taxpayer [Sign]" / "[Stamp]" by the ID's length.
    pub common_name: Option<String>,
    /// Validity start, seconds from now (negative = in the past).
    pub not_before_offset_secs: i64,
    /// Validity end, seconds from now (negative = already expired).
    pub not_after_offset_secs: i64,
    /// RSA modulus size.
    pub bits: u32,
}

impl IdentityOptions {
    /// A one-year certificate that started yesterday.
    pub fn new(national_id: &str) -> Self {
        IdentityOptions {
            national_id: national_id.to_string(),
            common_name: None,
            not_before_offset_secs: -86_400,
            not_after_offset_secs: 365 * 86_400,
            bits: 2048,
        }
    }
}

/// A generated key and its certificate.
pub struct TestIdentity {
    pub key: PKey<Private>,
    pub cert: X509,
}

impl std::fmt::Debug for TestIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdentity").finish_non_exhaustive()
    }
}

impl TestIdentity {
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.to_der().unwrap_or_default()
    }
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap_or_default()
    }
    /// PKCS#8 PEM, unencrypted.
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap_or_default()
    }
}

fn oerr(e: openssl::error::ErrorStack) -> SignError {
    SignError::Other(format!("OpenSSL: {e}"))
}

/// Generates a new RSA key and a self-signed certificate as `opts` says.
pub fn make_identity(opts: &IdentityOptions) -> Result<TestIdentity, SignError> {
    let key = PKey::from_rsa(Rsa::generate(opts.bits).map_err(oerr)?).map_err(oerr)?;
    let cert = make_certificate(&key, opts, None)?;
    Ok(TestIdentity { key, cert })
}

/// A certificate for `key`, signed by `issuer` (certificate, key) or self-signed.
pub fn make_certificate(
    key: &PKey<Private>,
    opts: &IdentityOptions,
    issuer: Option<(&X509, &PKey<Private>)>,
) -> Result<X509, SignError> {
    let legal = opts.national_id.len() == 11;
    let cn = opts.common_name.clone().unwrap_or_else(|| {
        if legal {
            "Test Company [Stamp]".to_string()
        } else {
            "Test Taxpayer [Sign]".to_string()
        }
    });
    let mut name = X509NameBuilder::new().map_err(oerr)?;
    name.append_entry_by_text("C", "IR").map_err(oerr)?;
    name.append_entry_by_text(
        "O",
        if legal {
            "Non-Governmental"
        } else {
            "Unaffiliated"
        },
    )
    .map_err(oerr)?;
    name.append_entry_by_text("CN", &cn).map_err(oerr)?;
    name.append_entry_by_text("serialNumber", &opts.national_id)
        .map_err(oerr)?;
    let name = name.build();
    let mut b = X509Builder::new().map_err(oerr)?;
    b.set_version(2).map_err(oerr)?;
    let serial = {
        let mut bn = BigNum::new().map_err(oerr)?;
        bn.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
            .map_err(oerr)?;
        Asn1Integer::from_bn(&bn).map_err(oerr)?
    };
    b.set_serial_number(&serial).map_err(oerr)?;
    b.set_subject_name(&name).map_err(oerr)?;
    match issuer {
        Some((ic, _)) => b.set_issuer_name(ic.subject_name()).map_err(oerr)?,
        None => b.set_issuer_name(&name).map_err(oerr)?,
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let nb = Asn1Time::from_unix(now + opts.not_before_offset_secs).map_err(oerr)?;
    let na = Asn1Time::from_unix(now + opts.not_after_offset_secs).map_err(oerr)?;
    b.set_not_before(&nb).map_err(oerr)?;
    b.set_not_after(&na).map_err(oerr)?;
    b.set_pubkey(key).map_err(oerr)?;
    b.append_extension(BasicConstraints::new().build().map_err(oerr)?)
        .map_err(oerr)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()
            .map_err(oerr)?,
    )
    .map_err(oerr)?;
    let signing_key = issuer.map(|(_, k)| k).unwrap_or(key);
    b.sign(signing_key, MessageDigest::sha256()).map_err(oerr)?;
    Ok(b.build())
}
