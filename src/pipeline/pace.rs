//! How long to wait before the next inquiry: soon after acceptance at first, then backing off;
//! once the server has finalized some invoices in this run, its typical processing time (the
//! median time from acceptance to a final answer) says when the newest open invoice should be
//! final, and the next inquiry comes then (never later than the back-off would).

use std::time::Duration;

/// What the server's answers taught so far in this run.
#[derive(Debug, Default, Clone)]
pub struct Learned {
    /// Milliseconds from acceptance to the inquiry that found an invoice final: the latest
    /// [`SAMPLES`] (memory stays flat however many invoices a run follows).
    samples: std::collections::VecDeque<u32>,
    /// Invoices found final.
    finalized: usize,
    /// The slowest, in milliseconds.
    max_ms: u32,
}

/// How many of the latest times the typical time is the median of.
const SAMPLES: usize = 4096;

/// Time from acceptance to a final answer, over the invoices of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Invoices found final.
    pub finalized: usize,
    /// The median, in milliseconds.
    pub median_ms: u64,
    /// The slowest, in milliseconds.
    pub max_ms: u64,
}

impl Learned {
    /// An invoice accepted at `accepted_ms` was found final at `now_ms`.
    pub fn record(&mut self, accepted_ms: i64, now_ms: i64) {
        let ms = (now_ms - accepted_ms).clamp(0, i64::from(u32::MAX)) as u32;
        self.push(ms);
        self.finalized += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    fn push(&mut self, ms: u32) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(ms);
    }

    pub fn merge(&mut self, other: &Learned) {
        for &ms in &other.samples {
            self.push(ms);
        }
        self.finalized += other.finalized;
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    /// The server's typical processing time so far (median), once something was final.
    pub fn typical(&self) -> Option<Duration> {
        median(&self.samples).map(|m| Duration::from_millis(u64::from(m)))
    }

    pub fn timing(&self) -> Option<Timing> {
        Some(Timing {
            finalized: self.finalized,
            median_ms: u64::from(median(&self.samples)?),
            max_ms: u64::from(self.max_ms),
        })
    }

    /// The wait before the next inquiry: `backoff` (the current back-off step) unless the
    /// typical time says the newest open invoice (accepted at `newest_ms`) is due sooner;
    /// never less than `floor`.
    pub fn next_wait(
        &self,
        backoff: Duration,
        floor: Duration,
        newest_ms: i64,
        now_ms: i64,
    ) -> Duration {
        let Some(t) = self.typical() else {
            return backoff;
        };
        let due = newest_ms + t.as_millis() as i64 - now_ms;
        if due <= 0 {
            // Later than usual: back off.
            return backoff;
        }
        Duration::from_millis(due as u64).clamp(floor.min(backoff), backoff)
    }
}

fn median(v: &std::collections::VecDeque<u32>) -> Option<u32> {
    if v.is_empty() {
        return None;
    }
    let mut s: Vec<u32> = v.iter().copied().collect();
    let mid = s.len() / 2;
    Some(*s.select_nth_unstable(mid).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_typical_time_within_the_backoff() {
        let mut l = Learned::default();
        let backoff = Duration::from_secs(5);
        let floor = Duration::from_millis(50);
        assert_eq!(
            l.next_wait(backoff, floor, 0, 0),
            backoff,
            "nothing learned yet"
        );
        for ms in [800, 1000, 1200] {
            l.record(0, ms);
        }
        assert_eq!(l.typical(), Some(Duration::from_millis(1000)));
        // Accepted 300 ms ago: due in 700 ms.
        assert_eq!(
            l.next_wait(backoff, floor, 10_000, 10_300),
            Duration::from_millis(700)
        );
        // Overdue: the back-off step.
        assert_eq!(l.next_wait(backoff, floor, 10_000, 12_000), backoff);
        // Due in 10 ms: not sooner than the floor.
        assert_eq!(l.next_wait(backoff, floor, 10_000, 10_990), floor);
        let t = l.timing().unwrap();
        assert_eq!((t.finalized, t.median_ms, t.max_ms), (3, 1000, 1200));
    }

    #[test]
    fn keeps_the_latest_times_and_counts_them_all() {
        let mut l = Learned::default();
        l.record(0, 90_000);
        for _ in 0..SAMPLES {
            l.record(0, 500);
        }
        let t = l.timing().unwrap();
        assert_eq!(t.finalized, SAMPLES + 1);
        assert_eq!(t.max_ms, 90_000, "the slowest is kept");
        assert_eq!(t.median_ms, 500);
        assert_eq!(l.samples.len(), SAMPLES);
    }
}
