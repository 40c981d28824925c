//! Two of the three ways a JSON document is read: line by line (JSON Lines, streamed) and as
//! values one after another (a single pretty-printed invoice, usually); arrays are streamed by
//! [`super::array`]. Each turns a problem into a [`LoadError`] with its line and
//! column in the file.

use super::{LoadError, LoadedInvoice};
use crate::invoice::tree::{Json, DUPLICATE};
use std::io::{BufRead, Read};

pub(super) fn syntax(path: &str, line: usize, column: usize, e: &serde_json::Error) -> LoadError {
    let message = strip_position(&e.to_string());
    if let Some(key) = message.strip_prefix(DUPLICATE) {
        return LoadError::DuplicateKey {
            path: path.to_string(),
            line: line.max(1),
            column: column.max(1),
            key: key.to_string(),
        };
    }
    LoadError::Syntax {
        path: path.to_string(),
        line: line.max(1),
        // serde_json says column 0 for "before the first character" (e.g. end of file).
        column: column.max(1),
        message,
    }
}

/// A syntax error of a text that starts at `at` (1-based line and column) in the file.
pub(super) fn syntax_at(path: &str, at: (usize, usize), e: &serde_json::Error) -> LoadError {
    let line = at.0 + e.line().saturating_sub(1);
    let column = if e.line() <= 1 {
        (at.1 + e.column()).saturating_sub(1)
    } else {
        e.column()
    };
    syntax(path, line, column, e)
}

/// One invoice's text, starting at `at` in the file, parsed in one pass into a tree: a syntax
/// error, a repeated key or a value that is not an object become errors with their position.
pub(super) fn parse_text<'a>(
    path: &str,
    text: &'a [u8],
    at: (usize, usize),
) -> Result<Json<'a>, LoadError> {
    match Json::parse(text) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(v) => {
            let lead = &text[..text.iter().take_while(|b| b.is_ascii_whitespace()).count()];
            let (line, column) = match lead.iter().rposition(|&b| b == b'\n') {
                Some(i) => (
                    at.0 + lead.iter().filter(|&&b| b == b'\n').count(),
                    lead.len() - i,
                ),
                None => (at.0, at.1 + lead.len()),
            };
            Err(LoadError::NotAnInvoice {
                path: path.to_string(),
                line,
                column,
                found: v.type_name(),
            })
        }
        Err(e) => Err(syntax_at(path, at, &e)),
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
pub(super) struct LineReader {
    pub(super) name: String,
    pub(super) reader: Box<dyn BufRead>,
    pub(super) buf: Vec<u8>,
    pub(super) line_no: usize,
    pub(super) index: usize,
    pub(super) done: bool,
    /// Longest line read, in bytes.
    pub(super) max: u64,
}

impl LineReader {
    pub(super) fn new(name: String, reader: Box<dyn BufRead>, max: u64) -> Self {
        Self {
            name,
            reader,
            buf: Vec::with_capacity(4096),
            line_no: 0,
            index: 0,
            done: false,
            max,
        }
    }

    /// Skips the rest of the current line without keeping it.
    fn skip_line(&mut self) -> std::io::Result<()> {
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.reader.consume(i + 1);
                    return Ok(());
                }
                None => {
                    let n = chunk.len();
                    self.reader.consume(n);
                }
            }
        }
    }
}

/// What [`LineReader::advance`] found.
pub(super) enum Step {
    /// An invoice already decided (an error of a line or of the file).
    Item(LoadedInvoice),
    /// A non-blank line, waiting in the buffer ([`LineReader::line`]), and its source name.
    Line(String),
}

impl LineReader {
    /// Reads up to the next non-blank line (or a line's error, or the end).
    pub(super) fn advance(&mut self) -> Option<Step> {
        while !self.done {
            self.buf.clear();
            match (&mut self.reader)
                .take(self.max + 1)
                .read_until(b'\n', &mut self.buf)
            {
                Ok(n) if n as u64 > self.max => {
                    self.line_no += 1;
                    let source = format!("{}#{}", self.name, self.index);
                    self.index += 1;
                    let ended = self.buf.last() == Some(&b'\n');
                    // Give the long line's memory back.
                    self.buf = Vec::with_capacity(4096);
                    // (When the newline was the byte over the limit, nothing is left to skip.)
                    let skipped = if ended { Ok(()) } else { self.skip_line() };
                    if let Err(e) = skipped {
                        self.done = true;
                        return Some(Step::Item(LoadedInvoice {
                            source,
                            value: Err(LoadError::Io {
                                path: self.name.clone(),
                                message: format!("after line {}: {e}", self.line_no),
                            }),
                        }));
                    }
                    return Some(Step::Item(LoadedInvoice {
                        source,
                        value: Err(LoadError::TooLarge {
                            path: self.name.clone(),
                            line: Some(self.line_no),
                            limit: self.max,
                        }),
                    }));
                }
                Ok(0) => {
                    self.done = true;
                    if self.index == 0 {
                        return Some(Step::Item(LoadedInvoice {
                            source: self.name.clone(),
                            value: Err(LoadError::Empty {
                                path: self.name.clone(),
                            }),
                        }));
                    }
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Step::Item(LoadedInvoice {
                        source: self.name.clone(),
                        value: Err(LoadError::Io {
                            path: self.name.clone(),
                            message: format!("after line {}: {e}", self.line_no),
                        }),
                    }));
                }
            }
            self.line_no += 1;
            if self.line().iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let source = format!("{}#{}", self.name, self.index);
            self.index += 1;
            return Some(Step::Line(source));
        }
        None
    }

    /// The line [`Self::advance`] stopped at (without a first line's byte order mark, and
    /// without its newline: an error at its end is on this line).
    pub(super) fn line(&self) -> &[u8] {
        let mut line: &[u8] = &self.buf;
        if self.line_no == 1 && line.starts_with(b"\xEF\xBB\xBF") {
            line = &line[3..];
        }
        line.strip_suffix(b"\n").unwrap_or(line)
    }

    /// The line [`Self::advance`] stopped at, as an invoice tree (errors with their position).
    pub(super) fn parse_line(&self) -> Result<Json<'_>, LoadError> {
        parse_text(&self.name, self.line(), (self.line_no, 1))
    }
}

impl Iterator for LineReader {
    type Item = LoadedInvoice;

    fn next(&mut self) -> Option<LoadedInvoice> {
        let source = match self.advance()? {
            Step::Item(l) => return Some(l),
            Step::Line(source) => source,
        };
        let value = match self.parse_line() {
            // (Checked in one pass above; the map is built from the same text.)
            Ok(_) => serde_json::from_slice(self.line())
                .map_err(|e| syntax(&self.name, self.line_no, e.column(), &e)),
            Err(e) => Err(e),
        };
        Some(LoadedInvoice { source, value })
    }
}

// ---------------------------------------------------------------------------------------------

/// One or more JSON values one after another (a single pretty-printed invoice, usually).
/// Reading stops at the first syntax error, which names its line and column.
pub(super) struct StreamReader {
    pub(super) name: String,
    pub(super) text: Vec<u8>,
    pub(super) pos: usize,
    pub(super) index: usize,
    pub(super) done: bool,
}

impl Iterator for StreamReader {
    type Item = LoadedInvoice;

    fn next(&mut self) -> Option<LoadedInvoice> {
        if self.done {
            return None;
        }
        let rest = &self.text[self.pos..];
        let check = serde_json::Deserializer::from_slice(rest)
            .into_iter::<Json>()
            .next();
        let mut stream =
            serde_json::Deserializer::from_slice(rest).into_iter::<serde_json::Value>();
        let item = match check {
            Some(Err(e)) => Some(Err(e)),
            _ => stream.next(),
        };
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
                        found: Json::from(&v).type_name(),
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
