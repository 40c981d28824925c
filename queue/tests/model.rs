//! Property test of the state machine: random sequences of everything a runner (and a crash)
//! can do to a queue file. After every step the file is consistent, and — invariant 3 — no
//! invoice ever got a new attempt unless every earlier one definitely never reached the server
//! (REJECTED before acceptance, or LOST after the grace period); tax IDs stay unique (inv. 4).
//! Every call's result is checked: it either did what it says, or was refused with a typed
//! error and changed nothing. `Handover` ends the runner cleanly and starts another one (a
//! process killed mid-write is `crash.rs`, with real SIGKILLs of a child process).

mod common;

use common::*;
use moadian_queue::*;
use proptest::prelude::*;
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Enqueue(usize),
    Begin(usize),
    Accept(usize),
    Reject(usize, bool),
    Unknown(usize),
    Outcome(usize, u8),
    Advance(u64),
    /// The runner ends (dropped, lock released) and a new one takes over.
    Handover,
    Resubmit(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..4usize).prop_map(Op::Enqueue),
        (1..5usize).prop_map(Op::Begin),
        any::<usize>().prop_map(Op::Accept),
        (any::<usize>(), any::<bool>()).prop_map(|(i, f)| Op::Reject(i, f)),
        any::<usize>().prop_map(Op::Unknown),
        (any::<usize>(), 0..6u8).prop_map(|(i, s)| Op::Outcome(i, s)),
        (0..900u64).prop_map(Op::Advance),
        Just(Op::Handover),
        any::<usize>().prop_map(Op::Resubmit),
    ]
}

fn pick<T: Clone>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()].clone())
}

fn server_status(s: u8) -> ServerStatus {
    [
        ServerStatus::Success,
        ServerStatus::Failed,
        ServerStatus::InProgress,
        ServerStatus::Pending,
        ServerStatus::Timeout,
        ServerStatus::NotFound,
    ][s as usize % 6]
}

fn attempt_status(q: &TQueue, uid: uuid::Uuid) -> AttemptStatus {
    q.attempt(uid).unwrap().expect("attempt recorded").status
}

/// A refused call: a typed refusal of the transition, and nothing changed.
fn refused_unchanged(
    e: QueueError,
    before: AttemptStatus,
    after: AttemptStatus,
    step: usize,
) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(e, QueueError::InvalidTransition { .. }),
        "step {}: unexpected error {}",
        step,
        e
    );
    prop_assert_eq!(
        before,
        after,
        "step {}: a refused call changed the attempt",
        step
    );
    Ok(())
}

fn check(q: &TQueue, step: usize) {
    let v = q.check_consistency().unwrap();
    assert!(v.is_empty(), "step {step}: {v:#?}");
    let mut taxids = HashSet::new();
    for row in q.list(&ListFilter::default()).unwrap() {
        if let Some(t) = &row.taxid {
            assert!(taxids.insert(t.clone()), "tax ID {t} twice");
        }
        let attempts = q.attempts(row.id).unwrap();
        if let Some((_, earlier)) = attempts.split_last() {
            for a in earlier {
                assert!(
                    matches!(a.status, AttemptStatus::Rejected | AttemptStatus::Lost),
                    "step {step}: invoice {} was sent again after an attempt that was {}",
                    row.id,
                    a.status
                );
            }
        }
    }
}

fn history(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let f = Fixture::new();
    let mut runner = Some(f.queue.acquire_runner().unwrap());
    let mut uids = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let r = runner.as_ref().unwrap();
        match op {
            Op::Enqueue(n) => {
                enqueue_n(&f.queue, n);
            }
            Op::Begin(n) => {
                let keys: Vec<_> = r
                    .next_sendable(MEM, n, None)
                    .unwrap()
                    .iter()
                    .map(|i| i.key())
                    .collect();
                if !keys.is_empty() {
                    uids.extend(
                        r.begin_attempt(&keys, "b")
                            .unwrap()
                            .into_iter()
                            .map(|a| a.uid),
                    );
                }
            }
            Op::Accept(i) => {
                if let Some(u) = pick(&uids, i) {
                    let before = attempt_status(&f.queue, u);
                    let res = r.record_accepted(u, &format!("ref-{u}"));
                    let after = attempt_status(&f.queue, u);
                    match res {
                        Ok(()) => {
                            prop_assert_eq!(after, AttemptStatus::InProgress, "step {}", step)
                        }
                        Err(e) => refused_unchanged(e, before, after, step)?,
                    }
                }
            }
            Op::Reject(i, fail) => {
                if let Some(u) = pick(&uids, i) {
                    let then = if fail {
                        AfterRejection::Fail
                    } else {
                        AfterRejection::Requeue
                    };
                    let before = attempt_status(&f.queue, u);
                    let res = r
                        .record_rejected_before_acceptance(&[u], &serde_json::json!([]), then)
                        .unwrap()
                        .remove(0);
                    let after = attempt_status(&f.queue, u);
                    match res {
                        Ok(()) => prop_assert_eq!(after, AttemptStatus::Rejected, "step {}", step),
                        Err(e) => refused_unchanged(e, before, after, step)?,
                    }
                }
            }
            Op::Unknown(i) => {
                if let Some(u) = pick(&uids, i) {
                    let before = attempt_status(&f.queue, u);
                    let res = r.mark_unknown(u);
                    let after = attempt_status(&f.queue, u);
                    match res {
                        Ok(()) => prop_assert_eq!(after, AttemptStatus::Unknown, "step {}", step),
                        Err(e) => refused_unchanged(e, before, after, step)?,
                    }
                }
            }
            Op::Outcome(i, s) => {
                if let Some(u) = pick(&uids, i) {
                    let before = attempt_status(&f.queue, u);
                    let res = r.record_outcome(u, server_status(s), None, None);
                    let after = attempt_status(&f.queue, u);
                    match res {
                        Ok(Transition::Moved { from, to }) => {
                            prop_assert_eq!(from, before, "step {}", step);
                            prop_assert_eq!(after, to, "step {}", step);
                        }
                        Ok(Transition::Unchanged(st)) => {
                            prop_assert_eq!(after, before, "step {}", step);
                            prop_assert_eq!(st, before, "step {}", step);
                        }
                        Ok(Transition::StillUnknown) => {
                            prop_assert!(!after.is_final(), "step {}: {:?}", step, after)
                        }
                        Ok(Transition::Requeued) => {
                            prop_assert_eq!(after, AttemptStatus::Lost, "step {}", step)
                        }
                        Err(e) => refused_unchanged(e, before, after, step)?,
                    }
                }
            }
            Op::Advance(secs) => f.advance(Duration::from_secs(secs)),
            Op::Handover => {
                drop(runner.take());
                runner = Some(f.queue.acquire_runner().unwrap());
            }
            Op::Resubmit(i) => {
                let failed: Vec<_> = f
                    .queue
                    .list(&ListFilter {
                        status: Some(InvoiceStatus::Failed),
                        ..Default::default()
                    })
                    .unwrap();
                if let Some(row) = pick(&failed, i) {
                    let res = f.queue.resubmit(
                        row.id,
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
                    );
                    match res {
                        Ok(p) => {
                            prop_assert_eq!(p.status, InvoiceStatus::Queued);
                            prop_assert_eq!(
                                f.queue.get(p.id).unwrap().unwrap().resubmission_of,
                                Some(row.id)
                            );
                        }
                        Err(QueueError::AlreadyResubmitted { invoice, .. }) => {
                            prop_assert_eq!(invoice, row.id)
                        }
                        Err(e) => prop_assert!(
                            false,
                            "step {}: resubmit of a FAILED invoice: {}",
                            step,
                            e
                        ),
                    }
                }
            }
        }
        check(&f.queue, step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_invariant_3_4_random_histories_never_resend_and_stay_consistent(ops in prop::collection::vec(op(), 1..40)) {
        on(Backend::Sqlite, || history(ops))?;
    }

    #[test]
    fn postgres_invariant_3_4_random_histories_never_resend_and_stay_consistent(ops in prop::collection::vec(op(), 1..40)) {
        on(Backend::Postgres, || history(ops))?;
    }
}
