//! Loading invoices from files, one at a time: a file holds one invoice object, an array of
//! invoices, or JSON Lines; directories are walked in name order (`*.json`, `*.jsonl`,
//! `*.ndjson`, and spreadsheets `*.xlsx`/`*.csv` through [`crate::import`]).
//!
//! Why streaming: an ERP export can hold hundreds of thousands of invoices; JSON Lines are read
//! line by line so memory stays flat however long the file is. Every invoice carries where it
//! came from (`path#index`), and a file or line that cannot be read becomes an error *of that
//! file or line* with its line and column, never a crash and never a silent skip.
//!
//! The values are returned as read (`serde_json::Value` with exact numbers and the keys as
//! written, e.g. a capitalised `Indati2m`), so the rules engine can warn about what it sees.

pub use crate::import::encoding::CsvEncoding;
use crate::import::limits::clip;
pub use crate::import::limits::{InputArgs, ReadOptions};
use array::ArrayStream;
use readers::{LineReader, Step, StreamReader};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

mod array;
mod checks;
mod error;
mod invoices;
mod readers;

pub use error::LoadError;
pub use invoices::{Invoices, Next, TextInvoice};

/// One invoice read from a file: where it came from and its JSON, or why it could not be read.
#[derive(Debug)]
pub struct LoadedInvoice {
    /// `path#index` (0-based ordinal of the invoice in its file), or `path` for an error of the
    /// whole file, or what the spreadsheet importer names (`file.xlsx#sheet!row`).
    pub source: String,
    pub value: Result<serde_json::Value, LoadError>,
}

/// File kinds the loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One invoice per line, streamed.
    Lines,
    /// `.json` (or an unknown extension given explicitly): object, array or lines, sniffed.
    Json,
    /// `.xlsx` / `.csv`: handed to the spreadsheet importer.
    Spreadsheet,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" => Some(Kind::Lines),
        "json" => Some(Kind::Json),
        "xlsx" | "csv" => Some(Kind::Spreadsheet),
        _ => None,
    }
}

/// Reads every invoice under `paths` (files and directories), lazily and in order, with the
/// default [`ReadOptions`].
pub fn load_paths(paths: &[PathBuf]) -> impl Iterator<Item = LoadedInvoice> {
    load_paths_with(paths, ReadOptions::default())
}

/// [`load_paths`] with the given CSV encoding and limits.
pub fn load_paths_with(paths: &[PathBuf], opts: ReadOptions) -> Invoices {
    Invoices {
        max_field: opts.max_field_chars,
        loader: Loader {
            pending: paths.iter().cloned().map(Pending::Given).collect(),
            current: None,
            opts,
        },
    }
}

/// Reads the invoices of an in-memory document (e.g. standard input), named `name`.
pub fn load_bytes(name: &str, bytes: Vec<u8>) -> impl Iterator<Item = LoadedInvoice> {
    let opts = ReadOptions::default();
    let max_field = opts.max_field_chars;
    let size = Some(bytes.len() as u64);
    Source::sniff(name.to_string(), Box::new(Cursor::new(bytes)), &opts, size)
        .map(move |l| limit_fields(l, max_field))
}

/// An invoice with a value longer than `max` characters becomes an error naming the field.
fn limit_fields(mut l: LoadedInvoice, max: usize) -> LoadedInvoice {
    if let Ok(v) = &l.value {
        if let Some((field, length)) = checks::too_long(v, max) {
            l.value = Err(LoadError::FieldTooLong {
                path: l.source.clone(),
                field: clip(&field),
                length,
                limit: max,
            });
        }
    }
    l
}

enum Pending {
    /// Named on the command line: read whatever it is.
    Given(PathBuf),
    /// Found while walking a directory (already filtered by extension).
    Found(PathBuf, Kind),
}

struct Loader {
    pending: VecDeque<Pending>,
    current: Option<Source>,
    opts: ReadOptions,
}

impl Iterator for Loader {
    type Item = LoadedInvoice;

    fn next(&mut self) -> Option<LoadedInvoice> {
        loop {
            if let Some(src) = self.current.as_mut() {
                if let Some(item) = src.next() {
                    return Some(item);
                }
                self.current = None;
            }
            if !self.open_next() {
                return None;
            }
        }
    }
}

impl Loader {
    /// Like `next`, but a JSON Lines line is left in its reader (`Step::Line`) to be parsed
    /// from there.
    fn step(&mut self) -> Option<Step> {
        loop {
            match self.current.as_mut() {
                Some(Source::Lines(r)) => {
                    if let Some(step) = r.advance() {
                        return Some(step);
                    }
                }
                Some(Source::Array(r)) => {
                    if let Some(step) = r.advance() {
                        return Some(step);
                    }
                }
                Some(src) => {
                    if let Some(item) = src.next() {
                        return Some(Step::Item(item));
                    }
                }
                None => {}
            }
            self.current = None;
            if !self.open_next() {
                return None;
            }
        }
    }

    /// Opens the next pending path as the current source; false when none is left.
    fn open_next(&mut self) -> bool {
        let Some(next) = self.pending.pop_front() else {
            return false;
        };
        match next {
            Pending::Given(path) => {
                if path.is_dir() {
                    self.expand_dir(&path);
                } else if path.as_os_str() == "-" {
                    self.current = Some(Source::stdin(&self.opts));
                } else {
                    let kind = kind_of(&path).unwrap_or(Kind::Json);
                    self.current = Some(Source::open(&path, kind, &self.opts));
                }
            }
            Pending::Found(path, kind) => {
                self.current = Some(Source::open(&path, kind, &self.opts))
            }
        }
        true
    }
}

impl Loader {
    /// Queues the readable files under `dir` (sorted), in front of what was pending. Links
    /// are followed (a linked file is read like any other); one that leads nowhere or round
    /// in a loop is an error naming it.
    fn expand_dir(&mut self, dir: &Path) {
        let mut found = Vec::new();
        let mut errors = VecDeque::new();
        for entry in walkdir::WalkDir::new(dir)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    if let Some(kind) = kind_of(e.path()) {
                        found.push(Pending::Found(e.into_path(), kind));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let path = e
                        .path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| dir.display().to_string());
                    errors.push_back(LoadedInvoice {
                        source: path.clone(),
                        value: Err(LoadError::Io {
                            path,
                            message: e.to_string(),
                        }),
                    });
                }
            }
        }
        for p in found.into_iter().rev() {
            self.pending.push_front(p);
        }
        if !errors.is_empty() {
            self.current = Some(Source::Ready(errors));
        }
    }
}

/// Where the invoices of one file come from.
enum Source {
    /// Already read (spreadsheets, single objects, errors).
    Ready(VecDeque<LoadedInvoice>),
    /// JSON Lines, streamed from a reader.
    Lines(LineReader),
    /// A JSON array, streamed element by element.
    Array(ArrayStream),
    /// Concatenated (pretty-printed) JSON values held as text.
    Stream(StreamReader),
}

impl Iterator for Source {
    type Item = LoadedInvoice;
    fn next(&mut self) -> Option<LoadedInvoice> {
        match self {
            Source::Ready(q) => q.pop_front(),
            Source::Lines(r) => r.next(),
            Source::Array(r) => r.next(),
            Source::Stream(r) => r.next(),
        }
    }
}

fn too_large(path: &str, line: Option<usize>, limit: u64) -> Source {
    Source::Ready(VecDeque::from([LoadedInvoice {
        source: path.to_string(),
        value: Err(LoadError::TooLarge {
            path: path.to_string(),
            line,
            limit,
        }),
    }]))
}

fn io_error(path: &str, e: &std::io::Error) -> Source {
    Source::Ready(VecDeque::from([LoadedInvoice {
        source: path.to_string(),
        value: Err(LoadError::Io {
            path: path.to_string(),
            message: e.to_string(),
        }),
    }]))
}

impl Source {
    fn open(path: &Path, kind: Kind, opts: &ReadOptions) -> Source {
        let name = path.display().to_string();
        // A spreadsheet is read as a whole: refused before reading when it is too large (JSON
        // Lines and arrays are streamed, each invoice bounded instead; a JSON file that is
        // neither is checked in `sniff`).
        let size = std::fs::metadata(path).ok().map(|m| m.len());
        if kind == Kind::Spreadsheet && size.is_some_and(|n| n > opts.max_file_bytes) {
            return too_large(&name, None, opts.max_file_bytes);
        }
        match kind {
            Kind::Spreadsheet => Source::Ready(
                crate::import::load_file_opts(path, opts)
                    .into_iter()
                    .map(|imp| LoadedInvoice {
                        source: imp.source,
                        value: imp.value.map_err(LoadError::Import),
                    })
                    .collect(),
            ),
            Kind::Lines => match File::open(path) {
                Ok(f) => Source::Lines(LineReader::new(
                    name,
                    Box::new(BufReader::with_capacity(1 << 16, f)),
                    opts.max_file_bytes,
                )),
                Err(e) => io_error(&name, &e),
            },
            Kind::Json => match File::open(path) {
                Ok(f) => Source::sniff(
                    name,
                    Box::new(BufReader::with_capacity(1 << 16, f)),
                    opts,
                    size,
                ),
                Err(e) => io_error(&name, &e),
            },
        }
    }

    fn stdin(opts: &ReadOptions) -> Source {
        Source::sniff(
            "-".to_string(),
            Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
            opts,
            None,
        )
    }

    /// Looks at the start: `[` means an array, streamed element by element; otherwise a first
    /// non-blank line that is a complete JSON value means JSON Lines (streamed, each line on
    /// its own, so one bad line does not hide the rest); otherwise the whole document is read
    /// (pretty-printed objects), bounded by the file limit (`size`, when known, refuses it
    /// before reading).
    fn sniff(
        name: String,
        mut reader: Box<dyn BufRead>,
        opts: &ReadOptions,
        size: Option<u64>,
    ) -> Source {
        let max = opts.max_file_bytes;
        // Leading whitespace (and a UTF-8 byte order mark: Windows exports), counted so that
        // positions stay right: whole blank lines, and what precedes the first byte on its line.
        let mut blank_lines = 0usize;
        let mut lead: Vec<u8> = Vec::new();
        let mut at_start = true;
        let first = loop {
            let chunk = match reader.fill_buf() {
                Ok(c) => c,
                Err(e) => return io_error(&name, &e),
            };
            if std::mem::take(&mut at_start) && chunk.starts_with(b"\xEF\xBB\xBF") {
                reader.consume(3);
                continue;
            }
            let Some(&b) = chunk.first() else {
                break None;
            };
            let n = chunk.iter().take_while(|b| b.is_ascii_whitespace()).count();
            if n == 0 {
                break Some(b);
            }
            for &c in &chunk[..n] {
                if c == b'\n' {
                    blank_lines += 1;
                    lead.clear();
                } else {
                    lead.push(c);
                }
            }
            reader.consume(n);
            if lead.len() as u64 > max {
                return too_large(&name, None, max);
            }
        };
        if first == Some(b'[') {
            let at = (blank_lines + 1, lead.len() + 1);
            return Source::Array(ArrayStream::new(name, reader, at, max));
        }
        let Some(_) = first else {
            return Source::Ready(VecDeque::from([LoadedInvoice {
                source: name.clone(),
                value: Err(LoadError::Empty { path: name }),
            }]));
        };
        let mut first_line = lead;
        let room = (max + 1).saturating_sub(first_line.len() as u64);
        match (&mut reader).take(room).read_until(b'\n', &mut first_line) {
            Ok(_) if first_line.len() as u64 > max => return too_large(&name, None, max),
            Ok(_) => {}
            Err(e) => return io_error(&name, &e),
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(&first_line).is_ok() {
            let mut lines =
                LineReader::new(name, Box::new(Cursor::new(first_line).chain(reader)), max);
            lines.line_no = blank_lines;
            return Source::Lines(lines);
        }
        // Not JSON Lines: the document is read whole, so its size is bounded.
        if size.is_some_and(|n| n > max) {
            return too_large(&name, None, max);
        }
        // Keep positions: the skipped blank lines become newlines again.
        let mut bytes = vec![b'\n'; blank_lines];
        bytes.extend_from_slice(&first_line);
        let room = (max + 1).saturating_sub(bytes.len() as u64);
        if let Err(e) = reader.take(room).read_to_end(&mut bytes) {
            return io_error(&name, &e);
        }
        if bytes.len() as u64 > max {
            return too_large(&name, None, max);
        }
        Source::from_json_bytes(name, bytes)
    }

    /// A whole JSON document: an array, one object, or several values one after another.
    fn from_json_bytes(name: String, mut bytes: Vec<u8>) -> Source {
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let Some(first) = first else {
            return Source::Ready(VecDeque::from([LoadedInvoice {
                source: name.clone(),
                value: Err(LoadError::Empty { path: name }),
            }]));
        };
        let _ = first;
        Source::Stream(StreamReader {
            name,
            text: bytes,
            pos: 0,
            index: 0,
            done: false,
        })
    }
}

#[cfg(test)]
mod tests;
