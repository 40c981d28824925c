//! The invoices under some paths as [`LoadedInvoice`]s (a `serde_json::Value` each), or,
//! through [`Invoices::next_invoice`], as text still to be parsed into a borrowed tree.

use super::readers::{self, Step};
use super::{clip, limit_fields, LoadError, LoadedInvoice, Loader, Source};
use crate::invoice::tree::Json;
use std::cell::Cell;

/// The invoices under some paths, in order: an iterator of [`LoadedInvoice`]s (each a
/// `serde_json::Value`), or, through [`Invoices::next_invoice`], invoices that JSON Lines hold
/// as text still to be parsed into a borrowed [`Json`] tree (one pass, no maps built: what
/// `validate` reads).
pub struct Invoices {
    pub(super) loader: Loader,
    pub(super) max_field: usize,
}

/// One invoice from [`Invoices::next_invoice`].
pub enum Next<'a> {
    /// Already read (or an error of a file or line).
    Loaded(LoadedInvoice),
    /// A JSON Lines line, parsed when asked.
    Text(TextInvoice<'a>),
}

/// One invoice's text (a JSON Lines line or an array's element), borrowed from the reader.
pub struct TextInvoice<'a> {
    /// `path#index`.
    pub source: String,
    path: &'a str,
    text: &'a [u8],
    /// Line and column of the text's first byte in the file.
    at: (usize, usize),
    /// Told when the text is not valid JSON (an array stops there).
    broken: Option<&'a Cell<bool>>,
    max_field: usize,
}

impl<'a> TextInvoice<'a> {
    /// The invoice as a tree borrowing from the text, with the same errors (and positions) as
    /// [`LoadedInvoice::value`]: syntax, a repeated key, not an object, a value too long.
    pub fn parse(&self) -> Result<Json<'a>, LoadError> {
        let v = readers::parse_text(self.path, self.text, self.at).inspect_err(|e| {
            if let (LoadError::Syntax { .. }, Some(b)) = (e, self.broken) {
                b.set(true);
            }
        })?;
        if self.text.len() <= self.max_field {
            // No value is longer in characters than the whole text is in bytes.
            return Ok(v);
        }
        match crate::invoice::tree::too_long(&v, self.max_field) {
            Some((field, length)) => Err(LoadError::FieldTooLong {
                path: self.source.clone(),
                field: clip(&field),
                length,
                limit: self.max_field,
            }),
            None => Ok(v),
        }
    }
}

impl Invoices {
    /// The next invoice, JSON Lines left as text (see [`TextInvoice::parse`]).
    pub fn next_invoice(&mut self) -> Option<Next<'_>> {
        match self.loader.step()? {
            Step::Item(l) => Some(Next::Loaded(limit_fields(l, self.max_field))),
            Step::Line(source) => match &self.loader.current {
                Some(Source::Lines(r)) => Some(Next::Text(TextInvoice {
                    source,
                    path: &r.name,
                    text: r.line(),
                    at: (r.line_no, 1),
                    broken: None,
                    max_field: self.max_field,
                })),
                Some(Source::Array(a)) => {
                    let (text, at) = a.element();
                    Some(Next::Text(TextInvoice {
                        source,
                        path: a.name(),
                        text,
                        at,
                        broken: Some(a.broken()),
                        max_field: self.max_field,
                    }))
                }
                // (A line comes only from a JSON Lines reader.)
                _ => None,
            },
        }
    }
}

impl Iterator for Invoices {
    type Item = LoadedInvoice;
    fn next(&mut self) -> Option<LoadedInvoice> {
        self.loader.next().map(|l| limit_fields(l, self.max_field))
    }
}
