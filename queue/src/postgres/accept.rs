//! The acceptances of one POST (its reference numbers) in three statements instead of three
//! per invoice: the attempts are read and locked with one query (in uid order), each is
//! checked in input order exactly as one at a time (an unknown uid, a transition not allowed, a
//! repeat with the same reference is a no-op), and the moves SENDING/UNKNOWN → IN_PROGRESS of
//! the attempts, their invoices and the `accepted` events are one statement, guarded like the
//! one-at-a-time path (the attempt's status as read, the invoice's newest attempt): if any row
//! is not where it was read, the whole transaction is refused as corrupt.

use uuid::Uuid;

use super::outcome::lock_attempts;
use super::pool::Tx;
use super::Millis;
use crate::error::{QueueError, Result};
use crate::sqlite::attempts::invoice_status_for;
use crate::types::*;

pub(crate) fn accept_many(
    tx: &mut Tx<'_>,
    accepted: &[(Uuid, String)],
    now: Millis,
    pid: u32,
) -> Result<Vec<Result<()>>> {
    let uids: Vec<String> = accepted.iter().map(|(u, _)| u.to_string()).collect();
    let mut seen = lock_attempts(tx, &uids)?;
    let mut out = Vec::with_capacity(accepted.len());
    let (mut m_uid, mut m_ref, mut m_inv, mut m_from, mut m_from_inv, mut m_detail) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for ((uid, reference), s) in accepted.iter().zip(&uids) {
        let Some(cur) = seen.get_mut(s) else {
            out.push(Err(QueueError::UnknownAttempt(*uid)));
            continue;
        };
        match cur.status {
            AttemptStatus::Sending | AttemptStatus::Unknown => {}
            AttemptStatus::InProgress if cur.reference.as_deref() == Some(reference.as_str()) => {
                out.push(Ok(()));
                continue;
            }
            from => {
                out.push(Err(QueueError::InvalidTransition {
                    uid: *uid,
                    from,
                    what: "acceptance",
                }));
                continue;
            }
        }
        m_uid.push(s.clone());
        m_ref.push(reference.clone());
        m_inv.push(cur.invoice);
        m_from.push(cur.status.as_str().to_string());
        m_from_inv.push(
            invoice_status_for(cur.status, AfterRejection::Requeue)
                .as_str()
                .to_string(),
        );
        m_detail.push(format!(
            r#"{{"reference":{}}}"#,
            serde_json::Value::from(reference.as_str())
        ));
        cur.status = AttemptStatus::InProgress;
        cur.reference = Some(reference.clone());
        out.push(Ok(()));
    }
    if m_uid.is_empty() {
        return Ok(out);
    }
    let to = AttemptStatus::InProgress.as_str();
    let to_inv = invoice_status_for(AttemptStatus::InProgress, AfterRejection::Requeue);
    let r = tx.one(
        "WITH u AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                                  $6::text[]) WITH ORDINALITY
                      AS u(uid, reference, invoice_id, from_status, from_inv, detail, n)),
         a AS (
             UPDATE attempts t SET reference = u.reference, sent_at = $7, status = $8,
                    updated_at = $7
             FROM u WHERE t.uid = u.uid AND t.status = u.from_status RETURNING t.uid),
         i AS (
             UPDATE invoices v SET status = $9, updated_at = $7
             FROM u WHERE v.id = u.invoice_id AND v.last_attempt = u.uid
                      AND u.uid IN (SELECT uid FROM a)
             RETURNING v.id),
         e AS (
             INSERT INTO events (invoice_id, attempt_uid, at, kind, from_status, to_status,
                                 detail, pid)
             SELECT u.invoice_id, u.uid, $7, 'accepted', u.from_inv, $9, u.detail, $10
             FROM u WHERE u.invoice_id IN (SELECT id FROM i) ORDER BY u.n RETURNING id)
         SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM i), (SELECT count(*) FROM e)",
        &[
            &m_uid,
            &m_ref,
            &m_inv,
            &m_from,
            &m_from_inv,
            &m_detail,
            &now,
            &to,
            &to_inv.as_str(),
            &i64::from(pid),
        ],
    )?;
    let (a, i, e): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    let n = m_uid.len() as i64;
    if a != n || i != n || e != n {
        return Err(QueueError::Corrupt(format!(
            "accepting {n} attempts moved {a} attempts, {i} invoices, {e} events: \
             an attempt changed underneath or is not its invoice's newest"
        )));
    }
    Ok(out)
}
