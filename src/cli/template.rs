//! `moadian template`: write a spreadsheet template to fill invoices in.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian template` is not built yet")
}
