//! Benchmark of `moadian validate`'s work on one core: load a JSON Lines file and run the
//! rules on every invoice. Reports invoices per second (criterion "elements").
//!
//! It also leaves two files for measuring the whole command's speed and peak memory:
//! `target/moadian-bench/invoices-100000.jsonl` and `…-200000.jsonl` (valid invoices of the
//! official example's shape, each with its own serial and tax ID). For example:
//!
//! ```text
//! cargo bench --bench validate
//! /usr/bin/time -v taskset -c 0 target/release/moadian validate --json --at 2023-05-13 \
//!     target/moadian-bench/invoices-100000.jsonl > /dev/null
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use moadian::invoice::ids::MemoryId;
use moadian::invoice::load::load_paths;
use moadian::invoice::taxid::{inno_for_serial, TaxId};
use moadian::rules::{validate, Context};
use std::io::Write;
use std::path::{Path, PathBuf};

const INDATIM: i64 = 1_683_997_837_988;
/// 2023-05-13T17:30:00Z: the official example's own day.
const AT: i64 = 1_683_999_000_000;

/// One valid invoice line (the official example with its own serial, tax ID and inno).
fn invoice_line(memory: &MemoryId, serial: u64) -> String {
    let taxid = TaxId::generate(memory, INDATIM, serial).expect("serial in range");
    format!(
        concat!(
            r#"{{"header":{{"taxid":"{taxid}","inno":"{inno}","indatim":{indatim},"inty":1,"inp":1,"ins":1,"#,
            r#""tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"#,
            r#""tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2}},"#,
            r#""body":[{{"sstid":"2710000138624","sstt":"فولاد صنعت قطعات سرسیلندرسازی","mu":"164","am":2,"#,
            r#""fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}}],"payments":[]}}"#
        ),
        taxid = taxid,
        inno = inno_for_serial(serial),
        indatim = INDATIM,
    )
}

/// Writes `n` invoices as JSON Lines to `path` unless it already holds them.
fn write_jsonl(path: &Path, n: u64) -> PathBuf {
    if std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
    {
        return path.to_path_buf();
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create bench dir");
    }
    let memory = MemoryId::parse("A11216").expect("valid memory ID");
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create bench file"));
    for serial in 1..=n {
        writeln!(f, "{}", invoice_line(&memory, serial)).expect("write");
    }
    f.flush().expect("flush");
    path.to_path_buf()
}

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moadian-bench")
}

fn load_and_validate(path: &Path, ctx: &Context) -> (u64, u64) {
    let (mut n, mut errors) = (0u64, 0u64);
    for loaded in load_paths(&[path.to_path_buf()]) {
        n += 1;
        match loaded.value {
            Ok(v) => errors += validate(&v, ctx).iter().filter(|f| f.is_error()).count() as u64,
            Err(_) => errors += 1,
        }
    }
    (n, errors)
}

fn benches(c: &mut Criterion) {
    let dir = bench_dir();
    // The files for the end-to-end measurement.
    write_jsonl(&dir.join("invoices-100000.jsonl"), 100_000);
    write_jsonl(&dir.join("invoices-200000.jsonl"), 200_000);
    let small = write_jsonl(&dir.join("invoices-10000.jsonl"), 10_000);
    let ctx = Context::at(AT);

    // Sanity: the generated invoices are valid, so the benchmark measures the normal path.
    let (n, errors) = load_and_validate(&small, &ctx);
    assert_eq!((n, errors), (10_000, 0), "generated invoices must be valid");

    let mut g = c.benchmark_group("validate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("load_and_validate_10000_jsonl", |b| {
        b.iter(|| load_and_validate(&small, &ctx))
    });
    g.bench_function("load_only_10000_jsonl", |b| {
        b.iter(|| {
            load_paths(std::slice::from_ref(&small))
                .filter(|l| l.value.is_ok())
                .count()
        })
    });
    g.finish();
}

criterion_group!(validate_benches, benches);
criterion_main!(validate_benches);
