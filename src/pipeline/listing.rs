//! Report rows read a page at a time, for output written as it is read: the rows of one
//! submission ([`Placements`]), of a whole queue ([`QueueListing`]), or of a report already in
//! memory ([`Report`]). A listing can be read more than once (a table prints the summary
//! before its rows); nothing keeps more than a page.

use super::ingest::Placements;
use super::report::{self, InvoiceReport, Report, Summary};
use super::spool::Stored;
use super::Refusal;
use moadian_queue::{InvoiceId, ListFilter, Store};
use std::collections::HashMap;

/// Rows (and refusals) read a page at a time.
pub trait Listing {
    /// Every row, in order.
    fn rows(&self, f: &mut dyn FnMut(InvoiceReport) -> anyhow::Result<()>) -> anyhow::Result<()>;

    /// Every input the queue refused, in order.
    fn refused(&self, _f: &mut dyn FnMut(Refusal) -> anyhow::Result<()>) -> anyhow::Result<()> {
        Ok(())
    }

    /// How many inputs the queue refused.
    fn refused_count(&self) -> usize {
        0
    }

    /// The count per status of every row.
    fn summary(&self) -> anyhow::Result<Summary> {
        let mut s = Summary::default();
        self.rows(&mut |r| {
            s.add(r.status);
            Ok(())
        })?;
        Ok(s)
    }
}

/// Rows per page read from the queue.
const PAGE: usize = 500;

impl Listing for Report {
    fn rows(&self, f: &mut dyn FnMut(InvoiceReport) -> anyhow::Result<()>) -> anyhow::Result<()> {
        for r in &self.invoices {
            f(r.clone())?;
        }
        Ok(())
    }

    fn summary(&self) -> anyhow::Result<Summary> {
        Ok(self.summary.clone())
    }
}

/// The invoices `filter` selects, oldest first, handed to `f` a page of `page` rows at a time
/// (the filter's own `after` and `limit` are replaced).
pub fn each_page<S: Store>(
    store: &S,
    filter: ListFilter,
    page: usize,
    f: &mut dyn FnMut(Vec<moadian_queue::InvoiceRow>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut filter = ListFilter {
        after: None,
        limit: Some(page),
        ..filter
    };
    loop {
        let rows = store.list(&filter)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        filter.after = Some(last.id);
        f(rows)?;
    }
}

/// Every invoice of a queue (of one memory ID, when given), oldest first.
pub struct QueueListing<'a, S: Store> {
    pub store: &'a S,
    pub memory_id: Option<String>,
}

impl<S: Store> Listing for QueueListing<'_, S> {
    fn rows(&self, f: &mut dyn FnMut(InvoiceReport) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let filter = ListFilter {
            memory_id: self.memory_id.clone(),
            ..ListFilter::default()
        };
        each_page(self.store, filter, PAGE, &mut |rows| {
            for r in report::rows_reports(self.store, &rows)? {
                f(r)?;
            }
            Ok(())
        })
    }
}

/// The rows of one submission: one per input, in input order (a queue row shown once), each
/// queue row as it stands now.
pub struct PlacementsListing<'a, S: Store> {
    pub queue: &'a S,
    pub placements: &'a Placements,
}

impl Placements {
    /// Its rows, read from `queue` as they stand now.
    pub fn listing<'a, S: Store>(&'a self, queue: &'a S) -> PlacementsListing<'a, S> {
        PlacementsListing {
            queue,
            placements: self,
        }
    }

    /// Every row in memory, with the refusals (for a few rows, e.g. one inbox file).
    pub fn collect(&self, queue: &impl Store) -> anyhow::Result<(Report, Vec<Refusal>)> {
        let l = self.listing(queue);
        let mut rows = Vec::new();
        l.rows(&mut |r| {
            rows.push(r);
            Ok(())
        })?;
        let mut refused = Vec::new();
        l.refused(&mut |r| {
            refused.push(r);
            Ok(())
        })?;
        Ok((report::assemble(rows), refused))
    }
}

impl<S: Store> PlacementsListing<'_, S> {
    fn pages(&self, f: &mut dyn FnMut(Vec<Stored>) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut after = -1;
        loop {
            let page = self.placements.spool.page(after, PAGE)?;
            let Some((last, _)) = page.last() else {
                return Ok(());
            };
            after = *last;
            f(page.into_iter().map(|(_, p)| p).collect())?;
        }
    }
}

impl<S: Store> Listing for PlacementsListing<'_, S> {
    fn rows(&self, f: &mut dyn FnMut(InvoiceReport) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.pages(&mut |page| {
            let ids: Vec<InvoiceId> = page
                .iter()
                .filter_map(|p| match p {
                    Stored::Queue(id) | Stored::Already(id, _, _) => Some(*id),
                    _ => None,
                })
                .collect();
            let mut by_id: HashMap<InvoiceId, InvoiceReport> = HashMap::new();
            if !ids.is_empty() {
                let rows = self.queue.list(&ListFilter {
                    ids: Some(ids),
                    ..ListFilter::default()
                })?;
                let reps = report::rows_reports(self.queue, &rows)?;
                by_id = rows.iter().map(|r| r.id).zip(reps).collect();
            }
            for p in page {
                match p {
                    Stored::Queue(id) => {
                        if let Some(r) = by_id.remove(&id) {
                            f(r)?;
                        }
                    }
                    Stored::Already(id, source, waiting) => {
                        if let Some(mut r) = by_id.remove(&id) {
                            r.note = Some(already_note(self.queue, id, &r, &source, waiting)?);
                            r.source = source;
                            f(r)?;
                        }
                    }
                    Stored::Local(r) => f(*r)?,
                    Stored::Refused(_) => {}
                }
            }
            Ok(())
        })
    }

    fn refused(&self, f: &mut dyn FnMut(Refusal) -> anyhow::Result<()>) -> anyhow::Result<()> {
        if self.placements.refused == 0 {
            return Ok(());
        }
        self.pages(&mut |page| {
            for p in page {
                if let Stored::Refused(r) = p {
                    f(r)?;
                }
            }
            Ok(())
        })
    }

    fn refused_count(&self) -> usize {
        self.placements.refused
    }
}

/// "already SUCCESS, sent on … (from …); not sent again" for an input the queue already held.
/// An attempt with no answer recorded (a run stopped mid-POST) is not said to be sent: it began,
/// and the next run asks the server what became of it. An invoice that was still `waiting`
/// (QUEUED) when the input met it is not said to be sent before: this pass may have sent it.
fn already_note(
    queue: &impl Store,
    id: InvoiceId,
    r: &InvoiceReport,
    input: &str,
    waiting: bool,
) -> anyhow::Result<crate::lang::Message> {
    let inv = queue.get(id)?;
    let from = inv.as_ref().map(|i| i.source.clone()).unwrap_or_default();
    // Where the queue's row came from: this same input, in an earlier run, or another one.
    let (from_fa, from_en) = if from == input {
        (
            "همین ورودی، پیش‌تر".to_string(),
            "this same input, earlier".to_string(),
        )
    } else {
        (from.clone(), from)
    };
    if waiting {
        return Ok(crate::lang::Message::new(
            format!("پیش‌تر در صف بود و هنوز ارسال نشده بود (از {from_fa})؛ همان صورتحساب است و یک بار در صف قرار گرفت؛ وضعیت بالا سرانجام آن است"),
            format!("was already in the queue, not yet sent (from {from_en}); the same invoice, queued once; the status shown is what became of it"),
        ));
    }
    let attempt = match inv.and_then(|i| i.last_attempt) {
        Some(uid) => queue.attempt(uid)?,
        None => None,
    };
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    let status = r.status.as_str();
    Ok(match attempt {
        Some(a) if a.sent_at.is_some() || a.reference.is_some() => {
            let w = at(a.sent_at.unwrap_or(a.created_at));
            crate::lang::Message::new(
                format!("پیش‌تر {status} است، ارسال در {w} (از {from_fa})؛ همان صورتحساب است و دوباره ارسال نشد"),
                format!("already {status}, sent on {w} (from {from_en}); the same invoice, not sent again"),
            )
        }
        Some(a) => {
            let w = at(a.created_at);
            crate::lang::Message::new(
                format!("پیش‌تر {status} است: ارسالی در {w} آغاز شد و پاسخی از آن ثبت نشده است (از {from_fa})؛ اجرای بعدی از سامانه می‌پرسد. همان صورتحساب است و دوباره ارسال نشد"),
                format!("already {status}: a send began on {w} and no answer to it was recorded (from {from_en}); the next run asks the server. The same invoice, not sent again"),
            )
        }
        None => crate::lang::Message::new(
            format!("پیش‌تر با وضعیت {status} در صف است (از {from_fa})؛ همان صورتحساب است و دوباره در صف قرار نگرفت"),
            format!("already in the queue as {status} (from {from_en}); the same invoice, not enqueued again"),
        ),
    })
}
