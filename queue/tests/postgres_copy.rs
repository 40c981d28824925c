//! `copy_sqlite_to_postgres`: a queue file moves into PostgreSQL without loss — invoices in
//! every state, attempts with their answers, the event log, serial counters — and a second
//! copy (tax IDs already there) is refused with nothing written. Runs against the server
//! `scripts/test.sh` starts (fails without it).

#[macro_use]
mod common;

use common::*;
use moadian_queue::postgres::copy::copy_sqlite_to_postgres;
use moadian_queue::*;
use std::time::Duration;

/// A queue file holding one invoice of each kind of history.
fn varied_file() -> Fixture {
    let f = Fixture::on(Backend::Sqlite);
    let ids = enqueue_n(&f.queue, 6);
    f.queue
        .enqueue(NewInvoice {
            source: "bad.json".into(),
            memory_id: MEM.into(),
            indatim: None,
            kind: None,
            ins: None,
            dedup_key: None,
            content: Content::Invalid {
                payload: None,
                findings: serde_json::json!([{"code": "x"}]),
            },
        })
        .unwrap();
    let r = f.queue.acquire_runner().unwrap();
    let key = |i: usize| f.queue.get(ids[i]).unwrap().unwrap().key();
    let a = r
        .begin_attempt(&[key(0), key(1), key(2), key(3)], "b1")
        .unwrap();
    r.record_accepted(a[0].uid, "ref-0").unwrap();
    r.record_outcome(a[0].uid, ServerStatus::Success, None, None)
        .unwrap();
    r.record_accepted(a[1].uid, "ref-1").unwrap();
    r.record_outcome(
        a[1].uid,
        ServerStatus::Failed,
        Some(serde_json::json!([{"code": "0300901"}])),
        None,
    )
    .unwrap();
    r.mark_unknown(a[2].uid).unwrap();
    r.record_accepted(a[3].uid, "ref-3").unwrap();
    f.queue
        .resubmit(
            ids[1],
            Box::new(|serial| {
                let taxid = taxid_for(MEM, serial);
                Ok(Built {
                    payload: payload(&taxid, serial),
                    taxid,
                    findings: None,
                    invalid: false,
                    indatim: None,
                })
            }),
        )
        .unwrap();
    f.advance(Duration::from_secs(1));
    drop(r);
    f
}

/// One invoice as stored: tax ID, row, attempts, event log.
type Stored = (Option<String>, Invoice, Vec<Attempt>, Vec<String>);

fn everything(q: &impl Store) -> Vec<Stored> {
    q.list(&ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|row| {
            let inv = q.get(row.id).unwrap().unwrap();
            let attempts = q.attempts(row.id).unwrap();
            let events = q
                .events(row.id)
                .unwrap()
                .into_iter()
                .map(|e| {
                    format!(
                        "{} {:?}->{:?} {:?}",
                        e.kind, e.from_status, e.to_status, e.detail
                    )
                })
                .collect();
            (row.taxid, inv, attempts, events)
        })
        .collect()
}

#[test]
fn a_queue_file_moves_into_postgres_without_loss() {
    let src = varied_file();
    let before = everything(&src.queue);
    let dst = Fixture::on(Backend::Postgres);
    let pg = dst.queue.as_postgres().unwrap();
    let report = copy_sqlite_to_postgres(&src.dir.path().join("queue.db"), pg).unwrap();
    assert_eq!(report.invoices, 8);
    assert_eq!(report.attempts, 4);
    assert_eq!(report.serial_counters, 1);
    let after = everything(&dst.queue);
    assert_eq!(before.len(), after.len());
    let mut old_to_new = std::collections::HashMap::new();
    for ((t1, i1, a1, e1), (t2, i2, a2, e2)) in before.iter().zip(&after) {
        assert_eq!(t1, t2);
        old_to_new.insert(i1.id, i2.id);
        let mut i1 = i1.clone();
        i1.id = i2.id;
        i1.resubmission_of = i1.resubmission_of.map(|o| old_to_new[&o]);
        assert_eq!(&i1, i2, "invoice {t1:?}");
        let a1: Vec<_> = a1
            .iter()
            .cloned()
            .map(|mut a| {
                a.invoice_id = i2.id;
                a
            })
            .collect();
        assert_eq!(&a1, a2, "attempts of {t1:?}");
        assert_eq!(&e2[..e1.len()], &e1[..], "events of {t1:?}");
        assert_eq!(e2.len(), e1.len() + 1);
        assert!(e2.last().unwrap().starts_with("copied"), "{e2:?}");
    }
    assert_eq!(src.queue.summary().unwrap(), dst.queue.summary().unwrap());
    assert_eq!(
        src.queue.last_serial(MEM).unwrap(),
        dst.queue.last_serial(MEM).unwrap()
    );
    assert_eq!(
        dst.queue.to_reconcile().unwrap().len(),
        1,
        "the UNKNOWN attempt"
    );
    assert_consistent(&dst.queue);
    // Numbering goes on after the file's last serial: never one it already used.
    let last = src.queue.last_serial(MEM).unwrap();
    let p = placed(&dst.queue.enqueue(alloc("new.json")).unwrap());
    assert_eq!(p.serial, Some(last + 1));
}

#[test]
fn a_second_copy_is_refused_and_writes_nothing() {
    let src = varied_file();
    let dst = Fixture::on(Backend::Postgres);
    let pg = dst.queue.as_postgres().unwrap();
    let path = src.dir.path().join("queue.db");
    copy_sqlite_to_postgres(&path, pg).unwrap();
    let before = everything(&dst.queue);
    let e = copy_sqlite_to_postgres(&path, pg).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("already holds tax ID"), "{msg}");
    assert!(msg.contains("Nothing was copied"), "{msg}");
    assert_eq!(everything(&dst.queue), before, "nothing written");
    // Another file numbering the same memory ID with a tax ID the target holds: refused too.
    let other = Fixture::on(Backend::Sqlite);
    let taxid = before[0].0.clone().unwrap();
    other
        .queue
        .enqueue(numbered("x.json", &taxid, None, "[]"))
        .unwrap();
    let e = copy_sqlite_to_postgres(&other.dir.path().join("queue.db"), pg).unwrap_err();
    assert!(e.to_string().contains(&taxid), "{e}");
    assert_eq!(everything(&dst.queue), before);
}
