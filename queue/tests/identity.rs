//! An invoice's identity is its content; tax IDs are unique per memory ID, not per file; the
//! main file alone is complete between passes; backups and checks (issue #10).

#[macro_use]
mod common;

use common::*;
use moadian_queue::*;
use serde_json::json;

/// An invoice without a tax ID, as prepare hands it over: fingerprint of its content, numbered
/// by the queue.
fn unnumbered(source: &str, content: &serde_json::Value) -> NewInvoice<'static> {
    let v = content.clone();
    NewInvoice {
        source: source.into(),
        memory_id: MEM.into(),
        indatim: Some(T0),
        kind: None,
        ins: Some(1),
        dedup_key: Some(fingerprint::of_invoice(MEM, content)),
        content: Content::Allocate(Box::new(move |serial| {
            let taxid = taxid_for(MEM, serial);
            let mut v = v;
            v["header"]["taxid"] = json!(taxid);
            v["header"]["inno"] = json!(format!("{serial:010X}"));
            Ok(Built {
                payload: v.to_string(),
                taxid,
                findings: None,
                invalid: false,
                indatim: None,
            })
        })),
    }
}

/// An invoice carrying its own tax ID, with its fingerprint.
fn with_taxid(source: &str, taxid: &str, text: &str) -> NewInvoice<'static> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    NewInvoice {
        source: source.into(),
        memory_id: MEM.into(),
        indatim: Some(T0),
        kind: None,
        ins: Some(1),
        dedup_key: Some(fingerprint::of_invoice(MEM, &v)),
        content: Content::Numbered {
            taxid: taxid.into(),
            serial: None,
            payload: text.into(),
            findings: None,
            invalid: false,
        },
    }
}

fn succeed(f: &Fixture, id: InvoiceId) {
    let runner = f.queue.acquire_runner().unwrap();
    let key = f.queue.get(id).unwrap().unwrap().key();
    let a = runner.begin_attempt(&[key], "b").unwrap().remove(0);
    runner.record_accepted(a.uid, "ref-1").unwrap();
    runner
        .record_outcome(a.uid, ServerStatus::Success, None, None)
        .unwrap();
}

fn edited_copy_under_an_accepted_taxid_is_a_conflict_naming_the_fields() {
    let f = Fixture::new();
    let t = taxid_for(MEM, 0x42);
    let sent = format!(
        r#"{{"header":{{"taxid":"{t}","tbill":21255}},"body":[{{"sstt":"bolt","am":2}}]}}"#
    );
    let id = placed(&f.queue.enqueue(with_taxid("a.json", &t, &sent)).unwrap()).id;
    succeed(&f, id);
    let edited =
        format!(r#"{{"header":{{"taxid":"{t}","tbill":30000}},"body":[{{"sstt":"nut","am":2}}]}}"#);
    let r = f
        .queue
        .enqueue(with_taxid("a-edited.json", &t, &edited))
        .unwrap();
    let Enqueued::Refused {
        error:
            e @ QueueError::TaxIdConflict {
                status: InvoiceStatus::Success,
                ..
            },
        ..
    } = &r
    else {
        panic!("expected a conflict, got {r:?}");
    };
    let QueueError::TaxIdConflict {
        fields,
        sent_source,
        sent_at,
        invoice,
        ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(fields, &["body[0].sstt", "header.tbill"]);
    assert_eq!(sent_source, "a.json");
    assert_eq!(*sent_at, Some(T0));
    assert_eq!(*invoice, id);
    let en = e.to_string();
    assert!(
        en.contains("body[0].sstt") && en.contains("moadian correct"),
        "{en}"
    );
    assert!(e.persian().contains("اصلاحی"), "{}", e.persian());
    // Nothing changed: the stored invoice is the one that was sent, and the conflict is logged.
    let inv = f.queue.get(id).unwrap().unwrap();
    assert_eq!(inv.status, InvoiceStatus::Success);
    assert_eq!(inv.payload.as_deref(), Some(sent.as_str()));
    assert_eq!(inv.revision, 1);
    let last = f.queue.events(id).unwrap().pop().unwrap();
    assert_eq!(last.kind, "conflict");
    assert_eq!(f.queue.summary().unwrap().total, 1);
}

fn the_same_invoice_written_differently_is_not_numbered_twice() {
    let f = Fixture::new();
    let first =
        json!({"header": {"indatim": 1, "tbill": 21255}, "body": [{"am": 2, "fee": 10000}]});
    let a = placed(&f.queue.enqueue(unnumbered("a.json", &first)).unwrap());
    succeed(&f, a.id);
    let last = f.queue.last_serial(MEM).unwrap();
    let reformatted: serde_json::Value = serde_json::from_str(
        r#"{"body":[{"fee":10000.00,"am":2.0}],"header":{"tbill":21255.0,"indatim":1}}"#,
    )
    .unwrap();
    let r = f
        .queue
        .enqueue(unnumbered("a-reformatted.json", &reformatted))
        .unwrap();
    assert!(
        matches!(r, Enqueued::Unchanged(ref p) if p.id == a.id && p.status == InvoiceStatus::Success),
        "{r:?}"
    );
    assert_eq!(
        f.queue.last_serial(MEM).unwrap(),
        last,
        "no serial consumed"
    );
    // The numbered form (with the allocated tax ID) matches too, and other content does not.
    let stored = f.queue.get(a.id).unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(stored.payload.as_deref().unwrap()).unwrap();
    assert_eq!(stored.dedup_key, Some(fingerprint::of_invoice(MEM, &v)));
    let other =
        json!({"header": {"indatim": 1, "tbill": 21256}, "body": [{"am": 2, "fee": 10000}]});
    let n = f.queue.enqueue(unnumbered("b.json", &other)).unwrap();
    assert!(matches!(n, Enqueued::Inserted(_)), "{n:?}");
}

#[test]
fn two_queue_files_of_one_memory_id_never_issue_the_same_taxid() {
    let dir = tempfile::tempdir().unwrap();
    let a = Queue::open(dir.path().join("a.db")).unwrap();
    let b = Queue::open(dir.path().join("b.db")).unwrap();
    let (pa, pb) = (
        a.serial_prefix().unwrap().unwrap(),
        b.serial_prefix().unwrap().unwrap(),
    );
    assert!((1..=moadian_queue::sqlite::serials::MAX_PREFIX).contains(&pa));
    assert_ne!(
        pa, pb,
        "each file draws its own prefix (1 in 2^20 chance of a tie)"
    );
    let taxids = |q: &Queue| -> Vec<String> {
        q.enqueue_batch((0..50).map(|i| alloc(&format!("{i}.json"))).collect())
            .unwrap()
            .iter()
            .map(|e| placed(e).taxid.unwrap())
            .collect()
    };
    let (ta, tb) = (taxids(&a), taxids(&b));
    assert!(
        ta.iter().all(|t| !tb.contains(t)),
        "a tax ID issued by both files"
    );
    // The prefix is recorded in the file: reopened, it numbers on in the same block.
    drop(a);
    let a = Queue::open(dir.path().join("a.db")).unwrap();
    assert_eq!(a.serial_prefix().unwrap(), Some(pa));
    assert_eq!(
        placed(&a.enqueue(alloc("51.json")).unwrap()).serial,
        Some((pa << moadian_queue::sqlite::serials::BLOCK_BITS) + 51)
    );
}

#[test]
fn an_empty_queue_file_is_refused_not_treated_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    std::fs::write(&path, b"").unwrap();
    for r in [Queue::open(&path), Queue::open_read_only(&path)] {
        match r {
            Err(e @ QueueError::EmptyFile { .. }) => {
                let en = e.to_string();
                assert!(en.contains(&path.display().to_string()), "{en}");
                assert!(
                    en.contains("0 bytes") && en.contains("delete the file"),
                    "{en}"
                );
                assert!(e.persian().contains("خالی"), "{}", e.persian());
            }
            other => panic!("expected EmptyFile, got {other:?}"),
        }
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left as it was");
    // A SQLite file without the queue's tables is refused the same way.
    let bare = dir.path().join("bare.db");
    rusqlite::Connection::open(&bare)
        .unwrap()
        .execute_batch("CREATE TABLE x (y); DROP TABLE x;")
        .unwrap();
    assert!(matches!(
        Queue::open(&bare),
        Err(QueueError::EmptyFile { .. })
    ));
}

#[test]
fn a_new_queue_file_appears_complete_with_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let q = Queue::open(&path).unwrap();
    assert!(q.serial_prefix().unwrap().is_some());
    // No temporary files left next to it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".new-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

fn copy_main_file_only(from: &std::path::Path, to: &std::path::Path) {
    std::fs::copy(from, to).unwrap();
}

#[test]
fn after_a_pass_the_main_file_alone_is_complete() {
    let f = Fixture::new();
    // Another connection stays open (a `status` in another window, or `run --watch`'s own
    // queue handle), so closing the runner alone would not fold the WAL back.
    let other = f.reopen();
    let ids = enqueue_n(&f.queue, 3);
    {
        let runner = f.queue.acquire_runner().unwrap();
        let keys: Vec<_> = ids
            .iter()
            .map(|i| f.queue.get(*i).unwrap().unwrap().key())
            .collect();
        let attempts = runner.begin_attempt(&keys, "b").unwrap();
        for a in &attempts {
            runner.record_accepted(a.uid, "r").unwrap();
            runner
                .record_outcome(a.uid, ServerStatus::Success, None, None)
                .unwrap();
        }
    } // end of the pass: the runner is dropped
    assert!(
        f.queue.as_sqlite().unwrap().checkpoint().unwrap(),
        "checkpoint completes"
    );
    let copy = f.dir.path().join("copy.db");
    copy_main_file_only(&f.path(), &copy);
    let c = Queue::open_read_only(&copy).unwrap();
    assert_eq!(c.summary().unwrap().success, 3);
    assert_eq!(c.serial_prefix().unwrap(), f.queue.serial_prefix().unwrap());
    drop(other);
}

#[test]
fn dropping_the_runner_checkpoints_the_wal() {
    let f = Fixture::new();
    let _other = f.reopen();
    enqueue_n(&f.queue, 2);
    drop(f.queue.acquire_runner().unwrap());
    let wal = std::fs::metadata(format!("{}-wal", f.path().display()))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(wal, 0, "the WAL is folded into the main file and truncated");
}

#[test]
fn backup_is_a_complete_consistent_copy_and_check_reports_counts() {
    let f = Fixture::new();
    let ids = enqueue_n(&f.queue, 4);
    succeed(&f, ids[0]);
    let dest = f.dir.path().join("backup.db");
    f.queue.as_sqlite().unwrap().backup_to(&dest).unwrap();
    assert!(
        f.queue.as_sqlite().unwrap().backup_to(&dest).is_err(),
        "an existing file is not overwritten"
    );
    assert!(!f.dir.path().join("backup.db.partial").exists());
    let b = Queue::open_read_only(&dest).unwrap();
    let c = b.check().unwrap();
    assert!(c.ok(), "{c:?}");
    assert_eq!(c.integrity, ["ok"]);
    assert_eq!(c.schema_version, LATEST_VERSION);
    assert_eq!(c.summary.success, 1);
    assert_eq!(c.summary.queued, 3);
    assert_eq!(c.serial_prefix, f.queue.serial_prefix().unwrap());
    assert_eq!(
        b.find_by_taxid(&f.queue.get(ids[0]).unwrap().unwrap().taxid.unwrap())
            .unwrap()
            .unwrap()
            .status,
        InvoiceStatus::Success
    );
}

#[test]
fn migration_to_v3_draws_a_prefix_above_old_serials_and_backfills_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    let content = r#"{"header":{"taxid":"A111110000000000000005","inno":"0000000005","tbill":2.0},"body":[]}"#;
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrate_to_version(&mut conn, 2).unwrap();
        conn.execute(
            "INSERT INTO invoices (source, memory_id, taxid, serial, payload, status, dedup_key, created_at, updated_at)
             VALUES ('old.json', 'A11111', 'A111110000000000000005', 5, ?1, 'QUEUED', 'sha256:old', 1, 1)",
            [content],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO serials (memory_id, last) VALUES ('A11111', 5)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO events (invoice_id, at, kind, pid) VALUES (1, 1, 'enqueued', 1)",
            [],
        )
        .unwrap();
    }
    let q = Queue::open(&path).unwrap();
    assert_eq!(q.schema_version().unwrap(), LATEST_VERSION);
    let inv = q.find_by_taxid("A111110000000000000005").unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(content).unwrap();
    assert_eq!(inv.dedup_key, Some(fingerprint::of_invoice(MEM, &v)));
    // The same content without a tax ID is that invoice, not a new one.
    let again = json!({"header": {"tbill": 2}, "body": []});
    let r = q.enqueue(unnumbered("again.json", &again)).unwrap();
    assert!(
        matches!(r, Enqueued::Unchanged(ref p) if p.id == inv.id),
        "{r:?}"
    );
    let next = placed(&q.enqueue(alloc("new.json")).unwrap())
        .serial
        .unwrap();
    assert!(next > 5 && next >> moadian_queue::sqlite::serials::BLOCK_BITS >= 1);
    assert_consistent(&q);
}

on_both_backends!(
    edited_copy_under_an_accepted_taxid_is_a_conflict_naming_the_fields,
    the_same_invoice_written_differently_is_not_numbered_twice,
);
