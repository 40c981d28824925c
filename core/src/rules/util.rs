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
    pub body: &'a [Value<'a>],
    pub payments: &'a [Value<'a>],
    pub inty: Option<u8>,
    pub inp: Option<u8>,
    pub ins: Option<u8>,
    /// Obligation-matrix column of (inty, inp), if the matrix has one.
    pub col: Option<usize>,
}

impl<'a> Inv<'a> {
    /// A header field, treating `null` as absent.
    pub fn h(&self, key: &str) -> Option<&'a Value<'a>> {
        self.header?.get(key).filter(|v| !v.is_null())
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
pub const OPTIONAL_COMPUTED: [&str; 6] = ["tdis", "tvop", "tax17", "cfee", "cop", "vop"];

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
    if s.bytes().any(|b| b == b'e' || b == b'E') {
        Decimal::from_scientific(s).ok()
    } else {
        Decimal::from_str(s).ok()
    }
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
        self.out.push(Finding {
            severity: sev,
            rule: rule.to_string(),
            field,
            code,
            message: Message { fa, en },
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
