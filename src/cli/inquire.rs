//! `moadian inquire`: ask the tax server live about invoices by tax ID, uid or reference number.

use super::submit::{Session, Target};
use super::Global;
use crate::api::{InquiryResult, MAX_INQUIRY_IDS};
use chrono::{Duration as ChronoDuration, Utc};
use comfy_table::{presets::UTF8_FULL, ContentArrangement, Table};

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
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    pub since: std::time::Duration,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang.unwrap_or_default();
    let session = Session::open(&args.target).await?;
    let client = match session.connect().await? {
        Ok((_, client)) => client,
        Err(m) => anyhow::bail!("{}", m.get(lang)),
    };
    let end = Utc::now() + ChronoDuration::minutes(5);
    let since = ChronoDuration::from_std(args.since)
        .unwrap_or(ChronoDuration::days(7))
        .min(ChronoDuration::days(7) - ChronoDuration::minutes(6));
    let start = Utc::now() - since;
    if !args.taxid.is_empty() {
        let mut all = Vec::new();
        for chunk in args.taxid.chunks(MAX_INQUIRY_IDS) {
            all.extend(client.inquiry_invoice_status(chunk).await?);
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&all)?);
        } else {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(vec!["Tax ID", "Invoice status", "Article 6", "Error"]);
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
        return Ok(0);
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
        let mut t = Table::new();
        t.load_preset(UTF8_FULL)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(vec!["uid", "Reference", "Status", "Errors / warnings"]);
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

fn explain(code: &str, message: &str, lang: crate::lang::Lang) -> String {
    match crate::codes::one_line(code, lang) {
        Some(m) => format!("{code}: {m}"),
        None => format!("{code}: {message}"),
    }
}
