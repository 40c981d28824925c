//! The code catalogue as typed data: every server code of the tax system (transport, content,
//! legacy v1), the codes accounting software and vendors show, and the stable ids of the local
//! problems doctor and the signer detect. The data lives in `schemas/codes.toml` and is compiled
//! in, so the tool explains codes offline.

use crate::lang::Message;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The catalogue source, compiled into the binary.
pub const CATALOGUE_TOML: &str = include_str!("../../schemas/codes.toml");

/// What area a problem belongs to; decides who fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// The USB token, its PIN and its PKCS#11 module.
    Token,
    /// The signing certificate: validity, type, chain.
    Certificate,
    /// Who is sending: memory ID, national ID, client ID, registered public key.
    Identity,
    /// Reaching the server, clock, availability of its services.
    Network,
    /// The invoice's content (fields, arithmetic, matching with system data).
    Content,
    /// The shape of the API request the software built (batch size, trace ids, inquiry windows).
    Request,
    /// A fault inside the tax system.
    Server,
}

impl Category {
    pub fn label(self) -> Message {
        let (fa, en) = match self {
            Category::Token => ("توکن", "token"),
            Category::Certificate => ("گواهی امضا", "certificate"),
            Category::Identity => ("هویت و شناسه", "identity"),
            Category::Network => ("شبکه و زمان", "network"),
            Category::Content => ("محتوای صورتحساب", "content"),
            Category::Request => ("ساختار درخواست", "request"),
            Category::Server => ("سرور سامانه", "server"),
        };
        Message::new(fa, en)
    }

    pub const ALL: [Category; 7] = [
        Category::Token,
        Category::Certificate,
        Category::Identity,
        Category::Network,
        Category::Content,
        Category::Request,
        Category::Server,
    ];
}

/// Where a code comes from / where it shows up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// v2 authentication (EC_V02 table 1), HTTP error envelope.
    Auth,
    /// v2 POST `invoice` (EC_V02 table 2).
    InvoiceApi,
    /// v2 inquiry endpoints (EC_V02 table 3).
    InquiryApi,
    /// Other v2 endpoints (EC_V02 table 4).
    OtherApi,
    /// Transport-layer codes reported inside a FAILED inquiry result (EC_V02 table 5).
    Transport,
    /// The old v1 web service (EC_V02 table 6).
    LegacyV1,
    /// Invoice content codes inside `data.error` / `data.warning` (EC_V02 §3).
    Content,
    /// HTTP status without a tax-system code.
    Http,
    /// Shown by accounting software or described by a token vendor, not by the tax server.
    Vendor,
    /// Detected on this machine by doctor or the signer before anything is sent.
    Local,
    /// A decision of moadian's own queue (e.g. a conflict under one tax ID).
    Queue,
}

impl Layer {
    pub fn label(self) -> Message {
        let (fa, en) = match self {
            Layer::Auth => ("احراز هویت API نسخه ۲", "v2 authentication"),
            Layer::InvoiceApi => ("API ارسال صورتحساب", "v2 invoice submission API"),
            Layer::InquiryApi => ("API استعلام", "v2 inquiry API"),
            Layer::OtherApi => ("سایر APIهای نسخه ۲", "other v2 API"),
            Layer::Transport => (
                "لایه انتقال (در نتیجه استعلام)",
                "transport layer (inside the inquiry result)",
            ),
            Layer::LegacyV1 => ("وب‌سرویس قدیمی (نسخه ۱)", "old v1 web service"),
            Layer::Content => (
                "لایه محتوا (مقادیر صورتحساب)",
                "content layer (invoice values)",
            ),
            Layer::Http => ("وضعیت HTTP", "HTTP status"),
            Layer::Vendor => (
                "نرم‌افزار حسابداری یا فروشنده توکن",
                "accounting software or token vendor",
            ),
            Layer::Local => (
                "بررسی محلی (doctor / امضاکننده)",
                "local check (doctor / signer)",
            ),
            Layer::Queue => ("صف ارسال moadian", "moadian's submission queue"),
        };
        Message::new(fa, en)
    }
}

/// One catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The code as the server writes it (`04131`, `0100504`, `4008`) or a local id (`pin.locked`).
    pub code: String,
    pub layer: Layer,
    pub category: Category,
    /// Whether sending the same thing again later can succeed without changing anything.
    pub retryable: bool,
    /// HTTP status the code comes with, where one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<u16>,
    /// Other spellings of the same code (older 4/6-digit forms, a leading zero lost).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Error or warning, where the code's own first digit does not say it: `00000` is a
    /// warning that stands beside the first 50 messages (RC_TXPS.EC_V02 §3), not a check of a
    /// field, so it is not decoded as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::rules::Severity>,
    /// Short title for tables.
    pub title: Message,
    pub meaning: Message,
    #[serde(default)]
    pub causes: Vec<Message>,
    pub fix: Vec<Message>,
    /// What catches the problem before sending: `doctor:<check id>`, `signer:<id>`,
    /// `validate:<rule id>` or `validate` (the rules engine in general), `pipeline:<what>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prevented_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub see_also: Vec<String>,
    /// Where the entry comes from (official document and table, or note).
    pub source: String,
}

impl Entry {
    /// A local problem id (e.g. `pin.locked`) rather than a server code.
    pub fn is_local(&self) -> bool {
        self.layer == Layer::Local
    }
}

/// One row of the official field-number table (EC_V02 table 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Number in the table (`005`).
    pub no: u16,
    /// JSON key (`inno`), or the section name for 500/600/700/800.
    pub key: String,
    /// `header`, `body`, `payments`, `extension` or `invoice`.
    pub section: String,
    pub fa: String,
    pub en: String,
}

impl Field {
    pub fn title(&self) -> Message {
        Message::new(self.fa.clone(), self.en.clone())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    field: Vec<Field>,
    code: Vec<Entry>,
}

/// The parsed catalogue with its indexes.
#[derive(Debug)]
pub struct Catalogue {
    pub entries: Vec<Entry>,
    pub fields: Vec<Field>,
    by_code: HashMap<String, usize>,
    by_field: HashMap<u16, usize>,
}

/// Why the compiled-in catalogue could not be read (caught by the unit tests).
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("schemas/codes.toml does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("schemas/codes.toml: code or alias `{0}` appears twice")]
    Duplicate(String),
    #[error("schemas/codes.toml: field number {0} appears twice")]
    DuplicateField(u16),
}

impl Catalogue {
    /// Parses a catalogue from TOML text.
    pub fn parse(text: &str) -> Result<Self, CatalogueError> {
        let raw: Raw = toml::from_str(text)?;
        let mut by_code = HashMap::new();
        for (i, e) in raw.code.iter().enumerate() {
            for c in std::iter::once(&e.code).chain(e.aliases.iter()) {
                if by_code.insert(c.clone(), i).is_some() {
                    return Err(CatalogueError::Duplicate(c.clone()));
                }
            }
        }
        let mut by_field = HashMap::new();
        for (i, f) in raw.field.iter().enumerate() {
            if by_field.insert(f.no, i).is_some() {
                return Err(CatalogueError::DuplicateField(f.no));
            }
        }
        Ok(Self {
            entries: raw.code,
            fields: raw.field,
            by_code,
            by_field,
        })
    }

    /// The entry whose code or alias is exactly `code`.
    pub fn get(&self, code: &str) -> Option<&Entry> {
        self.by_code.get(code).map(|&i| &self.entries[i])
    }

    /// The field with this number in the official table.
    pub fn field(&self, no: u16) -> Option<&Field> {
        self.by_field.get(&no).map(|&i| &self.fields[i])
    }

    /// The field with this JSON key.
    pub fn field_by_key(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// The compiled-in catalogue, parsed once.
pub fn catalogue() -> &'static Catalogue {
    static CAT: OnceLock<Catalogue> = OnceLock::new();
    CAT.get_or_init(|| match Catalogue::parse(CATALOGUE_TOML) {
        Ok(c) => c,
        // The data is compiled in and checked by the unit tests below; a broken build of it
        // must not take the whole tool down, so explain degrades to the decoder only.
        Err(e) => {
            tracing::error!("{e}");
            Catalogue {
                entries: Vec::new(),
                fields: Vec::new(),
                by_code: HashMap::new(),
                by_field: HashMap::new(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_catalogue_parses() {
        let c = Catalogue::parse(CATALOGUE_TOML);
        assert!(c.is_ok(), "{:?}", c.err());
    }

    #[test]
    fn field_table_has_the_official_numbers() {
        let c = catalogue();
        assert_eq!(c.field(5).map(|f| f.key.as_str()), Some("inno"));
        assert_eq!(c.field(12).map(|f| f.key.as_str()), Some("tinb"));
        assert_eq!(c.field(11).map(|f| f.key.as_str()), Some("bid"));
        assert_eq!(c.field(33).map(|f| f.key.as_str()), Some("sstid"));
        assert_eq!(c.field(13).map(|f| f.key.as_str()), Some("sbc"));
        assert_eq!(c.field(80).map(|f| f.key.as_str()), Some("hs"));
    }
}
