//! `moadian template`: write a spreadsheet template to fill invoices in — Persian and English
//! headers, one example invoice, in the two-sheet or one-row-per-line layout, as XLSX or CSV.

use super::Global;
use crate::import::template::{write_template, Format_, Layout};
use crate::lang::Message;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Layout: a header sheet and an items sheet joined by invoice number, or one row per line.
    #[arg(long, value_enum, default_value = "two-sheet")]
    pub layout: Layout,
    /// File format (default: from OUT's extension, else xlsx).
    #[arg(long, value_enum)]
    pub format: Option<Format_>,
    /// Where to write (for CSV two-sheet, `NAME.items.csv` is written beside `NAME.csv`).
    pub out: PathBuf,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let format =
        args.format
            .unwrap_or_else(|| match args.out.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("csv") => Format_::Csv,
                _ => Format_::Xlsx,
            });
    let now = chrono::Utc::now().timestamp_millis();
    let files = write_template(&args.out, args.layout, format, now)?;
    let lang = global.lang;
    for f in files {
        println!("{}: {}", lang.label("نوشته شد", "written"), f.display());
    }
    println!(
        "{}",
        lang.text(&Message::new(
            "ستون‌های مقدار، مبلغ واحد، تخفیف و نرخ را پر کنید؛ بقیه مبالغ را `moadian enqueue --fill FILE` محاسبه می‌کند.",
            "Fill in quantities, unit prices, discounts and rates; `moadian enqueue --fill FILE` computes the other amounts.",
        ))
    );
    Ok(0)
}
