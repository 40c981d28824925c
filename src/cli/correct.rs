//! `moadian correct`: make the corrective invoice (ins 2) of an accepted invoice.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian correct` is not built yet")
}
