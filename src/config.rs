//! `moadian.toml`: taxpayer profiles (memory ID, national ID, economic number, signer,
//! endpoint, batch size). One file can hold several taxpayers (an accounting office);
//! `--profile` picks one. Looked for at `--config`, then `./moadian.toml`, then the user's
//! config directory (`~/.config/moadian/moadian.toml` on Linux). See `examples/moadian.toml`.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file name looked for.
pub const FILE_NAME: &str = "moadian.toml";

/// Where the API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `https://tp.tax.gov.ir/requestsmanager/api/v2/`.
    Production,
    /// The built-in local sandbox, started in-process.
    Sandbox,
    /// The tax authority's own test server (`sandboxrc.tax.gov.ir`).
    TaxSandbox,
    /// Any other base URL (e.g. a standalone `moadian sandbox serve`).
    Url(String),
}

impl Endpoint {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Self::Production,
            "sandbox" | "local" | "local-sandbox" => Self::Sandbox,
            "tax-sandbox" | "sandboxrc" => Self::TaxSandbox,
            _ => Self::Url(s.trim().to_string()),
        }
    }

    /// [`Endpoint::parse`], refusing a base URL that is not an absolute `http(s)://` URL with
    /// a host: such a value can only be a mistake, and would otherwise look like a network
    /// outage to retry.
    pub fn parse_checked(s: &str) -> Result<Self, String> {
        let e = Self::parse(s);
        if let Self::Url(u) = &e {
            let why = match reqwest::Url::parse(u) {
                Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                    format!("the scheme is {}", url.scheme())
                }
                Ok(url) if url.host_str().is_none_or(str::is_empty) => "there is no host".into(),
                Ok(_) => return Ok(e),
                Err(err) => err.to_string(),
            };
            return Err(format!(
                "«{s}» is not an endpoint ({why}): give production, tax-sandbox, sandbox or a base URL http(s)://HOST[:PORT]/PATH/, such as the one `moadian sandbox serve` prints / «{s}» نشانی درستی نیست ({why})؛ production، tax-sandbox، sandbox یا نشانی پایهٔ http(s)://… بدهید، مانند آنچه `moadian sandbox serve` چاپ می‌کند"
            ));
        }
        Ok(e)
    }

    /// The base URL, or `None` for the in-process sandbox (its URL is known once it runs).
    pub fn url(&self) -> Option<String> {
        match self {
            Self::Production => Some(crate::api::PRODUCTION_URL.into()),
            Self::TaxSandbox => Some(crate::api::TAX_SANDBOX_URL.into()),
            Self::Url(u) => Some(u.clone()),
            Self::Sandbox => None,
        }
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse_checked(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `--endpoint`'s value parser: the text as given, once [`Endpoint::parse_checked`] takes it.
pub fn endpoint_arg(s: &str) -> Result<String, String> {
    Endpoint::parse_checked(s).map(|_| s.to_string())
}

impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = match self {
            Self::Production => "production".to_string(),
            Self::Sandbox => "sandbox".to_string(),
            Self::TaxSandbox => "tax-sandbox".to_string(),
            Self::Url(u) => u.clone(),
        };
        s.serialize_str(&text)
    }
}

fn default_endpoint() -> Endpoint {
    Endpoint::Production
}

fn default_batch() -> usize {
    crate::api::MAX_BATCH
}

/// One taxpayer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// شناسه یکتای حافظه مالیاتی, e.g. `A11216` (the `clientId` of the auth token).
    pub memory_id: String,
    /// National ID (legal person, 11 digits) or national code (10 digits) of the owner; the
    /// signing certificate must carry it.
    pub national_id: String,
    /// Economic number (`tins` of the invoices).
    #[serde(default)]
    pub economic_code: Option<String>,
    /// `production`, `sandbox` (the built-in local one), `tax-sandbox`, or a base URL.
    #[serde(default = "default_endpoint")]
    pub endpoint: Endpoint,
    /// Invoices per POST (1..=1000).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Queue file of this taxpayer; default: the user's data directory.
    #[serde(default)]
    pub queue: Option<PathBuf>,
    /// Signer settings (PKCS#11 module/token label/key id, or key and certificate files);
    /// read by the crypto module's `SignerConfig`.
    #[serde(default)]
    pub signer: Option<toml::Table>,
    /// How long `run` / `submit` keep trying an unreachable server before they stop (exit 3),
    /// e.g. `"5m"` (default 5 minutes; `--deadline`).
    #[serde(default)]
    pub deadline: Option<String>,
    /// Tries after the first failed call (default 6; `--retry-attempts`).
    #[serde(default)]
    pub retry_attempts: Option<u32>,
    /// First wait between tries, e.g. `"5s"` (grows ×3; `--retry-base`).
    #[serde(default)]
    pub retry_base: Option<String>,
    /// Longest wait between tries, e.g. `"3m"` (`--retry-max`).
    #[serde(default)]
    pub retry_max: Option<String>,
    /// Wait after sending before the first inquiry, e.g. `"5s"` (`--poll-first`).
    #[serde(default)]
    pub poll_first: Option<String>,
    /// Longest wait between inquiry rounds, e.g. `"60s"` (`--poll-max`).
    #[serde(default)]
    pub poll_max: Option<String>,
}

impl Profile {
    /// A profile for a taxpayer with every other setting at its default (production server,
    /// full batches, the default queue, no signer table, default pacing).
    pub fn new(memory_id: impl Into<String>, national_id: impl Into<String>) -> Self {
        Self {
            memory_id: memory_id.into(),
            national_id: national_id.into(),
            economic_code: None,
            endpoint: Endpoint::Production,
            batch_size: crate::api::MAX_BATCH,
            queue: None,
            signer: None,
            deadline: None,
            retry_attempts: None,
            retry_base: None,
            retry_max: None,
            poll_first: None,
            poll_max: None,
        }
    }

    /// The signer table as the signer's own settings type.
    pub fn signer_config<T: DeserializeOwned>(&self) -> Result<Option<T>, ConfigError> {
        match &self.signer {
            None => Ok(None),
            Some(t) => toml::Value::Table(t.clone())
                .try_into()
                .map(Some)
                .map_err(|e| ConfigError::Invalid(format!("[signer] of the profile: {e}"))),
        }
    }

    /// The batch size clamped to what the server takes.
    pub fn batch(&self) -> usize {
        self.batch_size.clamp(1, crate::api::MAX_BATCH)
    }
}

/// The whole `moadian.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Profile used without `--profile`; else the only profile, if there is one.
    #[serde(default)]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// Problems reading or using `moadian.toml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source} / فایل {path} خوانده نشد")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source} / فایل {path} معتبر نیست")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error(
        "no profile {name:?} in {path}; profiles: {known} / پروفایل {name} در فایل تنظیمات نیست"
    )]
    NoSuchProfile {
        name: String,
        path: String,
        known: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        for (name, p) in &cfg.profiles {
            if p.batch_size == 0 || p.batch_size > crate::api::MAX_BATCH {
                return Err(ConfigError::Invalid(format!(
                    "profile {name}: batch_size {} must be 1..=1000 (the server refuses more: 4143) / اندازه دسته باید بین ۱ و ۱۰۰۰ باشد",
                    p.batch_size
                )));
            }
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// `explicit`, else `./moadian.toml`, else `<config dir>/moadian/moadian.toml`; `None` when
    /// there is no file anywhere (and none was asked for).
    pub fn discover(explicit: Option<&Path>) -> Result<Option<(PathBuf, Self)>, ConfigError> {
        if let Some(p) = explicit {
            return Ok(Some((p.to_path_buf(), Self::load(p)?)));
        }
        for candidate in default_paths() {
            if candidate.is_file() {
                let cfg = Self::load(&candidate)?;
                return Ok(Some((candidate, cfg)));
            }
        }
        Ok(None)
    }

    /// The profile `name`, else the default one, else the only one.
    pub fn profile(
        &self,
        name: Option<&str>,
        path: &Path,
    ) -> Result<(String, Profile), ConfigError> {
        let wanted = name
            .map(str::to_string)
            .or_else(|| self.default_profile.clone())
            .or_else(|| {
                (self.profiles.len() == 1)
                    .then(|| self.profiles.keys().next().cloned())
                    .flatten()
            });
        let known = self.profiles.keys().cloned().collect::<Vec<_>>().join(", ");
        let Some(wanted) = wanted else {
            return Err(ConfigError::Invalid(format!(
                "{} has several profiles ({known}); choose one with --profile / با ‎--profile‎ یکی را انتخاب کنید",
                path.display()
            )));
        };
        self.profiles
            .get(&wanted)
            .cloned()
            .map(|p| (wanted.clone(), p))
            .ok_or(ConfigError::NoSuchProfile {
                name: wanted,
                path: path.display().to_string(),
                known,
            })
    }
}

/// Where `moadian.toml` is looked for, in order.
pub fn default_paths() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from(FILE_NAME)];
    if let Some(d) = dirs::config_dir() {
        v.push(d.join("moadian").join(FILE_NAME));
    }
    v
}

/// The user's data directory for moadian (`~/.local/share/moadian` on Linux); `MOADIAN_HOME`
/// overrides it.
pub fn data_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("MOADIAN_HOME") {
        return PathBuf::from(h);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("moadian")
}

/// The default queue file of a memory ID.
pub fn default_queue_path(memory_id: &str) -> PathBuf {
    data_dir().join(format!("queue-{memory_id}.sqlite"))
}

/// State of the built-in sandbox: its test identity and its own queue file.
pub fn sandbox_dir() -> PathBuf {
    data_dir().join("sandbox")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../examples/moadian.toml");
        let cfg = Config::parse(text, Path::new("examples/moadian.toml")).unwrap();
        assert!(cfg.profiles.len() >= 2);
        let (name, p) = cfg.profile(None, Path::new("x")).unwrap();
        assert_eq!(name, cfg.default_profile.clone().unwrap());
        assert_eq!(p.memory_id.len(), 6);
        assert!(p.batch() <= 1000);
    }

    #[test]
    fn endpoints() {
        assert_eq!(Endpoint::parse("production"), Endpoint::Production);
        assert_eq!(Endpoint::parse("sandbox"), Endpoint::Sandbox);
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:9"),
            Endpoint::Url("http://127.0.0.1:9".into())
        );
    }

    #[test]
    fn unknown_profile_is_named() {
        let cfg = Config::parse(
            "[profiles.a]\nmemory_id='A11216'\nnational_id='14003778990'\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let e = cfg.profile(Some("b"), Path::new("m.toml")).unwrap_err();
        assert!(e.to_string().contains("\"b\""));
        assert!(cfg.profile(None, Path::new("m.toml")).is_ok());
    }

    #[test]
    fn oversized_batch_refused() {
        let e = Config::parse(
            "[profiles.a]\nmemory_id='A11216'\nnational_id='1'\nbatch_size=5000\n",
            Path::new("m.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("4143"));
    }
}
