//! The sandbox's independence shows in the layout (issue #13): the crate `moadian-sandbox`
//! depends on no project crate but `moadian-core` (the invoice model and the official rules,
//! shared on purpose), and `moadian-core` depends on no project crate at all. A sandbox that used
//! the client's signing, HTTP client or queue could share the client's mistakes.

use std::path::Path;

fn project_deps(manifest: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(manifest);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{manifest}: {e}"));
    let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{manifest}: {e}"));
    let mut deps: Vec<String> = ["dependencies", "build-dependencies"]
        .iter()
        .filter_map(|k| doc.get(*k).and_then(|v| v.as_table()))
        .flat_map(|t| t.keys().cloned())
        .filter(|name| name.starts_with("moadian"))
        .collect();
    deps.sort();
    deps
}

#[test]
fn the_sandbox_shares_only_the_core_crate_with_the_client() {
    assert_eq!(project_deps("sandbox/Cargo.toml"), ["moadian-core"]);
}

#[test]
fn the_core_crate_depends_on_no_other_project_crate() {
    assert!(project_deps("core/Cargo.toml").is_empty());
}
