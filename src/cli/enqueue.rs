//! `moadian enqueue`: validate invoices and put them in the queue without sending.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian enqueue` is not built yet")
}
