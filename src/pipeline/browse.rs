//! Paging through the queue with filters the store does not index (the issue-time range): the
//! rows are scanned in id order a chunk at a time and kept when they match, so a page costs
//! what it skips, never the whole queue in memory. Used by the service's invoice list (API and
//! dashboard).

use super::report::{self, ReportStatus};
use moadian_queue::{InvoiceId, InvoiceRow, InvoiceStatus, ListFilter, QueueError, Store};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Browse {
    /// The status as reported (`NEEDS_ATTENTION` included).
    pub status: Option<ReportStatus>,
    /// Issue time (`indatim`, Unix ms) at or after this.
    pub from_ms: Option<i64>,
    /// Issue time at or before this.
    pub to_ms: Option<i64>,
    /// The buyer's economic number (`tinb`) or national ID (`bid`) contains this.
    pub buyer: Option<String>,
    /// Only ids after this (the previous page's `next`).
    pub after: Option<InvoiceId>,
    /// Page size (at least 1).
    pub limit: usize,
}

impl Browse {
    /// The buyer filter needs the invoice itself (the store keeps no buyer column).
    fn buyer_matches<S: Store>(&self, store: &S, r: &InvoiceRow) -> Result<bool, QueueError> {
        let Some(want) = self.buyer.as_deref().filter(|w| !w.is_empty()) else {
            return Ok(true);
        };
        let Some(inv) = store.get(r.id)? else {
            return Ok(false);
        };
        let header = inv
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("header").cloned());
        Ok(["tinb", "bid"].iter().any(|k| {
            header
                .as_ref()
                .and_then(|h| h.get(*k))
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.contains(want))
        }))
    }

    /// The queue status that holds every row of the wanted status, when one does (`None`:
    /// look at every row). `Err(())`: no row of the queue can have it (CONFLICT is an input
    /// refused, never a row).
    fn stored_status(&self) -> Result<Option<InvoiceStatus>, ()> {
        Ok(match self.status {
            None | Some(ReportStatus::Unknown) => None,
            Some(ReportStatus::Conflict) => return Err(()),
            Some(ReportStatus::Success) => Some(InvoiceStatus::Success),
            Some(ReportStatus::Failed) => Some(InvoiceStatus::Failed),
            Some(ReportStatus::Invalid) => Some(InvoiceStatus::Invalid),
            Some(ReportStatus::Queued) => Some(InvoiceStatus::Queued),
            Some(ReportStatus::InProgress | ReportStatus::NeedsAttention) => {
                Some(InvoiceStatus::InProgress)
            }
        })
    }

    fn status_matches<S: Store>(&self, store: &S, r: &InvoiceRow) -> Result<bool, QueueError> {
        match self.status {
            None => Ok(true),
            Some(want) => Ok(report::status_of(store, r)? == want),
        }
    }

    fn keeps(&self, r: &InvoiceRow) -> bool {
        let t = r.indatim;
        let after_from = self.from_ms.is_none_or(|f| t.is_some_and(|t| t >= f));
        let before_to = self.to_ms.is_none_or(|to| t.is_some_and(|t| t <= to));
        after_from && before_to
    }
}

/// One page of rows, oldest first, and the cursor of the next page (`None` on the last).
pub fn page<S: Store>(
    store: &S,
    b: &Browse,
) -> Result<(Vec<InvoiceRow>, Option<InvoiceId>), QueueError> {
    const CHUNK: usize = 500;
    let limit = b.limit.max(1);
    let Ok(status) = b.stored_status() else {
        return Ok((Vec::new(), None));
    };
    let mut out = Vec::new();
    let mut after = b.after;
    loop {
        let rows = store.list(&ListFilter {
            status,
            after,
            limit: Some(CHUNK),
            ..ListFilter::default()
        })?;
        let end = rows.len() < CHUNK;
        for r in rows {
            after = Some(r.id);
            if b.keeps(&r) && b.status_matches(store, &r)? && b.buyer_matches(store, &r)? {
                out.push(r);
                if out.len() == limit {
                    // More may follow: the next page starts after this row.
                    return Ok((out, after));
                }
            }
        }
        if end {
            return Ok((out, None));
        }
    }
}
