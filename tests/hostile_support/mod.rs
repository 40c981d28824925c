//! The hostile-input corpus, written by `tests/hostile_corpus.rs` (which runs it through
//! `validate` and `enqueue`) and by `examples/make_hostile_corpus.rs` (for
//! `scripts/make-hostile-corpus.sh`). Generated, never committed as binaries.

use std::io::Write;
use std::path::Path;

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
    // 200 MB in ONE pretty-printed invoice object (generated here, never committed): a JSON
    // file that is neither an array nor JSON Lines is read whole, so --max-file-mib refuses it
    // before reading. (A 200 MB array is streamed instead, one invoice at a time: each is
    // bounded, not the file; see hostile_input's a_json_array_is_streamed_each_invoice_bounded…
    // and scripts/bench.sh's 1M-invoice array.)
    {
        let p = dir.join("big-200mb.json");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        let line = r#"{"sstid":"2710000138624","sstt":"پیچ","am":1,"fee":1000}"#;
        f.write_all(b"{\n  \"header\": {\"inty\": 1},\n  \"body\": [\n")
            .unwrap();
        let mut n = 0usize;
        while n < 200 << 20 {
            if n > 0 {
                f.write_all(b",\n").unwrap();
            }
            f.write_all(line.as_bytes()).unwrap();
            n += line.len() + 2;
        }
        f.write_all(b"\n  ]\n}\n").unwrap();
        f.flush().unwrap();
    }
    add_opt("big-200mb.json", "--max-file-mib", None);
    out
}
