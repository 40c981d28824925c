//! Loading a PKCS#11 module once per process, the default module names of the tokens sold in
//! Iran (token-and-certs.md §1.1), and turning `cryptoki` errors into [`SignError`]s.
//!
//! `C_Initialize` is process-wide: a module is loaded and initialised once and shared by every
//! signer (cryptoki's `Pkcs11` is an `Arc`). SoftHSM reads `SOFTHSM2_CONF` when it is
//! initialised, so that variable must be set before the first [`load`] of the module.

use crate::crypto::SignError;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Candidate module files, most likely first, for this OS (ePass3003 then ePass2003).
pub fn default_module_candidates() -> Vec<PathBuf> {
    let names: &[&str] = if cfg!(windows) {
        &[
            "C:\\Windows\\System32\\ShuttleCsp11_3003.dll",
            "ShuttleCsp11_3003.dll",
            "ShuttleCsp11_3003_X64.dll",
            "eps2003csp11v2.dll",
            "eps2003csp11.dll",
        ]
    } else if cfg!(target_os = "macos") {
        &[
            "/usr/local/lib/libshuttle_p11v220.dylib",
            "/Library/Frameworks/ShuttleCSP.framework/ShuttleCSP",
            "/usr/local/lib/libcastle.1.0.0.dylib",
        ]
    } else {
        &[
            "/usr/lib/libshuttle_p11v220.so",
            "/usr/lib/libshuttle_p11v220.so.1.0.0",
            "/usr/local/lib/libshuttle_p11v220.so",
            "/usr/local/lib/libshuttle_p11v220.so.1.0.0",
            "/usr/lib/x86_64-linux-gnu/libshuttle_p11v220.so",
            "/opt/ePass3003/lib/libshuttle_p11v220.so.1.0.0",
            "/usr/lib/libcastle_v2.so.1.0.0",
            "/usr/lib/libcastle.so.1.0.0",
            "/usr/local/lib/libcastle.so.1.0.0",
        ]
    };
    names.iter().map(PathBuf::from).collect()
}

/// The module to load: the configured one, else the first default candidate that exists.
pub fn resolve_module(configured: Option<&Path>) -> Result<PathBuf, SignError> {
    if let Some(p) = configured {
        return Ok(p.to_path_buf());
    }
    let cands = default_module_candidates();
    for c in &cands {
        // Bare DLL names are found by the system loader; paths must exist.
        if c.components().count() == 1 || c.exists() {
            return Ok(c.clone());
        }
    }
    Err(SignError::ModuleNotFound {
        path: "(none configured)".into(),
        detail: format!(
            "none of the known ePass3003/ePass2003 modules is installed: {}",
            cands
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// Loads the configured module, or else the first default candidate that loads.
pub fn load_configured(configured: Option<&Path>) -> Result<(PathBuf, Pkcs11), SignError> {
    if let Some(p) = configured {
        return load(p)
            .map(|c| (p.to_path_buf(), c))
            .map_err(|e| with_path(e, p));
    }
    let mut last = None;
    for c in default_module_candidates() {
        if c.components().count() > 1 && !c.exists() {
            continue;
        }
        match load(&c) {
            Ok(ctx) => return Ok((c, ctx)),
            Err(e) => last = Some(with_path(e, &c)),
        }
    }
    Err(last.unwrap_or_else(|| match resolve_module(None) {
        Err(e) => e,
        Ok(p) => SignError::ModuleNotFound {
            path: p.display().to_string(),
            detail: "could not be loaded".into(),
        },
    }))
}

fn with_path(e: SignError, p: &Path) -> SignError {
    match e {
        SignError::ModuleNotFound { detail, .. } => SignError::ModuleNotFound {
            path: p.display().to_string(),
            detail,
        },
        e => e,
    }
}

static LOADED: Mutex<Option<HashMap<PathBuf, Pkcs11>>> = Mutex::new(None);

/// Loads and initialises `path` once per process; later calls return the same context.
pub fn load(path: &Path) -> Result<Pkcs11, SignError> {
    let mut guard = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(p) = map.get(path) {
        return Ok(p.clone());
    }
    let shown = path.display().to_string();
    let ctx = Pkcs11::new(path).map_err(|e| SignError::ModuleNotFound {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(SignError::ModuleNotFound {
                path: shown,
                detail: format!("C_Initialize failed: {e}"),
            })
        }
    }
    map.insert(path.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// Finalises and forgets a loaded module: every session of it dies (what pulling the token
/// out does to a running batch). For tests and for a clean shutdown.
pub fn unload(path: &Path) -> Result<(), SignError> {
    let ctx = {
        let mut guard = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_mut().and_then(|m| m.remove(path))
    };
    match ctx {
        Some(c) => c.finalize().map_err(|e| map_error(e, "C_Finalize")),
        None => Ok(()),
    }
}

/// True for the codes that mean the token (or its session) went away.
pub fn is_removal(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::DeviceRemoved
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::TokenNotPresent
            | RvError::KeyHandleInvalid
            | RvError::ObjectHandleInvalid
            | RvError::CryptokiNotInitialized
            | RvError::UserNotLoggedIn
            | RvError::DeviceError
    )
}

/// A cryptoki error as a [`SignError`] with the fix; `function` names the call for the message.
pub fn map_error(e: Error, function: &str) -> SignError {
    match e {
        Error::LibraryLoading(l) => SignError::ModuleNotFound {
            path: "(module)".into(),
            detail: l.to_string(),
        },
        Error::Pkcs11(rv, _) => match rv {
            RvError::PinIncorrect => SignError::PinIncorrect,
            RvError::PinLocked => SignError::PinLocked,
            RvError::PinExpired => SignError::PinExpired,
            RvError::PinInvalid | RvError::PinLenRange => SignError::PinInvalid {
                detail: format!("{rv}"),
            },
            RvError::MechanismInvalid => SignError::MechanismMissing,
            RvError::TokenNotRecognized => SignError::ModuleNotFound {
                path: "(module)".into(),
                detail: "the module does not recognise this token (CKR_TOKEN_NOT_RECOGNIZED): use the token vendor's module (ePass3003: libshuttle_p11v220 / ShuttleCsp11_3003), not OpenSC".into(),
            },
            rv if is_removal(rv) => SignError::TokenRemoved {
                detail: format!("{function}: {rv}"),
            },
            rv => SignError::Pkcs11 {
                function: function.into(),
                rv: format!("{rv}"),
            },
        },
        other => SignError::Pkcs11 {
            function: function.into(),
            rv: other.to_string(),
        },
    }
}
