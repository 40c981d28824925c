//! The certificates of a token with their private keys: paired by public key
//! ([`super::objects::PublicHalf`]), CKA_ID only a hint when a key does not show its public
//! half; the kind of each certificate (Sign/Stamp). What is chosen is [`super::choice`]'s.

use super::objects::{TokenCert, TokenKey};
use crate::crypto::cert::HolderKind;
use crate::lang::Message;
use serde::Serialize;
use time::OffsetDateTime;

/// Sign (a person, 10-digit national code) or Stamp (a company, 11-digit national ID), as the
/// certificate's subject says ("… [Sign]" / "… [Stamp]" in the CN, else by the ID's length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CertKind {
    Sign,
    Stamp,
    Unknown,
}

impl CertKind {
    pub fn of(cert: &TokenCert) -> CertKind {
        let Some(i) = &cert.info else {
            return CertKind::Unknown;
        };
        let cn = i.common_name.as_deref().unwrap_or("").to_ascii_lowercase();
        if cn.contains("[sign]") {
            CertKind::Sign
        } else if cn.contains("[stamp]") {
            CertKind::Stamp
        } else {
            match i.kind {
                HolderKind::Individual => CertKind::Sign,
                HolderKind::Legal => CertKind::Stamp,
                HolderKind::Unknown => CertKind::Unknown,
            }
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::Sign => "Sign",
            CertKind::Stamp => "Stamp",
            CertKind::Unknown => "?",
        }
    }
}

/// Whether the private key of a certificate is on the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    /// Present; `by_public_key` false when it was paired by CKA_ID alone (the key does not
    /// show its public half).
    Present {
        key_id: String,
        by_public_key: bool,
    },
    Missing,
    /// Not known without logging in (keys are private objects).
    NotLoggedIn,
}

/// One certificate on a token, with its key and what the choice made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub cert: TokenCert,
    pub kind: CertKind,
    pub key: KeyState,
    #[serde(skip)]
    pub key_index: Option<usize>,
    pub chosen: bool,
    /// Why it is used, or why it was skipped.
    pub note: Message,
}

impl Entry {
    /// "CKA_ID 01 (Stamp 14003778990, key present)".
    pub fn short(&self) -> String {
        let key = match &self.key {
            KeyState::Present { .. } => "key present",
            KeyState::Missing => "key MISSING",
            KeyState::NotLoggedIn => "key not checked",
        };
        format!(
            "CKA_ID {} ({} {}, {key})",
            shown_id(&self.cert.id_hex),
            self.kind.as_str(),
            self.national_id().unwrap_or("-")
        )
    }
    /// The same in Persian: "CKA_ID 01 (Stamp 14003778990، کلید هست)".
    pub fn short_fa(&self) -> String {
        let key = match &self.key {
            KeyState::Present { .. } => "کلید هست",
            KeyState::Missing => "کلید نیست",
            KeyState::NotLoggedIn => "کلید بررسی نشد",
        };
        format!(
            "CKA_ID {} ({} {}، {key})",
            shown_id(&self.cert.id_hex),
            self.kind.as_str(),
            self.national_id().unwrap_or("-")
        )
    }

    pub fn national_id(&self) -> Option<&str> {
        self.cert
            .info
            .as_ref()
            .and_then(|i| i.national_id.as_deref())
    }
    pub(crate) fn valid_at(&self, now: OffsetDateTime) -> bool {
        self.cert
            .info
            .as_ref()
            .is_some_and(|i| i.not_before <= now && now <= i.not_after)
    }
}

pub(crate) fn shown_id(id_hex: &str) -> &str {
    if id_hex.is_empty() {
        "(empty)"
    } else {
        id_hex
    }
}

/// Pairs certificates with keys (`keys` is `None` when not logged in).
pub fn pair(certs: Vec<TokenCert>, keys: Option<&[TokenKey]>) -> Vec<Entry> {
    certs
        .into_iter()
        .map(|mut cert| {
            let (key, key_index) = match keys {
                None => (KeyState::NotLoggedIn, None),
                Some(keys) => {
                    let by_public = keys
                        .iter()
                        .position(|k| cert.public.same_as(&k.public) == Some(true));
                    let by_id = || {
                        keys.iter().position(|k| {
                            k.id == cert.id && cert.public.same_as(&k.public).is_none()
                        })
                    };
                    match by_public {
                        Some(i) => (
                            KeyState::Present {
                                key_id: keys[i].id_hex.clone(),
                                by_public_key: true,
                            },
                            Some(i),
                        ),
                        None => match by_id() {
                            Some(i) => (
                                KeyState::Present {
                                    key_id: keys[i].id_hex.clone(),
                                    by_public_key: false,
                                },
                                Some(i),
                            ),
                            None => (KeyState::Missing, None),
                        },
                    }
                }
            };
            cert.has_private_key = match key {
                KeyState::NotLoggedIn => None,
                KeyState::Missing => Some(false),
                KeyState::Present { .. } => Some(true),
            };
            Entry {
                kind: CertKind::of(&cert),
                cert,
                key,
                key_index,
                chosen: false,
                note: Message::new("", ""),
            }
        })
        .collect()
}
