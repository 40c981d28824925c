//! `moadian submit`: validate, queue, sign, send and follow invoices to a final status.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian submit` is not built yet")
}
