//! A user's clone has nothing beside it: no source, test, benchmark, example or script may read
//! a path outside the repository (the development checkout's sibling `shared` folder above
//! all). Everything a test needs is copied into `tests/data/` with a line naming its source.

use std::path::Path;

/// The development checkout's sibling folder, spelled so this file does not name it itself.
const OUTSIDE: &str = concat!("..", "/", "shared");

fn scan(dir: &Path, hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, hits);
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "rs" | "sh" | "toml") && path.file_name().unwrap() != "run" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if line.contains(OUTSIDE) {
                hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
}

#[test]
fn nothing_reads_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut hits = Vec::new();
    for dir in [
        "src", "core", "sandbox", "tests", "queue", "benches", "examples", "scripts", ".ci",
    ] {
        let d = root.join(dir);
        if d.exists() {
            scan(&d, &mut hits);
        }
    }
    assert!(
        hits.is_empty(),
        "reads outside the repository:\n{}",
        hits.join("\n")
    );
}
