//! `moadian sandbox`: run the local sandbox of the tax API.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian sandbox` is not built yet")
}
