//! The sending side's state machine on PostgreSQL (invariants 2 and 3): the same transitions
//! as [`crate::sqlite`]'s, each guarded by the attempt's current status in its `WHERE` clause
//! with the attempt's row locked (`FOR UPDATE`) for the transaction.

use uuid::Uuid;

use super::pool::Tx;
use super::{Millis, PgQueue, PgRunner};
use crate::error::{QueueError, Result};
use crate::sqlite::attempts::{invoice_status_for, storage_errors_abort};
use crate::store::RunnerStore;
use crate::types::*;

struct Current {
    invoice: InvoiceId,
    status: AttemptStatus,
}

fn current(tx: &mut Tx<'_>, uid: &str) -> Result<Option<Current>> {
    let Some(r) = tx.opt(
        "SELECT invoice_id, status FROM attempts WHERE uid = $1 FOR UPDATE",
        &[&uid],
    )?
    else {
        return Ok(None);
    };
    let status: String = r.get(1);
    Ok(Some(Current {
        invoice: InvoiceId(r.get(0)),
        status: status.parse()?,
    }))
}

struct Move<'a> {
    uid: &'a str,
    cur: &'a Current,
    to: AttemptStatus,
    then: AfterRejection,
    kind: &'a str,
    detail: Option<String>,
}

/// The attempt's new status, its invoice's (guarded: the attempt must be the invoice's
/// newest) and the event, in one statement.
fn apply(tx: &mut Tx<'_>, m: Move<'_>, now: Millis, pid: u32) -> Result<()> {
    let from_inv = invoice_status_for(m.cur.status, m.then);
    let to_inv = invoice_status_for(m.to, m.then);
    let r = tx.one(
        "WITH a AS (
             UPDATE attempts SET status = $2, updated_at = $3,
                    unknown_since = CASE WHEN $2 = 'UNKNOWN' THEN coalesce(unknown_since, $3)
                                         ELSE unknown_since END
             WHERE uid = $1 AND status = $4 RETURNING uid),
         i AS (
             UPDATE invoices SET status = $6, updated_at = $3
             WHERE id = $5 AND last_attempt = $1 AND EXISTS (SELECT 1 FROM a) RETURNING id),
         e AS (
             INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status,
                                 detail, pid)
             SELECT id, $1, $3, $7, $8, $6, $9, $10 FROM i RETURNING id)
         SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM i), (SELECT count(*) FROM e)",
        &[
            &m.uid,
            &m.to.as_str(),
            &now,
            &m.cur.status.as_str(),
            &m.cur.invoice.0,
            &to_inv.as_str(),
            &m.kind,
            &from_inv.as_str(),
            &m.detail.as_deref(),
            &i64::from(pid),
        ],
    )?;
    let (a, i, e): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    if a != 1 {
        return Err(QueueError::Corrupt(format!(
            "attempt {} changed underneath",
            m.uid
        )));
    }
    if i != 1 || e != 1 {
        return Err(QueueError::Corrupt(format!(
            "attempt {} is not the newest attempt of invoice {}",
            m.uid, m.cur.invoice
        )));
    }
    Ok(())
}

const RECOVERED: &str = r#"{"reason":"a previous runner stopped while this attempt was being sent; outcome unknown, reconcile by inquiry"}"#;

impl PgQueue {
    /// Turn SENDING attempts into UNKNOWN — of every memory ID, or of those given.
    pub(crate) fn recover_sending(&self, memory_ids: Option<&[String]>) -> Result<usize> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let rows = match memory_ids {
                None => tx.query(
                    "SELECT uid FROM attempts WHERE status = 'SENDING' ORDER BY seq",
                    &[],
                )?,
                Some(m) => tx.query(
                    "SELECT a.uid FROM attempts a JOIN invoices i ON i.id = a.invoice_id
                     WHERE a.status = 'SENDING' AND i.memory_id = ANY($1) ORDER BY a.seq",
                    &[&m],
                )?,
            };
            let uids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            for uid in &uids {
                let cur = current(tx, uid)?
                    .ok_or_else(|| QueueError::Corrupt(format!("attempt {uid} vanished")))?;
                if cur.status != AttemptStatus::Sending {
                    continue;
                }
                let m = Move {
                    uid,
                    cur: &cur,
                    to: AttemptStatus::Unknown,
                    then: AfterRejection::Requeue,
                    kind: "recovered",
                    detail: Some(RECOVERED.into()),
                };
                apply(tx, m, now, pid)?;
            }
            Ok(uids.len())
        })
    }

    pub(crate) fn acquire_runner_impl(&self) -> Result<PgRunner> {
        self.acquire_runner_for(&[super::lease::WHOLE_QUEUE.to_string()])
    }
}

impl RunnerStore for PgRunner {
    fn next_sendable(
        &self,
        memory_id: &str,
        limit: usize,
        after: Option<InvoiceId>,
    ) -> Result<Vec<Invoice>> {
        if !self.holds(memory_id) {
            return Err(QueueError::InvalidInput(format!(
                "this runner sends for memory ID{} {} only, not {memory_id}",
                if self.memory_ids.len() > 1 { "s" } else { "" },
                self.memory_ids.join(", ")
            )));
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = after.map_or(0, |a| a.0);
        self.q.read(|tx| {
            super::read::invoices_where(
                tx,
                "status = 'QUEUED' AND memory_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[&memory_id, &after, &limit],
            )
        })
    }

    fn begin_attempt_with_uids(
        &self,
        invoices: &[(InvoiceKey, Uuid)],
        batch_id: &str,
    ) -> Result<Vec<Attempt>> {
        let mut seen = std::collections::HashSet::new();
        for (_, uid) in invoices {
            if uid.is_nil() || uid.is_max() || uid.get_variant() != uuid::Variant::RFC4122 {
                return Err(QueueError::InvalidInput(format!(
                    "uid {uid} is not an RFC 4122 UUID"
                )));
            }
            if !seen.insert(*uid) {
                return Err(QueueError::InvalidInput(format!("uid {uid} appears twice")));
            }
        }
        let now = self.q.now();
        let pid = i64::from(self.q.pid);
        let me = self.id.clone();
        // A few statements per batch (not per invoice): lock the invoices, check them in input
        // order, then insert the attempts, move the invoices and log the events in bulk.
        self.q.write(|tx| {
            let ids: Vec<i64> = invoices.iter().map(|(k, _)| k.id.0).collect();
            let mut found = std::collections::HashMap::new();
            for r in tx.query(
                "SELECT id, status, revision, taxid, memory_id FROM invoices WHERE id = ANY($1)
                 ORDER BY id FOR UPDATE",
                &[&ids],
            )? {
                let status: String = r.get(1);
                let row: (InvoiceStatus, i64, Option<String>, String) =
                    (status.parse()?, r.get(2), r.get(3), r.get(4));
                found.insert(r.get::<_, i64>(0), row);
            }
            let uids: Vec<String> = invoices.iter().map(|(_, u)| u.to_string()).collect();
            let used: Vec<String> = tx
                .query("SELECT uid FROM attempts WHERE uid = ANY($1)", &[&uids])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut allowed = std::collections::HashSet::new();
            let mut twice = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(invoices.len());
            for (key, uid) in invoices {
                let (mut status, revision, taxid, memory_id) = found
                    .get(&key.id.0)
                    .cloned()
                    .ok_or(QueueError::UnknownInvoice(key.id))?;
                if !twice.insert(key.id.0) {
                    // Its first attempt in this very batch made it SENDING.
                    status = InvoiceStatus::Sending;
                }
                // Another live runner's lease on this memory ID (or the whole queue): this
                // runner paused past its own lease and was taken over. Send nothing.
                if !allowed.contains(&memory_id) {
                    if !self.holds(&memory_id) {
                        return Err(QueueError::InvalidInput(format!(
                            "this runner sends for memory ID{} {} only, not {memory_id}",
                            if self.memory_ids.len() > 1 { "s" } else { "" },
                            self.memory_ids.join(", ")
                        )));
                    }
                    if let Some(l) = super::lease::blocking_lease(tx, &memory_id, &me, now)? {
                        return Err(QueueError::LeaseTaken {
                            memory_id: memory_id.clone(),
                            host: l.host,
                            pid: l.pid,
                            since: crate::error::utc(l.since),
                        });
                    }
                    allowed.insert(memory_id.clone());
                }
                if status != InvoiceStatus::Queued {
                    return Err(QueueError::NotSendable {
                        invoice: key.id,
                        status,
                    });
                }
                if revision != key.revision {
                    return Err(QueueError::Stale {
                        invoice: key.id,
                        expected: key.revision,
                        found: revision,
                    });
                }
                if used.contains(&uid.to_string()) {
                    return Err(QueueError::InvalidInput(format!(
                        "uid {uid} was already used"
                    )));
                }
                out.push(Attempt {
                    uid: *uid,
                    invoice_id: key.id,
                    taxid,
                    memory_id,
                    batch_id: batch_id.to_string(),
                    invoice_revision: revision,
                    status: AttemptStatus::Sending,
                    reference: None,
                    server_status: None,
                    errors: None,
                    warnings: None,
                    created_at: now,
                    sent_at: None,
                    unknown_since: None,
                    polled_at: None,
                    updated_at: now,
                });
            }
            let revisions: Vec<i64> = out.iter().map(|a| a.invoice_revision).collect();
            tx.exec(
                "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status,
                                       created_at, updated_at)
                 SELECT u.uid, u.id, $3, u.rev, 'SENDING', $4, $4
                 FROM unnest($1::text[], $2::bigint[], $5::bigint[]) WITH ORDINALITY
                      AS u(uid, id, rev, n)
                 ORDER BY u.n",
                &[&uids, &ids, &batch_id, &now, &revisions],
            )?;
            let moved = tx.exec(
                "UPDATE invoices SET status = 'SENDING', last_attempt = u.uid, updated_at = $3
                 FROM unnest($1::bigint[], $2::text[]) AS u(id, uid)
                 WHERE invoices.id = u.id AND invoices.status = 'QUEUED'",
                &[&ids, &uids, &now],
            )?;
            if moved as usize != ids.len() {
                return Err(QueueError::Corrupt(format!(
                    "{moved} of {} invoices moved to SENDING",
                    ids.len()
                )));
            }
            let detail = format!(r#"{{"batch":{}}}"#, serde_json::Value::from(batch_id));
            tx.exec(
                "INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status,
                                     detail, pid)
                 SELECT u.id, u.uid, $3, 'attempt_started', 'QUEUED', 'SENDING', $4, $5
                 FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(id, uid, n)
                 ORDER BY u.n",
                &[&ids, &uids, &now, &detail, &pid],
            )?;
            Ok(out)
        })
    }

    fn record_accepted_many(&self, accepted: &[(Uuid, String)]) -> Result<Vec<Result<()>>> {
        let now = self.q.now();
        let pid = self.q.pid;
        // Set-based: the POST's acceptances in three statements (see `accept`).
        self.q
            .write(|tx| super::accept::accept_many(tx, accepted, now, pid))
    }

    fn record_rejected_before_acceptance(
        &self,
        uids: &[Uuid],
        errors: &serde_json::Value,
        then: AfterRejection,
    ) -> Result<Vec<Result<()>>> {
        let now = self.q.now();
        let pid = self.q.pid;
        let errors = errors.to_string();
        self.q.write(|tx| {
            let mut out = Vec::with_capacity(uids.len());
            for uid in uids {
                out.push(reject_one(tx, *uid, &errors, then, now, pid));
            }
            storage_errors_abort(out)
        })
    }

    fn record_outcome_many(&self, outcomes: &[Outcome]) -> Result<Vec<Result<Transition>>> {
        let now = self.q.now();
        let pid = self.q.pid;
        let grace = self.q.opts.not_found_grace.as_millis() as i64;
        // Set-based: a batch's answers in two statements (see `outcome`).
        self.q
            .write(|tx| super::outcome::record_many(tx, outcomes, now, grace, pid))
    }

    fn requeue_not_registered(
        &self,
        uid: Uuid,
        to: AttemptStatus,
        errors: Option<&serde_json::Value>,
        detail: &serde_json::Value,
    ) -> Result<()> {
        let now = self.q.now();
        let pid = self.q.pid;
        self.q
            .write(|tx| not_registered_one(tx, uid, to, errors, detail, now, pid))
    }

    fn mark_unknown_many(&self, uids: &[Uuid], reason: &str) -> Result<Vec<Result<()>>> {
        let now = self.q.now();
        let pid = self.q.pid;
        let detail = format!(r#"{{"reason":{}}}"#, serde_json::Value::from(reason));
        self.q.write(|tx| {
            let mut out = Vec::with_capacity(uids.len());
            for uid in uids {
                out.push(unknown_one(tx, *uid, &detail, now, pid));
            }
            storage_errors_abort(out)
        })
    }

    fn pid(&self) -> u32 {
        self.q.pid
    }
}

fn load(tx: &mut Tx<'_>, uid: Uuid) -> Result<(String, Current)> {
    let s = uid.to_string();
    let cur = current(tx, &s)?.ok_or(QueueError::UnknownAttempt(uid))?;
    Ok((s, cur))
}

fn reject_one(
    tx: &mut Tx<'_>,
    uid: Uuid,
    errors: &str,
    then: AfterRejection,
    now: Millis,
    pid: u32,
) -> Result<()> {
    let (s, cur) = load(tx, uid)?;
    if cur.status != AttemptStatus::Sending {
        return Err(QueueError::InvalidTransition {
            uid,
            from: cur.status,
            what: "a refusal before acceptance",
        });
    }
    tx.exec(
        "UPDATE attempts SET errors = $2, sent_at = $3 WHERE uid = $1",
        &[&s, &errors, &now],
    )?;
    let m = Move {
        uid: &s,
        cur: &cur,
        to: AttemptStatus::Rejected,
        then,
        kind: "rejected",
        detail: Some(errors.to_string()),
    };
    apply(tx, m, now, pid)
}

fn not_registered_one(
    tx: &mut Tx<'_>,
    uid: Uuid,
    to: AttemptStatus,
    errors: Option<&serde_json::Value>,
    detail: &serde_json::Value,
    now: Millis,
    pid: u32,
) -> Result<()> {
    if !matches!(to, AttemptStatus::Rejected | AttemptStatus::Lost) {
        return Err(QueueError::InvalidInput(format!(
            "an attempt the server did not register ends REJECTED or LOST, not {to}"
        )));
    }
    let (s, cur) = load(tx, uid)?;
    if !matches!(
        cur.status,
        AttemptStatus::Sending | AttemptStatus::InProgress | AttemptStatus::Unknown
    ) {
        return Err(QueueError::InvalidTransition {
            uid,
            from: cur.status,
            what: "queueing again an attempt the server did not register",
        });
    }
    if let Some(e) = errors {
        tx.exec(
            "UPDATE attempts SET errors = $2 WHERE uid = $1",
            &[&s, &e.to_string()],
        )?;
    }
    let m = Move {
        uid: &s,
        cur: &cur,
        to,
        then: AfterRejection::Requeue,
        kind: "not_registered",
        detail: Some(detail.to_string()),
    };
    apply(tx, m, now, pid)
}

fn unknown_one(tx: &mut Tx<'_>, uid: Uuid, detail: &str, now: Millis, pid: u32) -> Result<()> {
    let (s, cur) = load(tx, uid)?;
    match cur.status {
        AttemptStatus::Unknown => Ok(()),
        AttemptStatus::Sending => {
            let m = Move {
                uid: &s,
                cur: &cur,
                to: AttemptStatus::Unknown,
                then: AfterRejection::Requeue,
                kind: "unknown",
                detail: Some(detail.to_string()),
            };
            apply(tx, m, now, pid)
        }
        from => Err(QueueError::InvalidTransition {
            uid,
            from,
            what: "an unknown outcome",
        }),
    }
}
