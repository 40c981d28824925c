//! A JSON array of invoices, read element by element from a buffered reader: memory holds one
//! invoice at a time however long the array is (a million invoices included). Each element is
//! bounded by the per-invoice limit (`--max-file-mib`, as one JSON Lines line is); one over it is
//! an error of that invoice and is skipped without being kept. Every error names the file and
//! the line and column in it; a syntax error ends the file there (the invoices before it have
//! their own results), as a file whose structure is broken cannot be trusted further.

use super::readers::{parse_text, syntax_at, Step};
use super::{LoadError, LoadedInvoice};
use std::cell::Cell;
use std::io::BufRead;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before `[`.
    Start,
    /// After `[`: an element or `]`.
    First,
    /// After an element: `,` or `]`.
    After,
    /// After `,`: an element.
    Element,
    /// After `]`: only whitespace may follow.
    End,
    Done,
}

pub(super) struct ArrayStream {
    name: String,
    reader: Box<dyn BufRead>,
    /// 1-based line and column (in bytes, as serde_json counts) of the next byte.
    line: usize,
    col: usize,
    state: State,
    index: usize,
    max: u64,
    /// The current element's text and where it starts.
    buf: Vec<u8>,
    at: (usize, usize),
    /// Set when the current element turned out not to be valid JSON: reading stops.
    broken: Cell<bool>,
}

impl ArrayStream {
    /// `reader` is positioned at the `[`, which is at `line`:`col` of the file.
    pub(super) fn new(
        name: String,
        reader: Box<dyn BufRead>,
        (line, col): (usize, usize),
        max: u64,
    ) -> Self {
        Self {
            name,
            reader,
            line,
            col,
            state: State::Start,
            index: 0,
            max,
            buf: Vec::with_capacity(4096),
            at: (line, col),
            broken: Cell::new(false),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The element [`Self::advance`] stopped at and its line and column.
    pub(super) fn element(&self) -> (&[u8], (usize, usize)) {
        (&self.buf, self.at)
    }

    /// Set when the current element is not valid JSON: reading stops after it.
    pub(super) fn broken(&self) -> &Cell<bool> {
        &self.broken
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        Ok(self.reader.fill_buf()?.first().copied())
    }

    fn bump(&mut self, b: u8) {
        self.reader.consume(1);
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
    }

    /// Skips whitespace; the next byte, not consumed (`None` at the end).
    fn skip_ws(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            let chunk = self.reader.fill_buf()?;
            let Some(&b) = chunk.first() else {
                return Ok(None);
            };
            // Whole runs of spaces at once (pretty-printed arrays are mostly indentation).
            let n = chunk
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
                .count();
            if n > 0 {
                self.reader.consume(n);
                self.col += n;
                continue;
            }
            if b == b'\n' {
                self.bump(b);
                continue;
            }
            return Ok(Some(b));
        }
    }

    fn item(&self, source: String, value: Result<serde_json::Value, LoadError>) -> Step {
        Step::Item(LoadedInvoice { source, value })
    }

    fn error_here(&mut self, message: &str) -> Option<Step> {
        self.state = State::Done;
        let e = LoadError::Syntax {
            path: self.name.clone(),
            line: self.line,
            column: self.col.max(1),
            message: message.to_string(),
        };
        Some(self.item(self.name.clone(), Err(e)))
    }

    fn io_error(&mut self, e: std::io::Error) -> Option<Step> {
        self.state = State::Done;
        let e = LoadError::Io {
            path: self.name.clone(),
            message: format!("at line {}: {e}", self.line),
        };
        Some(self.item(self.name.clone(), Err(e)))
    }

    /// Reads up to the next element (left in the buffer: `Step::Line`), an error, or the end.
    pub(super) fn advance(&mut self) -> Option<Step> {
        if self.broken.get() {
            self.state = State::Done;
        }
        loop {
            let next = match self.skip_ws() {
                Ok(b) => b,
                Err(e) => return self.io_error(e),
            };
            match (self.state, next) {
                (State::Done, _) => return None,
                (State::Start, Some(b'[')) => {
                    self.bump(b'[');
                    self.state = State::First;
                }
                (State::Start, _) => return self.error_here("expected `[`"),
                (State::First, Some(b']')) | (State::After, Some(b']')) => {
                    self.bump(b']');
                    self.state = State::End;
                }
                (State::After, Some(b',')) => {
                    self.bump(b',');
                    self.state = State::Element;
                }
                (State::After, Some(_)) => return self.error_here("expected `,` or `]`"),
                (State::Element, Some(b']')) => return self.error_here("trailing comma"),
                (State::First | State::Element, Some(_)) => {
                    self.state = State::After;
                    return self.read_element();
                }
                (State::First | State::After | State::Element, None) => {
                    return self.error_here("EOF while parsing a list")
                }
                (State::End, None) => {
                    self.state = State::Done;
                    return None;
                }
                (State::End, Some(_)) => return self.error_here("trailing characters"),
            }
        }
    }

    /// Reads one element into the buffer (or skips it when over the limit).
    fn read_element(&mut self) -> Option<Step> {
        self.at = (self.line, self.col);
        self.buf.clear();
        let source = format!("{}#{}", self.name, self.index);
        self.index += 1;
        let first = match self.peek() {
            Ok(b) => b,
            Err(e) => return self.io_error(e),
        };
        let container = matches!(first, Some(b'{' | b'['));
        let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
        let (mut n, mut over) = (0u64, false);
        loop {
            let b = match self.peek() {
                Ok(Some(b)) => b,
                // The end inside an element: its parse reports where.
                Ok(None) => break,
                Err(e) => return self.io_error(e),
            };
            let scalar = !container && !in_str && first != Some(b'"');
            if scalar && n > 0 && b",]}{[ \t\r\n".contains(&b) {
                break; // a number or literal ends at a delimiter
            }
            self.bump(b);
            n += 1;
            if !over {
                self.buf.push(b);
                if n > self.max {
                    over = true;
                    self.buf = Vec::new();
                }
            }
            if in_str {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_str = false,
                    _ => {}
                }
                if !in_str && !container {
                    break; // a string element ends at its closing quote
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && container {
                        break;
                    }
                }
                _ if !container && n == 1 && b",]}".contains(&b) => break,
                _ => {}
            }
        }
        if n == 0 {
            return self.error_here("expected value");
        }
        if over {
            // Give the long element's memory back.
            self.buf = Vec::with_capacity(4096);
            return Some(self.item(
                source,
                Err(LoadError::TooLarge {
                    path: self.name.clone(),
                    line: Some(self.at.0),
                    limit: self.max,
                }),
            ));
        }
        Some(Step::Line(source))
    }
}

impl Iterator for ArrayStream {
    type Item = LoadedInvoice;

    fn next(&mut self) -> Option<LoadedInvoice> {
        let source = match self.advance()? {
            Step::Item(l) => return Some(l),
            Step::Line(source) => source,
        };
        let (text, at) = self.element();
        let value = match parse_text(&self.name, text, at) {
            Ok(_) => serde_json::from_slice(text).map_err(|e| syntax_at(&self.name, at, &e)),
            Err(e) => {
                if matches!(e, LoadError::Syntax { .. }) {
                    self.broken.set(true);
                }
                Err(e)
            }
        };
        Some(LoadedInvoice { source, value })
    }
}
