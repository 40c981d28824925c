//! Inquiry answers recorded set-based: a batch's outcomes in two statements instead of three
//! per invoice. The attempts are read and locked with one query (in uid order); each answer is
//! decided in input order exactly as one at a time would ([`crate::answer::decide`]); then one statement
//! writes what the answers said (server status, reference, errors, warnings, polled time) and
//! every move (the attempt's status, its invoice's — guarded: the attempt must be the invoice's
//! newest — and the events, in input order). If any row is not where it was read, the whole
//! transaction is refused as corrupt.
//!
//! An attempt answered twice in one batch is decided against its state after the first answer:
//! the batch is cut into runs in which every uid appears once, recorded one run after another.

use std::collections::{HashMap, HashSet};

use super::pool::Tx;
use super::Millis;
use crate::answer::{decide, Standing, Touch};
use crate::error::{QueueError, Result};
use crate::types::*;

/// An attempt as read (locked) before a batch's answers or acceptances are decided.
pub(super) struct Seen {
    pub(super) invoice: i64,
    pub(super) status: AttemptStatus,
    pub(super) reference: Option<String>,
    pub(super) unknown_since: Option<Millis>,
}

/// Reads and locks the attempts of `uids` (in uid order, so two batches never wait on each
/// other in a cycle), by uid; an unknown uid is simply absent.
pub(super) fn lock_attempts(tx: &mut Tx<'_>, uids: &[String]) -> Result<HashMap<String, Seen>> {
    let mut seen = HashMap::new();
    for r in tx.query(
        "SELECT uid, invoice_id, status, reference, unknown_since FROM attempts
         WHERE uid = ANY($1) ORDER BY uid FOR UPDATE",
        &[&uids],
    )? {
        let status: String = r.get(2);
        seen.insert(
            r.get(0),
            Seen {
                invoice: r.get(1),
                status: status.parse()?,
                reference: r.get(3),
                unknown_since: r.get(4),
            },
        );
    }
    Ok(seen)
}

/// Record a batch's inquiry answers, in input order.
pub(crate) fn record_many(
    tx: &mut Tx<'_>,
    outcomes: &[Outcome],
    now: Millis,
    grace: i64,
    pid: u32,
) -> Result<Vec<Result<Transition>>> {
    let mut out = Vec::with_capacity(outcomes.len());
    let mut start = 0;
    while start < outcomes.len() {
        let mut seen = HashSet::new();
        let end = outcomes[start..]
            .iter()
            .position(|o| !seen.insert(o.uid))
            .map_or(outcomes.len(), |p| start + p);
        out.extend(record_run(tx, &outcomes[start..end], now, grace, pid)?);
        start = end;
    }
    Ok(out)
}

fn json_opt(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

/// The columns of the one writing statement, a row per answer that writes anything.
#[derive(Default)]
struct Rows {
    uid: Vec<String>,
    touch: Vec<i16>,
    server_status: Vec<&'static str>,
    reference: Vec<Option<String>>,
    errors: Vec<Option<String>>,
    warnings: Vec<Option<String>>,
    from: Vec<&'static str>,
    to: Vec<Option<&'static str>>,
    invoice: Vec<i64>,
    kind: Vec<Option<&'static str>>,
    ev_from: Vec<Option<&'static str>>,
    ev_to: Vec<Option<&'static str>>,
    detail: Vec<Option<String>>,
}

/// One run of answers whose uids are all different.
fn record_run(
    tx: &mut Tx<'_>,
    outcomes: &[Outcome],
    now: Millis,
    grace: i64,
    pid: u32,
) -> Result<Vec<Result<Transition>>> {
    let uids: Vec<String> = outcomes.iter().map(|o| o.uid.to_string()).collect();
    let seen = lock_attempts(tx, &uids)?;
    let mut out = Vec::with_capacity(outcomes.len());
    let mut rows = Rows::default();
    let (mut touched, mut moved, mut events) = (0i64, 0i64, 0i64);
    for (o, s) in outcomes.iter().zip(uids) {
        let Some(cur) = seen.get(&s) else {
            out.push(Err(QueueError::UnknownAttempt(o.uid)));
            continue;
        };
        let standing = Standing {
            status: cur.status,
            acknowledged: cur.reference.is_some(),
            unknown_since: cur.unknown_since,
        };
        let d = decide(o, &standing, now, grace);
        out.push(d.result);
        if d.touch == Touch::None && d.event.is_none() {
            continue;
        }
        touched += i64::from(d.touch != Touch::None);
        moved += i64::from(d.to.is_some());
        events += i64::from(d.event.is_some());
        rows.touch.push(match d.touch {
            Touch::None => 0,
            Touch::Polled => 1,
            Touch::Answer => 2,
        });
        rows.server_status.push(o.status.as_str());
        rows.reference.push(o.reference.clone());
        rows.errors.push(json_opt(&o.errors));
        rows.warnings.push(json_opt(&o.warnings));
        rows.from.push(cur.status.as_str());
        rows.to.push(d.to.map(|t| t.as_str()));
        rows.invoice.push(cur.invoice);
        let e = d.event.as_ref();
        rows.kind.push(e.map(|e| e.kind));
        rows.ev_from
            .push(e.and_then(|e| e.from).map(|s| s.as_str()));
        rows.ev_to.push(e.and_then(|e| e.to).map(|s| s.as_str()));
        rows.detail.push(d.event.map(|e| e.detail));
        rows.uid.push(s);
    }
    if rows.uid.is_empty() {
        return Ok(out);
    }
    let r = tx.one(
        "WITH u AS (
             SELECT * FROM unnest($1::text[], $2::int2[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[],
                                  $11::text[], $12::text[], $13::text[]) WITH ORDINALITY
                      AS u(uid, touch, server_status, reference, errors, warnings, from_status,
                           to_status, invoice_id, kind, ev_from, ev_to, detail, n)),
         a AS (
             UPDATE attempts t SET
                 polled_at = $14,
                 server_status = CASE WHEN u.touch = 2 THEN u.server_status
                                      ELSE t.server_status END,
                 reference = CASE WHEN u.touch = 2 THEN coalesce(t.reference, u.reference)
                                  ELSE t.reference END,
                 errors = CASE WHEN u.touch = 2 THEN coalesce(u.errors, t.errors)
                               ELSE t.errors END,
                 warnings = CASE WHEN u.touch = 2 THEN coalesce(u.warnings, t.warnings)
                                 ELSE t.warnings END,
                 status = coalesce(u.to_status, t.status),
                 updated_at = CASE WHEN u.to_status IS NULL THEN t.updated_at ELSE $14 END
             FROM u WHERE t.uid = u.uid AND t.status = u.from_status AND u.touch > 0
             RETURNING t.uid),
         i AS (
             UPDATE invoices v SET status = u.ev_to, updated_at = $14
             FROM u WHERE u.to_status IS NOT NULL AND v.id = u.invoice_id
                      AND v.last_attempt = u.uid
             RETURNING v.id),
         e AS (
             INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status,
                                 detail, pid)
             SELECT u.invoice_id, u.uid, $14, u.kind, u.ev_from, u.ev_to, u.detail, $15
             FROM u WHERE u.kind IS NOT NULL ORDER BY u.n RETURNING id)
         SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM i), (SELECT count(*) FROM e)",
        &[
            &rows.uid,
            &rows.touch,
            &rows.server_status,
            &rows.reference,
            &rows.errors,
            &rows.warnings,
            &rows.from,
            &rows.to,
            &rows.invoice,
            &rows.kind,
            &rows.ev_from,
            &rows.ev_to,
            &rows.detail,
            &now,
            &i64::from(pid),
        ],
    )?;
    let (a, i, e): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    if a != touched || i != moved || e != events {
        return Err(QueueError::Corrupt(format!(
            "recording {} answers wrote {a} of {touched} attempts, {i} of {moved} invoices, \
             {e} of {events} events: an attempt changed underneath or is not its invoice's newest",
            outcomes.len()
        )));
    }
    Ok(out)
}
