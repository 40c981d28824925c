//! Jalali (هجری شمسی) calendar and Tehran local time, for reading the dates accountants type
//! (`1403/08/15`, `1403/08/15 14:30`) and for showing dates back to them.
//!
//! The calendar arithmetic itself is [`crate::invoice::jalali`]; this module adds what a person
//! types and reads: Tehran local time and formatting.
//!
//! Local time: a date or date-time typed without an offset is Tehran time. Iran Standard Time is
//! UTC+03:30; from 1387 to 1401 SH (2008–2022) daylight saving time (UTC+04:30) applied from the
//! start of 1 Farvardin to the end of 30 Shahrivar. Iran abolished daylight saving time in 1401,
//! so for current invoices the offset is always +03:30.

use crate::invoice::jalali as cal;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// A Jalali calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct JalaliDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

/// Persian month names, Farvardin first.
pub use cal::MONTHS_FA;

/// Transliterated month names for English output.
pub const MONTHS_EN: [&str; 12] = [
    "Farvardin",
    "Ordibehesht",
    "Khordad",
    "Tir",
    "Mordad",
    "Shahrivar",
    "Mehr",
    "Aban",
    "Azar",
    "Dey",
    "Bahman",
    "Esfand",
];

/// Gregorian (y, m, d) → Jalali (calendar arithmetic from [`crate::invoice::jalali`]).
pub fn from_gregorian(gy: i32, gm: u32, gd: u32) -> JalaliDate {
    let (year, month, day) = cal::to_jalali(gy, gm, gd).unwrap_or((0, 1, 1));
    JalaliDate { year, month, day }
}

/// Jalali → Gregorian date, or `None` when the Jalali date does not exist.
pub fn to_gregorian(j: JalaliDate) -> Option<NaiveDate> {
    let (y, m, d) = cal::from_jalali(j.year, j.month, j.day)?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Whether a Jalali year is leap (has 30 Esfand).
pub fn is_leap(year: i32) -> bool {
    cal::is_jalali_leap(year)
}

/// Days in a Jalali month.
pub fn month_length(year: i32, month: u32) -> u32 {
    cal::jalali_month_len(year, month)
}

/// The offset of Tehran local time from UTC, in seconds, for a local Jalali date.
pub fn tehran_offset_secs(j: JalaliDate) -> i64 {
    let dst = (1387..=1401).contains(&j.year) && j.month <= 6;
    if dst {
        4 * 3600 + 1800
    } else {
        3 * 3600 + 1800
    }
}

/// Unix ms of a Tehran local Jalali date-time.
pub fn jalali_local_to_unix_ms(j: JalaliDate, hour: u32, min: u32, sec: u32) -> Option<i64> {
    let g = to_gregorian(j)?;
    let t = g.and_hms_opt(hour, min, sec)?;
    Some((t.and_utc().timestamp() - tehran_offset_secs(j)) * 1000)
}

/// Unix ms of a Tehran local Gregorian date-time.
pub fn gregorian_local_to_unix_ms(t: NaiveDateTime) -> i64 {
    let j = from_gregorian(t.year(), t.month(), t.day());
    (t.and_utc().timestamp() - tehran_offset_secs(j)) * 1000
}

/// Tehran local date-time (Gregorian naive) of a Unix ms instant.
pub fn unix_ms_to_tehran(ms: i64) -> Option<NaiveDateTime> {
    let utc = chrono::DateTime::from_timestamp_millis(ms)?.naive_utc();
    // Try standard time first; if the resulting local date falls in DST, use that offset.
    let std = utc + chrono::Duration::seconds(3 * 3600 + 1800);
    let j = from_gregorian(std.year(), std.month(), std.day());
    let off = tehran_offset_secs(j);
    Some(utc + chrono::Duration::seconds(off))
}

/// Jalali date of an instant, in Tehran.
pub fn jalali_of_unix_ms(ms: i64) -> Option<JalaliDate> {
    let t = unix_ms_to_tehran(ms)?;
    Some(from_gregorian(t.year(), t.month(), t.day()))
}

/// `1403/08/15 14:30` (Tehran) for an instant; with `gregorian_too`, `… (2024-11-05 14:30)`.
pub fn format_unix_ms(ms: i64, with_time: bool, gregorian_too: bool) -> String {
    let Some(t) = unix_ms_to_tehran(ms) else {
        return ms.to_string();
    };
    let j = from_gregorian(t.year(), t.month(), t.day());
    let mut s = format!("{:04}/{:02}/{:02}", j.year, j.month, j.day);
    if with_time {
        s.push_str(&format!(" {:02}:{:02}", t.hour(), t.minute()));
    }
    if gregorian_too {
        if with_time {
            s.push_str(&format!(" ({})", t.format("%Y-%m-%d %H:%M")));
        } else {
            s.push_str(&format!(" ({})", t.format("%Y-%m-%d")));
        }
    }
    s
}

impl std::fmt::Display for JalaliDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 1 Farvardin 1403 = 2024-03-20; 15 Aban 1403 = 2024-11-05; 30 Tir 1399 = 2020-07-20.
        let cases = [
            ((1403, 1, 1), (2024, 3, 20)),
            ((1403, 8, 15), (2024, 11, 5)),
            ((1399, 4, 30), (2020, 7, 20)),
            ((1405, 4, 1), (2026, 6, 22)),
            ((1403, 12, 30), (2025, 3, 20)),
            ((1404, 1, 1), (2025, 3, 21)),
            ((1348, 10, 11), (1970, 1, 1)),
        ];
        for ((jy, jm, jd), (gy, gm, gd)) in cases {
            let j = JalaliDate {
                year: jy,
                month: jm,
                day: jd,
            };
            let g = NaiveDate::from_ymd_opt(gy, gm, gd).unwrap();
            assert_eq!(to_gregorian(j), Some(g), "{j}");
            assert_eq!(from_gregorian(gy, gm, gd), j, "{g}");
        }
    }

    #[test]
    fn leap_years_and_invalid_dates() {
        assert_eq!(month_length(1403, 12), 30);
        assert_eq!(month_length(1404, 12), 29);
        assert!(is_leap(1403));
        assert!(!is_leap(1404));
        let bad = JalaliDate {
            year: 1404,
            month: 12,
            day: 30,
        };
        assert_eq!(to_gregorian(bad), None);
        let bad = JalaliDate {
            year: 1404,
            month: 7,
            day: 31,
        };
        assert_eq!(to_gregorian(bad), None);
    }

    #[test]
    fn round_trip_every_day_for_decades() {
        let mut d = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2060, 1, 1).unwrap();
        while d < end {
            let j = from_gregorian(d.year(), d.month(), d.day());
            assert_eq!(to_gregorian(j), Some(d));
            d = d.succ_opt().unwrap();
        }
    }

    #[test]
    fn tehran_time() {
        // 1403/08/15 14:30 Tehran = 11:00 UTC.
        let j = JalaliDate {
            year: 1403,
            month: 8,
            day: 15,
        };
        let ms = jalali_local_to_unix_ms(j, 14, 30, 0).unwrap();
        assert_eq!(ms, 1_730_804_400_000);
        assert_eq!(format_unix_ms(ms, true, false), "1403/08/15 14:30");
        assert_eq!(
            format_unix_ms(ms, true, true),
            "1403/08/15 14:30 (2024-11-05 14:30)"
        );
    }
}
