//! `moadian validate`: check invoices against the official tax rules before anything is sent,
//! and show every problem at once, per invoice, with the field, the rule, the server code it
//! prevents and the fix — in Persian and English, or as one JSON object with `--json`.
//!
//! Exit codes: 0 no invoice has an error (warnings allowed), 1 some invoice has an error (an
//! unreadable or malformed file counts as an error of that file), 2 usage errors.
//! Both output modes stream: invoices are read, judged and printed one at a time.

use super::Global;
use crate::invoice::load::load_paths_with;
use crate::lang::{Lang, Message};
use crate::pipeline::verdict::{self, check_next, check_one, Checked, Summary};
use crate::rules::{Context, Finding, Severity};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  moadian validate examples/invoices\n  moadian validate --json --at 1402/02/23 invoice.json\n  moadian validate --lang en exports/*.jsonl"
)]
pub struct Args {
    /// Print one JSON object (`invoices`, `summary`) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Judge the invoices as of this moment (default now): a day, Jalali (1405/08/29) or
    /// Gregorian (2026-11-20), meaning its end (23:59:59.999 UTC); a time
    /// (1405/08/29 14:30, Tehran); RFC 3339 (2023-05-13T17:10:37Z); or Unix ms.
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    pub at: Option<i64>,
    /// First compute what follows from the lines (prdis, adis, vam, tsstam, totals…) and list
    /// what was filled; a present value that disagrees is an error, never changed.
    #[arg(long)]
    pub fill: bool,
    #[command(flatten)]
    pub deadline: DeadlineArgs,
    #[command(flatten)]
    pub input: crate::import::limits::InputArgs,
    /// Invoice files (.json: one invoice or an array; .jsonl/.ndjson: one per line;
    /// .xlsx/.csv) or directories to walk; `-` reads standard input.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
}

pub use crate::dates::parse_at;

/// The sending deadline the rules judge by (`validate`, and every command that enqueues).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DeadlineArgs {
    /// Days after the issue time within which an invoice should be sent; past it the rules
    /// warn (time.late). Default: one week, RC_IITP.IS_V7.8 table 4 row 5.
    #[arg(long, value_name = "DAYS", env = "MOADIAN_DEADLINE_DAYS", value_parser = clap::value_parser!(u16).range(1..))]
    pub deadline_days: Option<u16>,
}

impl DeadlineArgs {
    /// The rules' context at `at_ms`, with this deadline when one was given.
    pub fn context(&self, at_ms: i64) -> Context {
        let ctx = Context::at(at_ms);
        match self.deadline_days {
            Some(days) => ctx.with_deadline(crate::rules::SendingDeadline::configured(
                i64::from(days),
                Message::new(
                    format!("--deadline-days {days} (یا MOADIAN_DEADLINE_DAYS)"),
                    format!("--deadline-days {days} (or MOADIAN_DEADLINE_DAYS)"),
                ),
            )),
            None => ctx,
        }
    }
}

fn now_ms() -> i64 {
    let ns = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let at = args.at.unwrap_or_else(now_ms);
    let ctx = args.deadline.context(at);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut human = Human::new(global.lang.single());
    let mut loaded = load_paths_with(&args.paths, args.input.options());
    // Without --fill nothing is changed: the rules read JSON Lines straight from their text
    // (one pass, no map built); --fill needs the invoice as a value it can complete.
    let fill = args.fill;
    let mut next = move || -> Option<Checked> {
        if fill {
            let l = loaded.next()?;
            Some(check_one(l.source, l.value, &ctx, true))
        } else {
            Some(check_next(loaded.next_invoice()?, &ctx))
        }
    };
    let summary = if args.json {
        let progress = indicatif::ProgressBar::with_draw_target(
            None,
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        progress.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} invoices checked ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let summary = verdict::write_checked(next, at, &mut out, |n| {
            if n.is_multiple_of(1024) {
                progress.set_position(n);
            }
        })?;
        progress.finish_and_clear();
        summary
    } else {
        let mut summary = Summary {
            at,
            ..Summary::default()
        };
        while let Some(checked) = next() {
            summary.count(&checked);
            human.invoice(&mut out, &checked, checked.valid())?;
        }
        human.summary(&mut out, &summary)?;
        summary
    };
    out.flush()?;
    if summary.invoices == 0 {
        let m = Message::new(
            "هیچ فایل صورتحسابی (json، jsonl، ndjson، xlsx، csv) در مسیرهای داده‌شده پیدا نشد.",
            "no invoice file (.json, .jsonl, .ndjson, .xlsx, .csv) found under the given paths.",
        );
        match global.lang.single() {
            Some(l) => crate::say_err!("{}", m.get(l)),
            None => crate::say_err!("{}\n{}", m.fa, m.en),
        }
        return Ok(1);
    }
    Ok(if summary.invalid > 0 { 1 } else { 0 })
}

/// Text output for a person, one invoice at a time.
struct Human {
    lang: Option<Lang>,
    /// One-line meanings of codes already looked up.
    meanings: HashMap<String, Option<String>>,
}

impl Human {
    fn new(lang: Option<Lang>) -> Self {
        Self {
            lang,
            meanings: HashMap::new(),
        }
    }

    fn word(&self, fa: &'static str, en: &'static str) -> String {
        match self.lang {
            Some(Lang::Fa) => fa.to_string(),
            Some(Lang::En) => en.to_string(),
            None => format!("{en}/{fa}"),
        }
    }

    /// The one-line meaning of a server code, from the code catalogue.
    fn meaning(&mut self, code: &str) -> Option<String> {
        let lang = self.lang.unwrap_or(Lang::En);
        self.meanings
            .entry(code.to_string())
            // Call site of the code catalogue: the short meaning of an official code.
            .or_insert_with(|| crate::codes::one_line(code, lang))
            .clone()
    }

    fn invoice(&mut self, out: &mut impl Write, c: &Checked, valid: bool) -> io::Result<()> {
        let mark = if valid { "✓" } else { "✗" };
        let taxid = c.taxid.as_deref().unwrap_or("-");
        writeln!(out, "{mark} {}  taxid {taxid}", c.source)?;
        if let Some(filled) = &c.filled {
            for f in filled {
                writeln!(
                    out,
                    "  {} {} = {}",
                    self.word("تکمیل شد", "filled"),
                    f.field,
                    f.value
                )?;
            }
        }
        for n in &c.notes {
            let info = self.word("اطلاع", "info");
            writeln!(out, "  {info}  {}  [{}]", n.field, n.rule)?;
            match self.lang {
                Some(l) => writeln!(out, "      {}", n.message.get(l))?,
                None => {
                    writeln!(out, "      {}", n.message.fa)?;
                    writeln!(out, "      {}", n.message.en)?;
                }
            }
        }
        let mut ordered: Vec<&Finding> = c.findings.iter().collect();
        ordered.sort_by_key(|f| f.severity);
        for f in ordered {
            let sev = match f.severity {
                Severity::Error => self.word("خطا", "error"),
                Severity::Warning => self.word("هشدار", "warning"),
            };
            let field = if f.field.is_empty() { "-" } else { &f.field };
            let code = match &f.code {
                Some(code) => match self.meaning(code) {
                    Some(m) => format!("  {code} — {m}"),
                    None => format!("  {code}"),
                },
                None => String::new(),
            };
            writeln!(out, "  {sev}  {field}  [{}]{code}", f.rule)?;
            match self.lang {
                Some(l) => writeln!(out, "      {}", f.message.get(l))?,
                None => {
                    writeln!(out, "      {}", f.message.fa)?;
                    writeln!(out, "      {}", f.message.en)?;
                }
            }
        }
        Ok(())
    }

    fn summary(&self, out: &mut impl Write, s: &Summary) -> io::Result<()> {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(s.at) * 1_000_000)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| s.at.to_string());
        let en = format!(
            "{} invoice{} checked as of {at}: {} valid, {} with errors; {} error{}, {} warning{}.",
            s.invoices,
            super::plural(s.invoices),
            s.valid,
            s.invalid,
            s.errors,
            super::plural(s.errors),
            s.warnings,
            super::plural(s.warnings)
        );
        let fa = format!(
            "{} صورتحساب در زمان {at} بررسی شد: {} بی‌خطا، {} دارای خطا؛ {} خطا، {} هشدار.",
            s.invoices, s.valid, s.invalid, s.errors, s.warnings
        );
        match self.lang {
            Some(Lang::Fa) => writeln!(out, "{fa}"),
            Some(Lang::En) => writeln!(out, "{en}"),
            None => {
                writeln!(out, "{fa}")?;
                writeln!(out, "{en}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::taxid::MS_PER_DAY;

    #[test]
    fn at_accepts_three_forms() {
        assert_eq!(parse_at("1683997837988"), Ok(1_683_997_837_988));
        assert_eq!(parse_at("2023-05-13T17:10:37.988Z"), Ok(1_683_997_837_988));
        assert_eq!(
            parse_at("2023-05-13T20:40:37.988+03:30"),
            Ok(1_683_997_837_988)
        );
        // A date means the end of that UTC day.
        assert_eq!(parse_at("2023-05-13"), Ok(19_491 * MS_PER_DAY - 1));
        // The same day, Jalali.
        assert_eq!(parse_at("1402/02/23"), Ok(19_491 * MS_PER_DAY - 1));
        assert!(parse_at("2023-02-30").is_err());
        assert!(parse_at("yesterday").is_err());
        assert!(parse_at("").is_err());
    }
}
