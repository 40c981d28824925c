//! Writes N valid invoices as JSON Lines (the official example's shape, each with its own
//! serial, tax ID and inno, issued an hour ago) for the benchmarks in `scripts/bench.sh`.
//!
//! `cargo run --release --example bench_invoices -- N FILE [--array] [--from SERIAL]
//! [--memory-id ID]` (`--array`: one JSON array instead of lines; `--from`: the first serial,
//! default 1; `--memory-id`: the memory ID of the tax IDs, default the demo taxpayer's A11216).

use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(n), Some(path)) = (args.get(1).and_then(|s| s.parse::<u64>().ok()), args.get(2))
    else {
        eprintln!("usage: bench_invoices N FILE [--array]");
        std::process::exit(2);
    };
    let array = args.iter().any(|a| a == "--array");
    let from: u64 = args
        .iter()
        .position(|a| a == "--from")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let memory = args
        .iter()
        .position(|a| a == "--memory-id")
        .and_then(|i| args.get(i + 1))
        .map_or("A11216", String::as_str);
    let memory = MemoryId::parse(memory).expect("memory ID");
    let indatim = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create file"));
    if array {
        f.write_all(b"[\n").expect("write");
    }
    for serial in from..from + n {
        let taxid = TaxId::generate(&memory, indatim, serial).expect("serial in range");
        let sep = if array && serial + 1 < from + n {
            ","
        } else {
            ""
        };
        writeln!(
            f,
            concat!(
                r#"{{"header":{{"taxid":"{taxid}","inno":"{inno}","indatim":{indatim},"inty":1,"inp":1,"ins":1,"#,
                r#""tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"#,
                r#""tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2}},"#,
                r#""body":[{{"sstid":"2710000138624","sstt":"فولاد صنعت قطعات سرسیلندرسازی","mu":"164","am":2,"#,
                r#""fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}}],"payments":[]}}{sep}"#
            ),
            taxid = taxid,
            inno = inno_for_serial(serial),
            indatim = indatim,
            sep = sep,
        )
        .expect("write");
    }
    if array {
        f.write_all(b"]\n").expect("write");
    }
    f.flush().expect("flush");
}
