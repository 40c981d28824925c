//! The taxpayer and signer flags every signing command takes (`submit`, `enqueue`, `run`,
//! `inquire`, `correct`, `cancel`, `return`, `sign`, `doctor`), from one struct,
//! [`TaxpayerArgs`]: `--memory-id ID --national-id ID [--economic-code CODE]` and
//! `--pkcs11-module PATH --token-label LABEL [--key-id HEX]` or `--key FILE [--cert FILE]`.
//! Flags override a `moadian.toml` profile field by field; when they name the taxpayer
//! (memory ID and national ID) no profile is read unless `--profile`/`--config` asks for one.

use crate::crypto::SignerConfig;
use std::path::PathBuf;

/// Which key signs. Flatten into a command's `Args` with `#[command(flatten)]`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SignerArgs {
    /// PKCS#11 module of the token (ePass3003: libshuttle_p11v220.so / ShuttleCsp11_3003.dll).
    /// Unset: the known ePass3003/ePass2003 module names are tried.
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// Label of the token to sign with (see `moadian token list`).
    #[arg(long, value_name = "LABEL")]
    pub token_label: Option<String>,
    /// Serial number of the token (instead of the label).
    #[arg(long, value_name = "SERIAL")]
    pub token_serial: Option<String>,
    /// CKA_ID (hex) of the key/certificate pair on the token (see `moadian token certs`).
    #[arg(long, value_name = "HEX")]
    pub key_id: Option<String>,
    /// Private key file instead of a token: PKCS#8/PKCS#1 PEM or PKCS#12 (.pfx/.p12).
    #[arg(long = "key", value_name = "FILE", conflicts_with_all = ["pkcs11_module", "token_label", "token_serial", "key_id"])]
    pub key_file: Option<PathBuf>,
    /// Certificate of the key file (PEM or DER; not needed with PKCS#12).
    #[arg(long = "cert", value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// Allow one PIN attempt even when the token says the next wrong PIN locks it.
    #[arg(long)]
    pub allow_final_pin_try: bool,
    /// Threads that sign at once (default: one per core; a token whose module allows only
    /// one session signs on one).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub sign_threads: Option<u16>,
}

impl SignerArgs {
    /// The settings these flags alone give.
    pub fn to_config(&self) -> SignerConfig {
        self.over(&SignerConfig::default())
    }

    /// These flags over a profile's settings: a flag wins; a key file on the command line
    /// replaces a token in the profile and vice versa.
    pub fn over(&self, base: &SignerConfig) -> SignerConfig {
        let token_given = self.pkcs11_module.is_some()
            || self.token_label.is_some()
            || self.token_serial.is_some()
            || self.key_id.is_some();
        let mut c = base.clone();
        if self.key_file.is_some() {
            c = SignerConfig {
                key_file: self.key_file.clone(),
                cert_file: self.cert_file.clone(),
                allow_final_pin_try: base.allow_final_pin_try,
                sign_threads: base.sign_threads,
                ..Default::default()
            };
        } else if token_given {
            c.key_file = None;
            c.cert_file = None;
        }
        if let Some(v) = &self.pkcs11_module {
            c.pkcs11_module = Some(v.clone());
        }
        if let Some(v) = &self.token_label {
            c.token_label = Some(v.clone());
        }
        if let Some(v) = &self.token_serial {
            c.token_serial = Some(v.clone());
        }
        if let Some(v) = &self.key_id {
            c.key_id = Some(v.clone());
        }
        if self.cert_file.is_some() {
            c.cert_file = self.cert_file.clone();
        }
        c.allow_final_pin_try |= self.allow_final_pin_try;
        if let Some(n) = self.sign_threads {
            c.sign_threads = Some(usize::from(n));
        }
        c
    }
}

/// `--profile NAME` and `--config FILE`: the taxpayer and signer settings of a `moadian.toml`
/// profile.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileArgs {
    /// Taxpayer profile of `moadian.toml`: memory ID, national ID, signer and endpoint come from
    /// it; flags given here win.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// `moadian.toml` to read (default: ./moadian.toml, then the user's config directory).
    #[arg(long, value_name = "FILE", env = "MOADIAN_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ProfileArgs {
    /// The chosen profile. A `moadian.toml` is read when a profile or file is named, or when
    /// `needed` (the command lacks settings only a profile can give) and one exists.
    pub fn load(&self, needed: bool) -> anyhow::Result<Option<crate::config::Profile>> {
        Ok(self.load_named(needed)?.map(|(_, p)| p))
    }

    /// [`Self::load`], with the profile's name.
    pub fn load_named(
        &self,
        needed: bool,
    ) -> anyhow::Result<Option<(String, crate::config::Profile)>> {
        if self.profile.is_none() && self.config.is_none() && !needed {
            return Ok(None);
        }
        match crate::config::Config::discover(self.config.as_deref())? {
            Some((path, cfg)) => Ok(Some(cfg.profile(self.profile.as_deref(), &path)?)),
            None if self.profile.is_some() => anyhow::bail!(
                "--profile needs a moadian.toml (./moadian.toml or the user's config directory, or --config FILE) / برای ‎--profile‎ فایل moadian.toml لازم است"
            ),
            None => Ok(None),
        }
    }
}

/// Who the invoices are for and who signs them: the taxpayer flags, the signer flags and the
/// profile choice. Every signing command flattens this one struct; a flag wins over the profile.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Taxpayer and signer (override the profile)")]
pub struct TaxpayerArgs {
    /// Memory ID (شناسه یکتای حافظه مالیاتی) the invoices are sent for, e.g. A11216.
    #[arg(long, value_name = "ID")]
    pub memory_id: Option<String>,
    /// The taxpayer's national ID (11 digits) or national code (10 digits); the certificate
    /// must carry it.
    #[arg(long, value_name = "ID")]
    pub national_id: Option<String>,
    /// Economic number (شماره اقتصادی, `tins` of the invoices).
    #[arg(long, value_name = "CODE")]
    pub economic_code: Option<String>,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

impl TaxpayerArgs {
    /// True when the flags name the taxpayer (memory ID and national ID): no profile is needed.
    pub fn names_taxpayer(&self) -> bool {
        self.memory_id.is_some() && self.national_id.is_some()
    }

    /// The profile to work with: read from `moadian.toml` when one is named, or when the flags
    /// do not name the taxpayer; else made from the flags alone (endpoint: production). The
    /// taxpayer flags are applied over it. `None` when the flags say too little and there is no
    /// `moadian.toml`.
    pub fn resolve(&self) -> anyhow::Result<Option<(String, crate::config::Profile)>> {
        let loaded = self.profile.load_named(!self.names_taxpayer())?;
        let (name, mut p) = match loaded {
            Some(found) => found,
            None => match (&self.memory_id, &self.national_id) {
                (Some(m), Some(n)) => (
                    "(command line)".to_string(),
                    crate::config::Profile::new(m.clone(), n.clone()),
                ),
                _ => return Ok(None),
            },
        };
        if let Some(v) = &self.memory_id {
            p.memory_id = v.clone();
        }
        if let Some(v) = &self.national_id {
            p.national_id = v.clone();
        }
        if let Some(v) = &self.economic_code {
            p.economic_code = Some(v.clone());
        }
        Ok(Some((name, p)))
    }
}

impl SignerArgs {
    /// True when any signer flag was given.
    pub fn any(&self) -> bool {
        self.pkcs11_module.is_some()
            || self.token_label.is_some()
            || self.token_serial.is_some()
            || self.key_id.is_some()
            || self.key_file.is_some()
            || self.cert_file.is_some()
    }
}

/// The signer settings: `flags` over the `[signer]` table of `profile`.
pub fn signer_config(
    flags: &SignerArgs,
    profile: Option<&crate::config::Profile>,
) -> anyhow::Result<SignerConfig> {
    let base = match profile {
        Some(p) => p.signer_config::<SignerConfig>()?.unwrap_or_default(),
        None => SignerConfig::default(),
    };
    Ok(flags.over(&base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_flag_replaces_profile_token() {
        let profile = SignerConfig {
            token_label: Some("ePass".into()),
            ..Default::default()
        };
        let a = SignerArgs {
            key_file: Some("k.pem".into()),
            cert_file: Some("c.crt".into()),
            ..Default::default()
        };
        let c = a.over(&profile);
        assert_eq!(c.token_label, None);
        assert_eq!(c.key_file, Some("k.pem".into()));
        let b = SignerArgs {
            key_id: Some("01".into()),
            ..Default::default()
        };
        let c = b.over(&profile);
        assert_eq!(c.token_label.as_deref(), Some("ePass"));
        assert_eq!(c.key_id.as_deref(), Some("01"));
    }
}
