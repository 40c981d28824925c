//! `moadian sign`: sign one invoice and print its compact JWS (what would be sent, before encryption).

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian sign` is not built yet")
}
