//! `moadian report`: report invoices, amounts and VAT per period; failures explained.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian report` is not built yet")
}
