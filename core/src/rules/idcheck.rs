//! Allocation-free checks of identifiers as the rules engine needs them on raw JSON strings:
//! the tax ID's Verhoeff digit and parts (RC_DCPS.SN_V1.3), the memory-ID alphabet, the
//! national code (کد ملی) and the legal national ID (شناسه ملی) check digits.
//!
//! The typed identifiers of `crate::invoice` reject bad values at construction; the engine works
//! on `serde_json::Value` and must report every problem at once, so it needs these predicates on
//! `&str`, fast and without building the types.

/// The decoded parts of a tax ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxIdParts<'a> {
    pub memory_id: &'a str,
    /// Days since 1970-01-01 (UTC).
    pub day: u64,
    pub serial: u64,
    pub check: u8,
}

/// Splits a 22-character tax ID into its parts (no check-digit verification).
pub fn taxid_parts(t: &str) -> Option<TaxIdParts<'_>> {
    if t.len() != 22 || !t.is_ascii() {
        return None;
    }
    let day = u64::from_str_radix(&t[6..11], 16).ok()?;
    let serial = u64::from_str_radix(&t[11..21], 16).ok()?;
    let check = t.as_bytes()[21].checked_sub(b'0').filter(|c| *c < 10)?;
    Some(TaxIdParts {
        memory_id: &t[..6],
        day,
        serial,
        check,
    })
}

/// Verhoeff check digit over the decimal control string of (memory ID, day, serial):
/// letters become their ASCII codes, the day is padded to 6 and the serial to 12 digits.
pub fn taxid_check_digit(memory_id: &str, day: u64, serial: u64) -> Option<u8> {
    // Build the control digits in a fixed buffer, most significant first.
    let mut buf = [0u8; 64];
    let mut n = 0;
    for b in memory_id.bytes() {
        if b.is_ascii_digit() {
            buf[n] = b - b'0';
            n += 1;
        } else if b.is_ascii_uppercase() {
            buf[n] = b / 10;
            buf[n + 1] = b % 10;
            n += 2;
        } else {
            return None;
        }
    }
    // Decimal day padded to at least 6 digits, serial to at least 12 (wider values keep all
    // their digits, as `format!("{:06}")` does).
    for (v, width) in [(day, 6usize), (serial, 12usize)] {
        let mut digits = [0u8; 20];
        let mut len = 0;
        let mut x = v;
        while x > 0 || len < width {
            digits[len] = (x % 10) as u8;
            x /= 10;
            len += 1;
        }
        if n + len > buf.len() {
            return None;
        }
        for &dgt in digits[..len].iter().rev() {
            buf[n] = dgt;
            n += 1;
        }
    }
    Some(crate::invoice::taxid::verhoeff_check_digit_of(
        buf[..n].iter().copied(),
    ))
}

/// Whether a tax ID has the right shape and check digit.
pub fn taxid_valid(t: &str) -> bool {
    match taxid_parts(t) {
        Some(p) => taxid_check_digit(p.memory_id, p.day, p.serial) == Some(p.check),
        None => false,
    }
}

/// Whether a memory ID uses only the allowed alphabet (RC_DCPS.SN §3-1-1): digits 1–9 and
/// letters other than I, J, L, Q, V.
pub fn memory_id_allowed(m: &str) -> bool {
    m.len() == 6
        && m.bytes()
            .all(|b| matches!(b, b'1'..=b'9') || (b.is_ascii_uppercase() && !b"IJLQV".contains(&b)))
}

/// Iranian national code (کد ملی, 10 digits) check digit; all-same-digit codes are invalid.
pub fn national_code_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) || b.iter().all(|&x| x == b[0]) {
        return false;
    }
    let sum: u32 = (0..9).map(|i| (b[i] - b'0') as u32 * (10 - i as u32)).sum();
    let r = sum % 11;
    let check = if r < 2 { r } else { 11 - r };
    check == (b[9] - b'0') as u32
}

/// Legal-entity national ID (شناسه ملی, 11 digits) check digit.
pub fn legal_id_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 10] = [29, 27, 23, 19, 17, 29, 27, 23, 19, 17];
    let dd = (b[9] - b'0') as u32 + 2;
    let sum: u32 = (0..10).map(|i| ((b[i] - b'0') as u32 + dd) * W[i]).sum();
    let r = sum % 11;
    let r = if r == 10 { 0 } else { r };
    r == (b[10] - b'0') as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_taxid_vectors() {
        for t in [
            "DEF5GH0481F000000000C2",
            "DEF5GH0481F0000001FED8",
            "DEF5GH0481F009956F7211",
            "A1121604C220002F095011",
            "A38MRA0509200000001C76",
        ] {
            assert!(taxid_valid(t), "{t}");
        }
        assert!(!taxid_valid("A278W604C8000000004744"));
        let p = taxid_parts("A1121604C220002F095011").expect("parts");
        assert_eq!((p.day, p.serial), (19490, 49321217));
    }

    #[test]
    fn national_ids() {
        assert!(national_code_valid("0922356742"));
        assert!(national_code_valid("0010532129"));
        assert!(!national_code_valid("0012345678"));
        assert!(!national_code_valid("1111111111"));
        assert!(legal_id_valid("10100302746"));
        assert!(legal_id_valid("14003778990"));
        assert!(!legal_id_valid("12345678901"));
        assert!(memory_id_allowed("A11216"));
        assert!(!memory_id_allowed("A1I216"));
    }
}
