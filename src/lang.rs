//! The two languages every message of the tool is written in.

use serde::{Deserialize, Serialize};

/// A language a person reads the tool's output in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Persian (فارسی), the default.
    #[default]
    Fa,
    /// English.
    En,
}

/// A message in both languages. Everything the tool tells a person carries both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub fa: String,
    pub en: String,
}

impl Message {
    pub fn new(fa: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            fa: fa.into(),
            en: en.into(),
        }
    }

    /// The text in one language.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fa => &self.fa,
            Lang::En => &self.en,
        }
    }
}
