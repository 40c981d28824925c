//! `moadian cancel`: make the cancellation (ins 3) of an accepted invoice.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian cancel` is not built yet")
}
