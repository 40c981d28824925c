//! What `submit`, `run`, `resend` and `correct` show while they work: a spinner on a terminal;
//! elsewhere (cron, a pipe, a log file) a plain line now and then, so a long wait is never
//! silent, and a short run prints nothing but its result.

use crate::lang::{Langs, Message};
use crate::pipeline::{Event, Observer};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain line may be written when standard error is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(30);

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Mutex<Plain>>,
    lang: Langs,
}

struct Plain {
    started: Instant,
    /// When a line was last written (or the start): lines are at least `every` apart.
    last: Instant,
    every: Duration,
    signed: u64,
}

impl Progress {
    /// Progress for a command that `wanted` it (not `--json`), in `lang`.
    pub fn new(wanted: bool, lang: Langs) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (wanted && terminal).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        let plain = (wanted && !terminal).then(|| {
            let now = Instant::now();
            Mutex::new(Plain {
                started: now,
                last: now,
                every: plain_every(),
                signed: 0,
            })
        });
        Self { bar, plain, lang }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `MOADIAN_PROGRESS_EVERY_MS` when set (0: every event), else 30 s.
fn plain_every() -> Duration {
    std::env::var("MOADIAN_PROGRESS_EVERY_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(PLAIN_EVERY)
}

/// What an event says, in both languages; `signed` is the running count of signatures.
fn describe(e: &Event, signed: u64) -> Message {
    let n = |k: usize| k.to_string();
    match e {
        Event::Signed { .. } => {
            Message::new(format!("{signed} امضا شد"), format!("signed {signed}"))
        }
        Event::Posting { count } => Message::new(
            format!("ارسال {} صورتحساب", n(*count)),
            format!("sending {count} invoice{}", super::plural(*count as u64)),
        ),
        Event::Accepted { count } => Message::new(
            format!("{} صورتحساب را سامانه پذیرفت", n(*count)),
            format!("{count} acknowledged"),
        ),
        Event::Unknown { count } => Message::new(
            format!("{} بی‌پاسخ ماند (با استعلام روشن می‌شود)", n(*count)),
            format!("{count} without answer (will reconcile)"),
        ),
        Event::Waiting { open, seconds } => Message::new(
            format!("{seconds:.0} ثانیه انتظار برای {} صورتحساب", n(*open)),
            format!(
                "waiting {seconds:.0}s for {open} invoice{}",
                super::plural(*open as u64)
            ),
        ),
        Event::Polled { finalized } => Message::new(
            format!("{} به وضعیت نهایی رسید", n(*finalized)),
            format!("{finalized} final"),
        ),
        Event::Enqueued { total, invalid } => Message::new(
            format!("{} در صف ({} نامعتبر)", n(*total), n(*invalid)),
            format!("queued {total} ({invalid} invalid)"),
        ),
    }
}

impl Observer for Progress {
    fn event(&self, e: &Event) {
        if let Some(b) = &self.bar {
            if let Event::Signed { count } = e {
                b.inc(*count as u64);
            }
            let m = describe(e, b.position());
            b.set_message(first(self.lang, &m));
        }
        if let Some(plain) = &self.plain {
            let mut p = plain.lock().unwrap_or_else(|p| p.into_inner());
            if let Event::Signed { count } = e {
                p.signed += *count as u64;
            }
            let now = Instant::now();
            if now.duration_since(p.last) < p.every {
                return;
            }
            p.last = now;
            let elapsed = now.duration_since(p.started).as_secs();
            let line = format!(
                "moadian [{}:{:02}] {}",
                elapsed / 60,
                elapsed % 60,
                self.lang.text(&describe(e, p.signed)).replace('\n', " / ")
            );
            // A closed standard error must not stop the work it reports on.
            crate::say_err!("{line}");
        }
    }
}

/// The text in the first language shown (a spinner has room for one).
fn first(lang: Langs, m: &Message) -> String {
    match lang {
        Langs::En => m.en.clone(),
        Langs::Fa | Langs::Both => m.fa.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_count_is_of_invoices_not_events() {
        let m = describe(&Event::Signed { count: 32 }, 64);
        assert_eq!(m.en, "signed 64");
    }
}
