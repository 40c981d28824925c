//! Small shared pieces of the rules engine: reading values out of the raw invoice JSON without
//! copying, building JSON paths and official codes only when a finding is made.

use super::{Finding, Severity};
use crate::lang::Message;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::str::FromStr;

/// The parts of the invoice the rules look at, borrowed from the JSON.
pub(crate) struct Inv<'a> {
    pub header: Option<&'a Map<String, Value>>,
    pub body: &'a [Value],
    pub payments: &'a [Value],
    pub inty: Option<u8>,
    pub inp: Option<u8>,
    pub ins: Option<u8>,
    /// Obligation-matrix column of (inty, inp), if the matrix has one.
    pub col: Option<usize>,
}

impl<'a> Inv<'a> {
    /// A header field, treating `null` as absent.
    pub fn h(&self, key: &str) -> Option<&'a Value> {
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

/// A field of a JSON object (a line or payment), `null` as absent.
pub(crate) fn get<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

pub(crate) fn ldec(obj: &Value, key: &str) -> Option<Decimal> {
    get(obj, key).and_then(dec_of)
}

/// The exact decimal of a JSON number (never through f64).
pub(crate) fn dec_of(v: &Value) -> Option<Decimal> {
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
pub(crate) fn int_of(v: &Value) -> Option<i64> {
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
