//! Time in the sandbox: its own clock (real, or pinned to a past instant and advancing from
//! there, so old certificates verify), and lenient parsing of the date forms clients send —
//! `sigT` in UTC or local time, inquiry `start`/`end` with 0–9 fractional digits and any offset.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use std::time::Instant;

/// The sandbox clock.
#[derive(Debug, Clone)]
pub struct Clock {
    base_ms: Option<i64>,
    started: Instant,
}

impl Clock {
    /// `pinned_ms`: the clock reads this at start and advances in real time; none = wall clock.
    pub fn new(pinned_ms: Option<i64>) -> Self {
        Self {
            base_ms: pinned_ms,
            started: Instant::now(),
        }
    }

    /// Now, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self.base_ms {
            Some(base) => {
                let elapsed = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
                base.saturating_add(elapsed)
            }
            None => Utc::now().timestamp_millis(),
        }
    }
}

/// Unix ms as ISO-8601 UTC with 9 fractional digits and `Z` (the nonce `expDate` shape).
pub fn iso_nanos(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Nanos, true),
        None => String::new(),
    }
}

/// Unix ms as ISO-8601 UTC with milliseconds and `Z`.
pub fn iso_millis(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => String::new(),
    }
}

/// Unix seconds as `yyyy-MM-dd'T'HH:mm:ss'Z'` (the official `sigT` form).
pub fn sig_t(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => String::new(),
    }
}

/// Parses an inquiry `start`/`end`: RFC 3339 with 0–9 fractional digits and an offset or `Z`;
/// also tolerates a missing offset (taken as Tehran time, +03:30) and `+0330` offsets.
pub fn parse_query_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.timestamp_millis());
    }
    let tehran = FixedOffset::east_opt(12_600)?;
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .and_then(|n| tehran.from_local_datetime(&n).single())
        .map(|t| t.timestamp_millis())
}

/// Parses a `sigT` leniently; `None` when no known form fits (the caller only logs that).
/// Forms seen from working clients: `2023-05-13T10:44:47Z` (official), with milliseconds,
/// `2023-05-13T14:14:47Z+0330` / `+03:30` (local time, allowed by the guide), local wall-clock
/// time with a literal `Z`, and no zone at all.
pub fn parse_sig_t(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_query_time(s) {
        return Some(t);
    }
    // "…Z+0330": a local time followed by the offset the guide allows.
    if let Some((local, offset)) = s.split_once("Z+") {
        let joined = format!("{local}+{offset}");
        if let Ok(t) = DateTime::parse_from_str(&joined, "%Y-%m-%dT%H:%M:%S%.f%z") {
            return Some(t.timestamp_millis());
        }
    }
    NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_times_in_every_client_form() {
        let expect = parse_query_time("2023-05-14T00:00:00+03:30").unwrap();
        for s in [
            "2023-05-14T00:00:00.000000000+03:30",
            "2023-05-14T00:00:00.000000+03:30",
            "2023-05-14T00:00:00.000+0330",
            "2023-05-13T20:30:00Z",
            "2023-05-14T00:00:00",
        ] {
            assert_eq!(parse_query_time(s), Some(expect), "{s}");
        }
        assert_eq!(parse_query_time("yesterday"), None);
    }

    #[test]
    fn sig_t_forms() {
        let utc = parse_sig_t("2023-05-13T10:44:47Z").unwrap();
        assert_eq!(parse_sig_t("2023-05-13T14:14:47Z+0330"), Some(utc));
        assert_eq!(parse_sig_t("2023-05-13T14:14:47+03:30"), Some(utc));
        assert_eq!(parse_sig_t("2023-05-13T10:44:47.000Z"), Some(utc));
        assert!(parse_sig_t("2023-05-13T10:44:47").is_some());
        assert_eq!(parse_sig_t("not a time"), None);
        assert_eq!(sig_t(utc), "2023-05-13T10:44:47Z");
        assert!(iso_nanos(utc).ends_with(".000000000Z"));
    }

    #[test]
    fn pinned_clock_starts_at_the_pin() {
        let c = Clock::new(Some(1_709_717_755_000));
        let now = c.now_ms();
        assert!((1_709_717_755_000..1_709_717_765_000).contains(&now));
    }
}
