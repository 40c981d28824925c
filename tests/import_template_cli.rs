//! `moadian template` writes a template in each layout and format that imports back to one
//! invoice, and says where it wrote.

use assert_cmd::Command;

#[test]
fn template_command_writes_importable_files() {
    let dir = tempfile::tempdir().expect("tmp");
    for (layout, name, files) in [
        ("two-sheet", "a.xlsx", vec!["a.xlsx"]),
        ("one-row-per-line", "b.xlsx", vec!["b.xlsx"]),
        ("two-sheet", "c.csv", vec!["c.csv", "c.items.csv"]),
        ("one-row-per-line", "d.csv", vec!["d.csv"]),
    ] {
        let out = dir.path().join(name);
        let assert = Command::cargo_bin("moadian")
            .expect("binary")
            .args(["--lang", "en", "template", "--layout", layout])
            .arg(&out)
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        for f in &files {
            assert!(dir.path().join(f).is_file(), "{f} written");
            assert!(stdout.contains(f), "{stdout}");
        }
        let got = moadian::import::load_file(&out);
        assert_eq!(got.len(), 1, "{name}");
        let v = got[0].value.as_ref().expect("imports");
        assert_eq!(v["body"].as_array().map(Vec::len), Some(2));
    }
}
