//! Exponential backoff with jitter for retryable failures (5 s, 15 s, 45 s… in production as
//! vendors advise; milliseconds in tests through [`RetryPolicy::from_env`]).

use rand::Rng;
use std::time::Duration;

/// How often and how long to wait between tries of a retryable call.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries after the first one.
    pub max_retries: u32,
    /// The first wait.
    pub base: Duration,
    /// Growth of the wait per try.
    pub factor: f64,
    /// No wait is longer than this.
    pub max: Duration,
    /// The outage budget: once the server has failed without a success in between for this
    /// long, calls give up ([`crate::api::ApiError::Outage`]) instead of waiting again.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 6,
            base: Duration::from_secs(5),
            factor: 3.0,
            max: Duration::from_secs(180),
            deadline: DEFAULT_DEADLINE,
        }
    }
}

/// The longest a server's `Retry-After` is followed: a longer one is cut to this (the outage
/// budget, [`RetryPolicy::deadline`], still applies).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How long `run` / `submit` keep trying an unreachable server by default.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// One retry about to happen, for the one line the CLI prints per retry.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    /// What failed: `connection refused …`, `HTTP 503 (5199 …)`, `timeout …`.
    pub what: String,
    /// The call (`invoice`, `inquiry-by-uid`…).
    pub call: String,
    /// The try that just failed (1-based) and how many there will be at most.
    pub attempt: u32,
    pub of: u32,
    /// The wait before the next try.
    pub wait: Duration,
}

impl std::fmt::Display for RetryNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = chrono::Utc::now()
            + chrono::Duration::from_std(self.wait).unwrap_or_else(|_| chrono::Duration::zero());
        write!(
            f,
            "{} failed ({}): attempt {} of {}, next try in {:.1} s at {} / تلاش {} از {} ناموفق بود؛ تلاش بعدی {:.1} ثانیه دیگر",
            self.call,
            self.what,
            self.attempt,
            self.of,
            self.wait.as_secs_f64(),
            at.format("%H:%M:%S UTC"),
            self.attempt,
            self.of,
            self.wait.as_secs_f64(),
        )
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The default, overridden by `MOADIAN_RETRY_BASE_MS`, `MOADIAN_RETRY_MAX_MS`,
    /// `MOADIAN_RETRY_ATTEMPTS` and `MOADIAN_DEADLINE_MS` when set (the fallback of the
    /// `--retry-*` / `--deadline` flags and profile keys).
    pub fn from_env() -> Self {
        let mut p = Self::default();
        if let Some(ms) = env_u64("MOADIAN_RETRY_BASE_MS") {
            p.base = Duration::from_millis(ms);
        }
        if let Some(ms) = env_u64("MOADIAN_RETRY_MAX_MS") {
            p.max = Duration::from_millis(ms);
        }
        if let Some(n) = env_u64("MOADIAN_RETRY_ATTEMPTS") {
            p.max_retries = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(ms) = env_u64("MOADIAN_DEADLINE_MS") {
            p.deadline = Duration::from_millis(ms);
        }
        p
    }

    /// The wait before try number `retry` (1-based), with ±25 % jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self.factor.powi(retry.saturating_sub(1).min(30) as i32);
        let nominal = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let jitter = rand::thread_rng().gen_range(0.75..=1.25);
        Duration::from_secs_f64((nominal * jitter).min(self.max.as_secs_f64()))
    }

    /// The wait before try number `retry` (1-based): the server's `Retry-After` when it gave
    /// one (at most [`MAX_RETRY_AFTER`]) and it is longer than our own backoff, else
    /// [`Self::delay`].
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let own = self.delay(retry);
        match retry_after {
            Some(asked) => asked.min(MAX_RETRY_AFTER).max(own),
            None => own,
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 ms doubling, at most 300 ms.
    fn short() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            factor: 2.0,
            max: Duration::from_millis(300),
            deadline: DEFAULT_DEADLINE,
        }
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let p = short();
        let d1 = p.delay(1);
        assert!(d1 >= Duration::from_millis(75) && d1 <= Duration::from_millis(125));
        assert!(p.delay(10) <= Duration::from_millis(300));
    }

    /// `Retry-After` is followed up to two minutes; our own backoff when it is longer.
    #[test]
    fn retry_after_is_followed_and_capped() {
        let p = short();
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(86_400))),
            MAX_RETRY_AFTER
        );
        assert!(p.wait(1, Some(Duration::ZERO)) >= Duration::from_millis(75));
        assert!(p.wait(1, None) <= Duration::from_millis(125));
    }
}
