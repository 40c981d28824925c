//! Pre-submission validation inside other software: load invoice files, judge them exactly as
//! `moadian validate` does, as of a moment, and act on the findings — without signing or
//! sending anything.
//!
//! ```sh
//! cargo run --example validate_in_process -- examples/invoices/valid
//! ```
//!
//! In another Cargo project: `moadian = { path = "../moadian" }` (or a `git = …` of this
//! repository) under `[dependencies]`.

use moadian::invoice::load::load_paths;
use moadian::pipeline::verdict::check_one;
use moadian::rules::Context;
use moadian::Lang;
use std::path::PathBuf;

fn main() {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    // Judge every invoice as of now; an ERP may pass the moment it intends to send instead.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let ctx = Context::at(now_ms);

    let mut with_errors = 0;
    for loaded in load_paths(&paths) {
        // `true` would also compute the amounts `validate --fill` computes.
        let checked = check_one(loaded.source, loaded.value, &ctx, false);
        if !checked.valid() {
            with_errors += 1;
        }
        for f in checked.findings.iter().chain(&checked.notes) {
            let code = f.code.as_deref().unwrap_or("-");
            println!(
                "{} {:?} {} [{}] {}: {}",
                checked.source,
                f.severity,
                f.field,
                f.rule,
                code,
                f.message.get(Lang::En)
            );
        }
    }
    std::process::exit(if with_errors == 0 { 0 } else { 1 });
}
