//! How input files are read: the CSV encoding (when not detected) and the limits that keep a
//! hostile or broken file from taking the machine's memory. Every limit has a documented
//! default and a command-line flag (`validate`, `enqueue`, `submit`) to raise it.

use super::encoding::CsvEncoding;

/// Default largest input file read as a whole (a JSON object, CSV, XLSX), and largest line of
/// JSON Lines or invoice of a JSON array: 32 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 32 << 20;
/// Default largest total of an XLSX's decompressed parts: 100 MiB.
pub const DEFAULT_MAX_XLSX_BYTES: u64 = 100 << 20;
/// Default largest number of cells of one XLSX workbook: 1,000,000.
pub const DEFAULT_MAX_CELLS: u64 = 1_000_000;
/// Default longest value of one field, in characters: 1,000. The longest V7.8 field (`sstt`,
/// the goods/service description) is 400 characters; the rules check each field's own limit,
/// this bound only keeps megabyte-long values out of the pipeline.
pub const DEFAULT_MAX_FIELD_CHARS: usize = 1000;
/// How much of an offending value an error shows, in characters.
pub const SHOWN_CHARS: usize = 200;

/// Options for reading input files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The CSV encoding, when given (`--encoding`); detected otherwise.
    pub encoding: Option<CsvEncoding>,
    pub max_file_bytes: u64,
    pub max_xlsx_bytes: u64,
    pub max_cells: u64,
    pub max_field_chars: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            encoding: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_xlsx_bytes: DEFAULT_MAX_XLSX_BYTES,
            max_cells: DEFAULT_MAX_CELLS,
            max_field_chars: DEFAULT_MAX_FIELD_CHARS,
        }
    }
}

/// The command-line face of [`ReadOptions`].
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Encoding of CSV files (detected when unset: UTF-8; UTF-16 after its byte-order mark; or
    /// Windows-1256 when the whole file is plausible Persian in it).
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub encoding: Option<CsvEncoding>,
    /// Largest input file read as a whole (a JSON object, CSV, XLSX), and largest JSON Lines
    /// line or invoice of a JSON array (those are streamed: their files may be any size), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_FILE_BYTES >> 20)]
    pub max_file_mib: u64,
    /// Largest total decompressed size of an XLSX workbook, and largest total of the text its
    /// cells hold (a shared string counts once per cell that shows it), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_XLSX_BYTES >> 20)]
    pub max_xlsx_mib: u64,
    /// Largest number of cells of an XLSX workbook.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CELLS)]
    pub max_cells: u64,
    /// Longest value of one field, in characters.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FIELD_CHARS)]
    pub max_field_chars: usize,
}

impl InputArgs {
    pub fn options(&self) -> ReadOptions {
        ReadOptions {
            encoding: self.encoding,
            max_file_bytes: self.max_file_mib.saturating_mul(1 << 20),
            max_xlsx_bytes: self.max_xlsx_mib.saturating_mul(1 << 20),
            max_cells: self.max_cells,
            max_field_chars: self.max_field_chars,
        }
    }
}

/// At most [`SHOWN_CHARS`] characters of `s`, with how much was left out.
pub fn clip(s: &str) -> String {
    clip_to(s, SHOWN_CHARS)
}

/// At most `n` characters of `s`, followed by `… (N more characters)` when cut.
/// Control characters are shown escaped (`\u{1b}`), never raw.
pub fn clip_to(s: &str, n: usize) -> String {
    let shown = |t: &str| crate::lang::escape_controls(t).into_owned();
    match s.char_indices().nth(n) {
        None => shown(s),
        Some((i, _)) => {
            let more = s[i..].chars().count();
            format!("{}… ({more} more characters)", shown(&s[..i]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping() {
        assert_eq!(clip_to("abc", 5), "abc");
        assert_eq!(clip_to("abcdef", 3), "abc… (3 more characters)");
        assert_eq!(clip_to("پیچپیچ", 3), "پیچ… (3 more characters)");
        assert!(clip(&"x".repeat(5_000_000)).chars().count() < 240);
        assert_eq!(clip_to("1\u{1b}[2J\u{0}2", 10), "1\\u{1b}[2J\\u{0}2");
    }
}
