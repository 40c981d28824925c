//! `moadian explain`: explain a server or tool code: meaning, causes and fix, in Persian and English.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian explain` is not built yet")
}
