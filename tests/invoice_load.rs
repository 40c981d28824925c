//! The loader: files, arrays, JSON Lines and directories, with positions for what is broken;
//! and no input at all makes it panic.

use moadian::invoice::load::{load_bytes, load_paths, LoadError};
use proptest::prelude::*;
use std::io::Write;
use std::path::PathBuf;

const INVOICE: &str = r#"{"header":{"inty":1,"tbill":21255},"body":[],"payments":[]}"#;

#[test]
fn directories_are_walked_in_name_order_with_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("b.json"), format!("[{INVOICE},{INVOICE}]")).unwrap();
    std::fs::write(d.join("a.jsonl"), format!("{INVOICE}\n\n{INVOICE}\n")).unwrap();
    std::fs::write(d.join("sub/c.ndjson"), format!("{INVOICE}\n")).unwrap();
    std::fs::write(d.join("notes.txt"), "not an invoice").unwrap();
    std::fs::write(d.join("d.JSON"), format!("{INVOICE}\n")).unwrap();
    let sources: Vec<String> = load_paths(&[d.to_path_buf()])
        .map(|l| {
            assert!(l.value.is_ok(), "{}: {:?}", l.source, l.value);
            l.source
                .strip_prefix(&format!("{}/", d.display()))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        sources,
        [
            "a.jsonl#0",
            "a.jsonl#1",
            "b.json#0",
            "b.json#1",
            "d.JSON#0",
            "sub/c.ndjson#0"
        ]
    );
}

/// A directory's symbolic links are followed: a linked file is read like any other, a link
/// that leads nowhere or round in a loop is an error naming it, never skipped in silence.
#[cfg(unix)]
#[test]
fn links_in_a_directory_are_read_or_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (d, elsewhere) = (dir.path().join("d"), dir.path().join("elsewhere"));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::create_dir_all(elsewhere.join("more")).unwrap();
    std::fs::write(elsewhere.join("one.json"), INVOICE).unwrap();
    std::fs::write(elsewhere.join("more/two.jsonl"), format!("{INVOICE}\n")).unwrap();
    let link =
        |target: PathBuf, name: &str| std::os::unix::fs::symlink(target, d.join(name)).unwrap();
    link(elsewhere.join("one.json"), "a.json");
    link(elsewhere.join("more"), "b");
    link(dir.path().join("gone.json"), "c.json");
    link(d.clone(), "loop");
    let got: Vec<(String, bool)> = load_paths(std::slice::from_ref(&d))
        .map(|l| {
            let rel = l.source.strip_prefix(&format!("{}/", d.display()));
            (rel.unwrap_or(&l.source).to_string(), l.value.is_ok())
        })
        .collect();
    assert!(got.contains(&("a.json#0".into(), true)), "{got:?}");
    assert!(got.contains(&("b/two.jsonl#0".into(), true)), "{got:?}");
    assert!(
        got.iter().any(|(s, ok)| s.contains("c.json") && !ok),
        "{got:?}"
    );
    assert!(
        got.iter().any(|(s, ok)| s.contains("loop") && !ok),
        "{got:?}"
    );
}

#[test]
fn a_bad_line_is_an_error_of_that_line_and_the_rest_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.jsonl");
    std::fs::write(
        &path,
        format!("{INVOICE}\n{{\"header\": [1,}}\n{INVOICE}\n"),
    )
    .unwrap();
    let all: Vec<_> = load_paths(std::slice::from_ref(&path)).collect();
    assert_eq!(all.len(), 3);
    assert!(all[0].value.is_ok() && all[2].value.is_ok());
    assert_eq!(all[1].source, format!("{}#1", path.display()));
    match &all[1].value {
        Err(LoadError::Syntax {
            line,
            column,
            path: p,
            ..
        }) => {
            assert_eq!((*line, *column), (2, 15));
            assert_eq!(p, &path.display().to_string());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_file_is_an_error_of_that_file() {
    let all: Vec<_> = load_paths(&[PathBuf::from("/no/such/file.json")]).collect();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].source, "/no/such/file.json");
    assert!(matches!(all[0].value, Err(LoadError::Io { .. })));
    let m = all[0].value.as_ref().unwrap_err().message();
    assert!(m.en.contains("/no/such/file.json") && m.fa.contains("/no/such/file.json"));
}

#[test]
fn json_lines_stream_without_reading_everything_first() {
    // 20,000 lines through a file; the iterator hands them over one by one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for _ in 0..20_000 {
        writeln!(f, "{INVOICE}").unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let mut it = load_paths(&[path]);
    let first = it.next().unwrap();
    assert!(first.value.is_ok());
    assert_eq!(it.count(), 19_999);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes never make the loader panic, whatever the file is called.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for name in ["x.json", "x.jsonl"] {
            for item in load_bytes(name, bytes.clone()) {
                prop_assert!(item.source.starts_with(name));
            }
        }
    }

    /// Near-JSON text (brackets, quotes, escapes, commas, newlines) never panics either, and
    /// every error has a position or is a file-level error.
    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}",:\\ \n0-9a-z.\-]{0,200}"#) {
        for item in load_bytes("y.json", text.clone().into_bytes()) {
            if let Err(e) = &item.value {
                let _ = e.message();
                if let LoadError::Syntax { line, column, .. } = e {
                    prop_assert!(*line >= 1 && *column >= 1);
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.jsonl");
        std::fs::write(&path, &text).unwrap();
        for item in load_paths(&[path]) {
            let _ = item.value;
        }
    }
}
