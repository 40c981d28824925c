//! The hostile corpus: files an adversarial or unlucky user hands the tool (malformed JSON,
//! 1e400, 23-digit numbers, NaN, 100,000-deep nesting, invalid UTF-8, BOM + CRLF, duplicate
//! keys, a 5 MB field, a 200 MB JSON, CSV with a bad byte or a cut row, Latin-1 CSV, an XLSX zip
//! bomb, a far-away cell, a zip that is not a workbook). Generated here — never committed as
//! binaries — and run through `validate` and `enqueue`: no panic, every error names its file
//! and where in it, and the peak memory (RSS) of each run is measured and printed; the goal is
//! ≤ 64 MB for every file.
//!
//! `scripts/make-hostile-corpus.sh` writes the same corpus to `tests/data/hostile/` and
//! measures a release build with `/usr/bin/time -v`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Peak memory goal for one run over one corpus file.
const GOAL_MB: f64 = 64.0;

/// One corpus file: its name, and what every error about it must say besides its name.
pub struct Hostile {
    pub name: &'static str,
    pub expect: &'static str,
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::File::create(dir.join(name))
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// Writes `head`, then `unit` `times` times, then `tail`, without holding the whole text.
fn write_repeated(dir: &Path, name: &str, head: &str, unit: &str, times: usize, tail: &str) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name)).unwrap());
    f.write_all(head.as_bytes()).unwrap();
    let chunk = unit.repeat(4096);
    let mut left = times;
    while left > 0 {
        let k = left.min(4096);
        f.write_all(&chunk.as_bytes()[..k * unit.len()]).unwrap();
        left -= k;
    }
    f.write_all(tail.as_bytes()).unwrap();
    f.flush().unwrap();
}

/// A zip holding `entries` (name, bytes), deflated.
fn zip_of(path: &Path, entries: &[(&str, &[u8])], big: Option<(&str, usize)>) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (n, b) in entries {
        z.start_file(*n, opts).unwrap();
        z.write_all(b).unwrap();
    }
    if let Some((n, size)) = big {
        z.start_file(n, opts).unwrap();
        let chunk = vec![b' '; 1 << 20];
        let mut left = size;
        while left > 0 {
            let k = left.min(chunk.len());
            z.write_all(&chunk[..k]).unwrap();
            left -= k;
        }
    }
    z.finish().unwrap();
}

/// Writes the corpus into `dir`.
pub fn make_corpus(dir: &Path) -> Vec<Hostile> {
    let inv = r#"{"header":{"inty":1,"inp":1,"ins":1,"tob":2,"tins":"14003778990","indatim":1683997837988},"body":[{"sstid":"2710000138624","sstt":"پیچ","am":1,"fee":1000}],"payments":[]}"#;
    let mut out = Vec::new();
    // `bytes` is None for a file already written.
    let mut add_opt = |name: &'static str, expect: &'static str, bytes: Option<Vec<u8>>| {
        if let Some(b) = bytes {
            write(dir, name, &b);
        }
        out.push(Hostile { name, expect });
    };
    macro_rules! add {
        ($n:expr, $e:expr, $b:expr $(,)?) => {
            add_opt($n, $e, Some($b))
        };
    }
    add!("truncated.json", "line 1", inv.as_bytes()[..60].to_vec());
    add!(
        "number-1e400.json",
        "",
        inv.replace("\"fee\":1000", "\"fee\":1e400").into_bytes(),
    );
    add!(
        "number-23-digits.json",
        "",
        inv.replace("\"fee\":1000", "\"fee\":12345678901234567890123")
            .into_bytes(),
    );
    add!(
        "nan.json",
        "line 1",
        inv.replace("\"fee\":1000", "\"fee\":NaN").into_bytes(),
    );
    add!(
        "deep-nesting.json",
        "line 1",
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
    );
    add!(
        "deep-nesting.jsonl",
        "line 2",
        format!(
            "{inv}\n{{\"a\":{}1{}}}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        )
        .into_bytes(),
    );
    let mut bad_utf8 = inv.as_bytes().to_vec();
    let at = inv.find("پیچ").unwrap();
    bad_utf8[at + 1] = 0xFF;
    add!("invalid-utf8.json", "line 1", bad_utf8);
    add!(
        "bom-crlf.json",
        "",
        format!("\u{feff}{}\r\n", inv.replace(",\"", ",\r\n\"")).into_bytes(),
    );
    add!(
        "duplicate-keys.json",
        "appears twice",
        inv.replace("\"fee\":1000", "\"fee\":1000,\"fee\":1")
            .into_bytes(),
    );
    // Big files are written piece by piece, so this process stays small (a child inherits its
    // parent's peak memory figure at fork; see `run_measured`).
    let (before, after) = inv.split_once("پیچ").unwrap();
    write_repeated(dir, "field-5mb.json", before, "ب", 5 << 20, after);
    add_opt("field-5mb.json", "limit of 1000", None);
    write_repeated(
        dir,
        "line-40mb.jsonl",
        &format!("{inv}\n{{\"x\":\""),
        "y",
        40 << 20,
        &format!("\"}}\n{inv}\n"),
    );
    add_opt("line-40mb.jsonl", "line 2", None);
    add!(
        "markup.json",
        "",
        inv.replace("پیچ", "<script>alert(1)</script>").into_bytes(),
    );
    // CSV
    let head = "invoice_no,indatim,inty,inp,ins,tins,tob,sstid,sstt,mu,am,fee,vra";
    let row =
        |s: &str| format!("1,1403/08/15 10:00,2,1,1,14003778990,2,2710000138624,{s},164,1,1000,10");
    let mut csv = format!("{head}\n{}\n{}\n", row("پیچ و مهره"), row("واشر")).into_bytes();
    let bad = csv.len() - 30;
    csv[bad] = 0xFF;
    add!("bad-byte.csv", "byte offset", csv);
    let cut: String = row("واشر").split(',').take(6).collect::<Vec<_>>().join(",");
    add!(
        "truncated-row.csv",
        "row 3",
        format!("{head}\n{}\n{cut}\n", row("پیچ")).into_bytes(),
    );
    add!(
        "latin1.csv",
        "byte offset",
        [head.as_bytes(), b"\n", row("caf\u{e9}").as_bytes(), b"\n"]
            .concat()
            .iter()
            .flat_map(|&b| if b == 0xC3 { None } else { Some(b) })
            .map(|b| if b == 0xA9 { 0xE9 } else { b })
            .collect(),
    );
    add!(
        "formula.csv",
        "",
        format!("{head}\n{}\n", row("=1+2+cmd|' /C calc'!A0")).into_bytes(),
    );
    // XLSX
    zip_of(
        &dir.join("zip-bomb.xlsx"),
        &[("[Content_Types].xml", b"<Types/>")],
        Some(("xl/worksheets/sheet1.xml", 1 << 30)),
    );
    add_opt("zip-bomb.xlsx", "--max-xlsx-mib", None);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "invoice_no").unwrap();
    ws.write_string(1_048_575, 16_383, "x").unwrap();
    for r in 1..2000u32 {
        ws.write_string(r, 16_383, "x").unwrap();
    }
    wb.save(dir.join("far-cells.xlsx")).unwrap();
    add_opt("far-cells.xlsx", "--max-cells", None);
    add!(
        "not-a-zip.xlsx",
        "XLSX",
        b"PK\x03\x04 this is not really a zip".to_vec(),
    );
    // 200 MB of valid JSON invoices in one array (generated here, never committed).
    {
        let p = dir.join("big-200mb.json");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        f.write_all(b"[").unwrap();
        let mut n = 0usize;
        while n < 200 << 20 {
            if n > 0 {
                f.write_all(b",\n").unwrap();
            }
            f.write_all(inv.as_bytes()).unwrap();
            n += inv.len() + 2;
        }
        f.write_all(b"]").unwrap();
        f.flush().unwrap();
    }
    add_opt("big-200mb.json", "--max-file-mib", None);
    out
}

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

/// Writes the corpus to `MOADIAN_HOSTILE_DIR` (default `tests/data/hostile/`), for
/// `scripts/make-hostile-corpus.sh`.
#[test]
#[ignore = "writes ~250 MB of files; run by scripts/make-hostile-corpus.sh"]
fn write_hostile_corpus() {
    let dir = std::env::var_os("MOADIAN_HOSTILE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostile"))
        });
    std::fs::create_dir_all(&dir).unwrap();
    for h in make_corpus(&dir) {
        println!("{}\t{}", h.name, h.expect);
    }
}
