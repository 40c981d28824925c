//! The server's own reading of a 22-character tax ID (RC_DCPS.SN_V01.3): memory ID, issue day,
//! serial and Verhoeff check digit. Written independently of the client's `invoice::taxid` so a
//! mistake in one cannot hide the same mistake in the other.

/// A decoded tax ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedTaxId {
    pub memory_id: String,
    /// Days since 1970-01-01 (UTC) of the issue time.
    pub days: u64,
    pub serial: u64,
}

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

/// The Verhoeff check digit of a decimal string (`None` if it has a non-digit).
pub fn verhoeff(digits: &str) -> Option<u8> {
    let mut c = 0u8;
    for (i, ch) in digits.bytes().rev().enumerate() {
        if !ch.is_ascii_digit() {
            return None;
        }
        c = D[c as usize][P[(i + 1) % 8][(ch - b'0') as usize] as usize];
    }
    Some(INV[c as usize])
}

/// Letters of the memory ID become their ASCII codes, digits stay.
fn decimal_memory_id(m: &str) -> String {
    m.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                c.to_string()
            } else {
                (c as u32).to_string()
            }
        })
        .collect()
}

/// Decodes and checks a tax ID; `Err` says what is wrong (for the message of 0300101).
pub fn decode(taxid: &str) -> Result<DecodedTaxId, String> {
    let t = taxid.trim();
    if t.len() != 22 || !t.is_ascii() {
        return Err(format!("taxid must be 22 characters, got {}", t.len()));
    }
    let memory_id = t[..6].to_ascii_uppercase();
    let days = u64::from_str_radix(&t[6..11], 16).map_err(|_| "day part is not hex".to_string())?;
    let serial =
        u64::from_str_radix(&t[11..21], 16).map_err(|_| "serial part is not hex".to_string())?;
    let check = t.as_bytes()[21];
    let control = format!("{}{:06}{:012}", decimal_memory_id(&memory_id), days, serial);
    match verhoeff(&control) {
        Some(d) if d + b'0' == check => Ok(DecodedTaxId {
            memory_id,
            days,
            serial,
        }),
        _ => Err("check digit does not match".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/vectors/taxid.json"
        );
        let text =
            std::fs::read_to_string(path).expect("vector file tests/data/vectors/taxid.json");
        serde_json::from_str(&text).expect("taxid.json is JSON")
    }

    #[test]
    fn official_vectors_decode() {
        let v = vectors();
        for case in v["vectors"].as_array().unwrap() {
            let taxid = case["taxid"].as_str().unwrap();
            let d = decode(taxid).unwrap_or_else(|e| panic!("{taxid}: {e}"));
            assert_eq!(d.memory_id, case["memory_id"].as_str().unwrap());
            assert_eq!(d.serial, case["serial"].as_u64().unwrap());
            if let Some(ms) = case["indatim"].as_u64() {
                assert_eq!(d.days, ms / 86_400_000);
            }
        }
        for case in v["invalid"].as_array().unwrap() {
            assert!(decode(case["taxid"].as_str().unwrap()).is_err());
        }
    }
}
