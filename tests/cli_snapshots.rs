//! Snapshots of the command line a person sees: every command's `--help`, and one output per
//! offline command in each language (`--lang fa`, the default; `en`; `both`). A change to
//! any of them shows up in review as a snapshot diff.

use std::process::Command;

fn moadian(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(args)
        .env_remove("MOADIAN_LANG")
        .env_remove("MOADIAN_LOG")
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_BASE_URL")
        .env("COLUMNS", "100")
        .output()
        .expect("moadian runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every command and subcommand, as typed after `moadian`, read from the command-line
/// definition itself so a new command cannot be left out.
fn commands() -> Vec<Vec<String>> {
    use clap::CommandFactory;
    fn walk(c: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in c.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, out);
        }
    }
    let mut out = Vec::new();
    walk(&moadian::cli::Cli::command(), Vec::new(), &mut out);
    out
}

#[test]
fn every_commands_help() {
    let all = commands();
    assert!(all.len() > 25, "{all:?}");
    for cmd in &all {
        let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, out, err) = moadian(&args);
        assert_eq!(code, 0, "moadian {}: {err}", args.join(" "));
        let name = if cmd.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", cmd.join("_"))
        };
        insta::assert_snapshot!(name, out);
    }
}

#[test]
fn taxid_in_each_language() {
    for lang in ["fa", "en", "both"] {
        let (code, out, err) = moadian(&[
            "--lang",
            lang,
            "taxid",
            "--memory-id",
            "A11216",
            "--date",
            "1402/02/23",
            "--serial",
            "49321217",
        ]);
        assert_eq!(code, 0, "{err}");
        insta::assert_snapshot!(format!("taxid_{lang}"), out);
    }
    // The Jalali day and its Gregorian twin make the same tax ID.
    let (_, gregorian, _) = moadian(&[
        "--lang",
        "en",
        "taxid",
        "--memory-id",
        "A11216",
        "--date",
        "2023-05-13",
        "--serial",
        "49321217",
    ]);
    let (_, jalali, _) = moadian(&[
        "--lang",
        "en",
        "taxid",
        "--memory-id",
        "A11216",
        "--date",
        "1402/02/23",
        "--serial",
        "49321217",
    ]);
    assert_eq!(gregorian, jalali);
}

#[test]
fn the_default_language_is_persian() {
    let (_, fa, _) = moadian(&["taxid", "--check", "A1121604C220002F095011"]);
    let (_, explicit, _) = moadian(&["--lang", "fa", "taxid", "--check", "A1121604C220002F095011"]);
    assert_eq!(fa, explicit);
    let (_, en, _) = moadian(&["--lang", "en", "explain", "04131"]);
    let (_, default, _) = moadian(&["explain", "04131"]);
    let (_, both, _) = moadian(&["--lang", "both", "explain", "04131"]);
    assert!(en.contains("Meaning"), "{en}");
    assert!(
        !default.contains("Meaning"),
        "Persian only by default: {default}"
    );
    assert!(both.contains("Meaning") && both.len() > en.len(), "{both}");
}

#[test]
fn validate_at_takes_a_jalali_day() {
    let invoice = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/invoices/official-example.json"
    );
    let (g_code, g, _) = moadian(&[
        "--lang",
        "en",
        "validate",
        "--json",
        "--at",
        "2023-05-13",
        invoice,
    ]);
    let (j_code, j, err) = moadian(&[
        "--lang",
        "en",
        "validate",
        "--json",
        "--at",
        "1402/02/23",
        invoice,
    ]);
    assert_eq!(j_code, g_code, "{err}");
    assert_eq!(j, g);
    let (code, _, err) = moadian(&["validate", "--at", "1402/13/01", invoice]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("1405/08/29"),
        "the error shows the forms: {err}"
    );
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, out, err) = moadian(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("moadian") && out.contains("submit"), "{shell}");
    }
    let (code, out, _) = moadian(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(".ie") || out.contains(".TH moadian"),
        "{out}"
    );
}

/// Every page a manual page refers to (`moadian-submit(1)`, `moadian-sandbox-serve(1)`…) can be
/// made: `man COMMAND` prints one, `man --dir DIR` writes them all; each says what the exit
/// codes mean.
#[test]
fn every_manual_page_referred_to_exists_and_has_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = moadian(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut referred = std::collections::BTreeSet::new();
    let mut written = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.ends_with(".1"), "only pages are written: {name}");
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(page.contains(".SH \"EXIT STATUS\""), "{name}");
        assert!(
            page.contains("moadian 0."),
            "the version is on every page: {name}"
        );
        for (i, _) in page.match_indices("(1)") {
            let start = page[..i]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |k| k + 1);
            referred.insert(page[start..i].replace('\\', ""));
        }
        written.insert(name.trim_end_matches(".1").to_string());
    }
    assert!(written.contains("moadian") && written.contains("moadian-sandbox-serve"));
    let missing: Vec<_> = referred.difference(&written).collect();
    assert!(missing.is_empty(), "referred to, not written: {missing:?}");

    let (code, out, _) = moadian(&["man", "sandbox", "serve"]);
    assert_eq!(
        code, 2,
        "one name, as the page is named: `man \"sandbox serve\"`"
    );
    assert!(out.is_empty());
    for name in ["sandbox serve", "sandbox-serve", "token forget-failed-pin"] {
        let (code, out, err) = moadian(&["man", name]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.contains(".TH moadian-"), "{name}: {out}");
    }
    let missing = dir.path().join("no-such-dir");
    let (code, _, err) = moadian(&["man", "--dir", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-dir") && !missing.exists(), "{err}");
    let (code, out, err) = moadian(&["man", "nope"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("nope") && err.contains("submit"), "{err}");
}

/// One output of each command that answers without a token or a server, in each language:
/// `explain`, `validate`, `status` and `report` of an empty queue (paths replaced by `[DIR]`).
#[test]
fn one_output_per_offline_command_in_each_language() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    drop(moadian_queue::SqliteQueue::open(&queue).unwrap());
    let q = queue.to_str().unwrap();
    let invoice = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/invoices/official-example.json"
    );
    let runs: &[(&str, &[&str])] = &[
        ("explain", &["explain", "04131"]),
        ("validate", &["validate", "--at", "2023-05-14", invoice]),
        ("status", &["status", "--queue", q]),
        ("report", &["report", "--queue", q]),
    ];
    for (name, args) in runs {
        for lang in ["fa", "en", "both"] {
            let mut all = vec!["--lang", lang];
            all.extend_from_slice(args);
            let (_, out, err) = moadian(&all);
            let shown = format!("{out}{err}")
                .replace(dir.path().to_str().unwrap(), "[DIR]")
                .replace(env!("CARGO_MANIFEST_DIR"), "[REPO]");
            insta::assert_snapshot!(format!("output_{name}_{lang}"), shown);
        }
    }
}
