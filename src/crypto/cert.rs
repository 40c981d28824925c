//! Reading a signing certificate the way the tax server will judge it (token-and-certs.md §4):
//! the subject serialNumber is the national code (10 digits, individual, CN "… [Sign]") or the
//! national ID (11 digits, legal person, CN "… [Stamp]"); validity; key usage; key size.
//! [`check_certificate`] turns that into preflight checks: expired / not yet valid → fail,
//! under 30 days left → warn, national ID ≠ the taxpayer's → fail naming both IDs and the
//! server code it prevents (4103 on the auth token, 04132 on the invoice).

use super::checks::Check;
use crate::lang::Message;
use ::time::OffsetDateTime;
use serde::Serialize;
use x509_parser::oid_registry::OID_X509_SERIALNUMBER;
use x509_parser::prelude::*;

/// Renew when fewer days than this are left (the vendor advice: a month before expiry).
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Whose certificate this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HolderKind {
    /// A person: 10-digit national code (کد ملی), CN ends in "[Sign]".
    Individual,
    /// A company: 11-digit national ID (شناسه ملی), CN ends in "[Stamp]".
    Legal,
    /// The serialNumber is neither.
    Unknown,
}

/// What a certificate says, in the terms the tax server uses.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    /// Subject serialNumber (2.5.4.5): the national code / national ID.
    pub national_id: Option<String>,
    pub kind: HolderKind,
    /// True when the national code/ID checksum holds.
    pub national_id_checksum_ok: bool,
    #[serde(serialize_with = "ser_time")]
    pub not_before: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub not_after: OffsetDateTime,
    /// `None` when the certificate has no key-usage extension.
    pub key_usage_allows_signing: Option<bool>,
    pub is_ca: bool,
    pub self_signed: bool,
    pub rsa_bits: Option<usize>,
    /// Certificate serial, hex.
    pub serial_hex: String,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, super::SignError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| super::SignError::Certificate(format!("not an X.509 certificate: {e}")))?;
        let subj = cert.subject();
        let national_id = subj
            .iter_by_oid(&OID_X509_SERIALNUMBER)
            .filter_map(|a| attr_text(a))
            .next()
            .map(|s| s.trim().to_string());
        let common_name = subj.iter_common_name().filter_map(|a| attr_text(a)).next();
        let (kind, national_id_checksum_ok) = match &national_id {
            Some(id) if id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit()) => {
                (HolderKind::Individual, national_code_valid(id))
            }
            Some(id) if id.len() == 11 && id.bytes().all(|b| b.is_ascii_digit()) => {
                (HolderKind::Legal, legal_national_id_valid(id))
            }
            _ => (HolderKind::Unknown, false),
        };
        let v = cert.validity();
        let key_usage_allows_signing = match cert.key_usage() {
            Ok(Some(ku)) => Some(ku.value.digital_signature() || ku.value.non_repudiation()),
            _ => None,
        };
        let rsa_bits = match cert.public_key().parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => Some(rsa.key_size()),
            _ => None,
        };
        Ok(CertInfo {
            subject: subj.to_string(),
            issuer: cert.issuer().to_string(),
            common_name,
            national_id,
            kind,
            national_id_checksum_ok,
            not_before: v.not_before.to_datetime(),
            not_after: v.not_after.to_datetime(),
            key_usage_allows_signing,
            is_ca: cert.is_ca(),
            self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
            rsa_bits,
            serial_hex: cert.raw_serial_as_string(),
        })
    }

    /// Whole days of validity left at `now` (negative when expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// Short label: "individual 0012345679" / "legal 14003778990".
    pub fn holder_label(&self) -> String {
        let k = match self.kind {
            HolderKind::Individual => "individual",
            HolderKind::Legal => "legal",
            HolderKind::Unknown => "unknown",
        };
        format!("{k} {}", self.national_id.as_deref().unwrap_or("-"))
    }
}

fn ser_time<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::jws::format_sig_t(*t))
}

/// Text of a name attribute; BMPString (UTF-16BE) decoded by hand.
fn attr_text(a: &AttributeTypeAndValue) -> Option<String> {
    if let Ok(s) = a.as_str() {
        return Some(s.to_string());
    }
    let raw = a.attr_value().data;
    if raw.len() % 2 == 0 {
        let units: Vec<u16> = raw
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).ok();
    }
    None
}

/// Checksum of a 10-digit national code (کد ملی).
pub fn national_code_valid(code: &str) -> bool {
    let d: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 10 || code.len() != 10 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let r = (0..9).map(|i| d[i] * (10 - i as u32)).sum::<u32>() % 11;
    if r < 2 {
        d[9] == r
    } else {
        d[9] == 11 - r
    }
}

/// Checksum of an 11-digit legal national ID (شناسه ملی).
pub fn legal_national_id_valid(id: &str) -> bool {
    let d: Vec<u32> = id.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 11 || id.len() != 11 {
        return false;
    }
    let a = d[9] + 2;
    let w = [29, 27, 23, 19, 17, 29, 27, 23, 19, 17];
    let s: u32 = (0..10).map(|i| (d[i] + a) * w[i]).sum();
    let mut r = s % 11;
    if r == 10 {
        r = 0;
    }
    d[10] == r
}

fn m(fa: String, en: String) -> Message {
    Message::new(fa, en)
}

/// Preflight checks of a certificate at `now` against the taxpayer's national ID/code.
pub fn check_certificate(
    info: &CertInfo,
    now: OffsetDateTime,
    expected_national_id: Option<&str>,
) -> Vec<Check> {
    let mut out = Vec::new();
    let na = super::jws::format_sig_t(info.not_after);
    let nb = super::jws::format_sig_t(info.not_before);
    if now > info.not_after {
        out.push(Check::fail(
            "cert.expired",
            m(format!("گواهی امضا در {na} منقضی شده است."), format!("the signing certificate expired on {na}.")),
            m("گواهی را تمدید کنید (از مرکز صدور، مثلاً جیکا) و گواهی تازه را روی توکن بگذارید؛ سامانه امضای گواهی منقضی را نمی‌پذیرد (4131).".into(),
              "renew the certificate with the CA (e.g. GICA) and put the new one on the token; the server refuses an expired certificate (4131).".into()),
        ));
    } else if now < info.not_before {
        out.push(Check::fail(
            "cert.not_yet_valid",
            m(
                format!("گواهی امضا از {nb} معتبر می‌شود."),
                format!("the signing certificate is not valid before {nb}."),
            ),
            m(
                "ساعت رایانه را بررسی کنید یا تا آغاز اعتبار صبر کنید.".into(),
                "check the computer's clock, or wait until the certificate becomes valid.".into(),
            ),
        ));
    } else {
        let days = info.days_left(now);
        if days < EXPIRY_WARNING_DAYS {
            out.push(Check::warn(
                "cert.expiring",
                m(
                    format!("گواهی امضا {days} روز دیگر ({na}) منقضی می‌شود."),
                    format!("the signing certificate expires in {days} days ({na})."),
                ),
                m(
                    "گواهی را همین حالا تمدید کنید (یک ماه پیش از انقضا).".into(),
                    "renew it now (a month before expiry).".into(),
                ),
            ));
        } else {
            out.push(Check::ok(
                "cert.valid",
                m(
                    format!("گواهی تا {na} معتبر است ({days} روز)."),
                    format!("certificate valid until {na} ({days} days)."),
                ),
            ));
        }
    }
    if let Some(bits) = info.rsa_bits {
        if bits < 2048 {
            out.push(Check::fail(
                "cert.weak_key",
                m(
                    format!("کلید گواهی {bits} بیتی است."),
                    format!("the certificate key has {bits} bits."),
                ),
                m(
                    "گواهی با کلید RSA-2048 بگیرید.".into(),
                    "get a certificate with an RSA-2048 key.".into(),
                ),
            ));
        }
    }
    if info.key_usage_allows_signing == Some(false) {
        out.push(Check::fail(
            "cert.key_usage",
            m(
                "کاربرد کلید این گواهی امضا را مجاز نمی‌داند.".into(),
                "the certificate's key usage does not allow signing.".into(),
            ),
            m(
                "از گواهی امضا (Sign/Stamp) استفاده کنید، نه گواهی رمزنگاری یا SSL.".into(),
                "use the signing ([Sign]/[Stamp]) certificate, not an encryption or SSL one."
                    .into(),
            ),
        ));
    }
    if info.is_ca {
        out.push(Check::warn(
            "cert.is_ca",
            m(
                "این گواهی یک گواهی مرکز صدور (CA) است.".into(),
                "this is a CA certificate.".into(),
            ),
            m(
                "گواهی شخصی مودی را انتخاب کنید.".into(),
                "choose the taxpayer's own certificate.".into(),
            ),
        ));
    }
    if info.self_signed {
        out.push(Check::warn(
            "cert.self_signed",
            m("گواهی خودامضا است.".into(), "the certificate is self-signed.".into()),
            m("سامانه واقعی فقط گواهی مراکز صدور معتبر را می‌پذیرد (4131)؛ گواهی خودامضا فقط برای محیط آزمایشی است.".into(),
              "the real server accepts only certificates of a licensed CA (4131); self-signed is for the sandbox only.".into()),
        ));
    }
    match (&info.national_id, expected_national_id) {
        (None, _) => out.push(Check::fail(
            "cert.no_national_id",
            m("گواهی فیلد serialNumber (کد/شناسه ملی) ندارد.".into(), "the certificate has no subject serialNumber (national code/ID).".into()),
            m("گواهی امضای صادرشده برای سامانه مودیان را به کار ببرید.".into(), "use a signing certificate issued for the taxpayer system.".into()),
        )),
        (Some(found), Some(expected)) if found != expected.trim() => out.push(Check::fail(
            "cert.national_id_mismatch",
            m(format!("کد/شناسه ملی گواهی {found} است ولی مودی این حافظه {expected} است."),
              format!("the certificate belongs to national ID {found}, but the taxpayer of this memory ID is {expected}.")),
            m(format!("سامانه آن را با خطای 4103 (توکن احراز هویت) و 04132 (صورتحساب) رد می‌کند. توکن/گواهی {expected} را به کار ببرید یا شناسه ملی پروفایل را اصلاح کنید."),
              format!("the server would reject it with 4103 (auth token) and 04132 (invoices). Use the token/certificate of {expected}, or fix the profile's national ID.")),
        )),
        (Some(found), Some(_)) => out.push(Check::ok(
            "cert.national_id_matches",
            m(format!("کد/شناسه ملی گواهی ({found}) با مودی یکی است."), format!("the certificate's national ID ({found}) is the taxpayer's.")),
        )),
        (Some(_), None) => {}
    }
    if info.national_id.is_some() && !info.national_id_checksum_ok {
        out.push(Check::warn(
            "cert.national_id_checksum",
            m(
                format!(
                    "رقم کنترل کد/شناسه ملی گواهی ({}) درست نیست.",
                    info.national_id.as_deref().unwrap_or("")
                ),
                format!(
                    "the check digit of the certificate's national ID ({}) is wrong.",
                    info.national_id.as_deref().unwrap_or("")
                ),
            ),
            m(
                "گواهی را با مرکز صدور بررسی کنید.".into(),
                "check the certificate with the CA.".into(),
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(national_code_valid("0012345679"));
        assert!(national_code_valid("0499370899"));
        assert!(!national_code_valid("0012345678"));
        assert!(!national_code_valid("1111111111"));
        assert!(legal_national_id_valid("14000405500"));
        assert!(legal_national_id_valid("10660111880"));
        assert!(legal_national_id_valid("10100302746"));
        assert!(!legal_national_id_valid("10100302747"));
    }
}
