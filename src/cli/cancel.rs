//! `moadian cancel TAXID`: make the cancellation (ins 3, ابطالی) of an accepted invoice from the
//! queue's record of it, validate it, and queue it (`--send` to send it now).

use super::correct::{run_referral, Kind, ReferralOpts};
use super::Global;
use crate::import::referral;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tax ID of the accepted invoice to cancel.
    pub taxid: String,
    #[command(flatten)]
    pub opts: ReferralOpts,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let taxid = args.taxid.trim().to_ascii_uppercase();
    let source = format!("cancel {taxid}");
    let t2 = taxid.clone();
    run_referral(
        Kind::Cancellation,
        &taxid,
        &args.opts,
        global,
        source,
        move |reference, now| referral::cancellation(reference, &t2, now),
    )
    .await
}
