//! The sending side's state machine (invariants 2 and 3): recording attempts before the POST,
//! the POST's answer, inquiry answers and unknown outcomes. Every transition is guarded by the
//! attempt's current status; the invoice's status follows its newest attempt.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::read::invoices_where;
use super::{lock::RunnerLock, log_event, Millis, SqliteQueue, SqliteRunner};
use crate::answer::{decide, Standing, Touch};
use crate::error::{QueueError, Result};
use crate::store::RunnerStore;
use crate::types::*;

/// The invoice status an attempt status implies.
pub(crate) fn invoice_status_for(a: AttemptStatus, then: AfterRejection) -> InvoiceStatus {
    match a {
        AttemptStatus::Sending => InvoiceStatus::Sending,
        AttemptStatus::InProgress => InvoiceStatus::InProgress,
        AttemptStatus::Unknown => InvoiceStatus::Unknown,
        AttemptStatus::Success => InvoiceStatus::Success,
        AttemptStatus::Failed => InvoiceStatus::Failed,
        AttemptStatus::Lost => InvoiceStatus::Queued,
        AttemptStatus::Rejected => match then {
            AfterRejection::Requeue => InvoiceStatus::Queued,
            AfterRejection::Fail => InvoiceStatus::Failed,
        },
    }
}

/// Current state of an attempt, for a guarded transition.
struct Current {
    /// The attempt row's rowid: the transition's writes find the row by it (the same
    /// transaction read it, so it cannot have moved) instead of searching the uid index again.
    row: i64,
    invoice: InvoiceId,
    status: AttemptStatus,
    reference: Option<String>,
    unknown_since: Option<Millis>,
}

/// `rowid, invoice_id, status, reference, unknown_since` of an attempt row.
type CurrentRow = (i64, i64, String, Option<String>, Option<i64>);

fn current(conn: &Connection, uid: &str) -> Result<Option<Current>> {
    let row: Option<CurrentRow> = conn
        .prepare_cached(
            "SELECT rowid, invoice_id, status, reference, unknown_since FROM attempts
             WHERE uid = ?1",
        )?
        .query_row([uid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    row.map(|(row, invoice, status, reference, unknown_since)| {
        Ok(Current {
            row,
            invoice: InvoiceId(invoice),
            status: status.parse()?,
            reference,
            unknown_since,
        })
    })
    .transpose()
}

/// Everything one transition writes.
struct Move<'a> {
    uid: &'a str,
    cur: &'a Current,
    to: AttemptStatus,
    then: AfterRejection,
    kind: &'a str,
    detail: Option<String>,
}

/// What a transition writes on the attempt besides its status, in the same statement.
enum Also<'a> {
    Nothing,
    /// The POST's answer: its reference number (`sent_at` = now).
    Accepted {
        reference: &'a str,
    },
    /// A refusal before acceptance: its errors (`sent_at` = now).
    Rejected {
        errors: &'a str,
    },
    /// An inquiry's answer (`polled_at` = now); a reference already known is kept.
    Answer {
        server_status: &'a str,
        reference: Option<&'a str>,
        errors: Option<String>,
        warnings: Option<String>,
    },
}

/// Write an attempt's new status, its invoice's status (guarded: the attempt must be the
/// invoice's newest) and the event.
fn apply(conn: &Connection, m: Move<'_>, now: Millis, pid: u32) -> Result<()> {
    apply_with(conn, m, Also::Nothing, now, pid)
}

/// [`apply`], writing `also` on the attempt in the same guarded `UPDATE`.
fn apply_with(conn: &Connection, m: Move<'_>, also: Also<'_>, now: Millis, pid: u32) -> Result<()> {
    // The SQL of each kind of write, spelled out whole: built once, not on every call.
    macro_rules! set {
        ($also:literal) => {
            concat!(
                "UPDATE attempts SET status = ?2, updated_at = ?3,
                    unknown_since = CASE WHEN ?2 = 'UNKNOWN' THEN coalesce(unknown_since, ?3)
                                         ELSE unknown_since END",
                $also,
                " WHERE rowid = ?1 AND status = ?4"
            )
        };
    }
    let (to, from, row) = (m.to.as_str(), m.cur.status.as_str(), m.cur.row);
    let n = match also {
        Also::Nothing => conn
            .prepare_cached(set!(""))?
            .execute(params![row, to, now, from])?,
        Also::Accepted { reference } => conn
            .prepare_cached(set!(", reference = ?5, sent_at = ?3"))?
            .execute(params![row, to, now, from, reference])?,
        Also::Rejected { errors } => conn
            .prepare_cached(set!(", errors = ?5, sent_at = ?3"))?
            .execute(params![row, to, now, from, errors])?,
        Also::Answer {
            server_status,
            reference,
            errors,
            warnings,
        } => {
            // A reference already known is not named: naming an indexed column rewrites its
            // index entry even when the value stays, and references are random, so each
            // answer would dirty one more page of `attempts_reference`.
            let reference = reference.filter(|_| m.cur.reference.is_none());
            let mut stmt = match reference {
                None => conn.prepare_cached(set!(
                    ", polled_at = ?3, server_status = ?5,
                        errors = coalesce(?6, errors), warnings = coalesce(?7, warnings)"
                ))?,
                Some(_) => conn.prepare_cached(set!(
                    ", polled_at = ?3, server_status = ?5,
                        errors = coalesce(?6, errors), warnings = coalesce(?7, warnings),
                        reference = ?8"
                ))?,
            };
            let all: [&dyn rusqlite::ToSql; 8] = [
                &row,
                &to,
                &now,
                &from,
                &server_status,
                &errors,
                &warnings,
                &reference,
            ];
            let n = stmt.parameter_count();
            stmt.execute(&all[..n])?
        }
    };
    if n != 1 {
        return Err(QueueError::Corrupt(format!(
            "attempt {} changed underneath",
            m.uid
        )));
    }
    let from_inv = invoice_status_for(m.cur.status, m.then);
    let to_inv = invoice_status_for(m.to, m.then);
    let n = conn
        .prepare_cached(
            "UPDATE invoices SET status = ?3, updated_at = ?4 WHERE id = ?1 AND last_attempt = ?2",
        )?
        .execute(params![m.cur.invoice.0, m.uid, to_inv.as_str(), now])?;
    if n != 1 {
        return Err(QueueError::Corrupt(format!(
            "attempt {} is not the newest attempt of invoice {}",
            m.uid, m.cur.invoice
        )));
    }
    log_event(
        conn,
        m.cur.invoice,
        Some(m.uid),
        now,
        m.kind,
        Some(from_inv.as_str()),
        Some(to_inv.as_str()),
        m.detail.as_deref(),
        pid,
    )
}

fn json_opt(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

impl SqliteQueue {
    /// Turn attempts left SENDING by a dead runner into UNKNOWN (called under the runner lock).
    pub(crate) fn recover_sending(&self) -> Result<usize> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let uids: Vec<String> = tx
                .prepare("SELECT uid FROM attempts WHERE status = 'SENDING'")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for uid in &uids {
                let cur = current(tx, uid)?
                    .ok_or_else(|| QueueError::Corrupt(format!("attempt {uid} vanished")))?;
                let m = Move {
                    uid,
                    cur: &cur,
                    to: AttemptStatus::Unknown,
                    then: AfterRejection::Requeue,
                    kind: "recovered",
                    detail: Some(
                        r#"{"reason":"a previous runner stopped while this attempt was being sent; outcome unknown, reconcile by inquiry"}"#
                            .into(),
                    ),
                };
                apply(tx, m, now, pid)?;
            }
            Ok(uids.len())
        })
    }

    pub(crate) fn acquire_runner_impl(&self) -> Result<SqliteRunner> {
        if self.read_only {
            return Err(QueueError::InvalidInput(
                "this queue was opened read-only; open it read-write to send".into(),
            ));
        }
        let lock = RunnerLock::acquire(&self.path, self.pid)?;
        let q = SqliteQueue::open_with(&self.path, self.opts.clone())?;
        q.recover_sending()?;
        Ok(SqliteRunner { q, _lock: lock })
    }
}

impl RunnerStore for SqliteRunner {
    fn next_sendable(
        &self,
        memory_id: &str,
        limit: usize,
        after: Option<InvoiceId>,
    ) -> Result<Vec<Invoice>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.q.read(|c| {
            invoices_where(
                c,
                "status = 'QUEUED' AND memory_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                params![memory_id, after.map_or(0, |a| a.0), limit],
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
            // The connection guide asks for "a uuid" (its example is a v1 UUID); we make v4.
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
        let pid = self.q.pid;
        // The same detail for every attempt of the batch.
        let detail = format!(r#"{{"batch":{}}}"#, serde_json::Value::from(batch_id));
        self.q.write(|tx| {
            let mut out = Vec::with_capacity(invoices.len());
            for (key, uid) in invoices {
                let uid_s = uid.to_string();
                // Guarded: only a QUEUED invoice at the expected revision moves to SENDING;
                // anything else is explained below (and the whole batch rolls back).
                // (No RETURNING: SQLite collects RETURNING rows in a temporary b-tree, which
                // costs more than reading the two columns by primary key afterwards.)
                let moved = tx
                    .prepare_cached(
                        "UPDATE invoices SET status = 'SENDING', last_attempt = ?2, updated_at = ?3
                         WHERE id = ?1 AND status = 'QUEUED' AND revision = ?4",
                    )?
                    .execute(params![key.id.0, uid_s, now, key.revision])?;
                if moved != 1 {
                    return Err(not_sendable(tx, key)?);
                }
                let (taxid, memory_id): (Option<String>, String) = tx
                    .prepare_cached("SELECT taxid, memory_id FROM invoices WHERE id = ?1")?
                    .query_row([key.id.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let revision = key.revision;
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status,
                                               created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, 'SENDING', ?5, ?5)",
                    )?
                    .execute(params![uid_s, key.id.0, batch_id, revision, now]);
                match inserted {
                    Ok(_) => {}
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                    {
                        return Err(QueueError::InvalidInput(format!(
                            "uid {uid} was already used"
                        )));
                    }
                    Err(e) => return Err(e.into()),
                }
                log_event(
                    tx,
                    key.id,
                    Some(&uid_s),
                    now,
                    "attempt_started",
                    Some("QUEUED"),
                    Some("SENDING"),
                    Some(&detail),
                    pid,
                )?;
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
            Ok(out)
        })
    }

    fn record_accepted_many(&self, accepted: &[(Uuid, String)]) -> Result<Vec<Result<()>>> {
        let now = self.q.now();
        let pid = self.q.pid;
        self.q.write(|tx| {
            let mut out = Vec::with_capacity(accepted.len());
            for (uid, reference) in accepted {
                out.push(accept_one(tx, *uid, reference, now, pid));
            }
            storage_errors_abort(out)
        })
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
        self.q.write(|tx| {
            let mut out = Vec::with_capacity(outcomes.len());
            for o in outcomes {
                out.push(outcome_one(tx, o, now, grace, pid));
            }
            storage_errors_abort(out)
        })
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

/// Why invoice `key` cannot start an attempt (its guarded move to SENDING matched no row).
fn not_sendable(tx: &Connection, key: &InvoiceKey) -> Result<QueueError> {
    let row: Option<(String, i64)> = tx
        .prepare_cached("SELECT status, revision FROM invoices WHERE id = ?1")?
        .query_row([key.id.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (status, revision) = row.ok_or(QueueError::UnknownInvoice(key.id))?;
    let status: InvoiceStatus = status.parse()?;
    if status != InvoiceStatus::Queued {
        return Ok(QueueError::NotSendable {
            invoice: key.id,
            status,
        });
    }
    if revision != key.revision {
        return Ok(QueueError::Stale {
            invoice: key.id,
            expected: key.revision,
            found: revision,
        });
    }
    Ok(QueueError::Corrupt(format!(
        "invoice {} is QUEUED at revision {revision} but could not be moved to SENDING",
        key.id
    )))
}

/// Per-item results, except that a storage error aborts the whole transaction.
pub(crate) fn storage_errors_abort<T>(items: Vec<Result<T>>) -> Result<Vec<Result<T>>> {
    let mut out = Vec::with_capacity(items.len());
    for r in items {
        match r {
            Err(QueueError::Sqlite(e)) => return Err(QueueError::Sqlite(e)),
            Err(QueueError::Corrupt(e)) => return Err(QueueError::Corrupt(e)),
            Err(QueueError::Postgres(e)) => return Err(QueueError::Postgres(e)),
            Err(QueueError::PostgresDown(e)) => return Err(QueueError::PostgresDown(e)),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn load(tx: &Connection, uid: Uuid) -> Result<(String, Current)> {
    let s = uid.to_string();
    let cur = current(tx, &s)?.ok_or(QueueError::UnknownAttempt(uid))?;
    Ok((s, cur))
}

fn accept_one(tx: &Connection, uid: Uuid, reference: &str, now: Millis, pid: u32) -> Result<()> {
    let (s, cur) = load(tx, uid)?;
    match cur.status {
        AttemptStatus::Sending | AttemptStatus::Unknown => {}
        AttemptStatus::InProgress if cur.reference.as_deref() == Some(reference) => return Ok(()),
        from => {
            return Err(QueueError::InvalidTransition {
                uid,
                from,
                what: "acceptance",
            })
        }
    }
    let detail = format!(r#"{{"reference":{}}}"#, serde_json::Value::from(reference));
    let m = Move {
        uid: &s,
        cur: &cur,
        to: AttemptStatus::InProgress,
        then: AfterRejection::Requeue,
        kind: "accepted",
        detail: Some(detail),
    };
    apply_with(tx, m, Also::Accepted { reference }, now, pid)
}

fn reject_one(
    tx: &Connection,
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
    let m = Move {
        uid: &s,
        cur: &cur,
        to: AttemptStatus::Rejected,
        then,
        kind: "rejected",
        detail: Some(errors.to_string()),
    };
    apply_with(tx, m, Also::Rejected { errors }, now, pid)
}

fn not_registered_one(
    tx: &Connection,
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
        tx.prepare_cached("UPDATE attempts SET errors = ?2 WHERE uid = ?1")?
            .execute(params![s, e.to_string()])?;
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

fn unknown_one(tx: &Connection, uid: Uuid, detail: &str, now: Millis, pid: u32) -> Result<()> {
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

fn outcome_one(
    tx: &Connection,
    o: &Outcome,
    now: Millis,
    grace: i64,
    pid: u32,
) -> Result<Transition> {
    let (s, cur) = load(tx, o.uid)?;
    let standing = Standing {
        status: cur.status,
        acknowledged: cur.reference.is_some(),
        unknown_since: cur.unknown_since,
    };
    let d = decide(o, &standing, now, grace);
    match (d.touch, d.to, d.event) {
        // The answer is written with the transition it causes, in one statement.
        (Touch::Answer, Some(to), Some(e)) => {
            let m = Move {
                uid: &s,
                cur: &cur,
                to,
                then: AfterRejection::Requeue,
                kind: e.kind,
                detail: Some(e.detail),
            };
            let answer = Also::Answer {
                server_status: o.status.as_str(),
                reference: o.reference.as_deref(),
                errors: json_opt(&o.errors),
                warnings: json_opt(&o.warnings),
            };
            apply_with(tx, m, answer, now, pid)?;
        }
        // An answer that moves nothing is written on its own.
        (Touch::Answer, _, _) => {
            // (A reference already known is not named, as in `apply_with`.)
            let reference = o.reference.as_deref().filter(|_| cur.reference.is_none());
            let mut stmt = match reference {
                None => tx.prepare_cached(
                    "UPDATE attempts SET polled_at = ?2, server_status = ?3,
                            errors = coalesce(?4, errors), warnings = coalesce(?5, warnings)
                     WHERE rowid = ?1",
                )?,
                Some(_) => tx.prepare_cached(
                    "UPDATE attempts SET polled_at = ?2, server_status = ?3,
                            errors = coalesce(?4, errors), warnings = coalesce(?5, warnings),
                            reference = ?6
                     WHERE rowid = ?1",
                )?,
            };
            let (errors, warnings) = (json_opt(&o.errors), json_opt(&o.warnings));
            let all: [&dyn rusqlite::ToSql; 6] = [
                &cur.row,
                &now,
                &o.status.as_str(),
                &errors,
                &warnings,
                &reference,
            ];
            let n = stmt.parameter_count();
            stmt.execute(&all[..n])?;
        }
        (Touch::Polled, _, _) => {
            tx.prepare_cached("UPDATE attempts SET polled_at = ?2 WHERE rowid = ?1")?
                .execute(params![cur.row, now])?;
        }
        // A final attempt keeps its recorded answer; the contradiction is logged for a person.
        (Touch::None, _, Some(e)) => log_event(
            tx,
            cur.invoice,
            Some(&s),
            now,
            e.kind,
            None,
            None,
            Some(&e.detail),
            pid,
        )?,
        (Touch::None, _, None) => {}
    }
    d.result
}
