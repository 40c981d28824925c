//! Reports over the queue: per-invoice status, amounts and VAT totals per period, failures with
//! their explanations, as table, CSV, JSON or a self-contained HTML page.
//!
//! Which amounts count: an invoice's amounts count when it is SUCCESS and *in force*: no
//! SUCCESS correction (ins 2), cancellation (ins 3) or return (ins 4) in the queue refers to it.
//! A correction or return replaces its reference (it carries the whole new content, V7.8 §5), a
//! cancellation voids it and carries no amounts itself. Amounts are attributed to the Jalali
//! month (Tehran time) of the `indatim` of the invoice that carries them.

mod build;
pub mod html;
pub mod render;
mod view;

pub use build::{build, build_grouped, entries_from_queue, for_each_entry, QueueReport, Scope};
pub use view::{Rows, View};

use crate::import::jalali;
use crate::lang::Lang;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

/// One queued invoice as the report needs it (built from the queue, or by tests).
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub id: i64,
    pub source: String,
    pub taxid: Option<String>,
    /// Queue status word: SUCCESS, FAILED, INVALID, QUEUED, IN_PROGRESS, UNKNOWN…
    pub status: String,
    pub ins: Option<i64>,
    pub indatim: Option<i64>,
    /// The invoice JSON (for amounts and `irtaxid`).
    pub payload: Option<Value>,
    /// Server errors of the last attempt (raw JSON) and local validation findings (raw JSON).
    pub server_errors: Option<Value>,
    pub findings: Option<Value>,
}

/// One problem shown for an invoice: its code (or rule id) and the explanation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    pub code: String,
    pub explanation: String,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: i64,
    pub taxid: Option<String>,
    pub source: String,
    pub status: String,
    pub ins: Option<i64>,
    pub irtaxid: Option<String>,
    pub indatim: Option<i64>,
    /// The date as shown to a person: Jalali, Tehran time (Gregorian beside it in English).
    pub date: String,
    /// Jalali month `1405/09` (or season `1405/Q3`).
    pub period: String,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub tadis: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub tvam: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub tbill: Option<Decimal>,
    /// SUCCESS and not replaced or voided by a later SUCCESS referral.
    pub in_force: bool,
    pub problems: Vec<Problem>,
}

/// Totals of one Jalali month.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Period {
    /// `1405/09`, or `total` for the grand total.
    pub period: String,
    pub invoices: u64,
    pub success: u64,
    pub failed: u64,
    /// Neither SUCCESS nor FAILED/INVALID (queued, in progress, unknown).
    pub pending: u64,
    /// In-force amounts (see the module doc).
    #[serde(with = "rust_decimal::serde::str")]
    pub tadis: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub tvam: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub tbill: Decimal,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: i64,
    pub grouping: Grouping,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub rows: Vec<Row>,
    pub periods: Vec<Period>,
    pub total: Period,
}

/// Problems of an invoice: server errors explained with the code catalogue, else local
/// findings in the reader's language.
pub fn problems(e: &Entry, lang: Lang) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(Value::Array(errs)) = &e.server_errors {
        for x in errs {
            let code = x
                .get("code")
                .map(|c| match c {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let msg = x
                .get("message")
                .or_else(|| x.get("msg"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let explanation =
                crate::codes::one_line(&code, lang).unwrap_or_else(|| msg.to_string());
            out.push(Problem { code, explanation });
        }
    }
    if let Some(Value::Array(fs)) = &e.findings {
        for f in fs {
            if f.get("severity").and_then(Value::as_str) == Some("warning") {
                continue;
            }
            let code = f
                .get("code")
                .and_then(Value::as_str)
                .or_else(|| f.get("rule").and_then(Value::as_str))
                .unwrap_or_default()
                .to_string();
            let key = match lang {
                Lang::Fa => "fa",
                Lang::En => "en",
            };
            let text = f
                .get("message")
                .and_then(|m| m.get(key).or(Some(m)))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| crate::codes::one_line(&code, lang))
                .unwrap_or_default();
            let field = f.get("field").and_then(Value::as_str).unwrap_or_default();
            let explanation = if field.is_empty() {
                text
            } else {
                format!("{field}: {text}")
            };
            out.push(Problem { code, explanation });
        }
    }
    out
}

/// How amounts are grouped: per Jalali month, or per season (فصل — the VAT return period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    #[default]
    Month,
    Season,
}

/// Jalali month of an instant, `1405/09`.
pub fn period_of(ms: i64) -> String {
    period_key(ms, Grouping::Month)
}

/// The period of an instant (Tehran time): `1405/09` for a month, `1405/Q3` for a season
/// (Q1 spring = Farvardin–Khordad … Q4 winter = Dey–Esfand).
pub fn period_key(ms: i64, g: Grouping) -> String {
    match (jalali::jalali_of_unix_ms(ms), g) {
        (Some(j), Grouping::Month) => format!("{:04}/{:02}", j.year, j.month),
        (Some(j), Grouping::Season) => format!("{:04}/Q{}", j.year, j.month.div_ceil(3)),
        (None, _) => "?".into(),
    }
}

/// A period key for a person: `آذر 1405` / `1405/09 Azar`, `پاییز 1405` / `1405 Q3 autumn`.
pub fn period_label(period: &str, lang: Lang) -> String {
    const SEASONS_FA: [&str; 4] = ["بهار", "تابستان", "پاییز", "زمستان"];
    const SEASONS_EN: [&str; 4] = ["spring", "summer", "autumn", "winter"];
    let Some((y, rest)) = period.split_once('/') else {
        return period.to_string();
    };
    if let Some(q) = rest.strip_prefix('Q').and_then(|q| q.parse::<usize>().ok()) {
        if (1..=4).contains(&q) {
            return match lang {
                Lang::Fa => format!("{} {y}", SEASONS_FA[q - 1]),
                Lang::En => format!("{y} Q{q} {}", SEASONS_EN[q - 1]),
            };
        }
    }
    match rest.parse::<usize>() {
        Ok(m) if (1..=12).contains(&m) => match lang {
            Lang::Fa => format!("{} {y}", jalali::MONTHS_FA[m - 1]),
            Lang::En => format!("{period} {}", jalali::MONTHS_EN[m - 1]),
        },
        _ => period.to_string(),
    }
}

/// Groups a decimal's integer digits by thousands: `1234567.5` → `1,234,567.5`.
pub fn group(d: &Decimal) -> String {
    let s = d.normalize().to_string();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, s),
    };
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let mut g = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            g.push(',');
        }
        g.push(c);
    }
    let mut out = if neg { format!("-{g}") } else { g };
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    out
}

/// Subject name of `ins`.
pub fn ins_name(ins: Option<i64>, lang: Lang) -> &'static str {
    match (ins, lang) {
        (Some(1), Lang::Fa) => "اصلی",
        (Some(2), Lang::Fa) => "اصلاحی",
        (Some(3), Lang::Fa) => "ابطالی",
        (Some(4), Lang::Fa) => "برگشت از فروش",
        (Some(1), Lang::En) => "original",
        (Some(2), Lang::En) => "correction",
        (Some(3), Lang::En) => "cancellation",
        (Some(4), Lang::En) => "return",
        _ => "",
    }
}

/// Status word in the reader's language.
pub fn status_name(s: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return s.to_string();
    }
    match s {
        "SUCCESS" => "پذیرفته",
        "FAILED" => "رد شده",
        "INVALID" => "نامعتبر (ارسال نشد)",
        "QUEUED" => "در صف",
        "SENDING" => "در حال ارسال",
        "IN_PROGRESS" => "در حال بررسی",
        "UNKNOWN" => "نامعلوم",
        other => return other.to_string(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping() {
        assert_eq!(group(&Decimal::from(1234567)), "1,234,567");
        assert_eq!(group(&Decimal::from(123)), "123");
        assert_eq!(group(&Decimal::from(-1000)), "-1,000");
        assert_eq!(group(&"1234.50".parse().unwrap()), "1,234.5");
    }
}
