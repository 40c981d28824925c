//! The hostile corpus: files an adversarial or unlucky user hands the tool (malformed JSON,
//! 1e400, 23-digit numbers, NaN, 100,000-deep nesting, invalid UTF-8, BOM + CRLF, duplicate
//! keys, a 5 MB field, a 200 MB JSON object, CSV with a bad byte or a cut row, Latin-1 CSV, an XLSX zip
//! bomb, a far-away cell, a zip that is not a workbook). Generated here — never committed as
//! binaries — and run through `validate` and `enqueue`: no panic, every error names its file
//! and where in it, and the peak memory (RSS) of each run is measured and printed; the goal is
//! ≤ 64 MB for every file.
//!
//! `scripts/make-hostile-corpus.sh` writes the same corpus to `tests/data/hostile/` (with
//! `cargo run --example make_hostile_corpus`) and measures a build with `/usr/bin/time -v`.

mod hostile_support;

use hostile_support::make_corpus;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Peak memory goal for one run over one corpus file.
const GOAL_MB: f64 = 64.0;

/// Runs the binary, returning (exit code or 128+signal, stdout, stderr, peak RSS in MB).
/// The child is reaped by `wait4` (which also reports its peak memory), not by `Child::wait`.
/// Linux carries the parent's resident size at fork into the child's peak figure, so the number
/// is an upper bound: the larger of this test process's size and the command's peak.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str], cwd: &Path, home: &Path) -> (i32, String, String, f64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(args)
        .current_dir(cwd)
        .env("MOADIAN_HOME", home)
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_LANG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped; the pointers are valid for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    // ru_maxrss is in kilobytes on Linux.
    let rss_mb = usage.ru_maxrss as f64 / 1024.0;
    (code, t1.join().unwrap(), t2.join().unwrap(), rss_mb)
}

fn messages(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for inv in v["invoices"].as_array().into_iter().flatten() {
        for e in inv["errors"].as_array().into_iter().flatten() {
            out.push((
                inv["source"].as_str().unwrap_or_default().to_string(),
                e["message"]["en"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

#[test]
fn hostile_corpus_through_validate_and_enqueue() {
    moadian::crypto::softhsm::module_path()
        .unwrap_or_else(|e| panic!("`enqueue --sandbox` needs SoftHSM2 here: {e}"));
    let corpus_dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = corpus_dir.path();
    let corpus = make_corpus(dir);
    let mut table = Vec::new();
    let mut over = Vec::new();
    let own = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_default();
    eprintln!("this test process's own peak (a floor of the figures below): {own}");
    for h in &corpus {
        // validate
        let (code, out, err, rss_v) = run_measured(
            &["--lang", "en", "validate", "--json", h.name],
            dir,
            home.path(),
        );
        assert!(!err.contains("panicked"), "{}: {err}", h.name);
        assert!(code == 0 || code == 1, "{}: exit {code}\n{err}", h.name);
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {out}\n{err}", h.name));
        let msgs = messages(&v);
        if !h.expect.is_empty() {
            assert!(!msgs.is_empty(), "{}: no error: {v:#}", h.name);
        }
        for (source, m) in &msgs {
            assert!(source.starts_with(h.name), "{}: source {source}", h.name);
            assert!(m.chars().count() < 2000, "{}: a long message: {m}", h.name);
        }
        if !h.expect.is_empty() {
            let load_errors: Vec<_> = msgs.iter().filter(|(_, m)| m.contains(h.name)).collect();
            assert!(
                !load_errors.is_empty() && load_errors.iter().all(|(_, m)| m.contains(h.expect)),
                "{}: every error names the file and says {:?}: {msgs:#?}",
                h.name,
                h.expect
            );
        }
        // enqueue (into the sandbox's queue)
        let (code, _out, err, rss_e) = run_measured(
            &["--lang", "en", "enqueue", "--sandbox", "--json", h.name],
            dir,
            home.path(),
        );
        assert!(!err.contains("panicked"), "{}: {err}", h.name);
        assert!(code == 0 || code == 1, "{}: exit {code}\n{err}", h.name);
        table.push(format!(
            "{:<24} validate {rss_v:6.1} MB   enqueue {rss_e:6.1} MB",
            h.name
        ));
        if rss_v > GOAL_MB || rss_e > GOAL_MB {
            over.push(h.name);
        }
    }
    eprintln!(
        "peak RSS per corpus file (goal ≤ {GOAL_MB} MB):\n{}",
        table.join("\n")
    );
    assert!(
        over.is_empty(),
        "over {GOAL_MB} MB: {over:?}\n{}",
        table.join("\n")
    );
}
