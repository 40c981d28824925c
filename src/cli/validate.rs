//! `moadian validate`: check invoices against the official tax rules before anything is sent.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian validate` is not built yet")
}
