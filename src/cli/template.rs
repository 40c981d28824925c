//! `moadian template`: write a blank spreadsheet template to fill invoices in — Persian and
//! English headers, no data rows (nothing that could be submitted by mistake; the example
//! workbooks are in `examples/spreadsheets/`), in the two-sheet or one-row-per-line layout, as
//! XLSX or CSV. An existing file is never overwritten without `--force`.

use super::Global;
use crate::import::template::{template_files, write_template_rows, Format_, Layout, Rows};
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
    /// Overwrite the file(s) if they exist (without it an existing file is left untouched).
    #[arg(long)]
    pub force: bool,
    /// Where to write (for CSV two-sheet, `NAME.items.csv` is written beside `NAME.csv`).
    pub out: PathBuf,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let ext = args.out.extension().and_then(|e| e.to_str());
    let format = match (args.format, ext) {
        (Some(f), _) => f,
        (None, Some(e)) if e.eq_ignore_ascii_case("csv") => Format_::Csv,
        (None, Some(e)) if e.eq_ignore_ascii_case("xlsx") => Format_::Xlsx,
        (None, None) => Format_::Xlsx,
        (None, Some(_)) => {
            // A workbook under another name (t.json) would be read later as that format.
            let shown = args.out.display();
            let m = Message::new(
                format!("{shown}: الگو با پسوند .xlsx یا .csv نوشته می‌شود؛ یکی از این دو را بدهید (یا --format)."),
                format!("{shown}: a template is written as .xlsx or .csv; give one of those extensions (or --format)."),
            );
            crate::say_err!("{}", super::status::stopped_text(lang, &m));
            return Ok(2);
        }
    };
    let existing: Vec<String> = template_files(&args.out, args.layout, format)
        .into_iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !args.force {
        let list = existing.join(", ");
        let m = Message::new(
            format!("فایل {list} از قبل وجود دارد و بازنویسی نشد؛ برای جایگزینی آن --force بدهید یا نام دیگری انتخاب کنید."),
            format!("{list} already exists and was left untouched; pass --force to replace it, or choose another name"),
        );
        // A refusal that stops the command: both languages, the chosen one first.
        crate::say_err!("{}", super::status::stopped_text(lang, &m));
        return Ok(1);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let files = write_template_rows(&args.out, args.layout, format, now, Rows::Blank)?;
    for f in files {
        println!("{}: {}", lang.label("نوشته شد", "written"), f.display());
    }
    println!(
        "{}",
        lang.text(&Message::new(
            "یک ردیف برای هر صورتحساب (و هر قلم) بنویسید: مقدار، مبلغ واحد، تخفیف و نرخ؛ بقیه مبالغ را `moadian validate --fill FILE` محاسبه می‌کند. شماره مالیاتی و سریال (taxid، inno) را خالی بگذارید: هنگام ارسال تخصیص می‌یابند. نمونه پرشده: examples/spreadsheets/.",
            "Write one row per invoice (and per line): quantities, unit prices, discounts and rates; `moadian validate --fill FILE` computes the other amounts. Leave the tax ID and serial (taxid, inno) empty: they are allocated at submission. A filled-in example: examples/spreadsheets/.",
        ))
    );
    Ok(0)
}
