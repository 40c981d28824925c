//! The retry, poll and outage-deadline settings of `run` and `submit`: a flag, else the
//! profile key of the same name, else the environment variable (`MOADIAN_RETRY_*`,
//! `MOADIAN_POLL_*`, `MOADIAN_DEADLINE_MS`, kept as a fallback), else the default.

use crate::api::RetryPolicy;
use crate::config::Profile;
use crate::pipeline::PollOptions;
use std::time::Duration;

/// Pacing flags shared by `run` and `submit`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PacingArgs {
    /// Stop (exit 3, queue intact) when the tax server has been unreachable or failing for
    /// this long since the first failure (default 5m; profile key `deadline`).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub deadline: Option<Duration>,
    /// Tries after a failed call (default 6; profile key `retry_attempts`).
    #[arg(long, value_name = "N")]
    pub retry_attempts: Option<u32>,
    /// First wait between tries, growing ×3 (default 5s; profile key `retry_base`).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub retry_base: Option<Duration>,
    /// Longest wait between tries (default 3m; profile key `retry_max`).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub retry_max: Option<Duration>,
    /// Wait after sending before the first inquiry (default 500ms; profile key `poll_first`).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub poll_first: Option<Duration>,
    /// Longest wait between inquiry rounds (default 60s; profile key `poll_max`).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub poll_max: Option<Duration>,
}

fn duration(key: &str, v: &Option<String>) -> anyhow::Result<Option<Duration>> {
    v.as_deref()
        .map(|s| {
            humantime::parse_duration(s.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "profile key {key} = {s:?} is not a duration (e.g. \"30s\", \"5m\"): {e} / مقدار {key} در پروفایل مدت معتبر نیست"
                )
            })
        })
        .transpose()
}

impl PacingArgs {
    /// The retry policy and poll pace: flag, else profile key, else `base` (environment and
    /// defaults).
    pub fn resolve(
        &self,
        profile: &Profile,
        mut retry: RetryPolicy,
        mut poll: PollOptions,
    ) -> anyhow::Result<(RetryPolicy, PollOptions)> {
        if let Some(d) = self.deadline.or(duration("deadline", &profile.deadline)?) {
            retry.deadline = d;
        }
        if let Some(n) = self.retry_attempts.or(profile.retry_attempts) {
            retry.max_retries = n;
        }
        if let Some(d) = self
            .retry_base
            .or(duration("retry_base", &profile.retry_base)?)
        {
            retry.base = d;
        }
        if let Some(d) = self
            .retry_max
            .or(duration("retry_max", &profile.retry_max)?)
        {
            retry.max = d;
        }
        if let Some(d) = self
            .poll_first
            .or(duration("poll_first", &profile.poll_first)?)
        {
            poll.first_delay = d;
        }
        if let Some(d) = self.poll_max.or(duration("poll_max", &profile.poll_max)?) {
            poll.max_delay = d;
        }
        Ok((retry, poll))
    }
}
