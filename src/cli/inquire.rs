//! `moadian inquire`: ask the tax server about invoices by tax ID, uid or reference number.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian inquire` is not built yet")
}
