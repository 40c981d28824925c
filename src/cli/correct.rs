//! `moadian correct TAXID FILE`: make the corrective invoice (ins 2) of an accepted invoice from
//! the queue's record of it, validate it, and queue it. Also home of what `cancel` and `return`
//! share: finding the reference in the queue, the checks against other referrals, validation,
//! enqueueing, and sending with `--send`.

use super::submit::{send_and_poll, Refusal, Session, Target};
use super::Global;
use crate::import::referral;
use crate::lang::{Langs, Message};
use crate::pipeline;
use crate::rules::{self, Finding};
use moadian_queue::{Enqueued, InvoiceStatus, ListFilter, QueueError, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};
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

/// Which referral is being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Correction,
    Cancellation,
    Return,
}

impl Kind {
    fn ins(self) -> i64 {
        match self {
            Kind::Correction => 2,
            Kind::Cancellation => 3,
            Kind::Return => 4,
        }
    }
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

/// The reference from the queue: its payload, checked to be an accepted invoice; and the checks
/// against referrals already in the queue.
pub fn find_reference(
    queue: &impl moadian_queue::Store,
    taxid: &str,
    kind: Kind,
) -> Result<Value, Vec<Finding>> {
    let e = |rule: &str, fa: String, en: String| {
        vec![Finding::error(
            rule,
            "header.irtaxid",
            crate::lang::Message::new(fa, en),
        )]
    };
    let inv = match queue.find_by_taxid(taxid) {
        Ok(Some(i)) => i,
        Ok(None) => {
            return Err(e(
                "referral.reference_unknown",
                format!("شماره مالیاتی {taxid} در صف نیست؛ صورتحساب ارجاعی از روی سابقه صورتحساب پذیرفته‌شده در همین صف ساخته می‌شود (--queue / --profile را بررسی کنید)"),
                format!("tax ID {taxid} is not in this queue; a referral is built from the queue's record of the accepted invoice (check --queue / --profile)"),
            ))
        }
        Err(x) => return Err(e("queue.error", x.persian(), x.to_string())),
    };
    if inv.status != InvoiceStatus::Success {
        return Err(e(
            "referral.reference_not_accepted",
            format!("صورتحساب {taxid} پذیرفته نشده است (وضعیت {}); فقط برای صورتحساب پذیرفته‌شده (SUCCESS) می‌توان ارجاعی صادر کرد", inv.status),
            format!("{taxid} is not accepted (status {}); a correction, cancellation or return needs an accepted (SUCCESS) reference", inv.status),
        ));
    }
    let payload: Value = match inv.payload.as_deref().map(serde_json::from_str) {
        Some(Ok(v)) => v,
        _ => {
            return Err(e(
                "referral.reference_unreadable",
                format!("محتوای صورتحساب {taxid} در صف خوانا نیست"),
                format!("the queue's copy of {taxid} cannot be read"),
            ))
        }
    };
    // Referrals of this reference already in the queue (not failed).
    let rows = queue
        .list(&ListFilter::default())
        .map_err(|x| e("queue.error", x.persian(), x.to_string()))?;
    for r in rows.into_iter().filter(|r| matches!(r.ins, Some(2..=4))) {
        if matches!(r.status, InvoiceStatus::Failed | InvoiceStatus::Invalid) {
            continue;
        }
        let Ok(Some(full)) = queue.get(r.id) else {
            continue;
        };
        let irtaxid = full
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .and_then(|v| v["header"]["irtaxid"].as_str().map(str::to_string));
        if irtaxid.as_deref() != Some(taxid) {
            continue;
        }
        let other = r.taxid.clone().unwrap_or_else(|| r.id.to_string());
        if r.ins == Some(3) {
            return Err(e(
                "referral.reference_cancelled",
                format!("صورتحساب {taxid} با صورتحساب ابطالی {other} ({}) ابطال شده است و دیگر نمی‌تواند مرجع باشد", r.status),
                format!("{taxid} is cancelled by {other} ({}); it cannot be a reference again (V7.8 §5-3)", r.status),
            ));
        }
        if kind != Kind::Cancellation {
            return Err(e(
                "referral.reference_in_use",
                format!("صورتحساب {taxid} مرجع صورتحساب ارجاعی {other} ({}) است؛ یک مرجع همزمان فقط یک اصلاحی/برگشت از فروش دارد. صورتحساب بعدی را بر {other} صادر کنید", r.status),
                format!("{taxid} is already the reference of {other} ({}); a reference carries one live correction/return at a time (V7.8 §5). Make the next one on {other}", r.status),
            ));
        }
    }
    Ok(payload)
}

/// Validates a referral as it will be numbered: with the tax ID and `inno` the next serial
/// would give (the real ones are assigned at enqueue).
pub fn validate_numbered(
    queue: &impl moadian_queue::Store,
    memory_id: &crate::invoice::MemoryId,
    invoice: &Value,
    now: i64,
) -> anyhow::Result<Vec<Finding>> {
    let mut v = invoice.clone();
    let serial = queue.last_serial(memory_id.as_str())? + 1;
    let indatim = v["header"]["indatim"].as_i64().unwrap_or(now);
    if let Ok(t) = crate::invoice::TaxId::generate(memory_id, indatim, serial) {
        if let Some(h) = v.get_mut("header").and_then(Value::as_object_mut) {
            h.insert("taxid".into(), Value::String(t.as_str().to_string()));
            h.insert(
                "inno".into(),
                Value::String(crate::invoice::inno_for_serial(serial)),
            );
        }
    }
    Ok(rules::validate(&v, &rules::Context::at(now)))
}

/// Reads the one invoice of a JSON or spreadsheet file.
pub fn read_one(path: &Path) -> anyhow::Result<Value> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut found: Vec<Value> = if ext == "xlsx" || ext == "csv" || ext == "xls" || ext == "ods" {
        let mut out = Vec::new();
        for i in crate::import::load_file(path) {
            match i.value {
                Ok(v) => out.push(v),
                Err(e) => anyhow::bail!("{}: {e}", i.source),
            }
        }
        out
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read {}: {e} / فایل خوانده نشد", path.display())
        })?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(a)) => a,
            Ok(v) => vec![v],
            Err(e) => anyhow::bail!("{}: not valid JSON: {e} / JSON معتبر نیست", path.display()),
        }
    };
    if found.len() != 1 {
        anyhow::bail!(
            "{} holds {} invoices; give exactly one / فایل باید دقیقاً یک صورتحساب داشته باشد",
            path.display(),
            found.len()
        );
    }
    Ok(found.remove(0))
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
            eprintln!(
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
    let reference = match find_reference(&queue, &taxid, kind) {
        Ok(v) => v,
        Err(f) => return stopped(&f),
    };
    if kind != Kind::Cancellation && matches!(reference["header"]["ins"].as_i64(), Some(2 | 4)) {
        eprintln!(
            "{}",
            lang.text(&Message::new("توجه: مرجع خودش اصلاحی/برگشت از فروش است؛ سامانه آن را فقط در وضعیت «تایید شده»، «تایید سیستمی» یا «عدم نیاز به واکنش» به عنوان مرجع می‌پذیرد (دستورالعمل ۷.۸ بند ۵-۲ نکته ۴).", "note: the reference is itself a correction/return; the tax system takes it as a reference only once it is APPROVED, SYSTEMIC_APPROVED or NO_NEED_REACTION (V7.8 §5-2 note 4)."))
        );
    } else if kind != Kind::Cancellation && reference["header"]["inty"].as_i64() == Some(1) {
        eprintln!(
            "{}",
            lang.text(&Message::new("توجه: تا وضعیت تایید صورتحساب مرجع (واکنش خریدار) مشخص نشده باشد، سامانه اصلاحی/برگشت از فروش را بر آن نمی‌پذیرد (دستورالعمل ۷.۸، جدول ۸ ردیف ۸).", "note: until the buyer's reaction to the reference is settled, the tax system does not take a correction/return on it (V7.8 table 8 row 8)."))
        );
    }
    let invoice = match build(&reference, now) {
        Ok(v) => v,
        Err(f) => return stopped(&f),
    };
    let memory_id = crate::invoice::MemoryId::parse(&session.profile.memory_id)
        .map_err(|e| anyhow::anyhow!("memory_id of the profile: {}", e.message().en))?;
    let findings = validate_numbered(&queue, &memory_id, &invoice, now)?;
    if findings.iter().any(Finding::is_error) {
        return stopped(&findings);
    }
    if opts.dry_run {
        println!("{}", serde_json::to_string_pretty(&invoice)?);
        if !findings.is_empty() {
            eprintln!("{}", finding_lines(&findings, lang));
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
    let item = pipeline::prepare(
        pipeline::Input {
            source,
            value: Ok(invoice),
        },
        &memory_id,
        now,
    );
    let (id, refused) = match q.enqueue(item)? {
        Enqueued::Inserted(p) | Enqueued::Replaced(p) | Enqueued::Unchanged(p) => {
            (Some(p.id), vec![])
        }
        Enqueued::Refused { source, error } => match error {
            QueueError::TaxIdSucceeded { invoice, .. }
            | QueueError::TaxIdInFlight { invoice, .. } => (Some(invoice), vec![]),
            other => (
                None,
                vec![Refusal {
                    source,
                    error: Message::new(other.persian(), other.to_string()),
                }],
            ),
        },
    };
    let mut stop_msg = None;
    if let Some(runner) = &runner {
        let progress = super::status::Progress::new(!opts.json);
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
        move |reference, now| referral::correction(reference, &t2, &new, now),
    )
    .await
}

/// The `ins` of a referral kind (for callers that label output).
pub fn ins_of(kind: Kind) -> i64 {
    kind.ins()
}
