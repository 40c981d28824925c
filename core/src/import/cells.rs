//! Turning one cell into the JSON value of its field: exact decimals, digit strings that keep
//! their leading zeros, Jalali or Gregorian dates in Tehran time to Unix ms, day counts.
//! Persian and Arabic-Indic digits, thousands separators and the Persian decimal separator are
//! accepted.

use super::columns::Kind;
use super::jalali::{self, JalaliDate};
use super::limits::clip;
use super::sheet::Cell;
use crate::lang::Message;
use chrono::NaiveDate;
use serde_json::Value;

/// Replaces Persian (۰–۹) and Arabic-Indic (٠–٩) digits by ASCII ones and the Persian decimal
/// separator `٫` by `.`.
pub fn ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            '٫' => '.',
            c => c,
        })
        .collect()
}

/// Canonical text of an exact decimal: no thousands separators, no leading zeros, no trailing
/// fractional zeros. `None` when it is not a plain decimal number.
pub fn canonical_decimal(raw: &str) -> Option<String> {
    let s: String = ascii_digits(raw)
        .chars()
        .filter(|c| !matches!(c, ',' | '٬' | ' ' | '\u{a0}' | '\u{202f}' | '_'))
        .collect();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    let mut out = String::new();
    if neg && !(int == "0" && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

fn number(text: &str) -> Option<Value> {
    serde_json::from_str::<serde_json::Number>(text)
        .ok()
        .map(Value::Number)
}

/// Parses a date or date-time a person typed: `1403/08/15`, `1403/8/15 14:30`,
/// `2024-11-05`, `2024-11-05 14:30:00` (years below 1700 are Jalali; all of these are Tehran
/// local time), RFC 3339 with an offset (`2024-11-05T11:00:00Z`), or Unix ms (12+ digits).
pub fn parse_datetime_ms(raw: &str) -> Result<i64, Message> {
    let s = ascii_digits(raw.trim());
    if s.len() >= 12 && s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse::<i64>().map_err(|_| bad_date(raw));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s) {
        return Ok(t.timestamp_millis());
    }
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s.as_str(), None),
    };
    let parts: Vec<&str> = date.split(['/', '-', '.']).collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad_date(raw));
    };
    let (y, m, d) = match (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return Err(bad_date(raw)),
    };
    let (hh, mm, ss) = match time {
        None | Some("") => (0, 0, 0),
        Some(t) => {
            let tp: Vec<&str> = t.split(':').collect();
            let n = |i: usize| tp.get(i).map(|x| x.parse::<u32>()).unwrap_or(Ok(0));
            match (tp.len(), n(0), n(1), n(2)) {
                (2 | 3, Ok(h), Ok(mi), Ok(se)) if h < 24 && mi < 60 && se < 60 => (h, mi, se),
                _ => return Err(bad_date(raw)),
            }
        }
    };
    if y < 1700 {
        jalali::jalali_local_to_unix_ms(
            JalaliDate {
                year: y,
                month: m,
                day: d,
            },
            hh,
            mm,
            ss,
        )
        .ok_or_else(|| bad_date(raw))
    } else {
        let t = NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(hh, mm, ss))
            .ok_or_else(|| bad_date(raw))?;
        Ok(jalali::gregorian_local_to_unix_ms(t))
    }
}

fn bad_date(raw: &str) -> Message {
    let raw = clip(raw);
    Message::new(
        format!(
            "«{raw}» تاریخ معتبری نیست؛ به شکل ۱۴۰۳/۰۸/۱۵ یا ۱۴۰۳/۰۸/۱۵ ۱۴:۳۰ (شمسی) یا 2024-11-05 بنویسید"
        ),
        format!(
            "\"{raw}\" is not a valid date; write it as 1403/08/15 or 1403/08/15 14:30 (Jalali) \
             or 2024-11-05 14:30 (Gregorian), Tehran time"
        ),
    )
}

/// Days since 1970-01-01 of a date (`cdcd`, `asd`).
fn parse_day_count(raw: &str) -> Result<i64, Message> {
    let s = ascii_digits(raw.trim());
    if (1..=6).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse::<i64>().map_err(|_| bad_date(raw));
    }
    let ms = parse_datetime_ms(&s)?;
    // The local date, counted in whole days.
    let local = jalali::unix_ms_to_tehran(ms).ok_or_else(|| bad_date(raw))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| bad_date(raw))?;
    Ok((local.date() - epoch).num_days())
}

/// The JSON value of one cell for a field of the given kind; `Ok(None)` for an empty cell.
pub fn convert(cell: &Cell, kind: Kind) -> Result<Option<Value>, Message> {
    if cell.is_empty() {
        return Ok(None);
    }
    if let Cell::Number {
        text,
        inexact: true,
    } = cell
    {
        return Err(Message::new(
            format!(
                "عدد {text} بیش از ۱۵ رقم معنادار دارد و اکسل ممکن است آن را تغییر داده باشد؛ \
                 قالب ستون را «متن» کنید و مقدار را دوباره وارد کنید"
            ),
            format!(
                "the number {text} has more than 15 significant digits, so Excel may have \
                 changed it (it stores numbers as binary floating point); format the column as \
                 Text and type the value again"
            ),
        ));
    }
    let text = match cell {
        Cell::Text(t) => t.trim().to_string(),
        Cell::Number { text, .. } => text.clone(),
        Cell::DateTime(t) => {
            return match kind {
                Kind::DateTimeMs => Ok(Some(Value::from(jalali::gregorian_local_to_unix_ms(*t)))),
                Kind::DayCount => {
                    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
                        .ok_or_else(|| bad_date(&t.to_string()))?;
                    Ok(Some(Value::from((t.date() - epoch).num_days())))
                }
                _ => Err(Message::new(
                    "این ستون تاریخ نیست اما خانه قالب تاریخ دارد؛ قالب خانه را «متن» یا «عدد» کنید",
                    "this column is not a date but the cell is formatted as a date; format it as Text or Number",
                )),
            };
        }
        Cell::Empty => return Ok(None),
    };
    match kind {
        Kind::Text => Ok(Some(Value::String(text))),
        Kind::Digits => {
            let d = ascii_digits(&text);
            if d.chars().all(|c| c.is_ascii_digit()) {
                Ok(Some(Value::String(d)))
            } else {
                Err(Message::new(
                    format!("«{}» باید فقط رقم باشد", clip(&text)),
                    format!("\"{}\" must contain digits only", clip(&text)),
                ))
            }
        }
        Kind::Int => {
            let d = ascii_digits(&text);
            match d.parse::<i64>() {
                Ok(i) => Ok(Some(Value::from(i))),
                Err(_) => Err(Message::new(
                    format!("«{}» باید یک عدد صحیح باشد", clip(&text)),
                    format!("\"{}\" must be a whole number", clip(&text)),
                )),
            }
        }
        Kind::Decimal => match canonical_decimal(&text).and_then(|c| number(&c)) {
            Some(v) => Ok(Some(v)),
            None => Err(Message::new(
                format!("«{}» عدد نیست (مثال: 1250000 یا 2.5)", clip(&text)),
                format!("\"{}\" is not a number (e.g. 1250000 or 2.5)", clip(&text)),
            )),
        },
        Kind::DateTimeMs => parse_datetime_ms(&text).map(|ms| Some(Value::from(ms))),
        Kind::DayCount => parse_day_count(&text).map(|d| Some(Value::from(d))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_canonical() {
        assert_eq!(canonical_decimal("1,250,000").as_deref(), Some("1250000"));
        assert_eq!(canonical_decimal("۱۲٬۵۰۰").as_deref(), Some("12500"));
        assert_eq!(canonical_decimal("2.50").as_deref(), Some("2.5"));
        assert_eq!(canonical_decimal("۲٫۵").as_deref(), Some("2.5"));
        assert_eq!(canonical_decimal("007").as_deref(), Some("7"));
        assert_eq!(
            canonical_decimal("123456789012345678.12345678").as_deref(),
            Some("123456789012345678.12345678")
        );
        assert_eq!(canonical_decimal("1e5"), None);
        assert_eq!(canonical_decimal("abc"), None);
        let v = convert(&Cell::Text("0.1".into()), Kind::Decimal)
            .unwrap()
            .unwrap();
        assert_eq!(v.to_string(), "0.1");
    }

    #[test]
    fn dates_jalali_and_gregorian_in_tehran_time() {
        let a = parse_datetime_ms("1403/08/15 14:30").unwrap();
        let b = parse_datetime_ms("2024-11-05 14:30").unwrap();
        let c = parse_datetime_ms("2024-11-05T11:00:00Z").unwrap();
        let d = parse_datetime_ms("۱۴۰۳/۰۸/۱۵ ۱۴:۳۰").unwrap();
        assert_eq!(a, 1_730_804_400_000);
        assert_eq!((a, a, a), (b, c, d));
        assert_eq!(
            parse_datetime_ms("1403/08/15").unwrap(),
            1_730_752_200_000,
            "midnight Tehran = 20:30 UTC the day before"
        );
        assert!(parse_datetime_ms("1404/12/30").is_err());
        assert!(parse_datetime_ms("1403/13/01").is_err());
        assert_eq!(parse_datetime_ms("1730804400000").unwrap(), a);
        assert_eq!(parse_day_count("1403/08/15").unwrap(), 20032);
    }

    #[test]
    fn inexact_numbers_are_refused() {
        let c = Cell::Number {
            text: "12345678901234567".into(),
            inexact: true,
        };
        assert!(convert(&c, Kind::Decimal).is_err());
    }
}
