//! Jalali (Solar Hijri, هجری شمسی) ⇄ Gregorian dates, exactly, plus days since 1970-01-01.
//!
//! Why it exists: people in Iran read and type dates in the Jalali calendar (spreadsheets,
//! `moadian taxid --check`), while the tax ID and `indatim` count UTC days and milliseconds.
//! The conversion is the well-known break-year algorithm of Borkowski as used by jalaali-js,
//! which agrees with the official calendar for Jalali years 1–3177; integer arithmetic only.

/// Years where the 33-year cycle of leap years breaks (Borkowski).
const BREAKS: [i64; 20] = [
    -61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324,
    2394, 2456, 3178,
];

/// First and last Jalali year this module converts.
pub const MIN_JALALI_YEAR: i32 = 1;
pub const MAX_JALALI_YEAR: i32 = 3177;

/// Persian month names, فروردین … اسفند.
pub const MONTHS_FA: [&str; 12] = [
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
];

struct JalCal {
    /// 0 when the Jalali year is a leap year (years since the last leap otherwise).
    leap: i64,
    /// The Gregorian year the Jalali year starts in.
    gy: i64,
    /// The day of March (Gregorian) on which Farvardin 1 falls.
    march: i64,
}

fn jal_cal(jy: i64) -> Option<JalCal> {
    if jy < i64::from(MIN_JALALI_YEAR) || jy > i64::from(MAX_JALALI_YEAR) {
        return None;
    }
    let gy = jy + 621;
    let mut leap_j: i64 = -14;
    let mut jp = BREAKS[0];
    let mut jump = 0;
    for &jm in &BREAKS[1..] {
        jump = jm - jp;
        if jy < jm {
            break;
        }
        leap_j += jump / 33 * 8 + (jump % 33) / 4;
        jp = jm;
    }
    let mut n = jy - jp;
    leap_j += n / 33 * 8 + ((n % 33) + 3) / 4;
    if jump % 33 == 4 && jump - n == 4 {
        leap_j += 1;
    }
    let leap_g = gy / 4 - ((gy / 100 + 1) * 3) / 4 - 150;
    let march = 20 + leap_j - leap_g;
    if jump - n < 6 {
        n = n - jump + (jump + 4) / 33 * 33;
    }
    let mut leap = (((n + 1) % 33) - 1) % 4;
    if leap == -1 {
        leap = 4;
    }
    Some(JalCal { leap, gy, march })
}

/// Julian day number of a Gregorian date.
fn g2d(gy: i64, gm: i64, gd: i64) -> i64 {
    let d = ((gy + (gm - 8) / 6 + 100_100) * 1461) / 4 + (153 * ((gm + 9) % 12) + 2) / 5 + gd
        - 34_840_408;
    d - ((gy + 100_100 + (gm - 8) / 6) / 100 * 3) / 4 + 752
}

/// Gregorian date of a Julian day number.
fn d2g(jdn: i64) -> (i64, i64, i64) {
    let mut j = 4 * jdn + 139_361_631;
    j += (4 * jdn + 183_187_720) / 146_097 * 3 / 4 * 4 - 3908;
    let i = (j % 1461) / 4 * 5 + 308;
    let gd = (i % 153) / 5 + 1;
    let gm = (i / 153) % 12 + 1;
    let gy = j / 1461 - 100_100 + (8 - gm) / 6;
    (gy, gm, gd)
}

/// Julian day number of 1970-01-01.
const JDN_UNIX_EPOCH: i64 = 2_440_588;

/// Whether a Gregorian date exists.
pub fn is_valid_gregorian(y: i32, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && d <= gregorian_month_len(y, m)
}

fn gregorian_month_len(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether a Jalali year is a leap year (Esfand has 30 days).
pub fn is_jalali_leap(jy: i32) -> bool {
    jal_cal(i64::from(jy)).is_some_and(|c| c.leap == 0)
}

/// Days in a Jalali month (0 for a month that does not exist).
pub fn jalali_month_len(jy: i32, jm: u32) -> u32 {
    match jm {
        1..=6 => 31,
        7..=11 => 30,
        12 if is_jalali_leap(jy) => 30,
        12 => 29,
        _ => 0,
    }
}

/// Whether a Jalali date exists (within years 1–3177).
pub fn is_valid_jalali(jy: i32, jm: u32, jd: u32) -> bool {
    (MIN_JALALI_YEAR..=MAX_JALALI_YEAR).contains(&jy)
        && (1..=12).contains(&jm)
        && jd >= 1
        && jd <= jalali_month_len(jy, jm)
}

/// Gregorian (year, month, day) → Jalali (year, month, day). `None` for a date that does not
/// exist or lies outside Jalali years 1–3177. `to_jalali(2024, 11, 5) == Some((1403, 8, 15))`.
pub fn to_jalali(y: i32, m: u32, d: u32) -> Option<(i32, u32, u32)> {
    if !is_valid_gregorian(y, m, d) {
        return None;
    }
    jalali_from_jdn(g2d(i64::from(y), i64::from(m), i64::from(d)))
}

/// Jalali (year, month, day) → Gregorian (year, month, day). `None` for a Jalali date that does
/// not exist (e.g. 1403/07/31, or Esfand 30 of a common year).
/// `from_jalali(1403, 8, 15) == Some((2024, 11, 5))`.
pub fn from_jalali(jy: i32, jm: u32, jd: u32) -> Option<(i32, u32, u32)> {
    let jdn = jdn_of_jalali(jy, jm, jd)?;
    let (gy, gm, gd) = d2g(jdn);
    Some((i32::try_from(gy).ok()?, gm as u32, gd as u32))
}

fn jdn_of_jalali(jy: i32, jm: u32, jd: u32) -> Option<i64> {
    if !is_valid_jalali(jy, jm, jd) {
        return None;
    }
    let c = jal_cal(i64::from(jy))?;
    let (jm, jd) = (i64::from(jm), i64::from(jd));
    Some(g2d(c.gy, 3, c.march) + (jm - 1) * 31 - jm / 7 * (jm - 7) + jd - 1)
}

fn jalali_from_jdn(jdn: i64) -> Option<(i32, u32, u32)> {
    let (gy, _, _) = d2g(jdn);
    let mut jy = gy - 621;
    let c = jal_cal(jy)?;
    let jdn1f = g2d(gy, 3, c.march);
    let mut k = jdn - jdn1f;
    if k >= 0 {
        if k <= 185 {
            return Some((jy as i32, (1 + k / 31) as u32, (k % 31 + 1) as u32));
        }
        k -= 186;
    } else {
        jy -= 1;
        // The year before must be in range too.
        jal_cal(jy)?;
        k += 179;
        if c.leap == 1 {
            k += 1;
        }
    }
    Some((jy as i32, (7 + k / 30) as u32, (k % 30 + 1) as u32))
}

/// Days since 1970-01-01 of a Gregorian date (negative before). `None` if the date does not
/// exist.
pub fn days_from_gregorian(y: i32, m: u32, d: u32) -> Option<i64> {
    is_valid_gregorian(y, m, d)
        .then(|| g2d(i64::from(y), i64::from(m), i64::from(d)) - JDN_UNIX_EPOCH)
}

/// Gregorian date of a day count since 1970-01-01 (e.g. a tax ID's day, `cdcd`).
pub fn gregorian_from_days(days: i64) -> (i32, u32, u32) {
    let (y, m, d) = d2g(days + JDN_UNIX_EPOCH);
    (y as i32, m as u32, d as u32)
}

/// Jalali date of a day count since 1970-01-01 (`None` outside Jalali years 1–3177).
pub fn jalali_from_days(days: i64) -> Option<(i32, u32, u32)> {
    jalali_from_jdn(days + JDN_UNIX_EPOCH)
}

/// Day count since 1970-01-01 of a Jalali date (`None` if it does not exist).
pub fn days_from_jalali(jy: i32, jm: u32, jd: u32) -> Option<i64> {
    jdn_of_jalali(jy, jm, jd).map(|j| j - JDN_UNIX_EPOCH)
}

/// `1403/08/15` style text of a Jalali date.
pub fn format_jalali((y, m, d): (i32, u32, u32)) -> String {
    format!("{y:04}/{m:02}/{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(from_jalali(1403, 8, 15), Some((2024, 11, 5)));
        assert_eq!(to_jalali(2024, 11, 5), Some((1403, 8, 15)));
        assert_eq!(from_jalali(1402, 12, 16), Some((2024, 3, 6)));
        assert_eq!(to_jalali(2024, 3, 6), Some((1402, 12, 16)));
        // Official tax-ID example days (RC_DCPS.SN appendix; invoice-schema §13.5).
        assert_eq!(to_jalali(2020, 7, 20), Some((1399, 4, 30)));
        assert_eq!(to_jalali(2026, 6, 22), Some((1405, 4, 1)));
        assert_eq!(to_jalali(1970, 1, 1), Some((1348, 10, 11)));
        assert_eq!(to_jalali(1979, 2, 11), Some((1357, 11, 22)));
    }

    #[test]
    fn nowruz_boundaries() {
        // 1403 is a leap year (Esfand 30 = 2025-03-20); 1402 is not.
        assert_eq!(to_jalali(2024, 3, 19), Some((1402, 12, 29)));
        assert_eq!(to_jalali(2024, 3, 20), Some((1403, 1, 1)));
        assert_eq!(to_jalali(2025, 3, 20), Some((1403, 12, 30)));
        assert_eq!(to_jalali(2025, 3, 21), Some((1404, 1, 1)));
        assert_eq!(to_jalali(2023, 3, 21), Some((1402, 1, 1)));
        assert_eq!(to_jalali(2023, 3, 20), Some((1401, 12, 29)));
        assert_eq!(to_jalali(2026, 3, 21), Some((1405, 1, 1)));
        assert!(is_jalali_leap(1399));
        assert!(is_jalali_leap(1403));
        assert!(!is_jalali_leap(1402));
        assert!(!is_jalali_leap(1404));
        assert_eq!(from_jalali(1402, 12, 30), None);
        assert_eq!(from_jalali(1403, 12, 30), Some((2025, 3, 20)));
        // Mehr 1 (first 30-day month) and the end of Shahrivar.
        assert_eq!(to_jalali(2024, 9, 22), Some((1403, 7, 1)));
        assert_eq!(to_jalali(2024, 9, 21), Some((1403, 6, 31)));
    }

    #[test]
    fn invalid_dates_are_none() {
        assert_eq!(from_jalali(1403, 7, 31), None);
        assert_eq!(from_jalali(1403, 13, 1), None);
        assert_eq!(from_jalali(1403, 0, 1), None);
        assert_eq!(from_jalali(0, 1, 1), None);
        assert_eq!(to_jalali(2023, 2, 29), None);
        assert_eq!(to_jalali(2024, 2, 30), None);
        assert_eq!(days_from_gregorian(2024, 13, 1), None);
    }

    #[test]
    fn round_trip_every_day_1300_to_1500() {
        let start = days_from_jalali(1300, 1, 1).unwrap();
        let end = days_from_jalali(1500, 1, 1).unwrap();
        let mut prev: Option<(i32, u32, u32)> = None;
        for day in start..end {
            let j = jalali_from_days(day).unwrap();
            assert_eq!(days_from_jalali(j.0, j.1, j.2), Some(day));
            let g = gregorian_from_days(day);
            assert_eq!(days_from_gregorian(g.0, g.1, g.2), Some(day));
            assert_eq!(to_jalali(g.0, g.1, g.2), Some(j));
            assert_eq!(from_jalali(j.0, j.1, j.2), Some(g));
            if let Some(p) = prev {
                // Consecutive days: day+1, or the first of the next month/year.
                let next_ok = (j.0 == p.0 && j.1 == p.1 && j.2 == p.2 + 1)
                    || (j.0 == p.0 && j.1 == p.1 + 1 && j.2 == 1)
                    || (j.0 == p.0 + 1 && j.1 == 1 && j.2 == 1);
                assert!(next_ok, "{p:?} -> {j:?}");
            }
            prev = Some(j);
        }
    }

    #[test]
    fn days_since_epoch() {
        assert_eq!(days_from_gregorian(1970, 1, 1), Some(0));
        assert_eq!(days_from_gregorian(2020, 7, 20), Some(18463));
        assert_eq!(days_from_gregorian(2023, 5, 13), Some(19490));
        assert_eq!(gregorian_from_days(19490), (2023, 5, 13));
        assert_eq!(gregorian_from_days(-1), (1969, 12, 31));
        assert_eq!(format_jalali((1403, 8, 5)), "1403/08/05");
    }
}
