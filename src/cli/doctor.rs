//! `moadian doctor`: preflight checklist: token, PIN, certificate, national ID, clock, server.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian doctor` is not built yet")
}
