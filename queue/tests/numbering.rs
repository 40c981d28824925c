//! Invariant 4 on a real queue file: serials allocated monotonically per memory ID inside a
//! transaction (also from two connections at once), tax IDs never reused, resubmission under
//! a new serial and tax ID, inputs carrying their own tax ID kept or refused.

#[macro_use]
mod common;

use common::*;
use moadian_queue::*;
use std::sync::{Arc, Barrier};

fn invariant_4_serials_monotonic_per_memory_id() {
    let f = Fixture::new();
    let a: Vec<u64> = f
        .queue
        .enqueue_batch(vec![alloc("1"), alloc_for("B22222", "2"), alloc("3")])
        .unwrap()
        .iter()
        .map(|e| placed(e).serial.unwrap())
        .collect();
    let b = base(&f.queue);
    assert_eq!(a, [b + 1, b + 1, b + 2]);
    assert_eq!(f.queue.last_serial(MEM).unwrap(), b + 2);
    assert_eq!(f.queue.last_serial("B22222").unwrap(), b + 1);
    assert_eq!(f.queue.last_serial("nobody").unwrap(), b);
}

fn invariant_4_serials_monotonic_under_concurrent_allocation() {
    let f = Fixture::new();
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let q = f.reopen();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = Vec::new();
                for round in 0..40 {
                    let items = (0..25)
                        .map(|i| alloc(&format!("t{t}/{round}/{i}")))
                        .collect();
                    for e in q.enqueue_batch(items).unwrap() {
                        mine.push(placed(&e).serial.unwrap());
                    }
                }
                mine
            })
        })
        .collect();
    let results: Vec<Vec<u64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for mine in &results {
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "each connection sees increasing serials"
        );
    }
    let mut all: Vec<u64> = results.concat();
    all.sort_unstable();
    let b = base(&f.queue);
    assert_eq!(
        all,
        (b + 1..=b + 2000).collect::<Vec<u64>>(),
        "no serial twice, none skipped"
    );
    assert_eq!(f.queue.last_serial(MEM).unwrap(), b + 2000);
    assert_consistent(&f.queue);
}

fn invariant_4_failed_build_does_not_consume_a_serial() {
    let f = Fixture::new();
    let bad = NewInvoice {
        content: Content::Allocate(Box::new(|_| Err("no taxid for you".into()))),
        ..alloc("bad")
    };
    let r = f.queue.enqueue_batch(vec![bad, alloc("good")]).unwrap();
    assert!(matches!(
        &r[0],
        Enqueued::Refused {
            error: QueueError::Caller(_),
            ..
        }
    ));
    assert_eq!(placed(&r[1]).serial, Some(base(&f.queue) + 1));
}

fn invariant_4_taxid_never_reused_by_allocation() {
    let f = Fixture::new();
    let first = placed(&f.queue.enqueue(alloc("a")).unwrap());
    let taxid = first.taxid.clone().unwrap();
    let clash = NewInvoice {
        content: Content::Allocate(Box::new(move |s| {
            Ok(Built {
                payload: payload(&taxid, s),
                taxid,
                findings: None,
                invalid: false,
                indatim: None,
            })
        })),
        ..alloc("b")
    };
    let r = f.queue.enqueue(clash).unwrap();
    assert!(
        matches!(
            r,
            Enqueued::Refused {
                error: QueueError::TaxIdReused { .. },
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(
        f.queue.last_serial(MEM).unwrap(),
        base(&f.queue) + 1,
        "refused: serial not consumed"
    );
}

fn fail(f: &Fixture, runner: &TRunner, id: InvoiceId) {
    let key = f.queue.get(id).unwrap().unwrap().key();
    let a = runner.begin_attempt(&[key], "b").unwrap().remove(0);
    runner.record_accepted(a.uid, "ref").unwrap();
    let errors = serde_json::json!([{"code": "010504"}]);
    runner
        .record_outcome(a.uid, ServerStatus::Failed, Some(errors), None)
        .unwrap();
}

fn invariant_4_resubmission_gets_new_serial_and_taxid_linked_to_old() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let ids = enqueue_n(&f.queue, 2);
    fail(&f, &runner, ids[0]);
    let old = f.queue.get(ids[0]).unwrap().unwrap();
    let new = f
        .queue
        .resubmit(
            ids[0],
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
    assert_eq!(new.serial, Some(base(&f.queue) + 3));
    assert_ne!(new.taxid, old.taxid);
    assert_eq!(new.status, InvoiceStatus::Queued);
    let stored = f.queue.get(new.id).unwrap().unwrap();
    assert_eq!(stored.resubmission_of, Some(ids[0]));
    assert_eq!(stored.source, old.source);
    assert_eq!(status(&f.queue, ids[0]), InvoiceStatus::Failed);
    let kinds: Vec<_> = f
        .queue
        .events(ids[0])
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.last().map(String::as_str), Some("resubmitted"));
    // Only once, and only FAILED invoices.
    let again = f
        .queue
        .resubmit(ids[0], Box::new(|_| Err("unreachable".into())));
    assert!(matches!(again, Err(QueueError::AlreadyResubmitted { .. })));
    let not_failed = f
        .queue
        .resubmit(ids[1], Box::new(|_| Err("unreachable".into())));
    assert!(matches!(
        not_failed,
        Err(QueueError::NotResubmittable { .. })
    ));
    // A resubmission reusing the old tax ID is refused and consumes nothing.
    fail(&f, &runner, ids[1]);
    let reuse = old.taxid.clone().unwrap();
    let r = f.queue.resubmit(
        ids[1],
        Box::new(move |s| {
            Ok(Built {
                payload: payload(&reuse, s),
                taxid: reuse,
                findings: None,
                invalid: false,
                indatim: None,
            })
        }),
    );
    assert!(matches!(r, Err(QueueError::TaxIdReused { .. })));
    assert_eq!(f.queue.last_serial(MEM).unwrap(), base(&f.queue) + 3);
    assert_consistent(&f.queue);
}

fn invariant_4_input_taxid_with_other_content_is_a_conflict_when_already_success() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let t = "A111110000000000000042";
    let p = placed(
        &f.queue
            .enqueue(numbered("x.json", t, Some(42), "[]"))
            .unwrap(),
    );
    let a = runner
        .begin_attempt(&[f.queue.get(p.id).unwrap().unwrap().key()], "b")
        .unwrap();
    runner
        .record_outcome(a[0].uid, ServerStatus::Success, None, None)
        .unwrap();
    let r = f
        .queue
        .enqueue(numbered("x-again.json", t, Some(42), "[1]"))
        .unwrap();
    match r {
        Enqueued::Refused {
            error: e @ QueueError::TaxIdConflict { .. },
            ..
        } => {
            assert!(e.to_string().contains(t) && e.to_string().contains("body"));
            assert!(e.to_string().contains("moadian correct"));
            assert!(e.persian().contains(t));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The same content again is the same invoice: unchanged, still SUCCESS.
    let same = f
        .queue
        .enqueue(numbered("x-copy.json", t, Some(42), "[]"))
        .unwrap();
    assert!(
        matches!(same, Enqueued::Unchanged(ref q) if q.id == p.id && q.status == InvoiceStatus::Success),
        "{same:?}"
    );
    assert_eq!(f.queue.summary().unwrap().total, 1);
}

fn invariant_4_input_taxid_refused_while_in_flight() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let t = "A111110000000000000007";
    let p = placed(&f.queue.enqueue(numbered("x.json", t, None, "[]")).unwrap());
    let a = runner
        .begin_attempt(&[f.queue.get(p.id).unwrap().unwrap().key()], "b")
        .unwrap();
    for step in 0..3 {
        let r = f.queue.enqueue(numbered("x.json", t, None, "[9]")).unwrap();
        assert!(
            matches!(
                r,
                Enqueued::Refused {
                    error: QueueError::TaxIdConflict { .. },
                    ..
                }
            ),
            "step {step}: {r:?}"
        );
        match step {
            0 => runner.record_accepted(a[0].uid, "r").unwrap(),
            1 => {
                runner
                    .record_outcome(a[0].uid, ServerStatus::InProgress, None, None)
                    .unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(
        f.queue.get(p.id).unwrap().unwrap().revision,
        1,
        "payload untouched"
    );
}

#[test]
fn invariant_4_input_taxid_kept_and_counter_advanced_past_its_serial() {
    let f = Fixture::new();
    let b = base(&f.queue);
    let t = taxid_for(MEM, b + 100);
    let p = placed(
        &f.queue
            .enqueue(numbered("x.json", &t, Some(b + 100), "[]"))
            .unwrap(),
    );
    assert_eq!(p.taxid.as_deref(), Some(t.as_str()));
    assert_eq!(f.queue.last_serial(MEM).unwrap(), b + 100);
    // A lower serial from the input does not move the counter back.
    f.queue
        .enqueue(numbered(
            "y.json",
            &taxid_for(MEM, b + 50),
            Some(b + 50),
            "[]",
        ))
        .unwrap();
    assert_eq!(f.queue.last_serial(MEM).unwrap(), b + 100);
    // A serial outside this file's block (another queue's numbering) does not move it either.
    f.queue
        .enqueue(numbered(
            "w.json",
            "A111110000000000099999",
            Some(0x99999),
            "[]",
        ))
        .unwrap();
    assert_eq!(f.queue.last_serial(MEM).unwrap(), b + 100);
    assert_eq!(
        placed(&f.queue.enqueue(alloc("z")).unwrap()).serial,
        Some(b + 101)
    );
    assert_eq!(f.queue.note_serial(MEM, 7).unwrap(), b + 101);
    assert_eq!(f.queue.note_serial(MEM, b + 500).unwrap(), b + 500);
    // The file itself refuses to move a counter backwards.
    let conn = rusqlite::Connection::open(f.path()).unwrap();
    let r = conn.execute("UPDATE serials SET last = 3 WHERE memory_id = ?1", [MEM]);
    assert!(r.is_err());
}

fn invariant_4_same_input_twice_gets_no_second_taxid() {
    let f = Fixture::new();
    let with_key = |src: &str| NewInvoice {
        dedup_key: Some("sha256:abc".into()),
        ..alloc(src)
    };
    let a = placed(&f.queue.enqueue(with_key("a.json")).unwrap());
    let b = f.queue.enqueue(with_key("a.json")).unwrap();
    assert!(matches!(b, Enqueued::Unchanged(ref p) if p.id == a.id));
    assert_eq!(f.queue.last_serial(MEM).unwrap(), base(&f.queue) + 1);
    // Same tax ID and same content: unchanged, not duplicated.
    let t = "A111110000000000000200";
    f.queue.enqueue(numbered("n.json", t, None, "[]")).unwrap();
    let again = f.queue.enqueue(numbered("n.json", t, None, "[]")).unwrap();
    assert!(matches!(again, Enqueued::Unchanged(_)));
    assert_eq!(f.queue.summary().unwrap().total, 2);
}

/// A referral of `reference` (`ins`), numbered by the queue; `key` is its content.
fn referral(reference: &str, ins: i64, key: &str) -> NewInvoice<'static> {
    let reference = reference.to_string();
    NewInvoice {
        ins: Some(ins),
        dedup_key: Some(key.into()),
        content: Content::Allocate(Box::new(move |serial| {
            let taxid = taxid_for(MEM, serial);
            Ok(Built {
                payload: format!(
                    r#"{{"header":{{"taxid":"{taxid}","ins":{ins},"irtaxid":"{reference}"}},"body":[]}}"#
                ),
                taxid,
                findings: None,
                invalid: false,
                indatim: None,
            })
        })),
        ..alloc(&format!("{key}.json"))
    }
}

fn referrals_of_one_reference_are_checked_in_the_transaction_that_stores_them() {
    let f = Fixture::new();
    let (x, y) = ("A111110000000000000400", "A111110000000000000401");
    let taken = |e: &Enqueued, by_ins: i64| matches!(e, Enqueued::Refused { error: QueueError::ReferenceTaken { by_ins: b, .. }, .. } if *b == by_ins);
    // One live correction per reference; the same correction again is its own row.
    let first = placed(&f.queue.enqueue_referral(referral(x, 2, "c1"), x).unwrap());
    let again = f.queue.enqueue_referral(referral(x, 2, "c1"), x).unwrap();
    assert!(
        matches!(again, Enqueued::Unchanged(ref p) if p.id == first.id),
        "{again:?}"
    );
    let second = f.queue.enqueue_referral(referral(x, 2, "c2"), x).unwrap();
    assert!(taken(&second, 2), "{second:?}");
    let ret = f.queue.enqueue_referral(referral(x, 4, "r1"), x).unwrap();
    assert!(taken(&ret, 2), "{ret:?}");
    // A cancellation may follow a live correction; after it, nothing more.
    placed(&f.queue.enqueue_referral(referral(x, 3, "x1"), x).unwrap());
    let twice = f.queue.enqueue_referral(referral(x, 3, "x2"), x).unwrap();
    assert!(taken(&twice, 3), "{twice:?}");
    // Another reference is not affected; nothing refused consumed a serial.
    placed(&f.queue.enqueue_referral(referral(y, 2, "c3"), y).unwrap());
    assert_eq!(f.queue.last_serial(MEM).unwrap(), base(&f.queue) + 3);
    assert_consistent(&f.queue);
}

fn invalid_invoices_are_recorded_and_never_sendable() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let findings = serde_json::json!([{"rule": "tins", "severity": "error"}]);
    let items = vec![
        NewInvoice {
            content: Content::Invalid {
                payload: Some("not json".into()),
                findings: findings.clone(),
            },
            ..alloc("broken.json")
        },
        NewInvoice {
            content: Content::Numbered {
                taxid: "A111110000000000000300".into(),
                serial: None,
                payload: "{}".into(),
                findings: Some(findings.clone()),
                invalid: true,
            },
            ..alloc("bad.json")
        },
        NewInvoice {
            content: Content::Numbered {
                taxid: "A111110000000000000301".into(),
                serial: None,
                payload: "{not json".into(),
                findings: None,
                invalid: false,
            },
            ..alloc("garbled.json")
        },
    ];
    let r = f.queue.enqueue_batch(items).unwrap();
    assert_eq!(placed(&r[0]).status, InvoiceStatus::Invalid);
    assert_eq!(placed(&r[1]).status, InvoiceStatus::Invalid);
    assert!(matches!(
        &r[2],
        Enqueued::Refused {
            error: QueueError::InvalidInput(_),
            ..
        }
    ));
    assert!(runner.next_sendable(MEM, 10, None).unwrap().is_empty());
    let inv = f.queue.get(placed(&r[1]).id).unwrap().unwrap();
    assert!(matches!(
        runner.begin_attempt(&[inv.key()], "b"),
        Err(QueueError::NotSendable {
            status: InvoiceStatus::Invalid,
            ..
        })
    ));
    // Fixed and enqueued again under the same tax ID: replaced, now sendable.
    let fixed = f
        .queue
        .enqueue(numbered("bad.json", "A111110000000000000300", None, "[]"))
        .unwrap();
    assert!(matches!(fixed, Enqueued::Replaced(ref p) if p.status == InvoiceStatus::Queued));
    let rows = f
        .queue
        .list(&ListFilter {
            status: Some(InvoiceStatus::Invalid),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].findings, Some(findings));
    assert_eq!(runner.next_sendable(MEM, 10, None).unwrap().len(), 1);
    assert_consistent(&f.queue);
}

fn list_filters_and_pages() {
    let f = Fixture::new();
    let ids = enqueue_n(&f.queue, 5);
    let page = f
        .queue
        .list(&ListFilter {
            limit: Some(2),
            after: Some(ids[0]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), &ids[1..3]);
    let some = f
        .queue
        .list(&ListFilter {
            ids: Some(vec![ids[4], ids[0]]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        some.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[0], ids[4]]
    );
    let none = f
        .queue
        .list(&ListFilter {
            memory_id: Some("other".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
    // Only what changed since a moment: the invoices enqueued after it.
    f.advance(std::time::Duration::from_secs(60));
    let since = f.now.load(std::sync::atomic::Ordering::SeqCst);
    let later = enqueue_n(&f.queue, 2);
    let changed = f
        .queue
        .list(&ListFilter {
            updated_since: Some(since),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(changed.iter().map(|r| r.id).collect::<Vec<_>>(), later);
    let by_tax = f
        .queue
        .find_by_taxid(&taxid_for(MEM, base(&f.queue) + 3))
        .unwrap()
        .unwrap();
    assert_eq!(by_tax.id, ids[2]);
}

/// One batch that repeats itself answers as if its inputs came one at a time: a tax ID or an
/// idempotency key seen earlier in the same batch is found, an allocated tax ID equal to one
/// earlier in the batch is refused without consuming its serial, ids follow the input order,
/// and each new invoice has its `enqueued` event.
fn one_batch_with_repeats_answers_as_one_at_a_time() {
    let f = Fixture::new();
    let b = base(&f.queue);
    let t1 = "A111110000000000000501";
    let t2 = "A111110000000000000502";
    let keyed = |source: &str| NewInvoice {
        dedup_key: Some("k1".into()),
        ..alloc(source)
    };
    let t2c = t2.to_string();
    let clash = NewInvoice {
        content: Content::Allocate(Box::new(move |s| {
            Ok(Built {
                payload: payload(&t2c, s),
                taxid: t2c,
                findings: None,
                invalid: false,
                indatim: None,
            })
        })),
        ..alloc("clash")
    };
    let r = f
        .queue
        .enqueue_batch(vec![
            numbered("n1", t1, None, "[]"),
            keyed("k1-first"),
            numbered("n1-again", t1, None, "[]"),
            keyed("k1-again"),
            numbered("n2", t2, None, "[]"),
            clash,
            alloc("next"),
            numbered("n1-changed", t1, None, "[1]"),
            alloc("last"),
        ])
        .unwrap();
    assert!(matches!(r[0], Enqueued::Inserted(_)), "{:?}", r[0]);
    assert!(matches!(r[1], Enqueued::Inserted(_)), "{:?}", r[1]);
    assert_eq!(placed(&r[1]).serial, Some(b + 1));
    assert!(
        matches!(&r[2], Enqueued::Unchanged(p) if p.id == placed(&r[0]).id),
        "{:?}",
        r[2]
    );
    assert!(
        matches!(&r[3], Enqueued::Unchanged(p) if p.id == placed(&r[1]).id),
        "{:?}",
        r[3]
    );
    assert!(matches!(r[4], Enqueued::Inserted(_)), "{:?}", r[4]);
    let n2 = placed(&r[4]).id;
    assert!(
        matches!(&r[5], Enqueued::Refused { error: QueueError::TaxIdReused { invoice, .. }, .. } if *invoice == n2),
        "{:?}",
        r[5]
    );
    assert_eq!(
        placed(&r[6]).serial,
        Some(b + 2),
        "the refused one consumed no serial"
    );
    assert!(
        matches!(&r[7], Enqueued::Replaced(p) if p.id == placed(&r[0]).id && p.revision == 2),
        "{:?}",
        r[7]
    );
    assert_eq!(placed(&r[8]).serial, Some(b + 3));
    assert_eq!(f.queue.last_serial(MEM).unwrap(), b + 3);
    let ids: Vec<InvoiceId> = [0, 1, 4, 6, 8].iter().map(|&i| placed(&r[i]).id).collect();
    assert!(
        ids.windows(2).all(|w| w[0].0 < w[1].0),
        "ids in input order: {ids:?}"
    );
    for id in ids {
        let kinds: Vec<String> = f
            .queue
            .events(id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds.first().map(String::as_str),
            Some("enqueued"),
            "{id:?}: {kinds:?}"
        );
    }
    // The same batch again: nothing new.
    let again = f
        .queue
        .enqueue_batch(vec![
            numbered("n1", t1, None, "[1]"),
            keyed("k1"),
            alloc("more"),
        ])
        .unwrap();
    assert!(
        matches!(&again[0], Enqueued::Unchanged(p) if p.id == placed(&r[0]).id),
        "{:?}",
        again[0]
    );
    assert!(
        matches!(&again[1], Enqueued::Unchanged(p) if p.id == placed(&r[1]).id),
        "{:?}",
        again[1]
    );
    assert_eq!(placed(&again[2]).serial, Some(b + 4));
    assert_consistent(&f.queue);
}

on_both_backends!(
    invariant_4_serials_monotonic_per_memory_id,
    invariant_4_serials_monotonic_under_concurrent_allocation,
    invariant_4_failed_build_does_not_consume_a_serial,
    invariant_4_taxid_never_reused_by_allocation,
    invariant_4_resubmission_gets_new_serial_and_taxid_linked_to_old,
    invariant_4_input_taxid_with_other_content_is_a_conflict_when_already_success,
    invariant_4_input_taxid_refused_while_in_flight,
    invariant_4_same_input_twice_gets_no_second_taxid,
    referrals_of_one_reference_are_checked_in_the_transaction_that_stores_them,
    invalid_invoices_are_recorded_and_never_sendable,
    list_filters_and_pages,
    one_batch_with_repeats_answers_as_one_at_a_time,
);
