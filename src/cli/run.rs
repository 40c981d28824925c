//! `moadian run`: one scheduled pass: pick up the inbox, send what is queued, poll what is pending.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian run` is not built yet")
}
