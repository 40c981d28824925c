//! The one parser for every date a person types, on the command line (`validate --at`,
//! `taxid --date`, `report --from/--to`, `inquire --from/--to`) or in the service's query
//! parameters: Jalali (`1405/08/29`,
//! `۱۴۰۵/۰۸/۲۹`) or Gregorian (`2026-11-20`) days — years below 1700 are Jalali — optionally with
//! a time (`1405/08/29 14:30`, Tehran time), RFC 3339 with an offset, or Unix milliseconds.
//! A bare day stays a calendar day; each command says which instant of it it means.

use crate::import::cells::{ascii_digits, parse_datetime_ms};
use crate::invoice::jalali;
use crate::lang::Message;

const MS_PER_DAY: i64 = 86_400_000;

/// What was typed: a calendar day, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A day, as days since 1970-01-01 of its Gregorian date.
    Day(i64),
    /// An instant, Unix milliseconds.
    Instant(i64),
}

impl When {
    /// The instant, a bare day taken at its start in UTC.
    pub fn utc_start(self) -> i64 {
        match self {
            When::Day(d) => d * MS_PER_DAY,
            When::Instant(ms) => ms,
        }
    }

    /// The instant, a bare day taken at its last millisecond in UTC.
    pub fn utc_end(self) -> i64 {
        match self {
            When::Day(d) => (d + 1) * MS_PER_DAY - 1,
            When::Instant(ms) => ms,
        }
    }

    /// The instant, a bare day taken at its start in Tehran.
    pub fn tehran_start(self) -> i64 {
        match self {
            When::Day(d) => tehran_midnight(d),
            When::Instant(ms) => ms,
        }
    }

    /// The instant, a bare day taken at its last millisecond in Tehran.
    pub fn tehran_end(self) -> i64 {
        match self {
            When::Day(d) => tehran_midnight(d + 1) - 1,
            When::Instant(ms) => ms,
        }
    }
}

fn tehran_midnight(days: i64) -> i64 {
    let (y, m, d) = jalali::gregorian_from_days(days);
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(crate::import::jalali::gregorian_local_to_unix_ms)
        .unwrap_or(days * MS_PER_DAY)
}

/// Parses what a person typed (see the module documentation).
pub fn parse(raw: &str) -> Result<When, Message> {
    let s = ascii_digits(raw.trim());
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map(When::Instant).map_err(|_| bad(raw));
    }
    let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
    if let [y, m, d] = parts.as_slice() {
        if let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
            let days = if y < 1700 {
                jalali::days_from_jalali(y, m, d)
            } else {
                jalali::days_from_gregorian(y, m, d)
            };
            return days.map(When::Day).ok_or_else(|| bad(raw));
        }
    }
    parse_datetime_ms(&s)
        .map(When::Instant)
        .map_err(|_| bad(raw))
}

/// [`parse`] for clap's `value_parser`: the error names both forms in both languages.
pub fn arg(raw: &str) -> Result<When, String> {
    parse(raw).map_err(|m| m.to_string())
}

fn bad(raw: &str) -> Message {
    Message::new(
        format!(
            "«{raw}» تاریخ معتبری نیست؛ به شکل ۱۴۰۵/۰۸/۲۹ یا ۱۴۰۵/۰۸/۲۹ ۱۴:۳۰ (شمسی، وقت تهران) یا 2026-11-20 (میلادی) یا میلی‌ثانیهٔ یونیکس بنویسید"
        ),
        format!(
            "\"{raw}\" is not a valid date; write 1405/08/29 or 1405/08/29 14:30 (Jalali, Tehran \
             time), 2026-11-20 (Gregorian), 2026-11-20T10:00:00Z, or Unix milliseconds"
        ),
    )
}

/// Parses an "as of" instant (`validate --at`, the service's `at`): a bare day means its last
/// millisecond, UTC.
pub fn parse_at(s: &str) -> Result<i64, String> {
    arg(s).map(When::utc_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jalali_and_gregorian_days_agree() {
        let g = parse("2026-11-20").unwrap();
        assert_eq!(parse("1405/08/29").unwrap(), g);
        assert_eq!(parse("۱۴۰۵/۰۸/۲۹").unwrap(), g);
        assert_eq!(parse("1405-8-29").unwrap(), g);
        let When::Day(d) = g else { panic!() };
        assert_eq!(jalali::gregorian_from_days(d), (2026, 11, 20));
    }

    #[test]
    fn instants() {
        assert_eq!(
            parse("1683997837988").unwrap(),
            When::Instant(1_683_997_837_988)
        );
        assert_eq!(
            parse("2023-05-13T17:10:37Z").unwrap(),
            When::Instant(1_683_997_837_000)
        );
        // Tehran is UTC+3:30.
        assert_eq!(
            parse("2023-05-13 03:30").unwrap(),
            When::Instant(1_683_936_000_000)
        );
        assert_eq!(
            parse("2023-05-13").unwrap().tehran_start(),
            1_683_923_400_000
        );
    }

    #[test]
    fn ends_of_days() {
        let d = parse("2023-05-13").unwrap();
        assert_eq!(d.utc_start(), 1_683_936_000_000);
        assert_eq!(d.utc_end(), 1_683_936_000_000 + MS_PER_DAY - 1);
        assert_eq!(d.tehran_end(), d.tehran_start() + MS_PER_DAY - 1);
    }

    #[test]
    fn bad_dates_are_named() {
        for s in ["1405/13/01", "2026-02-30", "yesterday", ""] {
            let e = parse(s).unwrap_err();
            assert!(e.en.contains("1405/08/29"), "{s}: {}", e.en);
        }
    }
}
