//! `moadian enqueue`: validate invoices and put them in the queue without sending
//! (`moadian run` sends them later).

use super::submit::{enqueue_paths, Session, Target};
use super::Global;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List every invoice, not only those that need attention (all but SUCCESS).
    #[arg(long)]
    pub all: bool,
    /// Compute what follows from the lines before validating.
    #[arg(long)]
    pub fill: bool,
    #[command(flatten)]
    pub input: crate::import::limits::InputArgs,
    #[command(flatten)]
    pub deadline: super::validate::DeadlineArgs,
    /// Invoice files or directories: JSON (one invoice, an array, or JSON Lines), XLSX or CSV.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let mut session = Session::open(&args.target).await?;
    session.input = args.input.options();
    session.deadline = args.deadline.clone();
    let queue = session.open_queue()?;
    let placements = enqueue_paths(&session, &queue, &args.paths, args.fill, lang)?;
    let out = super::status::Output::listing(args.json, args.all, lang);
    let s = super::status::print_listing(&placements.listing(&queue), None, &out)?;
    let bad = s.invalid > 0 || s.conflict > 0 || placements.refused > 0;
    Ok(u8::from(bad))
}
