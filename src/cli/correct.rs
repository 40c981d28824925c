//! `moadian correct TAXID FILE`: make the corrective invoice (ins 2) of an accepted invoice from
//! the queue's record of it, validate it, and queue it. Also home of what `cancel` and `return`
//! share: finding the reference in the queue, the checks against other referrals, validation,
//! enqueueing, and sending with `--send`.

use super::submit::{send_and_poll, Refusal, Session, Target};
use super::Global;
use crate::import::referral as builders;
use crate::lang::{Langs, Message};
pub use crate::pipeline::referral::{read_one, Kind};
use crate::pipeline::{self, referral};
use crate::rules::Finding;

use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Options every referral command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ReferralOpts {
    #[command(flatten)]
    pub target: Target,
    /// Send it now and wait for the result (otherwise it waits in the queue for `moadian run`).
    #[arg(long)]
    pub send: bool,
    /// With --send: how long to wait for the final status.
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Only build and validate; print the invoice JSON and queue nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// List every invoice, not only those that need attention (all but SUCCESS).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tax ID of the accepted invoice being corrected (the reference).
    pub taxid: String,
    /// The corrected invoice: JSON, or a spreadsheet (.xlsx/.csv) holding one invoice. Header
    /// fields left out are taken from the reference; amounts are computed when absent.
    pub file: PathBuf,
    #[command(flatten)]
    pub opts: ReferralOpts,
}

fn finding_lines(findings: &[Finding], lang: Langs) -> String {
    findings
        .iter()
        .map(|f| {
            let code = f
                .code
                .as_deref()
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default();
            let field = if f.field.is_empty() {
                String::new()
            } else {
                format!(" {}:", f.field)
            };
            format!(
                "  {} {}{}{} {}",
                if f.is_error() { "✗" } else { "!" },
                f.rule,
                code,
                field,
                lang.text(&f.message).replace('\n', "\n      ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Builds, validates, enqueues (and with `--send` sends) a referral. `build` gets the
/// reference and the moment; it returns the new invoice or the rules it breaks.
pub async fn run_referral(
    kind: Kind,
    taxid: &str,
    opts: &ReferralOpts,
    global: &Global,
    source: String,
    build: impl FnOnce(&Value, i64) -> Result<Value, Vec<Finding>>,
) -> anyhow::Result<u8> {
    let lang = global.lang;
    let taxid = taxid.trim().to_ascii_uppercase();
    let session = Session::open(&opts.target).await?;
    let queue = session.open_queue()?;
    let now = chrono::Utc::now().timestamp_millis();
    let stopped = |findings: &[Finding]| -> anyhow::Result<u8> {
        if opts.json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"stopped": true, "findings": findings})
                )?
            );
        } else {
            crate::say_err!(
                "{}\n{}",
                lang.text(&Message::new(
                    "صورتحساب ارجاعی ساخته نشد؛ این قاعده‌ها مانع آن‌اند:",
                    "the referral was stopped locally by these rules:"
                )),
                finding_lines(findings, lang)
            );
        }
        Ok(1)
    };
    let memory_id = crate::invoice::MemoryId::parse(&session.profile.memory_id)
        .map_err(|e| anyhow::anyhow!("memory_id of the profile: {}", e.message().en))?;
    let made = match referral::make(&queue, &memory_id, kind, &taxid, now, build)? {
        Ok(m) => m,
        Err(f) => return stopped(&f),
    };
    if let Some(c) = &made.caution {
        crate::say_err!("{}", lang.text(c));
    }
    if opts.dry_run {
        println!("{}", serde_json::to_string_pretty(&made.invoice)?);
        if !made.findings.is_empty() {
            crate::say_err!("{}", finding_lines(&made.findings, lang));
        }
        return Ok(0);
    }
    let runner = if opts.send {
        Some(Arc::new(queue.acquire_runner_for(std::slice::from_ref(
            &session.profile.memory_id,
        ))?))
    } else {
        None
    };
    let q: moadian_queue::QueueRef<'_> =
        runner.as_ref().map(|r| r.queue()).unwrap_or(queue.as_ref());
    let q = &q;
    let (id, refused) = match referral::enqueue(q, &memory_id, source, made.invoice, now)? {
        referral::Queued::Invoice(id) => (Some(id), vec![]),
        referral::Queued::Refused { source, error } => (None, vec![Refusal { source, error }]),
    };
    let mut stop_msg = None;
    if let Some(runner) = &runner {
        let progress = super::progress::Progress::new(!opts.json, lang);
        stop_msg = send_and_poll(&session, runner.clone(), opts.wait, &progress)
            .await?
            .map(|s| s.message);
        progress.finish();
    }
    let report = pipeline::report::build(q, Some(id.into_iter().collect()), None)?;
    super::status::print_report(
        &report,
        &refused,
        stop_msg.as_ref(),
        opts.json,
        opts.all,
        lang,
    )?;
    if !opts.send && !opts.json && refused.is_empty() {
        println!(
            "{}",
            lang.text(&Message::new(
                    format!("صورتحساب {} در صف است؛ برای ارسال `moadian run` را اجرا کنید (یا همین فرمان را با ‎--send‎).", kind_fa(kind)),
                    format!("The {} is queued; run `moadian run` to send it (or use --send).", kind_en(kind)),
                ))
        );
    }
    let ok = refused.is_empty()
        && report.summary.invalid == 0
        && (!opts.send || (report.all_success() && stop_msg.is_none()));
    Ok(u8::from(!ok))
}

fn kind_fa(k: Kind) -> &'static str {
    match k {
        Kind::Correction => "اصلاحی",
        Kind::Cancellation => "ابطالی",
        Kind::Return => "برگشت از فروش",
    }
}

fn kind_en(k: Kind) -> &'static str {
    match k {
        Kind::Correction => "correction",
        Kind::Cancellation => "cancellation",
        Kind::Return => "sales return",
    }
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let new = read_one(&args.file)?;
    let source = format!("correct {} ← {}", args.taxid, args.file.display());
    let taxid = args.taxid.trim().to_ascii_uppercase();
    let t2 = taxid.clone();
    run_referral(
        Kind::Correction,
        &taxid,
        &args.opts,
        global,
        source,
        move |reference, now| builders::correction(reference, &t2, &new, now),
    )
    .await
}

/// The `ins` of a referral kind (for callers that label output).
pub fn ins_of(kind: Kind) -> i64 {
    kind.ins()
}
