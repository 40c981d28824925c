//! Many runners on one PostgreSQL queue: leases per memory ID. Two runners send for two
//! memory IDs at once; a second runner for a leased memory ID is told who holds it; a runner
//! never sends for a memory ID it did not lease (it has no signer for it); after a runner's
//! lease expired (it died, or paused past it) another takes over, its SENDING attempts become
//! UNKNOWN to be reconciled by inquiry first, and the old runner can start nothing more.
//! Time is the queue's test clock: expiry is a step of the test, not a sleep.

#[macro_use]
mod common;

use common::*;
use moadian_queue::postgres::lease::WHOLE_QUEUE;
use moadian_queue::*;
use std::time::Duration;

const OTHER: &str = "B22222";

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn pg(f: &Fixture) -> &PgQueue {
    f.queue.as_postgres().unwrap()
}

#[test]
fn two_runners_send_for_two_memory_ids_at_once_and_never_for_the_other() {
    let f = Fixture::on(Backend::Postgres);
    enqueue_n(&f.queue, 2);
    f.queue
        .enqueue_batch(vec![
            alloc_for(OTHER, "b0.json"),
            alloc_for(OTHER, "b1.json"),
        ])
        .unwrap();
    let ra = pg(&f).acquire_runner_for(&ids(&[MEM])).unwrap();
    let rb = pg(&f).acquire_runner_for(&ids(&[OTHER])).unwrap();
    let a = ra.next_sendable(MEM, 10, None).unwrap();
    let b = rb.next_sendable(OTHER, 10, None).unwrap();
    assert_eq!((a.len(), b.len()), (2, 2));
    // Neither may touch the other's memory ID: it holds no signer for it.
    assert!(ra.next_sendable(OTHER, 10, None).is_err());
    let e = ra.begin_attempt(&[b[0].key()], "x").unwrap_err();
    assert!(e.to_string().contains("only, not B22222"), "{e}");
    ra.begin_attempt(&[a[0].key(), a[1].key()], "a").unwrap();
    rb.begin_attempt(&[b[0].key(), b[1].key()], "b").unwrap();
    let leases = f.queue.leases().unwrap();
    let held: Vec<_> = leases
        .iter()
        .map(|l| (l.memory_id.as_str(), l.runner.as_str()))
        .collect();
    assert_eq!(
        held,
        [(MEM, ra.runner_id()), (OTHER, rb.runner_id())],
        "{leases:?}"
    );
    assert!(leases.iter().all(|l| l.pid == std::process::id()));
    assert_consistent(&f.queue);
}

#[test]
fn a_leased_memory_id_is_busy_for_another_runner_and_the_whole_queue_excludes_all() {
    let f = Fixture::on(Backend::Postgres);
    let other = f.reopen();
    let first = pg(&f).acquire_runner_for(&ids(&[MEM])).unwrap();
    for want in [ids(&[MEM]), ids(&[OTHER, MEM]), ids(&[WHOLE_QUEUE])] {
        match other.acquire_runner_for(&want) {
            Err(QueueError::Busy { lock, pid, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
                let lock = lock.display().to_string();
                assert!(
                    lock.contains(MEM) && lock.contains(first.runner_id()),
                    "{lock}"
                );
            }
            r => panic!("{want:?}: expected Busy, got {r:?}"),
        }
    }
    // All or nothing: the refused claim of [OTHER, MEM] did not take OTHER.
    let b = other.acquire_runner_for(&ids(&[OTHER])).unwrap();
    drop(first);
    // Released when dropped: MEM is free at once, the whole queue is not (OTHER is live).
    let _a = other.acquire_runner_for(&ids(&[MEM])).unwrap();
    assert!(matches!(
        other.acquire_runner_for(&ids(&[WHOLE_QUEUE])),
        Err(QueueError::Busy { .. })
    ));
    drop(b);
}

#[test]
fn after_its_lease_expired_another_runner_takes_over_and_reconciles_first() {
    let f = Fixture::on(Backend::Postgres);
    let ids_q = enqueue_n(&f.queue, 3);
    let old = pg(&f).acquire_runner_for(&ids(&[MEM])).unwrap();
    let k = |i: usize| f.queue.get(ids_q[i]).unwrap().unwrap().key();
    let sending = old.begin_attempt(&[k(0)], "old").unwrap().remove(0);
    // Before expiry the memory ID is busy.
    let other = f.reopen();
    assert!(matches!(
        other.acquire_runner_for(&ids(&[MEM])),
        Err(QueueError::Busy { .. })
    ));
    // The old runner stops renewing (it died, or paused): past the lease, another takes over.
    f.advance(moadian_queue::postgres::lease::DEFAULT_TTL + Duration::from_secs(1));
    let new = other.acquire_runner_for(&ids(&[MEM])).expect("takeover");
    // Its attempt that may be on the wire is UNKNOWN: reconciled by inquiry, never resent.
    let a = f.queue.attempt(sending.uid).unwrap().unwrap();
    assert_eq!(a.status, AttemptStatus::Unknown);
    let reconcile: Vec<_> = f
        .queue
        .to_reconcile()
        .unwrap()
        .iter()
        .map(|a| a.uid)
        .collect();
    assert_eq!(reconcile, [sending.uid]);
    let next: Vec<_> = new
        .next_sendable(MEM, 10, None)
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        next,
        [ids_q[1], ids_q[2]],
        "the unknown one is not sendable"
    );
    // The old runner, if it wakes up, can start nothing more for this memory ID…
    let e = old.begin_attempt(&[k(1)], "late").unwrap_err();
    assert!(
        matches!(e, moadian_queue::QueueError::LeaseTaken { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("leased by another runner"), "{e}");
    // …but the answer to its own POST is still recorded (the truth is never thrown away).
    old.record_accepted(sending.uid, "ref-late").unwrap();
    new.record_outcome(sending.uid, ServerStatus::Success, None, None)
        .unwrap();
    assert_eq!(status(&f.queue, ids_q[0]), InvoiceStatus::Success);
    let events: Vec<_> = f
        .queue
        .events(ids_q[0])
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        events,
        [
            "enqueued",
            "attempt_started",
            "recovered",
            "accepted",
            "outcome"
        ]
    );
    drop(old);
    // The old runner's release does not free the lease the new one holds.
    let leases = f.queue.leases().unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].runner, new.as_postgres().unwrap().runner_id());
    assert_consistent(&f.queue);
}
