//! The certificates and private keys on a token, paired by CKA_ID (the convention of the
//! vendor tools, pkcs11-tool and the official SDK), and the choice of the pair to sign with:
//! the configured CKA_ID, else the certificate whose national ID is the taxpayer's, else the
//! only one.

use super::module::map_error;
use crate::crypto::cert::CertInfo;
use crate::crypto::SignError;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use serde::Serialize;

/// A certificate object on the token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenCert {
    /// CKA_ID, hex.
    pub id_hex: String,
    #[serde(skip)]
    pub id: Vec<u8>,
    pub label: String,
    #[serde(skip)]
    pub der: Vec<u8>,
    /// `None` when the value does not parse as X.509.
    pub info: Option<CertInfo>,
    /// Whether a private key with the same CKA_ID is visible (only after login).
    pub has_private_key: Option<bool>,
}

/// Hex of bytes (lowercase).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of hex (spaces and colons allowed).
pub fn unhex(s: &str) -> Result<Vec<u8>, SignError> {
    let clean: String = s.chars().filter(|c| !matches!(c, ' ' | ':')).collect();
    if !clean.len().is_multiple_of(2) {
        return Err(SignError::Config(format!("key id {s:?} is not hex")));
    }
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| SignError::Config(format!("key id {s:?} is not hex")))
}

/// Every X.509 certificate on the token (public objects; no login needed).
pub fn read_certificates(session: &Session) -> Result<Vec<TokenCert>, SignError> {
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])
        .map_err(|e| map_error(e, "C_FindObjects"))?;
    let mut out = Vec::new();
    for h in handles {
        let attrs = session
            .get_attributes(
                h,
                &[
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::Value,
                ],
            )
            .map_err(|e| map_error(e, "C_GetAttributeValue"))?;
        let (mut id, mut label, mut der) = (Vec::new(), String::new(), Vec::new());
        for a in attrs {
            match a {
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                Attribute::Value(v) => der = v,
                _ => {}
            }
        }
        let info = CertInfo::from_der(&der).ok();
        out.push(TokenCert {
            id_hex: hex(&id),
            id,
            label,
            der,
            info,
            has_private_key: None,
        });
    }
    Ok(out)
}

/// The private keys visible in the session with their CKA_IDs.
pub fn private_keys(session: &Session) -> Result<Vec<(ObjectHandle, Vec<u8>)>, SignError> {
    let handles = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .map_err(|e| map_error(e, "C_FindObjects"))?;
    let mut out = Vec::new();
    for h in handles {
        let id = session
            .get_attributes(h, &[AttributeType::Id])
            .map_err(|e| map_error(e, "C_GetAttributeValue"))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Id(v) => Some(v),
                _ => None,
            })
            .unwrap_or_default();
        out.push((h, id));
    }
    Ok(out)
}

/// Chooses the certificate to sign with among `certs` that have a key in `key_ids`.
pub fn choose_certificate<'a>(
    certs: &'a [TokenCert],
    key_ids: &[Vec<u8>],
    key_id: Option<&[u8]>,
    expected_national_id: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<&'a TokenCert, SignError> {
    if let Some(want) = key_id {
        let cert = certs.iter().find(|c| c.id == want);
        let has_key = key_ids.iter().any(|k| k == want);
        return match (cert, has_key) {
            (Some(c), true) => Ok(c),
            (None, _) => Err(SignError::CertificateNotFound {
                what: format!("with CKA_ID {} on the token", hex(want)),
            }),
            (Some(_), false) => Err(SignError::KeyNotFound {
                what: format!("with CKA_ID {}", hex(want)),
            }),
        };
    }
    let paired: Vec<&TokenCert> = certs.iter().filter(|c| key_ids.contains(&c.id)).collect();
    if paired.is_empty() {
        return Err(if key_ids.is_empty() {
            SignError::KeyNotFound {
                what: "(none is visible after login)".into(),
            }
        } else {
            SignError::CertificateNotFound {
                what: format!(
                    "with the CKA_ID of a private key ({})",
                    key_ids
                        .iter()
                        .map(|k| hex(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        });
    }
    let Some(expected) = expected_national_id.map(str::trim) else {
        return match paired.as_slice() {
            [one] => Ok(one),
            many => Err(SignError::SeveralCertificates { count: many.len() }),
        };
    };
    let mut matching: Vec<&TokenCert> = paired
        .iter()
        .copied()
        .filter(|c| {
            c.info
                .as_ref()
                .and_then(|i| i.national_id.as_deref())
                .map(|n| n == expected)
                .unwrap_or(false)
        })
        .collect();
    if matching.is_empty() {
        let found = paired
            .iter()
            .map(|c| {
                c.info
                    .as_ref()
                    .map(|i| i.holder_label())
                    .unwrap_or_else(|| format!("unreadable certificate {}", c.id_hex))
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SignError::NoMatchingCertificate {
            expected: expected.to_string(),
            found,
        });
    }
    // Several for the same taxpayer (an old and a renewed one): the valid one that lasts longest.
    matching.sort_by_key(|c| {
        let i = c.info.as_ref();
        let valid = i
            .map(|i| i.not_before <= now && now <= i.not_after)
            .unwrap_or(false);
        (valid, i.map(|i| i.not_after))
    });
    matching
        .last()
        .copied()
        .ok_or(SignError::SeveralCertificates { count: 0 })
}
