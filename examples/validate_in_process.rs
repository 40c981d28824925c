//! Pre-submission validation inside other software: load invoice files, check them against the
//! official rules as of a moment, and act on the findings — without signing or sending anything.
//!
//! ```sh
//! cargo run --example validate_in_process -- examples/invoices/valid
//! ```

use moadian::invoice::load::load_paths;
use moadian::rules::{validate, Context};
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
        let value = match loaded.value {
            Ok(v) => v,
            Err(e) => {
                println!("{}: {}", loaded.source, e.message().get(Lang::En));
                with_errors += 1;
                continue;
            }
        };
        let findings = validate(&value, &ctx);
        if findings.iter().any(|f| f.is_error()) {
            with_errors += 1;
        }
        for f in &findings {
            let code = f.code.as_deref().unwrap_or("-");
            println!(
                "{} {:?} {} [{}] {}: {}",
                loaded.source,
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
