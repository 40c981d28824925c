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

use crate::lang::Message;
use serde::de::IgnoredAny;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

/// One invoice read from a file: where it came from and its JSON, or why it could not be read.
#[derive(Debug)]
pub struct LoadedInvoice {
    /// `path#index` (0-based ordinal of the invoice in its file), or `path` for an error of the
    /// whole file, or what the spreadsheet importer names (`file.xlsx#sheet!row`).
    pub source: String,
    pub value: Result<serde_json::Value, LoadError>,
}

/// Why an invoice (or a whole file) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file or directory could not be opened or read.
    #[error("{path}: cannot read: {message}")]
    Io { path: String, message: String },
    /// Not valid JSON at the given position (1-based line and column in the file).
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON, but not an invoice object (e.g. a number or a string).
    #[error("{path}:{line}:{column}: expected an invoice object, found {found}")]
    NotAnInvoice {
        path: String,
        line: usize,
        column: usize,
        found: &'static str,
    },
    /// The file holds no invoice at all.
    #[error("{path}: the file holds no invoice")]
    Empty { path: String },
    /// A spreadsheet row could not be turned into an invoice (the importer's words).
    #[error("{0}")]
    Import(String),
}

impl LoadError {
    /// What went wrong and what to do, in Persian and English.
    pub fn message(&self) -> Message {
        match self {
            LoadError::Io { path, message } => Message::new(
                format!("فایل «{path}» خوانده نشد: {message}. مسیر و دسترسی فایل را بررسی کنید."),
                format!("cannot read {path}: {message}. Check the path and the file's permissions."),
            ),
            LoadError::Syntax {
                path,
                line,
                column,
                message,
            } => Message::new(
                format!(
                    "فایل «{path}» در سطر {line} ستون {column} JSON معتبر نیست ({message}). آن‌جا را اصلاح کنید."
                ),
                format!(
                    "{path} is not valid JSON at line {line}, column {column} ({message}). Fix the text there."
                ),
            ),
            LoadError::NotAnInvoice {
                path,
                line,
                column,
                found,
            } => Message::new(
                format!(
                    "در فایل «{path}» سطر {line} ستون {column} به جای شیء صورتحساب ({{\"header\":…}}) مقدار دیگری ({found}) آمده است."
                ),
                format!(
                    "{path} line {line}, column {column}: expected an invoice object ({{\"header\":…}}), found {found}."
                ),
            ),
            LoadError::Empty { path } => Message::new(
                format!("فایل «{path}» هیچ صورتحسابی ندارد."),
                format!("{path} holds no invoice."),
            ),
            LoadError::Import(m) => Message::new(m.clone(), m.clone()),
        }
    }

    /// Line and column in the file, when the error has a position.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            LoadError::Syntax { line, column, .. }
            | LoadError::NotAnInvoice { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
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

/// Reads every invoice under `paths` (files and directories), lazily and in order.
pub fn load_paths(paths: &[PathBuf]) -> impl Iterator<Item = LoadedInvoice> {
    Loader {
        pending: paths.iter().cloned().map(Pending::Given).collect(),
        current: None,
    }
}

/// Reads the invoices of an in-memory document (e.g. standard input), named `name`.
pub fn load_bytes(name: &str, bytes: Vec<u8>) -> impl Iterator<Item = LoadedInvoice> {
    Source::from_json_bytes(name.to_string(), bytes)
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
            match self.pending.pop_front()? {
                Pending::Given(path) => {
                    if path.is_dir() {
                        self.expand_dir(&path);
                    } else if path.as_os_str() == "-" {
                        self.current = Some(Source::stdin());
                    } else {
                        let kind = kind_of(&path).unwrap_or(Kind::Json);
                        self.current = Some(Source::open(&path, kind));
                    }
                }
                Pending::Found(path, kind) => self.current = Some(Source::open(&path, kind)),
            }
        }
    }
}

impl Loader {
    /// Queues the readable files under `dir` (sorted), in front of what was pending.
    fn expand_dir(&mut self, dir: &Path) {
        let mut found = Vec::new();
        let mut errors = VecDeque::new();
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
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
    /// A JSON array held as text; elements parsed one at a time.
    Array(ArrayReader),
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
    fn open(path: &Path, kind: Kind) -> Source {
        let name = path.display().to_string();
        match kind {
            Kind::Spreadsheet => Source::Ready(
                crate::import::load_file(path)
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
                )),
                Err(e) => io_error(&name, &e),
            },
            Kind::Json => {
                let mut bytes = Vec::new();
                match File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)) {
                    Ok(_) => Source::from_json_bytes(name, bytes),
                    Err(e) => io_error(&name, &e),
                }
            }
        }
    }

    fn stdin() -> Source {
        let mut bytes = Vec::new();
        match std::io::stdin().lock().read_to_end(&mut bytes) {
            Ok(_) => Source::from_json_bytes("-".to_string(), bytes),
            Err(e) => io_error("-", &e),
        }
    }

    /// Sniffs a whole JSON document: an array, one object, or JSON Lines.
    fn from_json_bytes(name: String, mut bytes: Vec<u8>) -> Source {
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            // A UTF-8 byte order mark (Windows exports); positions stay per character.
            bytes.drain(..3);
        }
        let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let Some(first) = first else {
            return Source::Ready(VecDeque::from([LoadedInvoice {
                source: name.clone(),
                value: Err(LoadError::Empty { path: name }),
            }]));
        };
        match bytes[first] {
            b'[' => ArrayReader::start(name, bytes),
            _ => {
                // One value on its first line followed by more → JSON Lines (each line on its
                // own, so one bad line does not hide the rest). Otherwise a stream of values.
                let first_line_end = bytes[first..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|p| first + p);
                let lines = match first_line_end {
                    Some(end) => {
                        serde_json::from_slice::<IgnoredAny>(&bytes[first..end]).is_ok()
                            && bytes[end..].iter().any(|b| !b.is_ascii_whitespace())
                    }
                    None => false,
                };
                if lines {
                    Source::Lines(LineReader::new(name, Box::new(Cursor::new(bytes))))
                } else {
                    Source::Stream(StreamReader {
                        name,
                        text: bytes,
                        pos: 0,
                        index: 0,
                        done: false,
                    })
                }
            }
        }
    }
}

/// The JSON type of a value, for "expected an invoice object, found …".
fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn syntax(path: &str, line: usize, column: usize, e: &serde_json::Error) -> LoadError {
    LoadError::Syntax {
        path: path.to_string(),
        line: line.max(1),
        // serde_json says column 0 for "before the first character" (e.g. end of file).
        column: column.max(1),
        message: strip_position(&e.to_string()),
    }
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// 1-based line and column of byte offset `offset` in `text` (columns count bytes, like
/// serde_json's).
fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

// ---------------------------------------------------------------------------------------------

/// JSON Lines: one invoice per non-blank line, read with a reused buffer.
struct LineReader {
    name: String,
    reader: Box<dyn BufRead>,
    buf: Vec<u8>,
    line_no: usize,
    index: usize,
    done: bool,
}

impl LineReader {
    fn new(name: String, reader: Box<dyn BufRead>) -> Self {
        Self {
            name,
            reader,
            buf: Vec::with_capacity(4096),
            line_no: 0,
            index: 0,
            done: false,
        }
    }
}

impl Iterator for LineReader {
    type Item = LoadedInvoice;

    fn next(&mut self) -> Option<LoadedInvoice> {
        while !self.done {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    if self.index == 0 {
                        return Some(LoadedInvoice {
                            source: self.name.clone(),
                            value: Err(LoadError::Empty {
                                path: self.name.clone(),
                            }),
                        });
                    }
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(LoadedInvoice {
                        source: self.name.clone(),
                        value: Err(LoadError::Io {
                            path: self.name.clone(),
                            message: format!("after line {}: {e}", self.line_no),
                        }),
                    });
                }
            }
            self.line_no += 1;
            let mut line: &[u8] = &self.buf;
            if self.line_no == 1 && line.starts_with(b"\xEF\xBB\xBF") {
                line = &line[3..];
            }
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let source = format!("{}#{}", self.name, self.index);
            self.index += 1;
            let value = match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(v) if v.is_object() => Ok(v),
                Ok(v) => {
                    let col = line.iter().take_while(|b| b.is_ascii_whitespace()).count() + 1;
                    Err(LoadError::NotAnInvoice {
                        path: self.name.clone(),
                        line: self.line_no,
                        column: col,
                        found: type_name(&v),
                    })
                }
                Err(e) => Err(syntax(&self.name, self.line_no, e.column(), &e)),
            };
            return Some(LoadedInvoice { source, value });
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------

/// A JSON array: the whole text is checked once (for exact error positions), then each element
/// is parsed only when asked for.
struct ArrayReader {
    name: String,
    text: Vec<u8>,
    /// Offset just after `[` or after the previous element's `,`.
    pos: usize,
    index: usize,
}

impl ArrayReader {
    fn start(name: String, text: Vec<u8>) -> Source {
        if let Err(e) = serde_json::from_slice::<IgnoredAny>(&text) {
            let err = syntax(&name, e.line(), e.column(), &e);
            return Source::Ready(VecDeque::from([LoadedInvoice {
                source: name,
                value: Err(err),
            }]));
        }
        // Valid JSON starting with '[' (after whitespace): position after the bracket.
        let open = text.iter().position(|&b| b == b'[').unwrap_or(0);
        Source::Array(ArrayReader {
            name,
            text,
            pos: open + 1,
            index: 0,
        })
    }

    /// The byte range of the next element, given valid JSON, and where to continue.
    fn next_range(&self) -> Option<(usize, usize, usize)> {
        let t = &self.text;
        let mut i = self.pos;
        while i < t.len() && t[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= t.len() || t[i] == b']' {
            return None;
        }
        let start = i;
        let mut depth = 0usize;
        let mut in_str = false;
        while i < t.len() {
            let b = t[i];
            if in_str {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_str = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth == 0 => break,
                    b'}' | b']' => depth -= 1,
                    b',' if depth == 0 => break,
                    _ => {}
                }
            }
            i += 1;
        }
        let end = i;
        let next = if i < t.len() && t[i] == b',' {
            i + 1
        } else {
            i
        };
        Some((start, end, next))
    }
}

impl Iterator for ArrayReader {
    type Item = LoadedInvoice;

    fn next(&mut self) -> Option<LoadedInvoice> {
        let (start, end, next) = self.next_range()?;
        self.pos = next;
        let source = format!("{}#{}", self.name, self.index);
        self.index += 1;
        let value = match serde_json::from_slice::<serde_json::Value>(&self.text[start..end]) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(v) => {
                let (line, column) = line_col(&self.text, start);
                Err(LoadError::NotAnInvoice {
                    path: self.name.clone(),
                    line,
                    column,
                    found: type_name(&v),
                })
            }
            Err(e) => {
                let (line, column) = line_col(&self.text, start);
                Err(syntax(&self.name, line, column, &e))
            }
        };
        Some(LoadedInvoice { source, value })
    }
}

// ---------------------------------------------------------------------------------------------

/// One or more JSON values one after another (a single pretty-printed invoice, usually).
/// Reading stops at the first syntax error, which names its line and column.
struct StreamReader {
    name: String,
    text: Vec<u8>,
    pos: usize,
    index: usize,
    done: bool,
}

impl Iterator for StreamReader {
    type Item = LoadedInvoice;

    fn next(&mut self) -> Option<LoadedInvoice> {
        if self.done {
            return None;
        }
        let rest = &self.text[self.pos..];
        let mut stream =
            serde_json::Deserializer::from_slice(rest).into_iter::<serde_json::Value>();
        let item = stream.next();
        let consumed = stream.byte_offset();
        let source = format!("{}#{}", self.name, self.index);
        let value = match item {
            None => {
                self.done = true;
                return None;
            }
            Some(Ok(v)) => {
                let start = self.pos
                    + rest[..consumed]
                        .iter()
                        .position(|b| !b.is_ascii_whitespace())
                        .unwrap_or(0);
                self.pos += consumed;
                if v.is_object() {
                    Ok(v)
                } else {
                    let (line, column) = line_col(&self.text, start);
                    Err(LoadError::NotAnInvoice {
                        path: self.name.clone(),
                        line,
                        column,
                        found: type_name(&v),
                    })
                }
            }
            Some(Err(e)) => {
                self.done = true;
                // Position relative to `rest`; make it absolute in the file.
                let (base_line, base_col) = line_col(&self.text, self.pos);
                let line = base_line + e.line().saturating_sub(1);
                let column = if e.line() <= 1 {
                    base_col + e.column().saturating_sub(1)
                } else {
                    e.column()
                };
                Err(syntax(&self.name, line, column, &e))
            }
        };
        self.index += 1;
        Some(LoadedInvoice { source, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, text: &str) -> Vec<LoadedInvoice> {
        load_bytes(name, text.as_bytes().to_vec()).collect()
    }

    #[test]
    fn one_object() {
        let v = load("a.json", "{\n  \"header\": {\"inty\": 1}\n}\n");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].source, "a.json#0");
        assert!(v[0].value.is_ok());
    }

    #[test]
    fn array_of_objects() {
        let v = load(
            "a.json",
            r#" [ {"header":{"x":"a,]}"}}, {"header":{}} ,{"body":[[1],{}]}] "#,
        );
        assert_eq!(v.len(), 3);
        assert_eq!(v[2].source, "a.json#2");
        assert!(v.iter().all(|i| i.value.is_ok()));
        assert_eq!(v[0].value.as_ref().unwrap()["header"]["x"], "a,]}");
        assert!(load("e.json", "[]").is_empty());
    }

    #[test]
    fn json_lines_in_a_json_file_and_bad_line_position() {
        let v = load(
            "l.json",
            "{\"header\":{}}\n\n{\"header\":\n{\"header\":{}}\n",
        );
        assert_eq!(v.len(), 3);
        assert!(v[0].value.is_ok());
        assert_eq!(v[1].source, "l.json#1");
        match &v[1].value {
            Err(LoadError::Syntax { line, .. }) => assert_eq!(*line, 3),
            other => panic!("{other:?}"),
        }
        assert!(v[2].value.is_ok());
    }

    #[test]
    fn syntax_error_in_a_pretty_object_has_its_position() {
        let v = load("p.json", "{\n  \"header\": {\n    \"inty\": 1,\n  }\n}\n");
        assert_eq!(v.len(), 1);
        match &v[0].value {
            Err(LoadError::Syntax { line, column, .. }) => assert_eq!((*line, *column), (4, 3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn array_syntax_error_position() {
        let v = load("b.json", "[\n {\"header\":{}},\n {\"header\": tru}\n]");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].source, "b.json");
        assert_eq!(
            v[0].value.as_ref().unwrap_err().position().map(|p| p.0),
            Some(3)
        );
    }

    #[test]
    fn non_objects_and_empty() {
        let v = load("n.json", "[1, \"x\", {}]");
        assert!(matches!(
            v[0].value,
            Err(LoadError::NotAnInvoice {
                found: "a number",
                ..
            })
        ));
        assert!(matches!(
            v[1].value,
            Err(LoadError::NotAnInvoice {
                found: "a string",
                ..
            })
        ));
        assert!(v[2].value.is_ok());
        let v = load("e.json", "  \n ");
        assert!(matches!(v[0].value, Err(LoadError::Empty { .. })));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let v: Vec<_> = load_bytes("bom.json", b"\xEF\xBB\xBF{\"header\":{}}".to_vec()).collect();
        assert!(v[0].value.is_ok());
    }

    #[test]
    fn capitalised_keys_are_kept_as_written() {
        let v = load("c.json", r#"{"header":{"Indati2m":1,"Tax17":0}}"#);
        let h = &v[0].value.as_ref().unwrap()["header"];
        assert!(h.get("Indati2m").is_some() && h.get("Tax17").is_some());
    }

    #[test]
    fn numbers_stay_exact() {
        let v = load(
            "x.json",
            r#"{"header":{"tbill":123456789012345678901234.5}}"#,
        );
        let h = &v[0].value.as_ref().unwrap()["header"];
        assert_eq!(h["tbill"].to_string(), "123456789012345678901234.5");
    }
}
