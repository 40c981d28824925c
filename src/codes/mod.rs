//! Every code the tax system (and the tool itself) can show, explained: meaning, causes and
//! fix in Persian and English, from the catalogue in `schemas/`, plus the decoder for the
//! 7-digit content codes.
//!
//! The catalogue (`schemas/codes.toml`, compiled in) holds every code of the official code
//! document RC_TXPS.EC_V02 (v2 auth/invoice/inquiry/other, transport-layer 04xxx/05xxx, the old
//! v1 4xxx/5xxx), the content codes of its frequent-error tables and of RC_TXPS.RE_V01, the codes
//! accounting software and token vendors show (404, 489…), and the stable ids of local problems
//! doctor and the signer detect (`pin.locked`, `cert.expired`, `clock.skew`…).
//!
//! Other commands call:
//! * [`one_line`] — the short meaning for a table cell;
//! * [`annotate`] — `"<meaning> (moadian explain CODE)"`, for a code shown to a person;
//! * [`explain`] — everything (serialisable for `--json`);
//! * [`lookup_local`] — a local problem's entry (title, fix) by its id;
//! * [`is_retryable`] — whether sending again later can help.

pub mod catalogue;
pub mod decode;
pub mod explanation;

pub use catalogue::{Category, Entry, Field, Layer};
pub use decode::{decode, Check, ContentCode, FieldRef, Form};
pub use explanation::{explain, lookup, one_line, Explanation, Found, SeeAlso};

use crate::lang::Lang;

/// Every catalogue entry: server codes, vendor codes and local ids.
pub fn all() -> impl Iterator<Item = &'static Entry> {
    catalogue::catalogue().entries.iter()
}

/// The entry of a local problem detected by doctor or the signer (`pin.locked`,
/// `cert.national_id_mismatch`…). `None` for server codes and unknown ids.
pub fn lookup_local(id: &str) -> Option<&'static Entry> {
    catalogue::catalogue()
        .get(id.trim())
        .filter(|e| e.is_local())
}

/// The field of the official field table with this number (EC_V02 table 8).
pub fn field(no: u16) -> Option<&'static Field> {
    catalogue::catalogue().field(no)
}

/// Whether sending the same thing again later can help; `None` when nothing is known.
pub fn is_retryable(code: &str) -> Option<bool> {
    explain(code).map(|x| x.retryable)
}

/// A code as a person should see it where it is shown (validate, submit, status, doctor):
/// its one-line meaning and a pointer to `moadian explain`. For text the server put in a `code`
/// field (anything with spaces) the empty string; for an unknown code only the pointer.
pub fn annotate(code: &str, lang: Lang) -> String {
    let code = code.trim();
    if code.is_empty() || code.chars().any(char::is_whitespace) {
        return String::new();
    }
    let hint = match lang {
        Lang::Fa => format!("(moadian explain {code})"),
        Lang::En => format!("(see: moadian explain {code})"),
    };
    match one_line(code, lang) {
        Some(t) => format!("{t} {hint}"),
        None => hint,
    }
}
