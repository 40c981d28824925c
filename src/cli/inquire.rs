//! `moadian inquire`: ask the tax server live about invoices by tax ID, uid or reference number.

use super::submit::{Session, Target};
use super::Global;
use crate::api::{InquiryResult, TaxIdAnswer, MAX_INQUIRY_IDS};
use chrono::{Duration as ChronoDuration, Utc};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("by").required(true).args(["taxid", "uid", "reference"])))]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Tax IDs to look up (inquiry-invoice-status).
    #[arg(long, num_args = 1.., value_name = "TAXID")]
    pub taxid: Vec<String>,
    /// Packet uids (requestTraceId) to look up.
    #[arg(long, num_args = 1.., value_name = "UID")]
    pub uid: Vec<String>,
    /// Reference numbers to look up.
    #[arg(long, num_args = 1.., value_name = "REF")]
    pub reference: Vec<String>,
    /// Look back this far (at most 7 days; the server refuses longer windows, 4164).
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration, conflicts_with = "from")]
    pub since: std::time::Duration,
    /// Start of the window instead of --since: Jalali (1405/08/29) or Gregorian (2026-11-20)
    /// day (its start, Tehran time), or a time; at most 7 days before --to.
    #[arg(long, value_name = "DATE", value_parser = super::dates::arg)]
    pub from: Option<super::dates::When>,
    /// End of the window (default: now); a day means its end, Tehran time.
    #[arg(long, value_name = "DATE", value_parser = super::dates::arg)]
    pub to: Option<super::dates::When>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let session = Session::open(&args.target).await?;
    let client = match session.connect().await? {
        Ok((_, client)) => client,
        Err(m) => anyhow::bail!("{}", lang.text(&m)),
    };
    let (start, end) = window(&args, Utc::now())?;
    if !args.taxid.is_empty() {
        let mut all = Vec::new();
        for chunk in args.taxid.chunks(MAX_INQUIRY_IDS) {
            all.extend(client.inquiry_invoice_status(chunk).await?);
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&all)?);
        } else {
            let mut t = super::table::new(vec![
                lang.label("شماره مالیاتی", "Tax ID"),
                lang.label("وضعیت صورتحساب", "Invoice status"),
                lang.label("ماده ۶", "Article 6"),
                lang.label("خطا", "Error"),
            ]);
            for s in &all {
                t.add_row(vec![
                    s.tax_id.clone().unwrap_or_default(),
                    s.invoice_status.clone().unwrap_or_default(),
                    s.article6_status
                        .as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    s.error.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                ]);
            }
            println!("{t}");
        }
        // As by uid or reference: 0 only when every tax ID asked about was found and
        // answered without an error (NOT_FOUND, ACCESS_DENIED: guide §10).
        let all_found = all
            .iter()
            .all(|s| matches!(s.answer(), TaxIdAnswer::Held(_)));
        return Ok(u8::from(!all_found || all.is_empty()));
    }
    let mut results: Vec<InquiryResult> = Vec::new();
    if !args.uid.is_empty() {
        for chunk in args.uid.chunks(MAX_INQUIRY_IDS) {
            results.extend(
                client
                    .inquiry_by_uid(chunk, &session.profile.memory_id, start, end)
                    .await?,
            );
        }
    } else {
        for chunk in args.reference.chunks(MAX_INQUIRY_IDS) {
            results.extend(client.inquiry_by_reference(chunk, start, end).await?);
        }
    }
    if args.json {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "uid": r.uid, "reference": r.reference_number, "status": r.status,
                    "errors": r.errors(), "warnings": r.warnings(), "data": r.data,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let mut t = super::table::new(vec![
            "uid".to_string(),
            lang.label("شماره ارجاع", "Reference"),
            lang.label("وضعیت", "Status"),
            lang.label("خطاها و هشدارها", "Errors / warnings"),
        ]);
        for r in &results {
            let lines: Vec<String> = r
                .errors()
                .iter()
                .map(|c| format!("✗ {}", explain(&c.code, &c.message, lang)))
                .chain(
                    r.warnings()
                        .iter()
                        .map(|c| format!("! {}", explain(&c.code, &c.message, lang))),
                )
                .collect();
            t.add_row(vec![
                r.uid.clone().unwrap_or_default(),
                r.reference_number.clone().unwrap_or_default(),
                r.status.as_str().to_string(),
                lines.join("\n"),
            ]);
        }
        println!("{t}");
    }
    let all_success = results
        .iter()
        .all(|r| r.status == crate::api::InvoiceStatus::Success);
    Ok(u8::from(!all_success || results.is_empty()))
}

/// The inquiry window: `--from`/`--to` (Jalali or Gregorian), else the last `--since`; at
/// most 7 days (the server refuses longer windows, 4164).
fn window(
    args: &Args,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)> {
    let at = |ms: i64| {
        chrono::DateTime::<Utc>::from_timestamp_millis(ms)
            .ok_or_else(|| anyhow::anyhow!("date out of range / تاریخ خارج از محدوده است"))
    };
    let end = match args.to {
        Some(t) => at(t.tehran_end())?,
        None => now + ChronoDuration::minutes(5),
    };
    let Some(from) = args.from else {
        let since = ChronoDuration::from_std(args.since)
            .unwrap_or(ChronoDuration::days(7))
            .min(ChronoDuration::days(7) - ChronoDuration::minutes(6));
        return Ok((end.min(now) - since, end));
    };
    let start = at(from.tehran_start())?;
    if start >= end {
        anyhow::bail!("--from must be before --to / ‎--from‎ باید پیش از ‎--to‎ باشد");
    }
    if end - start > ChronoDuration::days(7) {
        anyhow::bail!(
            "the window from --from to --to is longer than 7 days; the server refuses it (4164) / بازهٔ ‎--from‎ تا ‎--to‎ بیش از ۷ روز است و سامانه آن را نمی‌پذیرد (۴۱۶۴)"
        );
    }
    Ok((start, end))
}

/// A server code with the catalogue's one-line meaning (the server's words when unknown).
fn explain(code: &str, message: &str, lang: crate::lang::Langs) -> String {
    use crate::lang::{Lang, Message};
    match (
        crate::codes::one_line(code, Lang::Fa),
        crate::codes::one_line(code, Lang::En),
    ) {
        (Some(fa), Some(en)) => format!("{code}: {}", lang.text(&Message::new(fa, en))),
        _ => format!("{code}: {message}"),
    }
}
