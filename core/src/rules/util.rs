//! Small shared pieces of the rules engine: reading values out of the raw invoice JSON without
//! copying, building JSON paths and official codes only when a finding is made.

use super::{Finding, Severity};
use crate::invoice::tree::{Json as Value, Obj};
use crate::lang::Message;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The parts of the invoice the rules look at, borrowed from the JSON.
pub(crate) struct Inv<'a> {
    pub header: Option<&'a Obj<'a>>,
    /// The header's fields, as the structural check found them.
    pub head: HeaderFields<'a>,
    pub body: &'a [Value<'a>],
    pub payments: &'a [Value<'a>],
    pub inty: Option<u8>,
    pub inp: Option<u8>,
    pub ins: Option<u8>,
    /// Obligation-matrix column of (inty, inp), if the matrix has one.
    pub col: Option<usize>,
    /// Which matrix rows the header, each line and each payment have.
    pub rows: Rows,
}

/// The rows of the obligation matrix (جدول ۱) that each object of an invoice has, not `null`:
/// one bit per row index, set by the structural rules as they look each key up (so that the
/// obligation rules need not look any key up again). Row indices past 127 have no bit.
pub(crate) struct Rows {
    pub header: u128,
    pub body: RowBits,
    pub payments: RowBits,
}

/// The row bits of each line or payment (on the stack for the usual few).
pub(crate) enum RowBits {
    Few([u128; 8]),
    Many(Vec<u128>),
}

impl RowBits {
    /// `of(j, item)` for each item, in order.
    pub fn of_each<T>(items: &[T], mut of: impl FnMut(usize, &T) -> u128) -> RowBits {
        if items.len() <= 8 {
            let mut few = [0u128; 8];
            for (j, (b, v)) in few.iter_mut().zip(items).enumerate() {
                *b = of(j, v);
            }
            RowBits::Few(few)
        } else {
            RowBits::Many(items.iter().enumerate().map(|(j, v)| of(j, v)).collect())
        }
    }
    pub fn get(&self, j: usize) -> u128 {
        match self {
            RowBits::Few(a) => a.get(j).copied().unwrap_or(0),
            RowBits::Many(v) => v.get(j).copied().unwrap_or(0),
        }
    }
}

/// The header's fields of the dictionary (not `null`) by their index in the field table, so
/// that the rules find one without going over the header's keys again.
pub(crate) struct HeaderFields<'a>([Option<&'a Value<'a>>; 128]);

impl Default for HeaderFields<'_> {
    fn default() -> Self {
        Self([None; 128])
    }
}

impl<'a> HeaderFields<'a> {
    pub fn keep(&mut self, i: usize, v: &'a Value<'a>) {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = Some(v);
        }
    }
}

impl<'a> Inv<'a> {
    /// A header field, treating `null` as absent.
    pub fn h(&self, key: &str) -> Option<&'a Value<'a>> {
        use super::data::{Section, TABLES};
        match TABLES.field(Section::Header, key) {
            // (What the structural check kept: every header field of the dictionary present.)
            Some((i, _)) if i < self.head.0.len() => self.head.0[i],
            // (Not a header field of the dictionary, e.g. `Indati2m`.)
            _ => self.header?.get(key).filter(|v| !v.is_null()),
        }
    }
    pub fn hdec(&self, key: &str) -> Option<Decimal> {
        self.h(key).and_then(dec_of)
    }
    pub fn hint(&self, key: &str) -> Option<i64> {
        self.h(key).and_then(int_of)
    }
    pub fn hstr(&self, key: &str) -> Option<&'a str> {
        self.h(key).and_then(Value::as_str)
    }
}

impl Inv<'_> {
    /// Whether `key` is out of this invoice's type/pattern column of جدول ۱ (ignore): the
    /// server drops the value (with a warning, which the obligation rules give), so no
    /// arithmetic or conditional rule may judge it. False with no known column.
    pub fn ignored(&self, key: &str) -> bool {
        use super::data::{Obligation, TABLES};
        match (self.col, TABLES.index_of(key)) {
            (Some(c), Some(i)) => TABLES.matrix[i].obl[c] == Obligation::Ignore,
            _ => false,
        }
    }

    /// How bad a wrong *computed* value of `key` is in this invoice (RC_IITP.IS_V7.8 §6 قاعده
    /// کلی ۲-b; RC_TXPS.EC_V02 table 7 row 18): a warning where the field is optional
    /// (اختیاری) in the invoice's type/pattern column of جدول ۱ — the server accepts the
    /// invoice and shows the right value — or out of the pattern (dropped, with a warning);
    /// an error where it is required. With no known column, an error only if required in every
    /// column that has it.
    /// Structural checks (type, length, range) stay errors for every field (قاعده کلی ۳).
    pub fn computed_severity(&self, key: &str) -> Severity {
        use super::data::{Obligation, TABLES};
        if !OPTIONAL_COMPUTED.contains(&key) {
            return Severity::Error;
        }
        let Some(row) = TABLES.index_of(key).map(|i| &TABLES.matrix[i]) else {
            return Severity::Error;
        };
        // Out of the pattern (ignore) the server drops the field and warns: never an error.
        let binding = |o: &Obligation| matches!(o, Obligation::Required | Obligation::Conditional);
        let error = match self.col {
            Some(c) => binding(&row.obl[c]),
            None => row
                .obl
                .iter()
                .filter(|o| **o != Obligation::Ignore)
                .all(binding),
        };
        if error {
            Severity::Error
        } else {
            Severity::Warning
        }
    }
}

/// The computed fields that are optional (اختیاری) in some column of جدول ۱ and whose wrong
/// value is therefore a warning there; listed in `schemas/rules.json` (`optional_computed`).
pub const OPTIONAL_COMPUTED: [&str; 7] = ["tdis", "tvop", "tax17", "fee", "cfee", "cop", "vop"];

/// A field of a JSON object (a line or payment), `null` as absent.
pub(crate) fn get<'a, 'b>(obj: &'a Value<'b>, key: &str) -> Option<&'a Value<'b>> {
    obj.get(key).filter(|v| !v.is_null())
}

pub(crate) fn ldec(obj: &Value<'_>, key: &str) -> Option<Decimal> {
    get(obj, key).and_then(dec_of)
}

/// The exact decimal of a JSON number (never through f64).
pub(crate) fn dec_of(v: &Value<'_>) -> Option<Decimal> {
    match v {
        Value::Number(n) => parse_decimal(n.as_str()),
        _ => None,
    }
}

pub(crate) fn parse_decimal(s: &str) -> Option<Decimal> {
    if let Some(d) = plain_decimal(s) {
        return Some(d);
    }
    if s.bytes().any(|b| b == b'e' || b == b'E') {
        Decimal::from_scientific(s).ok()
    } else {
        Decimal::from_str(s).ok()
    }
}

/// The common case of an amount, `digits` or `digits.digits` with at most 18 digits in all,
/// read without the general parser (the same value and scale as `Decimal::from_str`).
fn plain_decimal(s: &str) -> Option<Decimal> {
    let b = s.as_bytes();
    // (19 bytes hold at most 19 digits, which may not fit in a u64 below 10^19 only when no
    // dot is among them: refused below.)
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let (mut m, mut scale, mut dot) = (0u64, 0u32, false);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                if dot {
                    scale += 1;
                }
            }
            b'.' if !dot && i > 0 && i + 1 < b.len() => dot = true,
            _ => return None,
        }
    }
    if b.len() == 19 && !dot {
        return None;
    }
    Some(Decimal::from_i128_with_scale(i128::from(m), scale))
}

/// The integer of a JSON number written without fraction or exponent.
pub(crate) fn int_of(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_str().parse::<i64>().ok(),
        _ => None,
    }
}

pub(crate) fn hpath(key: &str) -> String {
    format!("header.{key}")
}

pub(crate) fn bpath(i: usize, key: &str) -> String {
    format!("body[{i}].{key}")
}

pub(crate) fn ppath(i: usize, key: &str) -> String {
    format!("payments[{i}].{key}")
}

/// An official content code: `[0 error|1 warning][kind][field number][detail]`.
pub(crate) fn code(sev: Severity, kind: u8, ec: &str, detail: Option<u8>) -> String {
    let w = if sev == Severity::Warning { '1' } else { '0' };
    match detail {
        Some(d) => format!("{w}{kind}{ec}{d:02}"),
        None => format!("{w}{kind}{ec}"),
    }
}

/// Collects findings.
#[derive(Default)]
pub(crate) struct Sink {
    pub out: Vec<Finding>,
}

impl Sink {
    pub fn push(
        &mut self,
        sev: Severity,
        rule: &str,
        field: String,
        code: Option<String>,
        fa: String,
        en: String,
    ) {
        // A finding quotes values and keys as written; control characters in them are shown
        // escaped, never raw.
        let shown = |s: String| match crate::lang::escape_controls(&s) {
            std::borrow::Cow::Borrowed(_) => s,
            std::borrow::Cow::Owned(e) => e,
        };
        self.out.push(Finding {
            severity: sev,
            rule: rule.to_string(),
            field: shown(field),
            code,
            message: Message {
                fa: shown(fa),
                en: shown(en),
            },
        });
    }

    pub fn error(
        &mut self,
        rule: &str,
        field: String,
        code: Option<String>,
        fa: String,
        en: String,
    ) {
        self.push(Severity::Error, rule, field, code, fa, en);
    }

    pub fn warn(
        &mut self,
        rule: &str,
        field: String,
        code: Option<String>,
        fa: String,
        en: String,
    ) {
        self.push(Severity::Warning, rule, field, code, fa, en);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header field read through what the structural check kept is the field of the header
    /// itself: `null` as absent, recased keys (`Indati2m`, `Tax17`), fields of another section
    /// and keys outside the dictionary included.
    #[test]
    fn header_fields_kept_are_the_header_fields() {
        let text = br#"{"taxid":"A","inno":null,"Indati2m":1,"Tax17":5,"am":3,"setm":1,"nope":2,"insr":1,"sg":[{"sgid":"x"}]}"#;
        let v = Value::parse(text).unwrap();
        let header = v.as_object().unwrap();
        let mut head = HeaderFields::default();
        let mut sink = Sink::default();
        super::super::structural::check_object(
            header,
            super::super::data::Section::Header,
            &hpath,
            &mut sink,
            &mut |i, v| head.keep(i, v),
        );
        let inv = Inv {
            header: Some(header),
            head,
            body: &[],
            payments: &[],
            inty: None,
            inp: None,
            ins: None,
            col: None,
            rows: Rows {
                header: 0,
                body: RowBits::Few([0; 8]),
                payments: RowBits::Few([0; 8]),
            },
        };
        for key in [
            "taxid", "inno", "Indati2m", "indati2m", "Tax17", "tax17", "am", "setm", "nope",
            "insr", "sg", "sgid", "tins", "",
        ] {
            let direct = header.get(key).filter(|v| !v.is_null());
            assert_eq!(inv.h(key), direct, "{key}");
        }
    }

    #[test]
    fn plain_decimals_read_as_the_general_parser_reads_them() {
        for s in [
            "0",
            "00",
            "007",
            "1",
            "12.50",
            "0.0",
            "0.000001",
            "1.0",
            "999999999999999999",
            "99999999999999999.9",
            "123456789012345678",
            "1234567890123456789",
            "1.",
            ".5",
            "-1",
            "1e3",
            "1.2.3",
            "",
            "12a",
            "+5",
            "1234567.12345678901",
            "0.00000000000000001",
            "18446744073709551615",
            "9999999999999999999",
        ] {
            let general = if s.contains(['e', 'E']) {
                Decimal::from_scientific(s).ok()
            } else {
                Decimal::from_str(s).ok()
            };
            let view = |d: Decimal| (d, d.scale(), d.to_string());
            if let Some(f) = plain_decimal(s) {
                assert_eq!(Some(view(f)), general.map(view), "{s}");
            }
            assert_eq!(parse_decimal(s).map(view), general.map(view), "{s}");
        }
    }
}
