//! The tax ID (شماره منحصر به فرد مالیاتی), 22 characters: memory ID (6) + UTC day since
//! 1970-01-01 in uppercase hex (5) + the memory's serial in uppercase hex (10) + a Verhoeff
//! check digit (RC_DCPS.SN_V1.3; spec invoice-schema.md §13).
//!
//! The check digit is computed over a *decimal* control string: the memory ID with letters as
//! their ASCII codes, the day in decimal padded to 6, the serial in decimal padded to 12.
//! Generating, parsing (with check-digit verification) and decoding live here; the day is
//! always `floor(indatim_ms / 86_400_000)`, i.e. the UTC day.

use super::ids::{IdError, IdKind, MemoryId};
use std::fmt;

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;
/// The largest serial 10 hex characters hold (0xFFFFFFFFFF).
pub const MAX_SERIAL: u64 = 0xFF_FFFF_FFFF;
/// The largest day 5 hex characters hold (0xFFFFF, in the year 4840).
pub const MAX_DAY: u32 = 0xF_FFFF;

// ---------------------------------------------------------------------------------------------
// Verhoeff

const D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

const P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// The Verhoeff check digit of a string of decimal digits (`None` if it holds anything else).
/// `verhoeff_check_digit("123") == Some(3)`.
pub fn verhoeff_check_digit(digits: &str) -> Option<u8> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(verhoeff_check_digit_of(digits.bytes().map(|b| b - b'0')))
}

/// The Verhoeff check digit of digit values (each 0–9), most significant first; for callers
/// that build the control digits without allocating a string.
pub fn verhoeff_check_digit_of<I>(digits: I) -> u8
where
    I: IntoIterator<Item = u8>,
    I::IntoIter: DoubleEndedIterator,
{
    let mut c = 0u8;
    for (i, d) in digits.into_iter().rev().enumerate() {
        c = D[c as usize][P[(i + 1) % 8][(d % 10) as usize] as usize];
    }
    INV[c as usize]
}

/// Whether a string of decimal digits ends in a correct Verhoeff check digit.
pub fn verhoeff_validate(digits_with_check: &str) -> bool {
    if digits_with_check.is_empty() {
        return false;
    }
    let mut c = 0u8;
    for (i, b) in digits_with_check.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        c = D[c as usize][P[i % 8][(b - b'0') as usize] as usize];
    }
    c == 0
}

// ---------------------------------------------------------------------------------------------
// Tax ID

/// The UTC day since 1970-01-01 of an `indatim` (Unix ms): `floor(indatim_ms / 86_400_000)`.
pub fn day_of(indatim_ms: i64) -> i64 {
    indatim_ms.div_euclid(MS_PER_DAY)
}

/// `inno` for a serial: the serial in uppercase hex, padded to 10 (the taxid's serial slice).
pub fn inno_for_serial(serial: u64) -> String {
    format!("{serial:010X}")
}

/// The decimal control string the check digit is computed over.
pub fn control_string(memory_id: &MemoryId, day: u32, serial: u64) -> String {
    format!("{}{day:06}{serial:012}", memory_id.control_digits())
}

/// شماره منحصر به فرد مالیاتی — a tax ID whose format and check digit are verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaxId(String);

/// What a tax ID is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxIdParts {
    /// شناسه یکتای حافظه مالیاتی — the fiscal memory ID.
    pub memory_id: MemoryId,
    /// The UTC day since 1970-01-01 (the day of `indatim`).
    pub day_since_epoch: u32,
    /// The memory's internal serial (`inno` in hex).
    pub serial: u64,
}

impl TaxIdParts {
    /// The decimal control string of these parts.
    pub fn control_string(&self) -> String {
        control_string(&self.memory_id, self.day_since_epoch, self.serial)
    }

    /// The Verhoeff check digit these parts should carry.
    pub fn check_digit(&self) -> u8 {
        // The control string is all digits by construction.
        verhoeff_check_digit(&self.control_string()).unwrap_or(0)
    }

    /// The tax ID of these parts.
    pub fn to_taxid(&self) -> TaxId {
        TaxId(format!(
            "{}{:05X}{:010X}{}",
            self.memory_id,
            self.day_since_epoch,
            self.serial,
            self.check_digit()
        ))
    }
}

/// A tax ID read without judging its check digit: the parts, and the digit it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncheckedTaxId {
    pub parts: TaxIdParts,
    /// The check digit written in the tax ID.
    pub found_check: u8,
}

impl UncheckedTaxId {
    /// Whether the written check digit is the right one.
    pub fn check_ok(&self) -> bool {
        self.found_check == self.parts.check_digit()
    }
}

fn range_error(what: &str, value: impl fmt::Display, max: impl fmt::Display) -> IdError {
    IdError::Range {
        kind: IdKind::TaxId,
        what: what.to_string(),
        value: value.to_string(),
        max: max.to_string(),
    }
}

impl TaxId {
    /// Makes the tax ID for an invoice issued at `indatim_ms` (its UTC day) with `serial`.
    /// Fails when the serial does not fit 10 hex characters or `indatim` is before 1970 or
    /// beyond the 5-hex day range.
    pub fn generate(memory_id: &MemoryId, indatim_ms: i64, serial: u64) -> Result<TaxId, IdError> {
        if serial > MAX_SERIAL {
            return Err(range_error("serial", serial, MAX_SERIAL));
        }
        let day = day_of(indatim_ms);
        let day = u32::try_from(day)
            .ok()
            .filter(|d| *d <= MAX_DAY)
            .ok_or_else(|| range_error("indatim day", day, MAX_DAY))?;
        Ok(TaxIdParts {
            memory_id: memory_id.clone(),
            day_since_epoch: day,
            serial,
        }
        .to_taxid())
    }

    /// Reads a tax ID and verifies its format and check digit.
    pub fn parse(s: &str) -> Result<TaxId, IdError> {
        let unchecked = Self::parse_unchecked(s)?;
        if !unchecked.check_ok() {
            return Err(IdError::Checksum {
                kind: IdKind::TaxId,
                value: s.to_string(),
            });
        }
        Ok(TaxId(s.to_string()))
    }

    /// Reads a tax ID's parts and written check digit, verifying only the format (so a wrong
    /// check digit can be shown next to the right one).
    pub fn parse_unchecked(s: &str) -> Result<UncheckedTaxId, IdError> {
        let kind = IdKind::TaxId;
        for (i, ch) in s.chars().enumerate() {
            let allowed = match i {
                0..=5 => ch.is_ascii_uppercase() || ch.is_ascii_digit(),
                6..=20 => ch.is_ascii_digit() || ('A'..='F').contains(&ch),
                _ => ch.is_ascii_digit(),
            };
            if !allowed {
                return Err(IdError::Char {
                    kind,
                    position: i + 1,
                    ch,
                    allowed: match i {
                        0..=5 => "memory ID: 1-9, A-Z",
                        6..=20 => "uppercase hex 0-9, A-F",
                        _ => "check digit 0-9",
                    },
                });
            }
        }
        if s.len() != 22 {
            return Err(IdError::Length {
                kind,
                expected: "22",
                got: s.chars().count(),
                value: s.to_string(),
            });
        }
        let memory_id = MemoryId::parse(&s[..6])?;
        // Both slices are hex by the loop above and short enough to fit.
        let day = u32::from_str_radix(&s[6..11], 16)
            .map_err(|_| range_error("day", &s[6..11], MAX_DAY))?;
        let serial = u64::from_str_radix(&s[11..21], 16)
            .map_err(|_| range_error("serial", &s[11..21], MAX_SERIAL))?;
        let found_check = s.as_bytes()[21] - b'0';
        Ok(UncheckedTaxId {
            parts: TaxIdParts {
                memory_id,
                day_since_epoch: day,
                serial,
            },
            found_check,
        })
    }

    /// The parts of this tax ID.
    pub fn decode(&self) -> TaxIdParts {
        let s = &self.0;
        TaxIdParts {
            // Verified at construction.
            memory_id: MemoryId::parse(&s[..6]).unwrap_or_else(|_| unreachable_memory_id()),
            day_since_epoch: u32::from_str_radix(&s[6..11], 16).unwrap_or(0),
            serial: u64::from_str_radix(&s[11..21], 16).unwrap_or(0),
        }
    }

    /// The tax ID's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The serial slice `taxid[11..21]`, which `inno` must equal (case-insensitively).
    pub fn inno(&self) -> &str {
        &self.0[11..21]
    }

    /// The memory ID slice `taxid[0..6]`.
    pub fn memory_id_str(&self) -> &str {
        &self.0[..6]
    }

    /// Whether `indatim_ms` falls on this tax ID's UTC day.
    pub fn day_matches(&self, indatim_ms: i64) -> bool {
        i64::from(self.decode().day_since_epoch) == day_of(indatim_ms)
    }
}

#[cold]
fn unreachable_memory_id() -> MemoryId {
    // A TaxId is only built from a parsed MemoryId or a verified string.
    MemoryId::parse("A11216").unwrap_or_else(|_| unreachable!("constant memory ID is valid"))
}

impl fmt::Display for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TaxId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl AsRef<str> for TaxId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for TaxId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TaxId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verhoeff_known_values() {
        assert_eq!(verhoeff_check_digit("123"), Some(3));
        assert!(verhoeff_validate("686970571720184630000000000122"));
        assert!(!verhoeff_validate("686970571720184630000000081737"));
        assert!(!verhoeff_validate("686970571720184630025726134092"));
        assert_eq!(verhoeff_check_digit("12a"), None);
        assert!(!verhoeff_validate(""));
    }

    #[test]
    fn official_example_round_trip() {
        let m = MemoryId::parse("A11216").unwrap();
        let t = TaxId::generate(&m, 1_683_997_837_988, 49_321_217).unwrap();
        assert_eq!(t.as_str(), "A1121604C220002F095011");
        assert_eq!(t.inno(), "0002F09501");
        let p = t.decode();
        assert_eq!(p.day_since_epoch, 19490);
        assert_eq!(p.serial, 49_321_217);
        assert!(t.day_matches(1_683_997_837_988));
        assert_eq!(TaxId::parse("A1121604C220002F095011").unwrap(), t);
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let m = MemoryId::parse("A11216").unwrap();
        assert!(TaxId::generate(&m, 0, MAX_SERIAL + 1).is_err());
        assert!(TaxId::generate(&m, -1, 1).is_err());
        assert!(TaxId::generate(&m, i64::MAX, 1).is_err());
        assert!(TaxId::generate(&m, 0, MAX_SERIAL).is_ok());
    }

    #[test]
    fn parse_rejects_bad_format() {
        for bad in [
            "",
            "A1121604C220002F09501",
            "A1121604C220002F0950111",
            "a1121604C220002F095011",
            "A1121604c220002F095011",
            "A1121604C220002F09501X",
            "A1121604G220002F095011",
            "A1I21604C220002F095011",
            "A11216۰4C220002F095011",
        ] {
            assert!(TaxId::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            TaxId::parse("A278W604C8000000004744"),
            Err(IdError::Checksum { .. })
        ));
        let u = TaxId::parse_unchecked("A278W604C8000000004744").unwrap();
        assert_eq!(u.found_check, 4);
        assert_eq!(u.parts.check_digit(), 7);
    }

    #[test]
    fn inno_is_ten_uppercase_hex() {
        assert_eq!(inno_for_serial(49_321_217), "0002F09501");
        assert_eq!(inno_for_serial(0), "0000000000");
        assert_eq!(inno_for_serial(MAX_SERIAL), "FFFFFFFFFF");
    }

    #[test]
    fn day_is_utc_floor() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(MS_PER_DAY - 1), 0);
        assert_eq!(day_of(MS_PER_DAY), 1);
        assert_eq!(day_of(-1), -1);
    }
}
