//! Streaming enqueue: inputs are taken in chunks, and what the report says of each input is the
//! same whatever chunk boundaries fall between inputs that share a tax ID.

use moadian::invoice::{inno_for_serial, MemoryId, TaxId};
use moadian::pipeline::ingest::{enqueue_paths, IngestOptions, CHUNK};
use moadian::pipeline::{Listing, ReportStatus};
use moadian_queue::{SqliteQueue, Store};
use std::io::Write;

const INDATIM: i64 = 1_683_997_837_988;
/// 2023-05-13T17:30:00Z: the example invoice's own day.
const AT: i64 = 1_683_999_000_000;

fn line(taxid: &str, inno: &str, tins: &str) -> String {
    format!(
        concat!(
            r#"{{"header":{{"taxid":"{taxid}","inno":"{inno}","indatim":{indatim},"inty":1,"inp":1,"ins":1,"#,
            r#""tins":"{tins}","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"#,
            r#""tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2}},"#,
            r#""body":[{{"sstid":"2710000138624","sstt":"قطعات","mu":"164","am":2,"#,
            r#""fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}}],"payments":[]}}"#
        ),
        taxid = taxid,
        inno = inno,
        indatim = INDATIM,
        tins = tins,
    )
}

/// How these tests take inputs in: memory ID `mem`, judged at [`AT`], nothing filled.
fn options(mem: &MemoryId) -> IngestOptions<'_> {
    IngestOptions {
        memory_id: mem,
        rules: moadian::rules::Context::at(AT),
        fill: false,
        read: Default::default(),
    }
}

/// Every row of a listing, in order.
fn rows_of(listing: &impl Listing) -> Vec<moadian::pipeline::InvoiceReport> {
    let mut rows = Vec::new();
    listing
        .rows(&mut |r| {
            rows.push(r);
            Ok(())
        })
        .unwrap();
    rows
}

#[test]
fn duplicates_across_chunks_are_superseded_as_in_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    let taxid = |serial: u64| TaxId::generate(&mem, INDATIM, serial).unwrap();
    let n = 2 * CHUNK + 500;
    let later_valid = CHUNK + 700; // same tax ID as input 5, other content: taken
    let later_invalid = 2 * CHUNK + 200; // same tax ID as input 10, invalid: superseded
    let path = dir.path().join("many.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..n {
        let text = if i == later_valid {
            line(taxid(6).as_str(), &inno_for_serial(900_001), "14003778990")
        } else if i == later_invalid {
            line(taxid(11).as_str(), &inno_for_serial(11), "12")
        } else {
            let serial = i as u64 + 1;
            line(
                taxid(serial).as_str(),
                &inno_for_serial(serial),
                "14003778990",
            )
        };
        writeln!(f, "{text}").unwrap();
    }
    f.flush().unwrap();
    drop(f);

    let queue = SqliteQueue::open(dir.path().join("q.sqlite")).unwrap();
    let opts = options(&mem);
    let placements =
        enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
    let listing = placements.listing(&queue);
    let rows = rows_of(&listing);
    assert_eq!(rows.len(), n, "one row per input");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.source, format!("{}#{i}", path.display()), "input order");
    }
    let dup = |i: usize| {
        rows[i].status == ReportStatus::Invalid
            && rows[i]
                .errors
                .iter()
                .any(|e| e.rule.as_deref() == Some("taxid.duplicate_input"))
    };
    assert!(dup(5), "the earlier copy is superseded: {:?}", rows[5]);
    // ...naming the input that was taken instead.
    let taken = format!("{}#{later_valid}", path.display());
    assert!(
        rows[5].errors.iter().any(|e| e.message.en.contains(&taken)),
        "{:?}",
        rows[5]
    );
    assert_eq!(rows[later_valid].status, ReportStatus::Queued);
    assert!(dup(later_invalid), "{:?}", rows[later_invalid]);
    assert_eq!(rows[10].status, ReportStatus::Queued);
    let s = listing.summary().unwrap();
    assert_eq!((s.total, s.queued, s.invalid), (n, n - 2, 2));
    // One queue row per tax ID taken: input 5's row now holds the later input's content.
    assert_eq!(queue.summary().unwrap().total as usize, n - 2);
    let row5 = queue.find_by_taxid(taxid(6).as_str()).unwrap().unwrap();
    assert!(row5.payload.unwrap().contains(&inno_for_serial(900_001)));
    assert!(row5.source.ends_with(&format!("#{later_valid}")));
}

#[test]
fn the_same_invoice_twice_is_one_queue_row() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    let t = TaxId::generate(&mem, INDATIM, 1).unwrap();
    let path = dir.path().join("twice.jsonl");
    let one = line(t.as_str(), &inno_for_serial(1), "14003778990");
    std::fs::write(&path, format!("{one}\n{one}\n")).unwrap();
    let queue = SqliteQueue::open(dir.path().join("q.sqlite")).unwrap();
    let opts = options(&mem);
    let placements =
        enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
    let (report, refused) = placements.collect(&queue).unwrap();
    assert!(refused.is_empty());
    assert_eq!(report.invoices.len(), 2, "{:?}", report.invoices);
    assert_eq!(
        report.invoices[0].status,
        ReportStatus::Invalid,
        "superseded"
    );
    assert_eq!(report.invoices[1].status, ReportStatus::Queued);
    assert!(
        report.invoices[1].source.ends_with("#1"),
        "the later copy is taken"
    );
    assert_eq!(queue.summary().unwrap().total, 1);
}

/// Inputs with the same content and no tax ID are one invoice to the queue (sent once); every
/// input after the first is listed, saying so, never left out of the report, in the same chunk
/// or a later one.
#[test]
fn inputs_with_the_same_content_are_each_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    // No taxid, no inno: the queue allocates them; `indatim` makes each other input differ.
    let at = |ms: i64| {
        line("", "", "14003778990")
            .replace(r#""taxid":"","inno":"","#, "")
            .replace(&INDATIM.to_string(), &(INDATIM + ms).to_string())
    };
    let n = CHUNK + 5;
    let same = [1, 2, CHUNK + 2]; // the same content as input 0
    let path = dir.path().join("same.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..n {
        let ms = if same.contains(&i) { 0 } else { i as i64 };
        writeln!(f, "{}", at(ms)).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let queue = SqliteQueue::open(dir.path().join("q.sqlite")).unwrap();
    let opts = options(&mem);
    let placements =
        enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
    let listing = placements.listing(&queue);
    let rows = rows_of(&listing);
    assert_eq!(rows.len(), n, "one row per input");
    assert_eq!(queue.summary().unwrap().total as usize, n - same.len());
    assert_eq!(rows[0].status, ReportStatus::Queued);
    let first = format!("{}#0", path.display());
    for i in same {
        let r = &rows[i];
        assert_eq!(r.source, format!("{}#{i}", path.display()));
        assert_eq!(r.status, ReportStatus::Invalid, "not sent: {r:?}");
        assert_eq!(r.taxid, rows[0].taxid, "the invoice it is the same as");
        let e = r
            .errors
            .iter()
            .find(|e| e.rule.as_deref() == Some("content.duplicate_input"))
            .unwrap_or_else(|| panic!("input {i}: {r:?}"));
        assert!(e.message.en.contains(&first), "{:?}", e.message);
        assert!(e.message.fa.contains(&first), "{:?}", e.message);
    }
    let s = listing.summary().unwrap();
    assert_eq!((s.total, s.queued, s.invalid), (n, n - 3, 3));

    // Again: the first input finds its invoice already queued; the others are still listed.
    let again = enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
    let s = again.listing(&queue).summary().unwrap();
    assert_eq!((s.total, s.invalid), (n, 3));
    assert_eq!(queue.summary().unwrap().total as usize, n - same.len());
}

/// `status` writes rows as it reads them, a page at a time: more rows than a page and a drawn
/// table hold come out whole, in order, once each, as JSON and as a table.
#[test]
fn status_streams_every_row_as_json_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    let n = 2 * CHUNK + 300;
    let path = dir.path().join("many.jsonl");
    let mut text = String::new();
    for serial in 1..=n as u64 {
        let t = TaxId::generate(&mem, INDATIM, serial).unwrap();
        text.push_str(&line(t.as_str(), &inno_for_serial(serial), "14003778990"));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let qpath = dir.path().join("q.sqlite");
    let queue = SqliteQueue::open(&qpath).unwrap();
    let opts = options(&mem);
    enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
    drop(queue);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_moadian"))
            .args(["--lang", "en", "status", "--queue", qpath.to_str().unwrap()])
            .args(args)
            .env("COLUMNS", "200")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "not all SUCCESS");
        String::from_utf8(out.stdout).unwrap()
    };
    let v: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    let rows = v["invoices"].as_array().unwrap();
    assert_eq!(rows.len(), n);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["source"], format!("{}#{i}", path.display()));
    }
    assert_eq!(v["summary"]["total"], n);
    assert_eq!(v["summary"]["queued"], n);
    let table = run(&[]);
    assert!(
        table.starts_with(&format!("{n} invoices: 0 SUCCESS")),
        "{}",
        &table[..200]
    );
    assert_eq!(table.matches("│ Source").count(), 1, "one header");
    for i in [0, 999, 1000, n - 1] {
        let cell = format!("{}#{i} ", path.display());
        assert_eq!(table.matches(&cell).count(), 1, "{cell}");
    }
    let only: serde_json::Value =
        serde_json::from_str(&run(&["--json", "--only", "SUCCESS"])).unwrap();
    assert_eq!(only["invoices"].as_array().unwrap().len(), 0);
    assert_eq!(only["summary"]["total"], n, "the summary counts every row");
}

/// An input that cannot be read (a line cut short) or is not an invoice is recorded INVALID
/// once: the same file again finds that row, and does not add another each time.
#[test]
fn an_unreadable_input_again_is_the_same_invalid_row() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    let t = TaxId::generate(&mem, INDATIM, 1).unwrap();
    let one = line(t.as_str(), &inno_for_serial(1), "14003778990");
    let path = dir.path().join("cut.jsonl");
    std::fs::write(&path, format!("{one}\n{{\"header\":7}}\n{}", &one[..40])).unwrap();
    let queue = SqliteQueue::open(dir.path().join("q.sqlite")).unwrap();
    let opts = options(&mem);
    for round in 0..3 {
        let placements =
            enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
        let listing = placements.listing(&queue);
        let s = listing.summary().unwrap();
        assert_eq!((s.total, s.invalid), (3, 2), "round {round}");
        // Why the cut line was not read, once in each language (not both in one text).
        let rows = rows_of(&listing);
        let m = &rows[2].errors[0].message;
        let persian = |t: &str| t.chars().any(|c| ('\u{600}'..='\u{6ff}').contains(&c));
        assert!(!persian(&m.en) && persian(&m.fa), "{m:?}");
        assert_eq!(
            queue.summary().unwrap().total,
            3,
            "round {round}: no new rows"
        );
    }
}

/// One valid invoice (tax ID `t`) in a file, enqueued once into a fresh queue file.
struct One {
    _dir: tempfile::TempDir,
    mem: MemoryId,
    t: TaxId,
    path: std::path::PathBuf,
    queue: SqliteQueue,
}

fn one_queued() -> One {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemoryId::parse("A11216").unwrap();
    let t = TaxId::generate(&mem, INDATIM, 1).unwrap();
    let path = dir.path().join("one.jsonl");
    std::fs::write(
        &path,
        line(t.as_str(), &inno_for_serial(1), "14003778990") + "\n",
    )
    .unwrap();
    let queue = SqliteQueue::open(dir.path().join("q.sqlite")).unwrap();
    enqueue_paths(
        &queue,
        std::slice::from_ref(&path),
        &options(&mem),
        &mut |_, _| {},
    )
    .unwrap();
    One {
        _dir: dir,
        mem,
        t,
        path,
        queue,
    }
}

/// The same input again, while its invoice's attempt has begun but no answer was recorded (a
/// run killed mid-POST): the note says an attempt began, not that it was sent.
#[test]
fn an_attempt_without_an_answer_is_not_said_to_be_sent() {
    let One {
        _dir,
        mem,
        t,
        path,
        queue,
    } = one_queued();
    let opts = options(&mem);
    let runner = queue.acquire_runner().unwrap();
    let inv = queue.find_by_taxid(t.as_str()).unwrap().unwrap();
    use moadian_queue::RunnerStore;
    runner.begin_attempt(&[inv.key()], "b").unwrap();
    drop(runner);
    let again = enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
    let (report, _) = again.collect(&queue).unwrap();
    let note = report.invoices[0].note.clone().expect("a note");
    assert!(!note.en.contains("sent on"), "{note:?}");
    assert!(note.en.contains("no answer"), "{note:?}");
    // The row came from this same input in the earlier run: said so, not by its own name.
    assert!(note.en.contains("this same input, earlier"), "{note:?}");
}

/// An input whose invoice was already queued, and not yet sent, when it was taken in: the note
/// says so, and never that it was sent before (the same pass may be the one that sends it).
#[test]
fn an_invoice_waiting_in_the_queue_is_not_said_to_be_sent_before() {
    let One {
        _dir,
        mem,
        t,
        path,
        queue,
    } = one_queued();
    let opts = options(&mem);
    let again = enqueue_paths(&queue, std::slice::from_ref(&path), &opts, &mut |_, _| {}).unwrap();
    // This pass sends it, after the input met it in the queue.
    let runner = queue.acquire_runner().unwrap();
    let inv = queue.find_by_taxid(t.as_str()).unwrap().unwrap();
    use moadian_queue::RunnerStore;
    let a = runner.begin_attempt(&[inv.key()], "b").unwrap();
    runner
        .record_accepted_many(&[(a[0].uid, "r-1".into())])
        .unwrap();
    let (report, _) = again.collect(&queue).unwrap();
    let note = report.invoices[0].note.clone().expect("a note");
    assert!(!note.en.contains("sent on"), "{note:?}");
    assert!(note.en.contains("not yet sent"), "{note:?}");
}
