//! Invariants 2 and 3 on a real queue file: attempts are committed before the caller may
//! send; an invoice whose last attempt has no final status is never handed out again; unknown
//! outcomes are reconciled by inquiry (NOT_FOUND within the grace period stays unknown).

#[macro_use]
mod common;

use common::*;
use moadian_queue::*;
use std::time::Duration;

fn invariant_2_recorded_before_sent() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    // Another connection (another process, or this one after a crash) sees the attempt as
    // soon as begin_attempt returned: before any POST could have left.
    let other = f.reopen();
    let seen = other.attempt(a.uid).unwrap().expect("attempt committed");
    assert_eq!(seen.status, AttemptStatus::Sending);
    assert_eq!(seen.invoice_id, id);
    assert_eq!(seen.batch_id, "batch-1");
    assert_eq!(seen.taxid, f.queue.get(id).unwrap().unwrap().taxid);
    assert_eq!(seen.uid.get_version_num(), 4);
    assert_eq!(seen, a, "what begin_attempt returned is what was committed");
    assert_eq!(status(&other, id), InvoiceStatus::Sending);
    let ev: Vec<_> = other
        .events(id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(ev, ["enqueued", "attempt_started"]);
}

fn invariant_2_reference_committed_when_response_arrives() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    runner.record_accepted(a.uid, "ref-1").unwrap();
    let other = f.reopen();
    let seen = other
        .find_by_reference("ref-1")
        .unwrap()
        .expect("reference committed");
    assert_eq!(seen.uid, a.uid);
    assert_eq!(seen.status, AttemptStatus::InProgress);
    assert!(seen.sent_at.is_some());
    assert_eq!(status(&other, id), InvoiceStatus::InProgress);
    // The same acknowledgement twice is harmless; a different reference is refused.
    runner.record_accepted(a.uid, "ref-1").unwrap();
    assert!(matches!(
        runner.record_accepted(a.uid, "ref-2"),
        Err(QueueError::InvalidTransition { .. })
    ));
}

fn invariant_3_never_resend_while_sending_or_in_progress() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let id = enqueue_n(&f.queue, 1)[0];
    let key = f.queue.get(id).unwrap().unwrap().key();
    let a = runner.begin_attempt(&[key], "b1").unwrap().remove(0);
    assert!(runner.next_sendable(MEM, 10, None).unwrap().is_empty());
    let again = runner.begin_attempt(&[key], "b2");
    assert!(
        matches!(
            again,
            Err(QueueError::NotSendable {
                status: InvoiceStatus::Sending,
                ..
            })
        ),
        "{again:?}"
    );
    runner.record_accepted(a.uid, "ref").unwrap();
    let again = runner.begin_attempt(&[key], "b3");
    assert!(matches!(
        again,
        Err(QueueError::NotSendable {
            status: InvoiceStatus::InProgress,
            ..
        })
    ));
    // A refused call records nothing.
    assert_eq!(f.queue.attempts(id).unwrap().len(), 1);
    assert_consistent(&f.queue);
}

fn invariant_3_batch_with_one_unsendable_invoice_records_nothing() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let ids = enqueue_n(&f.queue, 3);
    let keys = keys_of(&f.queue, &ids);
    runner.begin_attempt(&keys[..1], "b1").unwrap();
    assert!(runner.begin_attempt(&keys, "b2").is_err());
    assert_eq!(f.queue.attempts(ids[1]).unwrap().len(), 0);
    assert_eq!(status(&f.queue, ids[2]), InvoiceStatus::Queued);
}

#[test]
fn invariant_3_the_file_itself_refuses_a_second_open_attempt() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, _) = one_attempt(&f, &runner);
    let conn = rusqlite::Connection::open(f.path()).unwrap();
    let r = conn.execute(
        "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status, created_at, updated_at)
         VALUES ('x', ?1, 'b', 1, 'SENDING', 0, 0)",
        [id.0],
    );
    assert!(
        r.is_err(),
        "a second unfinished attempt must violate the schema"
    );
}

fn invariant_3_crash_while_sending_is_unknown_and_reconciled_first() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    drop(runner); // the process died between begin_attempt and the answer
    let runner = f.queue.acquire_runner().unwrap();
    assert_eq!(status(&f.queue, id), InvoiceStatus::Unknown);
    assert!(runner.next_sendable(MEM, 10, None).unwrap().is_empty());
    let rec = f.queue.to_reconcile().unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].uid, a.uid);
    let kinds: Vec<_> = f
        .queue
        .events(id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"recovered".to_string()), "{kinds:?}");
    assert_consistent(&f.queue);
}

fn invariant_3_found_success_by_inquiry_without_resend() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    runner.mark_unknown(a.uid).unwrap(); // the POST timed out
    let t = runner
        .record_outcome(
            a.uid,
            ServerStatus::Success,
            None,
            Some(serde_json::json!([])),
        )
        .unwrap();
    assert_eq!(
        t,
        Transition::Moved {
            from: AttemptStatus::Unknown,
            to: AttemptStatus::Success
        }
    );
    assert_eq!(status(&f.queue, id), InvoiceStatus::Success);
    assert_eq!(f.queue.attempts(id).unwrap().len(), 1, "no second attempt");
    assert!(f.queue.to_reconcile().unwrap().is_empty());
    assert_consistent(&f.queue);
}

fn invariant_3_not_found_within_grace_is_unknown_not_lost() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    // NOT_FOUND while our own POST may still be on the wire: unknown.
    let t = runner
        .record_outcome(a.uid, ServerStatus::NotFound, None, None)
        .unwrap();
    assert_eq!(t, Transition::StillUnknown);
    assert_eq!(status(&f.queue, id), InvoiceStatus::Sending);
    runner.mark_unknown(a.uid).unwrap();
    f.advance(Duration::from_secs(60));
    let t = runner
        .record_outcome(a.uid, ServerStatus::NotFound, None, None)
        .unwrap();
    assert_eq!(t, Transition::StillUnknown);
    assert_eq!(status(&f.queue, id), InvoiceStatus::Unknown);
    assert!(runner.next_sendable(MEM, 10, None).unwrap().is_empty());
    // Marking unknown again does not restart (or shorten) the grace period.
    runner.mark_unknown(a.uid).unwrap();
    f.advance(Duration::from_secs(540));
    let t = runner
        .record_outcome(a.uid, ServerStatus::NotFound, None, None)
        .unwrap();
    assert_eq!(t, Transition::Requeued);
    // Definitely never received: the same invoice (same tax ID) goes again, new uid.
    let inv = f.queue.get(id).unwrap().unwrap();
    assert_eq!(inv.status, InvoiceStatus::Queued);
    let b = runner.begin_attempt(&[inv.key()], "b2").unwrap().remove(0);
    assert_ne!(a.uid, b.uid);
    assert_eq!(a.taxid, b.taxid);
    assert_eq!(
        f.queue.attempt(a.uid).unwrap().unwrap().status,
        AttemptStatus::Lost
    );
    assert_consistent(&f.queue);
}

fn invariant_3_grace_counts_from_when_the_outcome_became_unknown() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    // The attempt was recorded long ago, but the POST may have left just before the crash.
    f.advance(Duration::from_secs(3600));
    drop(runner);
    let runner = f.queue.acquire_runner().unwrap();
    let t = runner
        .record_outcome(a.uid, ServerStatus::NotFound, None, None)
        .unwrap();
    assert_eq!(t, Transition::StillUnknown);
    assert_eq!(status(&f.queue, id), InvoiceStatus::Unknown);
}

fn invariant_3_acknowledged_attempt_is_never_declared_lost() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    runner.record_accepted(a.uid, "ref-9").unwrap();
    f.advance(Duration::from_secs(7200));
    let t = runner
        .record_outcome(a.uid, ServerStatus::NotFound, None, None)
        .unwrap();
    assert_eq!(t, Transition::StillUnknown);
    assert_eq!(status(&f.queue, id), InvoiceStatus::InProgress);
    assert!(runner.next_sendable(MEM, 10, None).unwrap().is_empty());
    let t = runner
        .record_outcome(
            a.uid,
            ServerStatus::Failed,
            Some(serde_json::json!([{"code":"010504"}])),
            None,
        )
        .unwrap();
    assert!(matches!(
        t,
        Transition::Moved {
            to: AttemptStatus::Failed,
            ..
        }
    ));
    let rows = f.queue.list(&ListFilter::default()).unwrap();
    let last = rows[0].last_attempt.as_ref().unwrap();
    assert_eq!(last.reference.as_deref(), Some("ref-9"));
    assert_eq!(last.errors, Some(serde_json::json!([{"code":"010504"}])));
}

fn invariant_3_definite_refusal_before_acceptance_allows_a_new_attempt() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    let errors = serde_json::json!([{"code":"4130","message":"bad token"}]);
    for r in runner
        .record_rejected_before_acceptance(&[a.uid], &errors, AfterRejection::Requeue)
        .unwrap()
    {
        r.unwrap();
    }
    let inv = f.queue.get(id).unwrap().unwrap();
    assert_eq!(inv.status, InvoiceStatus::Queued);
    let att = f.queue.attempt(a.uid).unwrap().unwrap();
    assert_eq!(att.status, AttemptStatus::Rejected);
    assert_eq!(att.errors, Some(errors.clone()));
    let b = runner.begin_attempt(&[inv.key()], "b2").unwrap().remove(0);
    // A refusal can only answer a POST in flight, never an acknowledged or unknown attempt.
    runner.record_accepted(b.uid, "ref").unwrap();
    let r = runner
        .record_rejected_before_acceptance(&[b.uid], &errors, AfterRejection::Fail)
        .unwrap();
    assert!(matches!(r[0], Err(QueueError::InvalidTransition { .. })));
    assert_eq!(status(&f.queue, id), InvoiceStatus::InProgress);
    assert_consistent(&f.queue);
}

fn invariant_3_final_refusal_marks_failed() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    let r = runner
        .record_rejected_before_acceptance(&[a.uid], &serde_json::json!([]), AfterRejection::Fail)
        .unwrap();
    r.into_iter().for_each(|r| r.unwrap());
    assert_eq!(status(&f.queue, id), InvoiceStatus::Failed);
    assert_consistent(&f.queue);
}

fn invariant_3_mark_unknown_after_acceptance_is_an_error() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (_, a) = one_attempt(&f, &runner);
    runner.record_accepted(a.uid, "r").unwrap();
    assert!(matches!(
        runner.mark_unknown(a.uid),
        Err(QueueError::InvalidTransition { .. })
    ));
    assert!(matches!(
        runner.mark_unknown(uuid::Uuid::new_v4()),
        Err(QueueError::UnknownAttempt(_))
    ));
}

fn invariant_3_conflicting_late_answer_is_reported_not_applied() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    runner.record_accepted(a.uid, "r").unwrap();
    runner
        .record_outcome(a.uid, ServerStatus::Success, None, None)
        .unwrap();
    let again = runner
        .record_outcome(a.uid, ServerStatus::Success, None, None)
        .unwrap();
    assert_eq!(again, Transition::Unchanged(AttemptStatus::Success));
    let errors = serde_json::json!([{"code": "x"}]);
    let r = runner.record_outcome(a.uid, ServerStatus::Failed, Some(errors), None);
    assert!(matches!(r, Err(QueueError::InvalidTransition { .. })));
    assert_eq!(status(&f.queue, id), InvoiceStatus::Success);
    let kept = f.queue.attempt(a.uid).unwrap().unwrap();
    assert_eq!(kept.status, AttemptStatus::Success);
    assert_eq!(kept.errors, None, "a final answer is not overwritten");
    let kinds: Vec<_> = f
        .queue
        .events(id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.last().map(String::as_str), Some("conflicting_answer"));
}

fn invariant_3_stale_payload_is_not_sent() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    f.queue
        .enqueue(numbered("a.json", "TAXID0000000000000001", Some(1), "[1]"))
        .unwrap();
    let inv = runner.next_sendable(MEM, 10, None).unwrap().remove(0);
    // Meanwhile the input was corrected and enqueued again (same tax ID, new content).
    let e = f
        .queue
        .enqueue(numbered("a.json", "TAXID0000000000000001", Some(1), "[2]"))
        .unwrap();
    assert!(matches!(e, Enqueued::Replaced(_)));
    let r = runner.begin_attempt(&[inv.key()], "b");
    assert!(matches!(r, Err(QueueError::Stale { .. })), "{r:?}");
    let fresh = f.queue.get(inv.id).unwrap().unwrap();
    assert!(fresh.payload.as_deref().unwrap().contains("[2]"));
    runner.begin_attempt(&[fresh.key()], "b").unwrap();
}

fn invariant_3_uids_must_be_fresh_uuids() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let ids = enqueue_n(&f.queue, 2);
    let keys = keys_of(&f.queue, &ids);
    let u = uuid::Uuid::new_v4();
    let r = runner.begin_attempt_with_uids(&[(keys[0], u), (keys[1], u)], "b");
    assert!(matches!(r, Err(QueueError::InvalidInput(_))));
    let nil = uuid::Uuid::nil();
    assert!(runner
        .begin_attempt_with_uids(&[(keys[0], nil)], "b")
        .is_err());
    runner
        .begin_attempt_with_uids(&[(keys[0], u)], "b")
        .unwrap();
    assert!(runner
        .begin_attempt_with_uids(&[(keys[1], u)], "b")
        .is_err());
}

fn pending_polls_and_summary() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (_, a) = one_attempt(&f, &runner);
    runner.record_accepted(a.uid, "r").unwrap();
    assert!(f
        .queue
        .pending_polls(Duration::from_secs(5))
        .unwrap()
        .is_empty());
    f.advance(Duration::from_secs(6));
    assert_eq!(
        f.queue.pending_polls(Duration::from_secs(5)).unwrap().len(),
        1
    );
    runner
        .record_outcome(a.uid, ServerStatus::InProgress, None, None)
        .unwrap();
    assert!(f
        .queue
        .pending_polls(Duration::from_secs(5))
        .unwrap()
        .is_empty());
    enqueue_n(&f.queue, 2);
    let s = f.queue.summary().unwrap();
    assert_eq!((s.in_progress, s.queued, s.total), (1, 2, 3));
}

fn timeout_is_not_registered_so_the_invoice_is_queued_again_with_its_tax_id() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    runner.record_accepted(a.uid, "ref-t").unwrap();
    let t = runner
        .record_outcome(a.uid, ServerStatus::Timeout, None, None)
        .unwrap();
    assert_eq!(t, Transition::Requeued);
    assert_eq!(status(&f.queue, id), InvoiceStatus::Queued);
    assert_eq!(
        f.queue.attempt(a.uid).unwrap().unwrap().status,
        AttemptStatus::Lost
    );
    let again = runner.next_sendable(MEM, 10, None).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].taxid, a.taxid, "same tax ID");
    assert!(f.queue.check_consistency().unwrap().is_empty());
}

fn an_attempt_the_server_did_not_register_is_queued_again_only_from_an_open_state() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    runner.record_accepted(a.uid, "ref-k").unwrap();
    let errors = serde_json::json!([{"code": "04150", "message": "key"}]);
    runner
        .requeue_not_registered(
            a.uid,
            AttemptStatus::Rejected,
            Some(&errors),
            &serde_json::json!({"reason": "server key changed"}),
        )
        .unwrap();
    assert_eq!(status(&f.queue, id), InvoiceStatus::Queued);
    let stored = f.queue.attempt(a.uid).unwrap().unwrap();
    assert_eq!(stored.status, AttemptStatus::Rejected);
    assert_eq!(stored.errors, Some(errors));
    // A final attempt cannot be turned back.
    assert!(runner
        .requeue_not_registered(a.uid, AttemptStatus::Lost, None, &serde_json::json!({}))
        .is_err());
    assert!(f.queue.check_consistency().unwrap().is_empty());
}

fn open_attempts_are_read_a_page_at_a_time_unknown_first() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let ids = enqueue_n(&f.queue, 7);
    let keys = keys_of(&f.queue, &ids);
    let attempts = runner.begin_attempt(&keys, "b1").unwrap();
    let memory = attempts[0].memory_id.clone();
    // 0, 2, 4, 6 acknowledged; 1, 3 unknown; 5 final.
    for (i, a) in attempts.iter().enumerate() {
        match i {
            1 | 3 => runner.mark_unknown(a.uid).unwrap(),
            _ => runner.record_accepted(a.uid, &format!("ref-{i}")).unwrap(),
        }
    }
    runner
        .record_outcome(attempts[5].uid, ServerStatus::Success, None, None)
        .unwrap();
    assert_eq!(f.queue.open_count(&memory).unwrap(), 6);
    assert_eq!(f.queue.open_count("OTHER1").unwrap(), 0);
    let mut seen = Vec::new();
    let mut cursor = Some(OpenCursor::default());
    while let Some(c) = cursor {
        let (page, next) = f.queue.open_page(&memory, c, 2).unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.into_iter().map(|a| a.uid));
        cursor = next;
    }
    let want: Vec<_> = [1, 3, 0, 2, 4, 6]
        .iter()
        .map(|&i| attempts[i].uid)
        .collect();
    assert_eq!(
        seen, want,
        "unknown first, then acknowledged, each once, in order"
    );
    let newest = f.queue.newest_open(&memory, 3).unwrap();
    assert_eq!(newest.len(), 3);
}

fn the_same_invoice_twice_in_one_batch_is_refused_and_nothing_recorded() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let ids = enqueue_n(&f.queue, 2);
    let k = |i: usize| f.queue.get(ids[i]).unwrap().unwrap().key();
    let e = runner
        .begin_attempt(&[k(0), k(1), k(0)], "twice")
        .unwrap_err();
    assert!(
        matches!(e, QueueError::NotSendable { invoice, status: InvoiceStatus::Sending } if invoice == ids[0]),
        "{e:?}"
    );
    for id in &ids {
        assert!(f.queue.attempts(*id).unwrap().is_empty());
        assert_eq!(status(&f.queue, *id), InvoiceStatus::Queued);
    }
    assert_consistent(&f.queue);
}

/// One POST's acceptances in one call answer each as one at a time would: repeats with the
/// same reference are harmless, another reference is refused, an unknown attempt is named, the
/// rest move to IN_PROGRESS with their reference and one `accepted` event each.
fn acceptances_of_one_post_answer_each_as_one_at_a_time() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let ids = enqueue_n(&f.queue, 3);
    let keys = keys_of(&f.queue, &ids);
    let a = runner.begin_attempt(&keys, "b").unwrap();
    let stranger = uuid::Uuid::new_v4();
    let r = runner
        .record_accepted_many(&[
            (a[0].uid, "r0".into()),
            (a[0].uid, "r0".into()),
            (stranger, "rx".into()),
            (a[1].uid, "r1".into()),
            (a[0].uid, "other".into()),
            (a[2].uid, "r2".into()),
        ])
        .unwrap();
    assert!(
        r[0].is_ok() && r[1].is_ok() && r[3].is_ok() && r[5].is_ok(),
        "{r:?}"
    );
    assert!(
        matches!(r[2], Err(QueueError::UnknownAttempt(u)) if u == stranger),
        "{r:?}"
    );
    assert!(
        matches!(r[4], Err(QueueError::InvalidTransition { .. })),
        "{r:?}"
    );
    for (i, (id, att)) in ids.iter().zip(&a).enumerate() {
        let seen = f.queue.attempt(att.uid).unwrap().unwrap();
        assert_eq!(seen.status, AttemptStatus::InProgress);
        assert_eq!(seen.reference.as_deref(), Some(format!("r{i}").as_str()));
        assert!(seen.sent_at.is_some());
        assert_eq!(status(&f.queue, *id), InvoiceStatus::InProgress);
        let accepted = f
            .queue
            .events(*id)
            .unwrap()
            .iter()
            .filter(|e| e.kind == "accepted")
            .count();
        assert_eq!(accepted, 1, "invoice {id:?}");
    }
    assert_consistent(&f.queue);
}

/// One inquiry's answers in one call answer each as one at a time would, in input order: an
/// attempt answered twice is decided against its state after the first answer, an unknown
/// attempt is named, a final attempt's conflicting answer is refused with an event and changes
/// nothing, a repeated final answer changes nothing, TIMEOUT queues the invoice again.
fn answers_of_one_inquiry_answer_each_as_one_at_a_time() {
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let ids = enqueue_n(&f.queue, 3);
    let keys = keys_of(&f.queue, &ids);
    let a = runner.begin_attempt(&keys, "b").unwrap();
    let accepted: Vec<(uuid::Uuid, String)> = a
        .iter()
        .enumerate()
        .map(|(i, x)| (x.uid, format!("r{i}")))
        .collect();
    for r in runner.record_accepted_many(&accepted).unwrap() {
        r.unwrap();
    }
    let stranger = uuid::Uuid::new_v4();
    let answer = |uid, status, errors: Option<serde_json::Value>| Outcome {
        uid,
        status,
        reference: None,
        errors,
        warnings: None,
    };
    let refused = serde_json::json!([{"code": "0100001", "message": "x"}]);
    let r = runner
        .record_outcome_many(&[
            answer(a[0].uid, ServerStatus::InProgress, None),
            answer(a[0].uid, ServerStatus::Success, None),
            answer(stranger, ServerStatus::Success, None),
            answer(a[1].uid, ServerStatus::Failed, Some(refused.clone())),
            answer(a[0].uid, ServerStatus::Failed, None),
            answer(a[2].uid, ServerStatus::Timeout, None),
            answer(a[1].uid, ServerStatus::Failed, None),
        ])
        .unwrap();
    assert_eq!(
        r[0].as_ref().unwrap(),
        &Transition::Unchanged(AttemptStatus::InProgress)
    );
    assert_eq!(
        r[1].as_ref().unwrap(),
        &Transition::Moved {
            from: AttemptStatus::InProgress,
            to: AttemptStatus::Success
        }
    );
    assert!(
        matches!(r[2], Err(QueueError::UnknownAttempt(u)) if u == stranger),
        "{r:?}"
    );
    assert_eq!(
        r[3].as_ref().unwrap(),
        &Transition::Moved {
            from: AttemptStatus::InProgress,
            to: AttemptStatus::Failed
        }
    );
    assert!(
        matches!(
            r[4],
            Err(QueueError::InvalidTransition {
                from: AttemptStatus::Success,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(r[5].as_ref().unwrap(), &Transition::Requeued);
    assert_eq!(
        r[6].as_ref().unwrap(),
        &Transition::Unchanged(AttemptStatus::Failed)
    );
    assert_eq!(status(&f.queue, ids[0]), InvoiceStatus::Success);
    assert_eq!(status(&f.queue, ids[1]), InvoiceStatus::Failed);
    assert_eq!(status(&f.queue, ids[2]), InvoiceStatus::Queued);
    let seen = |i: usize| f.queue.attempt(a[i].uid).unwrap().unwrap();
    assert_eq!(seen(0).status, AttemptStatus::Success);
    assert_eq!(seen(0).reference.as_deref(), Some("r0"));
    assert_eq!(seen(1).status, AttemptStatus::Failed);
    assert_eq!(
        seen(1).errors.as_ref(),
        Some(&refused),
        "a later answer without errors keeps them"
    );
    assert_eq!(seen(2).status, AttemptStatus::Lost);
    for i in 0..3 {
        assert!(seen(i).polled_at.is_some());
    }
    let kinds = |id| -> Vec<String> {
        f.queue
            .events(id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .filter(|k| !matches!(k.as_str(), "enqueued" | "attempt_started" | "accepted"))
            .collect()
    };
    assert_eq!(kinds(ids[0]), ["outcome", "conflicting_answer"]);
    assert_eq!(kinds(ids[1]), ["outcome"]);
    assert_eq!(kinds(ids[2]), ["timeout"]);
    assert_consistent(&f.queue);
}

on_both_backends!(
    acceptances_of_one_post_answer_each_as_one_at_a_time,
    answers_of_one_inquiry_answer_each_as_one_at_a_time,
    open_attempts_are_read_a_page_at_a_time_unknown_first,
    the_same_invoice_twice_in_one_batch_is_refused_and_nothing_recorded,
    invariant_2_recorded_before_sent,
    invariant_2_reference_committed_when_response_arrives,
    invariant_3_never_resend_while_sending_or_in_progress,
    invariant_3_batch_with_one_unsendable_invoice_records_nothing,
    invariant_3_crash_while_sending_is_unknown_and_reconciled_first,
    invariant_3_found_success_by_inquiry_without_resend,
    invariant_3_not_found_within_grace_is_unknown_not_lost,
    invariant_3_grace_counts_from_when_the_outcome_became_unknown,
    invariant_3_acknowledged_attempt_is_never_declared_lost,
    invariant_3_definite_refusal_before_acceptance_allows_a_new_attempt,
    invariant_3_final_refusal_marks_failed,
    invariant_3_mark_unknown_after_acceptance_is_an_error,
    invariant_3_conflicting_late_answer_is_reported_not_applied,
    invariant_3_stale_payload_is_not_sent,
    invariant_3_uids_must_be_fresh_uuids,
    pending_polls_and_summary,
    timeout_is_not_registered_so_the_invoice_is_queued_again_with_its_tax_id,
    an_attempt_the_server_did_not_register_is_queued_again_only_from_an_open_state,
);
