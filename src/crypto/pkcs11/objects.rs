//! The certificates and private keys on a token as they are read from it. A key and a
//! certificate belong together when their public keys are the same (the key's CKA_MODULUS and
//! CKA_PUBLIC_EXPONENT, or its CKA_PUBLIC_KEY_INFO, against the certificate's
//! SubjectPublicKeyInfo); the CKA_ID the vendor tools give both is only a hint, used when a
//! key does not show its public half. Which pair signs is decided in [`super::choice`].
//!
//! Only public attributes are ever read from a private key: never CKA_VALUE, never a private
//! exponent or prime, and no key is ever wrapped (architecture invariant 6).

use super::module::map_error;
use crate::crypto::cert::CertInfo;
use crate::crypto::SignError;
use crate::lang::Message;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use serde::Serialize;

/// The public half of an RSA key, as both a certificate and a token key can show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicHalf {
    /// Modulus without leading zero bytes.
    pub modulus: Option<Vec<u8>>,
    /// Public exponent without leading zero bytes.
    pub exponent: Option<Vec<u8>>,
    /// DER SubjectPublicKeyInfo.
    pub spki: Option<Vec<u8>>,
}

impl PublicHalf {
    /// Whether `self` and `other` are the same key; `None` when they share nothing to compare.
    pub fn same_as(&self, other: &PublicHalf) -> Option<bool> {
        if let (Some(a), Some(b)) = (&self.modulus, &other.modulus) {
            let exp_same = match (&self.exponent, &other.exponent) {
                (Some(x), Some(y)) => x == y,
                _ => true,
            };
            return Some(a == b && exp_same);
        }
        if let (Some(a), Some(b)) = (&self.spki, &other.spki) {
            return Some(a == b);
        }
        None
    }

    /// The public half of a DER certificate.
    pub fn of_certificate(der: &[u8]) -> PublicHalf {
        use x509_parser::prelude::*;
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return PublicHalf::default();
        };
        let spki = cert.public_key();
        let mut out = PublicHalf {
            spki: Some(spki.raw.to_vec()),
            ..Default::default()
        };
        if let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed() {
            out.modulus = Some(strip(rsa.modulus));
            out.exponent = Some(strip(rsa.exponent));
        }
        out
    }
}

fn strip(b: &[u8]) -> Vec<u8> {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[first..].to_vec()
}

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
    /// Whether the token holds the private key of this certificate (`None` before login: keys
    /// are private objects).
    pub has_private_key: Option<bool>,
    #[serde(skip)]
    pub public: PublicHalf,
}

/// A private key object on the token (its public attributes only).
#[derive(Debug, Clone)]
pub struct TokenKey {
    pub handle: ObjectHandle,
    pub id: Vec<u8>,
    pub id_hex: String,
    pub label: String,
    pub public: PublicHalf,
}

/// Hex of bytes (lowercase).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a `--key-id` / `key_id` value: hex digits (ASCII only), spaces and colons allowed.
/// Anything else is refused with a message that says what was wrong; never panics.
pub fn unhex(s: &str) -> Result<Vec<u8>, SignError> {
    let clean: Vec<char> = s.chars().filter(|c| !matches!(c, ' ' | ':')).collect();
    let bad = |why_en: &str, why_fa: &str| SignError::BadKeyId {
        given: s.to_string(),
        why: Message::new(why_fa, why_en),
    };
    if let Some(c) = clean.iter().find(|c| !c.is_ascii_hexdigit()) {
        return Err(bad(
            &format!("{c:?} is not a hex digit (0-9, a-f; Latin digits only)"),
            &format!("«{c}» رقم هگز نیست (فقط 0 تا 9 و a تا f با رقم‌های لاتین)"),
        ));
    }
    if clean.is_empty() {
        return Err(bad("it is empty", "خالی است"));
    }
    if !clean.len().is_multiple_of(2) {
        return Err(bad(
            "it has an odd number of hex digits (each byte is two)",
            "تعداد رقم‌های هگز فرد است (هر بایت دو رقم است)",
        ));
    }
    Ok(clean
        .chunks(2)
        .map(|p| {
            let d = |c: char| c.to_digit(16).unwrap_or(0) as u8;
            d(p[0]) << 4 | d(p[1])
        })
        .collect())
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
            public: PublicHalf::of_certificate(&der),
            der,
            info,
            has_private_key: None,
        });
    }
    Ok(out)
}

/// The attributes read from a private key: identification and the public half only.
pub const KEY_ATTRIBUTES: &[AttributeType] = &[
    AttributeType::Id,
    AttributeType::Label,
    AttributeType::Modulus,
    AttributeType::PublicExponent,
    AttributeType::PublicKeyInfo,
];

/// The private keys visible in the session (after login), with their public halves.
pub fn private_keys(session: &Session) -> Result<Vec<TokenKey>, SignError> {
    let handles = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .map_err(|e| map_error(e, "C_FindObjects"))?;
    let mut out = Vec::new();
    for h in handles {
        let attrs = session
            .get_attributes(h, KEY_ATTRIBUTES)
            .map_err(|e| map_error(e, "C_GetAttributeValue"))?;
        let mut key = TokenKey {
            handle: h,
            id: Vec::new(),
            id_hex: String::new(),
            label: String::new(),
            public: PublicHalf::default(),
        };
        for a in attrs {
            match a {
                Attribute::Id(v) => key.id = v,
                Attribute::Label(v) => key.label = String::from_utf8_lossy(&v).into_owned(),
                Attribute::Modulus(v) if !v.is_empty() => key.public.modulus = Some(strip(&v)),
                Attribute::PublicExponent(v) if !v.is_empty() => {
                    key.public.exponent = Some(strip(&v))
                }
                Attribute::PublicKeyInfo(v) if !v.is_empty() => key.public.spki = Some(v),
                _ => {}
            }
        }
        key.id_hex = hex(&key.id);
        out.push(key);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_of_any_text_never_panic() {
        assert_eq!(unhex("0A:1b 2c").unwrap(), vec![0x0a, 0x1b, 0x2c]);
        for bad in [
            "aéb",
            "0۱2",
            "۰۱",
            "é",
            "1",
            "",
            " ",
            "zz",
            "0x01",
            "💥💥",
            "a\u{301}b",
        ] {
            let e = unhex(bad).unwrap_err();
            assert_eq!(e.check_id(), "signer.config", "{bad}");
            let m = e.message();
            assert!(
                m.en.contains("--key-id") && m.fa.contains("--key-id"),
                "{m:?}"
            );
        }
    }

    #[test]
    fn public_halves_compare_by_modulus_then_spki() {
        let a = PublicHalf {
            modulus: Some(vec![1, 2]),
            exponent: Some(vec![1, 0, 1]),
            spki: None,
        };
        let mut b = a.clone();
        assert_eq!(a.same_as(&b), Some(true));
        b.exponent = Some(vec![3]);
        assert_eq!(a.same_as(&b), Some(false));
        assert_eq!(a.same_as(&PublicHalf::default()), None);
        assert_eq!(strip(&[0, 0, 5]), vec![5]);
    }
}
