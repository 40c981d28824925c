//! Writes the hostile-input corpus (the files `tests/hostile_corpus.rs` runs through `validate`
//! and `enqueue`) into a directory, one line per file with what its errors must name:
//!
//! ```sh
//! cargo run --example make_hostile_corpus -- tests/data/hostile
//! ```

#[path = "../tests/hostile_support/mod.rs"]
mod hostile_support;

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("tests/data/hostile"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    for h in hostile_support::make_corpus(&dir) {
        println!("{}\t{}", h.name, h.expect);
    }
}
