//! Iranian identifiers as small types that validate on construction, so an invalid value
//! cannot exist past the edge (spec invoice-schema.md §13.3 and §14; checksums per
//! token-and-certs.md §4.4): memory ID, national code, legal national ID, economic number,
//! postal code, branch code, foreign-national code, civil-partnership ID, goods/service ID.
//!
//! Each type has `parse(&str) -> Result<Self, IdError>`; [`IdError::message`] says what is
//! wrong in Persian and English.

use crate::lang::Message;
use std::fmt;

/// Which identifier a value was meant to be (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    MemoryId,
    TaxId,
    NationalCode,
    LegalNationalId,
    EconomicCode,
    PostalCode,
    BranchCode,
    ForeignNationalCode,
    CivilPartnershipId,
    GoodsServiceId,
}

impl IdKind {
    /// The identifier's name in Persian and English.
    pub fn name(self) -> Message {
        let (fa, en) = match self {
            IdKind::MemoryId => ("شناسه یکتای حافظه مالیاتی", "memory ID"),
            IdKind::TaxId => ("شماره منحصر به فرد مالیاتی", "tax ID"),
            IdKind::NationalCode => ("کد ملی", "national code"),
            IdKind::LegalNationalId => ("شناسه ملی", "legal national ID"),
            IdKind::EconomicCode => ("شماره اقتصادی", "economic number"),
            IdKind::PostalCode => ("کد پستی", "postal code"),
            IdKind::BranchCode => ("کد شعبه", "branch code"),
            IdKind::ForeignNationalCode => ("کد فراگیر اتباع", "foreign-national code"),
            IdKind::CivilPartnershipId => ("شناسه مشارکت مدنی", "civil-partnership ID"),
            IdKind::GoodsServiceId => ("شناسه کالا/خدمت", "goods/service ID"),
        };
        Message::new(fa, en)
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().en)
    }
}

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong number of characters.
    #[error("{kind} must be {expected} characters long, got {got} ({value:?})")]
    Length {
        kind: IdKind,
        expected: &'static str,
        got: usize,
        value: String,
    },
    /// A character outside the allowed set.
    #[error("{kind} has a character that is not allowed at position {position}: {ch:?} (allowed: {allowed})")]
    Char {
        kind: IdKind,
        position: usize,
        ch: char,
        allowed: &'static str,
    },
    /// The check digit does not match.
    #[error("{kind} {value:?} has a wrong check digit (a digit is mistyped or swapped)")]
    Checksum { kind: IdKind, value: String },
    /// All digits the same (e.g. 1111111111), never issued.
    #[error("{kind} {value:?} has all digits the same, which is never issued")]
    AllSame { kind: IdKind, value: String },
    /// A number that does not fit (e.g. a serial beyond 10 hex characters).
    #[error("{kind}: {what} {value} is out of range (at most {max})")]
    Range {
        kind: IdKind,
        what: String,
        value: String,
        max: String,
    },
}

impl IdError {
    /// What is wrong and how to fix it, in Persian and English.
    pub fn message(&self) -> Message {
        match self {
            IdError::Length {
                kind,
                expected,
                got,
                value,
            } => Message::new(
                format!(
                    "{} باید {} نویسه باشد، اما {} نویسه است ({value}). مقدار را از مدرک اصلی دوباره وارد کنید.",
                    kind.name().fa, expected, got
                ),
                format!(
                    "{kind} must be {expected} characters long, got {got} ({value:?}). Re-enter it from the original document."
                ),
            ),
            IdError::Char {
                kind,
                position,
                ch,
                allowed,
            } => Message::new(
                format!(
                    "{} در جایگاه {position} نویسه غیرمجاز «{ch}» دارد (مجاز: {allowed}).",
                    kind.name().fa
                ),
                format!(
                    "{kind} has a character that is not allowed at position {position}: {ch:?} (allowed: {allowed})."
                ),
            ),
            IdError::Checksum { kind, value } => Message::new(
                format!(
                    "رقم کنترل {} «{value}» درست نیست؛ احتمالاً رقمی اشتباه یا جابه‌جا وارد شده است.",
                    kind.name().fa
                ),
                format!(
                    "{kind} {value:?} has a wrong check digit; a digit is probably mistyped or swapped."
                ),
            ),
            IdError::AllSame { kind, value } => Message::new(
                format!(
                    "{} «{value}» همه ارقامش یکسان است و چنین شناسه‌ای صادر نمی‌شود.",
                    kind.name().fa
                ),
                format!("{kind} {value:?} has all digits the same, which is never issued."),
            ),
            IdError::Range {
                kind,
                what,
                value,
                max,
            } => Message::new(
                format!(
                    "{}: مقدار {what} ({value}) خارج از بازه است (حداکثر {max}).",
                    kind.name().fa
                ),
                format!("{kind}: {what} {value} is out of range (at most {max})."),
            ),
        }
    }

    /// Which identifier failed.
    pub fn kind(&self) -> IdKind {
        match self {
            IdError::Length { kind, .. }
            | IdError::Char { kind, .. }
            | IdError::Checksum { kind, .. }
            | IdError::AllSame { kind, .. }
            | IdError::Range { kind, .. } => *kind,
        }
    }
}

/// Checks that `s` is exactly `len` ASCII digits (one of `lens`).
fn digits(kind: IdKind, s: &str, lens: &[usize], expected: &'static str) -> Result<(), IdError> {
    if let Some((i, ch)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(IdError::Char {
            kind,
            position: i + 1,
            ch,
            allowed: "0-9",
        });
    }
    if !lens.contains(&s.len()) {
        return Err(IdError::Length {
            kind,
            expected,
            got: s.chars().count(),
            value: s.to_string(),
        });
    }
    Ok(())
}

fn digit_values(s: &str) -> Vec<u32> {
    s.bytes().map(|b| u32::from(b - b'0')).collect()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The identifier's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Memory ID (شناسه یکتای حافظه مالیاتی), §13.3

/// Characters a memory ID may hold: digits 1–9 and A D E F G H K M N O P R T W X Y Z, plus the
/// reserved B C S U (accepted, with [`MemoryId::notes`] flagging them).
pub const MEMORY_ID_ALLOWED: &str =
    "1-9, A B C D E F G H K M N O P R S T U W X Y Z (not 0, I, J, L, Q, V)";

id_type!(
    /// شناسه یکتای حافظه مالیاتی — the 6-character fiscal memory ID the tax organisation
    /// assigns, e.g. `A11216`. Digits 1–9 and letters except I J L Q V; B C S U are reserved.
    MemoryId
);

/// Something unusual about a valid memory ID, worth a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryIdNote {
    /// Holds one of the reserved letters B C S U.
    ReservedLetter(char),
    /// Starts with N or P, which are reserved for payment instruments (central bank).
    PaymentInstrumentPrefix,
    /// Starts with `TP`: a trusted service company (شرکت معتمد).
    TrustedCompany,
}

impl MemoryId {
    /// Parses a memory ID: exactly 6 of the allowed characters (uppercase).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let kind = IdKind::MemoryId;
        for (i, ch) in s.chars().enumerate() {
            let ok = matches!(ch, '1'..='9')
                || (ch.is_ascii_uppercase() && !matches!(ch, 'I' | 'J' | 'L' | 'Q' | 'V'));
            if !ok {
                return Err(IdError::Char {
                    kind,
                    position: i + 1,
                    ch,
                    allowed: MEMORY_ID_ALLOWED,
                });
            }
        }
        if s.len() != 6 {
            return Err(IdError::Length {
                kind,
                expected: "6",
                got: s.chars().count(),
                value: s.to_string(),
            });
        }
        Ok(Self(s.to_string()))
    }

    /// Reserved letters and prefixes that deserve a warning (never an error).
    pub fn notes(&self) -> Vec<MemoryIdNote> {
        let mut notes: Vec<MemoryIdNote> = self
            .0
            .chars()
            .filter(|c| matches!(c, 'B' | 'C' | 'S' | 'U'))
            .map(MemoryIdNote::ReservedLetter)
            .collect();
        if self.0.starts_with('N') || self.0.starts_with('P') {
            notes.push(MemoryIdNote::PaymentInstrumentPrefix);
        }
        if self.0.starts_with("TP") {
            notes.push(MemoryIdNote::TrustedCompany);
        }
        notes
    }

    /// The memory ID's part of the tax ID's decimal control string: digits kept, each letter
    /// replaced by its ASCII code (`DEF5GH` → `68697057172`).
    pub fn control_digits(&self) -> String {
        let mut out = String::with_capacity(12);
        for ch in self.0.chars() {
            if ch.is_ascii_digit() {
                out.push(ch);
            } else {
                out.push_str(&(ch as u32).to_string());
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// National code (کد ملی), 10 digits with a check digit

id_type!(
    /// کد ملی — a natural person's 10-digit national code (leading zeros kept), check digit per
    /// the weights 10..2 mod 11.
    NationalCode
);

impl NationalCode {
    /// Parses exactly 10 digits and verifies the check digit.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let kind = IdKind::NationalCode;
        digits(kind, s, &[10], "10")?;
        let d = digit_values(s);
        if d.iter().all(|&x| x == d[0]) {
            return Err(IdError::AllSame {
                kind,
                value: s.to_string(),
            });
        }
        if national_code_check(&d[..9]) != d[9] {
            return Err(IdError::Checksum {
                kind,
                value: s.to_string(),
            });
        }
        Ok(Self(s.to_string()))
    }

    /// Like [`NationalCode::parse`], but first left-pads an 8- or 9-digit input with zeros
    /// (spreadsheets drop leading zeros).
    pub fn parse_padded(s: &str) -> Result<Self, IdError> {
        if (8..10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Self::parse(&format!("{s:0>10}"))
        } else {
            Self::parse(s)
        }
    }
}

/// The check digit of the first 9 digits of a national code.
pub fn national_code_check(first9: &[u32]) -> u32 {
    let s: u32 = first9
        .iter()
        .enumerate()
        .map(|(i, &d)| d * (10 - i as u32))
        .sum();
    let r = s % 11;
    if r < 2 {
        r
    } else {
        11 - r
    }
}

// ---------------------------------------------------------------------------------------------
// Legal national ID (شناسه ملی), 11 digits with a check digit

id_type!(
    /// شناسه ملی — a legal person's 11-digit national ID (also its economic number).
    LegalNationalId
);

impl LegalNationalId {
    /// Parses exactly 11 digits and verifies the check digit.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let kind = IdKind::LegalNationalId;
        digits(kind, s, &[11], "11")?;
        if !legal_id_checksum_ok(s) {
            return Err(IdError::Checksum {
                kind,
                value: s.to_string(),
            });
        }
        Ok(Self(s.to_string()))
    }
}

/// Whether an 11-digit string passes the legal national ID check:
/// `a = d9 + 2`, `s = Σ (d_i + a)·w_i` with `w = [29,27,23,19,17,29,27,23,19,17]`,
/// `r = s mod 11` (10 → 0), valid iff `d10 == r`.
pub fn legal_id_checksum_ok(s: &str) -> bool {
    if s.len() != 11 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    const W: [u32; 10] = [29, 27, 23, 19, 17, 29, 27, 23, 19, 17];
    let d = digit_values(s);
    let a = d[9] + 2;
    let sum: u32 = (0..10).map(|i| (d[i] + a) * W[i]).sum();
    let r = match sum % 11 {
        10 => 0,
        r => r,
    };
    d[10] == r
}

// ---------------------------------------------------------------------------------------------
// Economic number (شماره اقتصادی), 11 or 14 digits

id_type!(
    /// شماره اقتصادی — economic number (tins, tinb, tinc): 11 digits for legal persons and civil
    /// partnerships (equal to the شناسه ملی), 14 for natural persons and foreign nationals.
    EconomicCode
);

/// Which kind of person an economic number's length says it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EconomicCodeKind {
    /// 11 digits: legal person or civil partnership.
    Legal,
    /// 14 digits: natural person or foreign national.
    Natural,
}

impl EconomicCode {
    /// Parses 11 or 14 digits. The legal-ID check digit of an 11-digit number is not enforced
    /// here (not every registered number is known to pass it); see
    /// [`EconomicCode::legal_checksum_ok`] for a warning.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(IdKind::EconomicCode, s, &[11, 14], "11 or 14")?;
        Ok(Self(s.to_string()))
    }

    pub fn kind(&self) -> EconomicCodeKind {
        if self.0.len() == 11 {
            EconomicCodeKind::Legal
        } else {
            EconomicCodeKind::Natural
        }
    }

    /// For an 11-digit number, whether it passes the legal national ID check; `None` for 14.
    pub fn legal_checksum_ok(&self) -> Option<bool> {
        (self.0.len() == 11).then(|| legal_id_checksum_ok(&self.0))
    }
}

// ---------------------------------------------------------------------------------------------
// Simple fixed-length digit identifiers

id_type!(
    /// کد پستی — a 10-digit postal code.
    PostalCode
);

impl PostalCode {
    /// Parses exactly 10 digits (the server's only check).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(IdKind::PostalCode, s, &[10], "10")?;
        Ok(Self(s.to_string()))
    }

    /// The stricter community rule (no 0 or 2 in the first 5 digits, 5th digit ≠ 5, no four
    /// equal leading digits). Not an official rule: use it for a warning only.
    pub fn looks_plausible(&self) -> bool {
        let b = self.0.as_bytes();
        let first5 = &b[..5];
        !first5.iter().any(|&c| c == b'0' || c == b'2')
            && b[4] != b'5'
            && !(b[0] == b[1] && b[1] == b[2] && b[2] == b[3])
    }
}

id_type!(
    /// کد شعبه — a 4-digit branch code (sbc, bbc).
    BranchCode
);

impl BranchCode {
    /// Parses exactly 4 digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(IdKind::BranchCode, s, &[4], "4")?;
        Ok(Self(s.to_string()))
    }
}

id_type!(
    /// کد فراگیر اتباع غیر ایرانی — a foreign national's 12-digit code (no public check digit).
    ForeignNationalCode
);

impl ForeignNationalCode {
    /// Parses exactly 12 digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(IdKind::ForeignNationalCode, s, &[12], "12")?;
        Ok(Self(s.to_string()))
    }
}

id_type!(
    /// شناسه مشارکت مدنی — an 11-digit civil-partnership ID (format only: whether it uses the
    /// legal-ID check digit is not established).
    CivilPartnershipId
);

impl CivilPartnershipId {
    /// Parses exactly 11 digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(IdKind::CivilPartnershipId, s, &[11], "11")?;
        Ok(Self(s.to_string()))
    }
}

id_type!(
    /// شناسه کالا/خدمت — a 13-digit goods/service ID (sstid, sgid); existence is checked by the
    /// server against stuffid.tax.gov.ir.
    GoodsServiceId
);

impl GoodsServiceId {
    /// Parses exactly 13 digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        digits(IdKind::GoodsServiceId, s, &[13], "13")?;
        Ok(Self(s.to_string()))
    }
}

/// A buyer identifier (`bid`) read according to its length: 10 national code, 11 legal
/// national ID or civil-partnership ID, 12 foreign-national code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyerId {
    National(NationalCode),
    /// 11 digits: legal national ID or civil-partnership ID (only the format is checked,
    /// because the tob decides which, and a civil-partnership ID has no known check digit).
    Legal(CivilPartnershipId),
    Foreign(ForeignNationalCode),
}

impl BuyerId {
    /// Parses `bid` by its length.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s.len() {
            10 => NationalCode::parse(s).map(BuyerId::National),
            11 => CivilPartnershipId::parse(s).map(BuyerId::Legal),
            12 => ForeignNationalCode::parse(s).map(BuyerId::Foreign),
            _ => Err(
                digits(IdKind::NationalCode, s, &[10, 11, 12], "10, 11 or 12")
                    .err()
                    .unwrap_or(IdError::Length {
                        kind: IdKind::NationalCode,
                        expected: "10, 11 or 12",
                        got: s.chars().count(),
                        value: s.to_string(),
                    }),
            ),
        }
    }
}

#[cfg(test)]
mod tests;
