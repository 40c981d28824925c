//! The text encoding of a CSV file. Never guessed silently:
//!
//! * valid UTF-8 (with or without a byte-order mark) is UTF-8;
//! * a UTF-16 byte-order mark makes it UTF-16 (Excel's «Unicode Text»), little- or big-endian;
//! * otherwise Windows-1256 (Excel's plain «CSV» on a Persian Windows) only when the *whole*
//!   file decodes to plausible Persian: at least [`PLAUSIBLE_SHARE`] of its non-ASCII letters
//!   are Arabic-script letters, and it holds almost no valid UTF-8 sequences (a UTF-8 file with
//!   one bad byte is not Windows-1256);
//! * otherwise an error naming the line and byte offset of the first byte that is not UTF-8.
//!
//! `--encoding utf-8|windows-1256` overrides the choice; a file that is not valid in the encoding
//! asked for is an error too (UTF-8), and the choice is named in every source of the file.

use crate::lang::Message;

/// Share of non-ASCII characters that must be Arabic-script letters (or the zero-width
/// non-joiner, Persian punctuation) for a non-UTF-8 file to be read as Windows-1256.
pub const PLAUSIBLE_SHARE: f64 = 0.9;

/// An encoding a CSV may be read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CsvEncoding {
    /// UTF-8, with or without a byte-order mark.
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Windows-1256 (Arabic/Persian Windows code page).
    #[value(name = "windows-1256", alias = "cp1256")]
    Windows1256,
    /// UTF-16, little-endian (Excel's «Unicode Text»); a byte-order mark is removed.
    #[value(name = "utf-16le")]
    Utf16Le,
    /// UTF-16, big-endian; a byte-order mark is removed.
    #[value(name = "utf-16be")]
    Utf16Be,
}

impl CsvEncoding {
    /// The name shown in the output.
    pub fn name(self) -> &'static str {
        match self {
            CsvEncoding::Utf8 => "UTF-8",
            CsvEncoding::Windows1256 => "Windows-1256",
            CsvEncoding::Utf16Le => "UTF-16LE",
            CsvEncoding::Utf16Be => "UTF-16BE",
        }
    }
}

/// Why a CSV's bytes could not be turned into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodingError {
    /// 1-based line of the first byte that is not UTF-8.
    pub line: usize,
    /// 0-based byte offset of that byte in the file.
    pub offset: usize,
    /// True when Windows-1256 was considered and refused (not plausible Persian).
    pub tried_1256: bool,
}

impl EncodingError {
    /// What is wrong and what to do (the caller names the file).
    pub fn message(&self) -> Message {
        let Self { line, offset, .. } = self;
        let (fa_hint, en_hint) = if self.tried_1256 {
            (
                "خواندن با Windows-1256 هم متن فارسی معقولی نمی‌دهد. فایل را با UTF-8 ذخیره کنید یا آن بایت را اصلاح کنید؛ اگر مطمئنید، --encoding را بدهید",
                "it does not read as plausible Persian in Windows-1256 either. Save the file as UTF-8 or fix that byte; if you are sure of the encoding, pass --encoding",
            )
        } else {
            (
                "فایل را با UTF-8 ذخیره کنید یا آن بایت را اصلاح کنید",
                "save the file as UTF-8 or fix that byte",
            )
        };
        Message::new(
            format!("سطر {line} (بایت {offset}) UTF-8 معتبر نیست؛ {fa_hint}."),
            format!("line {line} (byte offset {offset}) is not valid UTF-8; {en_hint}."),
        )
    }
}

fn is_persian_letter(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{06FF}' | '\u{200C}' | '\u{00A0}' | '\u{00AB}' | '\u{00BB}'
    )
}

/// Number of well-formed multi-byte UTF-8 sequences in `bytes` (what a UTF-8 file is made of,
/// and what Windows-1256 text almost never forms by chance).
fn utf8_multibyte_sequences(mut bytes: &[u8]) -> usize {
    let mut n = 0;
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => return n + s.chars().filter(|c| c.len_utf8() > 1).count(),
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                // `good` is valid UTF-8 by construction.
                n += std::str::from_utf8(good)
                    .map(|s| s.chars().filter(|c| c.len_utf8() > 1).count())
                    .unwrap_or(0);
                let skip = e.error_len().unwrap_or(rest.len()).max(1);
                bytes = &rest[skip.min(rest.len())..];
            }
        }
    }
}

/// Whether the Windows-1256 reading of `bytes` (not UTF-8) looks like Persian text.
fn plausible_1256(bytes: &[u8], decoded: &str) -> bool {
    let non_ascii: Vec<char> = decoded.chars().filter(|c| !c.is_ascii()).collect();
    if non_ascii.is_empty() {
        return false;
    }
    let persian = non_ascii.iter().filter(|c| is_persian_letter(**c)).count();
    let share = persian as f64 / non_ascii.len() as f64;
    // A Persian UTF-8 file has two bytes per letter, every pair a valid sequence; a file with
    // as many valid UTF-8 sequences as a twentieth of its non-ASCII bytes is UTF-8 damaged.
    let sequences = utf8_multibyte_sequences(bytes);
    share >= PLAUSIBLE_SHARE && sequences * 20 < non_ascii.len()
}

fn first_bad(bytes: &[u8], e: &std::str::Utf8Error, tried_1256: bool) -> EncodingError {
    let offset = e.valid_up_to();
    let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    EncodingError {
        line,
        offset,
        tried_1256,
    }
}

/// Decodes a CSV's bytes, with the encoding used. A UTF-8 byte-order mark is removed.
pub fn decode(
    bytes: Vec<u8>,
    forced: Option<CsvEncoding>,
) -> Result<(String, CsvEncoding), EncodingError> {
    let utf16 = |enc: &'static encoding_rs::Encoding, bytes: &[u8]| {
        let (text, _) = enc.decode_with_bom_removal(bytes);
        text.into_owned()
    };
    match forced {
        // (encoding_rs's plain `decode` would follow a byte-order mark instead.)
        Some(CsvEncoding::Windows1256) => {
            let (text, _) = encoding_rs::WINDOWS_1256.decode_without_bom_handling(&bytes);
            return Ok((text.into_owned(), CsvEncoding::Windows1256));
        }
        Some(CsvEncoding::Utf16Le) => {
            return Ok((utf16(encoding_rs::UTF_16LE, &bytes), CsvEncoding::Utf16Le))
        }
        Some(CsvEncoding::Utf16Be) => {
            return Ok((utf16(encoding_rs::UTF_16BE, &bytes), CsvEncoding::Utf16Be))
        }
        Some(CsvEncoding::Utf8) | None => {}
    }
    if forced.is_none() {
        match encoding_rs::Encoding::for_bom(&bytes) {
            Some((enc, _)) if enc == encoding_rs::UTF_16LE => {
                return Ok((utf16(enc, &bytes), CsvEncoding::Utf16Le))
            }
            Some((enc, _)) if enc == encoding_rs::UTF_16BE => {
                return Ok((utf16(enc, &bytes), CsvEncoding::Utf16Be))
            }
            _ => {}
        }
    }
    let bad = std::str::from_utf8(&bytes).err();
    let Some(e) = bad else {
        let mut text = String::from_utf8(bytes).unwrap_or_default();
        if text.starts_with('\u{feff}') {
            text.drain(..3);
        }
        return Ok((text, CsvEncoding::Utf8));
    };
    if forced == Some(CsvEncoding::Utf8) {
        return Err(first_bad(&bytes, &e, false));
    }
    let (text, _) = encoding_rs::WINDOWS_1256.decode_without_bom_handling(&bytes);
    if plausible_1256(&bytes, &text) {
        return Ok((text.into_owned(), CsvEncoding::Windows1256));
    }
    Err(first_bad(&bytes, &e, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp1256(s: &str) -> Vec<u8> {
        encoding_rs::WINDOWS_1256.encode(s).0.into_owned()
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let (t, e) = decode("شرح,مبلغ\n".as_bytes().to_vec(), None).unwrap();
        assert_eq!((t.as_str(), e), ("شرح,مبلغ\n", CsvEncoding::Utf8));
        let mut b = b"\xEF\xBB\xBF".to_vec();
        b.extend_from_slice("شرح\n".as_bytes());
        assert_eq!(decode(b, None).unwrap().0, "شرح\n");
    }

    /// A file that starts with a UTF-16 byte-order mark (Excel's «Unicode Text») is read and
    /// named as UTF-16, never as Windows-1256.
    #[test]
    fn utf16_with_a_byte_order_mark_is_utf16() {
        let text = "شرح,مبلغ\nپیچ,1000\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(
            decode(le, None).unwrap(),
            (text.into(), CsvEncoding::Utf16Le)
        );
        assert_eq!(
            decode(be, None).unwrap(),
            (text.into(), CsvEncoding::Utf16Be)
        );
        assert_eq!(CsvEncoding::Utf16Le.name(), "UTF-16LE");
    }

    #[test]
    fn windows_1256_persian_is_read_as_such() {
        let (t, e) = decode(cp1256("شرح,مبلغ واحد\nپيچ,1000\n"), None).unwrap();
        assert_eq!(e, CsvEncoding::Windows1256);
        assert_eq!(t, "شرح,مبلغ واحد\nپيچ,1000\n");
    }

    #[test]
    fn utf8_with_one_bad_byte_is_an_error_with_line_and_offset() {
        let mut b = "sstt,fee\nپیچ و مهره,1000\nواشر فلزی".as_bytes().to_vec();
        let at = b.len();
        b.push(0xFF);
        b.extend_from_slice(",2000\n".as_bytes());
        let e = decode(b, None).unwrap_err();
        assert_eq!((e.line, e.offset), (3, at));
        assert!(e.tried_1256);
        let m = e.message();
        assert!(m.en.contains("line 3") && m.en.contains(&format!("byte offset {at}")));
    }

    #[test]
    fn latin1_text_is_not_plausible_persian() {
        assert!(decode(b"name\ncaf\xE9 cr\xE8me\n".to_vec(), None).is_err());
    }

    #[test]
    fn forced_encoding_overrides() {
        let b = "شرح\n".as_bytes().to_vec();
        assert_eq!(
            decode(b.clone(), Some(CsvEncoding::Windows1256)).unwrap().1,
            CsvEncoding::Windows1256
        );
        let e = decode(cp1256("شرح\n"), Some(CsvEncoding::Utf8)).unwrap_err();
        assert!(!e.tried_1256);
        assert_eq!(e.offset, 0);
    }
}
