//! SoftHSM2 as a stand-in token, for the tests, the sandbox's test identity and the benchmarks:
//! a private token directory, token initialisation, and import of RSA keys and certificates
//! (together under one CKA_ID, or apart, to build the token layouts found in the field) — all
//! through the same PKCS#11 API the ePass3003 module exposes.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, when the module is initialised, and cryptoki's
//! initialisation is process-wide. So one process uses one SoftHSM configuration:
//! [`SoftHsm::setup`] writes it and sets the variable, and refuses a second, different
//! directory once the module is loaded. Tests get a per-binary instance with
//! [`SoftHsm::shared`]. When SoftHSM is not installed, [`module_path`] returns an error that
//! says how to install it — tests fail on it, they never skip.

use super::pkcs11::module;
use super::SignError;
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Where SoftHSM's module usually is.
pub const DEFAULT_MODULE_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
];

/// The SoftHSM module: `MOADIAN_TEST_PKCS11_MODULE`, else the usual install paths.
pub fn module_path() -> Result<PathBuf, SignError> {
    if let Some(p) = std::env::var_os("MOADIAN_TEST_PKCS11_MODULE") {
        let p = PathBuf::from(p);
        if p.exists() {
            return Ok(p);
        }
        return Err(SignError::ModuleNotFound {
            path: p.display().to_string(),
            detail: "MOADIAN_TEST_PKCS11_MODULE points to a missing file".into(),
        });
    }
    DEFAULT_MODULE_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| SignError::ModuleNotFound {
            path: DEFAULT_MODULE_PATHS.join(", "),
            detail: "SoftHSM2 is not installed: run `scripts/test.sh` (it installs it) or `apt-get install softhsm2 opensc`, or set MOADIAN_TEST_PKCS11_MODULE".into(),
        })
}

/// A SoftHSM configuration with its own token directory.
#[derive(Debug, Clone)]
pub struct SoftHsm {
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub module: PathBuf,
}

static ACTIVE_CONF: Mutex<Option<PathBuf>> = Mutex::new(None);
/// Token creation is serialised: SoftHSM renumbers slots on init, so two threads must not race
/// for the free slot.
static INIT: Mutex<()> = Mutex::new(());
static SHARED: OnceLock<Result<SoftHsm, String>> = OnceLock::new();

fn perr(e: cryptoki::error::Error, f: &str) -> SignError {
    module::map_error(e, f)
}

impl SoftHsm {
    /// Writes `dir/softhsm2.conf` (tokens in `dir/tokens`) and points `SOFTHSM2_CONF` at it.
    /// Must happen before the module is first loaded in this process.
    pub fn setup(dir: &Path) -> Result<SoftHsm, SignError> {
        let module = module_path()?;
        let dir = dir
            .canonicalize()
            .map_err(|e| SignError::Config(format!("{}: {e}", dir.display())))?;
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens)
            .map_err(|e| SignError::Config(format!("{}: {e}", tokens.display())))?;
        let conf = dir.join("softhsm2.conf");
        let mut active = ACTIVE_CONF.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(prev) = active.as_ref() {
            if *prev != conf {
                return Err(SignError::Config(format!(
                    "this process already uses the SoftHSM configuration {}; SoftHSM reads SOFTHSM2_CONF once per process",
                    prev.display()
                )));
            }
        }
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .map_err(|e| SignError::Config(format!("{}: {e}", conf.display())))?;
        std::env::set_var("SOFTHSM2_CONF", &conf);
        *active = Some(conf.clone());
        Ok(SoftHsm { dir, conf, module })
    }

    /// One SoftHSM per process in a temporary directory that lives as long as the process.
    pub fn shared() -> Result<&'static SoftHsm, SignError> {
        let r = SHARED.get_or_init(|| {
            remove_stale_shared_dirs();
            let dir = std::env::temp_dir().join(format!("moadian-softhsm-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            SoftHsm::setup(&dir).map_err(|e| e.to_string())
        });
        r.as_ref().map_err(|e| SignError::Config(e.clone()))
    }

    /// Initialises a new token with `label`, SO PIN and user PIN in a free slot.
    pub fn init_token(&self, label: &str, so_pin: &str, user_pin: &str) -> Result<(), SignError> {
        let _one_at_a_time = INIT.lock().unwrap_or_else(|p| p.into_inner());
        let ctx = module::load(&self.module)?;
        let slot = ctx
            .get_all_slots()
            .map_err(|e| perr(e, "C_GetSlotList"))?
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .map(|t| !t.token_initialized())
                    .unwrap_or(false)
            })
            .ok_or_else(|| SignError::Config("SoftHSM has no free slot".into()))?;
        let so = AuthPin::from(so_pin);
        ctx.init_token(slot, &so, label)
            .map_err(|e| perr(e, "C_InitToken"))?;
        // SoftHSM moves the token to a new slot id: find it again by label.
        let slot = slot_labelled(&ctx, label)?
            .ok_or_else(|| SignError::Config(format!("token {label} vanished after init")))?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| perr(e, "C_OpenSession"))?;
        session
            .login(UserType::So, Some(&so))
            .map_err(|e| perr(e, "C_Login(SO)"))?;
        session
            .init_pin(&AuthPin::from(user_pin))
            .map_err(|e| perr(e, "C_InitPIN"))?;
        session.logout().map_err(|e| perr(e, "C_Logout"))?;
        Ok(())
    }

    /// Imports `key` (RSA) and `cert` onto the token `label` under CKA_ID `id`, with a public
    /// key object too. `allowed_mechanisms`: restrict the key (e.g. only RSA-PKCS, to make a
    /// token that lacks SHA256-RSA-PKCS).
    pub fn import(
        &self,
        label: &str,
        user_pin: &str,
        id: &[u8],
        key: &PKey<Private>,
        cert: &X509,
        allowed_mechanisms: Option<Vec<cryptoki::mechanism::MechanismType>>,
    ) -> Result<(), SignError> {
        self.import_key(label, user_pin, id, key, None, allowed_mechanisms)?;
        self.import_cert(label, user_pin, id, cert)
    }

    fn user_session(
        &self,
        label: &str,
        user_pin: &str,
    ) -> Result<cryptoki::session::Session, SignError> {
        let ctx = module::load(&self.module)?;
        let slot = slot_labelled(&ctx, label)?.ok_or_else(|| SignError::TokenNotPresent {
            wanted: label.to_string(),
            seen: "-".into(),
        })?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| perr(e, "C_OpenSession"))?;
        match session.login(UserType::User, Some(&AuthPin::from(user_pin))) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => return Err(perr(e, "C_Login")),
        }
        Ok(session)
    }

    /// Imports the RSA private key `key` (sensitive, not extractable) and its public key object
    /// under CKA_ID `id`. `states_public_of`: the key whose public half the objects state
    /// instead of `key`'s own — a wrongly written token, whose key pairs by public key with a
    /// certificate it cannot sign for.
    pub fn import_key(
        &self,
        label: &str,
        user_pin: &str,
        id: &[u8],
        key: &PKey<Private>,
        states_public_of: Option<&PKey<Private>>,
        allowed_mechanisms: Option<Vec<cryptoki::mechanism::MechanismType>>,
    ) -> Result<(), SignError> {
        let session = self.user_session(label, user_pin)?;
        let oerr = |e: openssl::error::ErrorStack| SignError::Other(format!("OpenSSL: {e}"));
        let rsa = key.rsa().map_err(oerr)?;
        let stated = states_public_of.unwrap_or(key).rsa().map_err(oerr)?;
        let need = |b: Option<&openssl::bn::BigNumRef>| -> Result<Vec<u8>, SignError> {
            b.map(|b| b.to_vec())
                .ok_or_else(|| SignError::Other("the RSA key lacks CRT parameters".into()))
        };
        let name = format!("{label}-{}", super::pkcs11::objects::hex(id));
        let mut priv_t = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(name.clone().into_bytes()),
            Attribute::Modulus(stated.n().to_vec()),
            Attribute::PublicExponent(stated.e().to_vec()),
            Attribute::PrivateExponent(rsa.d().to_vec()),
            Attribute::Prime1(need(rsa.p())?),
            Attribute::Prime2(need(rsa.q())?),
            Attribute::Exponent1(need(rsa.dmp1())?),
            Attribute::Exponent2(need(rsa.dmq1())?),
            Attribute::Coefficient(need(rsa.iqmp())?),
        ];
        if let Some(m) = allowed_mechanisms {
            priv_t.push(Attribute::AllowedMechanisms(m));
        }
        session
            .create_object(&priv_t)
            .map_err(|e| perr(e, "C_CreateObject(private key)"))?;
        session
            .create_object(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::Id(id.to_vec()),
                Attribute::Label(name.into_bytes()),
                Attribute::Modulus(stated.n().to_vec()),
                Attribute::PublicExponent(stated.e().to_vec()),
            ])
            .map_err(|e| perr(e, "C_CreateObject(public key)"))?;
        Ok(())
    }

    /// Imports the certificate `cert` under CKA_ID `id`.
    pub fn import_cert(
        &self,
        label: &str,
        user_pin: &str,
        id: &[u8],
        cert: &X509,
    ) -> Result<(), SignError> {
        let session = self.user_session(label, user_pin)?;
        let oerr = |e: openssl::error::ErrorStack| SignError::Other(format!("OpenSSL: {e}"));
        let name = format!("{label}-{}", super::pkcs11::objects::hex(id));
        let subject = cert.subject_name().to_der().map_err(oerr)?;
        let der = cert.to_der().map_err(oerr)?;
        session
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Id(id.to_vec()),
                Attribute::Label(name.into_bytes()),
                Attribute::Subject(subject),
                Attribute::Value(der),
            ])
            .map_err(|e| perr(e, "C_CreateObject(certificate)"))?;
        Ok(())
    }
}

/// The shared directory of a process lives as long as the process and cannot be removed at
/// exit (it is held in a static); the next process that starts one removes those whose process
/// is gone. Where process liveness cannot be told (no `/proc`), nothing is removed.
fn remove_stale_shared_dirs() {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("moadian-softhsm-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The slot whose token carries `label`, if any.
fn slot_labelled(
    ctx: &cryptoki::context::Pkcs11,
    label: &str,
) -> Result<Option<cryptoki::slot::Slot>, SignError> {
    Ok(ctx
        .get_slots_with_token()
        .map_err(|e| perr(e, "C_GetSlotList"))?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|t| t.label().trim() == label)
                .unwrap_or(false)
        }))
}
