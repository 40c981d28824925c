//! `moadian taxid`: make a tax ID (شماره منحصر به فرد مالیاتی) from memory ID, date and serial, or check one.

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let _ = (args, global);
    anyhow::bail!("`moadian taxid` is not built yet")
}
