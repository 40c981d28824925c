//! `moadian return TAXID (--lines SSTID:AM,… | FILE)`: make the sales return (ins 4, برگشت از
//! فروش) of an accepted invoice: the items sold minus the items returned, amounts computed
//! again with the same prices and rates; validate it and queue it (`--send` to send it now).

use super::correct::{read_one, run_referral, Kind, ReferralOpts};
use super::Global;
use crate::import::referral;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tax ID of the accepted invoice goods are returned from.
    pub taxid: String,
    /// Returned quantities: goods/service ID and quantity, comma separated
    /// (e.g. `2330001234567:1,2330001234574:0.5`).
    #[arg(
        long,
        value_name = "SSTID:AM,...",
        conflicts_with = "file",
        required_unless_present = "file"
    )]
    pub lines: Option<String>,
    /// Or: a file (JSON or spreadsheet) holding the remaining items (sold minus returned).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub opts: ReferralOpts,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let taxid = args.taxid.trim().to_ascii_uppercase();
    let t2 = taxid.clone();
    match (&args.lines, &args.file) {
        (Some(spec), _) => {
            let returned = referral::parse_lines(spec).map_err(|e| anyhow::anyhow!(e))?;
            let source = format!("return {taxid} --lines {spec}");
            run_referral(
                Kind::Return,
                &taxid,
                &args.opts,
                global,
                source,
                move |reference, now| referral::sales_return(reference, &t2, &returned, now),
            )
            .await
        }
        (None, Some(file)) => {
            let new = read_one(file)?;
            let source = format!("return {taxid} ← {}", file.display());
            run_referral(
                Kind::Return,
                &taxid,
                &args.opts,
                global,
                source,
                move |reference, now| referral::sales_return_from(reference, &t2, &new, now),
            )
            .await
        }
        (None, None) => {
            anyhow::bail!("give --lines SSTID:AM,… or a FILE / ‎--lines‎ یا فایل را بدهید")
        }
    }
}
