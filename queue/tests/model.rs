//! Property test of the state machine: random sequences of everything a runner (and a crash)
//! can do to a queue file. After every step the file is consistent, and — invariant 3 — no
//! invoice ever got a new attempt unless every earlier one definitely never reached the server
//! (REJECTED before acceptance, or LOST after the grace period); tax IDs stay unique (inv. 4).

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
    Crash,
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
        Just(Op::Crash),
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

fn check(q: &Queue, step: usize) {
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn invariant_3_4_random_histories_never_resend_and_stay_consistent(ops in prop::collection::vec(op(), 1..40)) {
        let f = Fixture::new();
        let mut runner = Some(f.queue.acquire_runner().unwrap());
        let mut uids = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let r = runner.as_ref().unwrap();
            match op {
                Op::Enqueue(n) => { enqueue_n(&f.queue, n); }
                Op::Begin(n) => {
                    let keys: Vec<_> = r.next_sendable(MEM, n, None).unwrap().iter().map(|i| i.key()).collect();
                    if !keys.is_empty() {
                        uids.extend(r.begin_attempt(&keys, "b").unwrap().into_iter().map(|a| a.uid));
                    }
                }
                Op::Accept(i) => if let Some(u) = pick(&uids, i) { let _ = r.record_accepted(u, &format!("ref-{u}")); },
                Op::Reject(i, fail) => if let Some(u) = pick(&uids, i) {
                    let then = if fail { AfterRejection::Fail } else { AfterRejection::Requeue };
                    r.record_rejected_before_acceptance(&[u], &serde_json::json!([]), then).unwrap();
                },
                Op::Unknown(i) => if let Some(u) = pick(&uids, i) { let _ = r.mark_unknown(u); },
                Op::Outcome(i, s) => if let Some(u) = pick(&uids, i) {
                    let _ = r.record_outcome(u, server_status(s), None, None);
                },
                Op::Advance(secs) => f.advance(Duration::from_secs(secs)),
                Op::Crash => { drop(runner.take()); runner = Some(f.queue.acquire_runner().unwrap()); }
                Op::Resubmit(i) => {
                    let failed: Vec<_> = f.queue.list(&ListFilter { status: Some(InvoiceStatus::Failed), ..Default::default() }).unwrap();
                    if let Some(row) = pick(&failed, i) {
                        let _ = f.queue.resubmit(row.id, Box::new(|serial| {
                            let taxid = taxid_for(MEM, serial);
                            Ok(Built { payload: payload(&taxid, serial), taxid, findings: None, invalid: false, indatim: None })
                        }));
                    }
                }
            }
            check(&f.queue, step);
        }
    }
}
