//! The yardstick of `validate`'s speed: reads a JSON Lines file and parses every line into a
//! `serde_json::Value` (the same serde_json features moadian uses), nothing else. Prints
//! `lines seconds lines_per_second`.
//!
//! `cargo run --release --example parse_only -- FILE`

use std::io::BufRead;

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_only FILE");
    let start = std::time::Instant::now();
    let mut r =
        std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&path).expect("open file"));
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).expect("read") == 0 {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&line).expect("valid JSON");
        std::hint::black_box(&v);
        n += 1;
    }
    let s = start.elapsed().as_secs_f64();
    println!("{n} {s:.3} {:.0}", n as f64 / s);
}
