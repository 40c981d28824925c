//! Building a report: which invoices are in force, one [`Row`] per invoice, totals per period.
//! Two ways, one set of decisions: [`build_grouped`] over entries already in memory (tests, the
//! service's small queues), and [`QueueReport`], which reads the queue a page at a time so a
//! report of a million invoices holds a page, the totals and the set of replaced tax IDs —
//! never every row.

use super::view::{Rows, View};
use super::{period_key, problems, Entry, Grouping, Period, Report, Row};
use crate::import::jalali;
use crate::invoice::money::decimal_of;
use crate::lang::Lang;
use crate::pipeline::listing::each_page;
use moadian_queue::{InvoiceStatus, ListFilter, Store};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// Invoices read from the queue per page.
const PAGE: usize = 500;

/// What a report covers and how it is shown.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// Issue dates (`indatim`, Unix ms) from and to, both included.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub lang: Lang,
    pub grouping: Grouping,
}

fn hdr_dec(p: &Option<Value>, k: &str) -> Option<Decimal> {
    p.as_ref()?.get("header")?.get(k).and_then(decimal_of)
}

fn hdr_str(p: &Option<Value>, k: &str) -> Option<String> {
    p.as_ref()?
        .get("header")?
        .get(k)?
        .as_str()
        .map(str::to_string)
}

/// The reference an entry replaces or voids when it is a SUCCESS correction, cancellation or
/// return.
fn supersedes(e: &Entry) -> Option<String> {
    if e.status == "SUCCESS" && matches!(e.ins, Some(2..=4)) {
        hdr_str(&e.payload, "irtaxid")
    } else {
        None
    }
}

/// The row of one entry, or `None` when its issue date is outside the scope.
fn row_of(e: &Entry, superseded: &HashSet<String>, scope: &Scope) -> Option<Row> {
    if let Some(t) = e.indatim {
        if scope.from.is_some_and(|f| t < f) || scope.to.is_some_and(|x| t > x) {
            return None;
        }
    } else if scope.from.is_some() || scope.to.is_some() {
        return None;
    }
    let period = e
        .indatim
        .map(|t| period_key(t, scope.grouping))
        .unwrap_or_else(|| "?".into());
    let in_force = e.status == "SUCCESS"
        && e.ins != Some(3)
        && !e.taxid.as_ref().is_some_and(|t| superseded.contains(t));
    Some(Row {
        id: e.id,
        taxid: e.taxid.clone(),
        source: e.source.clone(),
        status: e.status.clone(),
        ins: e.ins,
        irtaxid: hdr_str(&e.payload, "irtaxid"),
        indatim: e.indatim,
        date: e
            .indatim
            .map(|t| jalali::format_unix_ms(t, true, scope.lang == Lang::En))
            .unwrap_or_default(),
        period,
        tadis: hdr_dec(&e.payload, "tadis"),
        tvam: hdr_dec(&e.payload, "tvam"),
        tbill: hdr_dec(&e.payload, "tbill"),
        in_force,
        problems: problems(e, scope.lang),
    })
}

/// Totals per period and over all, added up row by row.
#[derive(Debug, Default)]
struct Totals {
    periods: BTreeMap<String, Period>,
    total: Period,
}

impl Totals {
    fn new() -> Self {
        Totals {
            periods: BTreeMap::new(),
            total: Period {
                period: "total".into(),
                ..Default::default()
            },
        }
    }

    fn add(&mut self, row: &Row) {
        let period = self
            .periods
            .entry(row.period.clone())
            .or_insert_with(|| Period {
                period: row.period.clone(),
                ..Default::default()
            });
        for p in [period, &mut self.total] {
            p.invoices += 1;
            match row.status.as_str() {
                "SUCCESS" => p.success += 1,
                "FAILED" | "INVALID" => p.failed += 1,
                _ => p.pending += 1,
            }
            if row.in_force {
                p.tadis += row.tadis.unwrap_or_default();
                p.tvam += row.tvam.unwrap_or_default();
                p.tbill += row.tbill.unwrap_or_default();
            }
        }
    }
}

/// Builds the report from queue entries: filters by `indatim` in `[from, to]`, decides which
/// invoices are in force, totals per Jalali month.
pub fn build(
    entries: &[Entry],
    from: Option<i64>,
    to: Option<i64>,
    lang: Lang,
    now_ms: i64,
) -> Report {
    build_grouped(entries, from, to, lang, now_ms, Grouping::Month)
}

/// [`build`] with totals per month or per season.
pub fn build_grouped(
    entries: &[Entry],
    from: Option<i64>,
    to: Option<i64>,
    lang: Lang,
    now_ms: i64,
    grouping: Grouping,
) -> Report {
    let scope = Scope {
        from,
        to,
        lang,
        grouping,
    };
    // Which references are replaced or voided by a SUCCESS referral (over the whole queue,
    // not only the period shown).
    let superseded: HashSet<String> = entries.iter().filter_map(supersedes).collect();
    let mut totals = Totals::new();
    let mut rows = Vec::new();
    for row in entries
        .iter()
        .filter_map(|e| row_of(e, &superseded, &scope))
    {
        totals.add(&row);
        rows.push(row);
    }
    Report {
        generated_at: now_ms,
        grouping,
        from,
        to,
        rows,
        periods: totals.periods.into_values().collect(),
        total: totals.total,
    }
}

/// The invoice JSON of a queued invoice, when it has one that parses.
fn payload_of<S: Store>(q: &S, id: moadian_queue::InvoiceId) -> anyhow::Result<Option<Value>> {
    Ok(q.get(id)?
        .and_then(|i| i.payload)
        .and_then(|p| serde_json::from_str::<Value>(&p).ok()))
}

/// Every invoice of a queue as a report entry, oldest first, a page at a time.
pub fn for_each_entry<S: Store>(
    q: &S,
    f: &mut dyn FnMut(Entry) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    each_page(q, ListFilter::default(), PAGE, &mut |rows| {
        for r in rows {
            let payload = payload_of(q, r.id)?;
            f(Entry {
                id: r.id.0,
                source: r.source,
                taxid: r.taxid,
                // In `status`'s words: SENDING (a send began, no answer recorded) is UNKNOWN.
                status: crate::pipeline::ReportStatus::from_queue(r.status)
                    .as_str()
                    .to_string(),
                ins: r.ins,
                indatim: r.indatim,
                payload,
                server_errors: r.last_attempt.and_then(|a| a.errors),
                findings: r.findings,
            })?;
        }
        Ok(())
    })
}

/// Reads every invoice of a queue into report entries (whole queue in memory: for tests and
/// small queues; [`QueueReport`] streams).
pub fn entries_from_queue<S: Store>(q: &S) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for_each_entry(q, &mut |e| {
        out.push(e);
        Ok(())
    })?;
    Ok(out)
}

/// The report of a queue, read a page at a time: [`QueueReport::new`] reads the queue twice
/// (the replaced tax IDs, then the totals); each pass over its rows reads it again.
pub struct QueueReport<'a, S: Store> {
    store: &'a S,
    scope: Scope,
    superseded: HashSet<String>,
    generated_at: i64,
    periods: Vec<Period>,
    total: Period,
}

impl<'a, S: Store> QueueReport<'a, S> {
    pub fn new(store: &'a S, scope: Scope, now_ms: i64) -> anyhow::Result<Self> {
        // Only SUCCESS referrals can replace an invoice: their payloads alone are read.
        let mut superseded = HashSet::new();
        let successes = ListFilter {
            status: Some(InvoiceStatus::Success),
            ..ListFilter::default()
        };
        each_page(store, successes, PAGE, &mut |rows| {
            for r in rows.iter().filter(|r| matches!(r.ins, Some(2..=4))) {
                if let Some(t) = hdr_str(&payload_of(store, r.id)?, "irtaxid") {
                    superseded.insert(t);
                }
            }
            Ok(())
        })?;
        let mut report = QueueReport {
            store,
            scope,
            superseded,
            generated_at: now_ms,
            periods: Vec::new(),
            total: Period::default(),
        };
        let mut totals = Totals::new();
        report.each(&mut |row| {
            totals.add(&row);
            Ok(())
        })?;
        report.periods = totals.periods.into_values().collect();
        report.total = totals.total;
        Ok(report)
    }

    /// The report to render; its rows are read from the queue as they are written.
    pub fn view(&self) -> View<'_> {
        View {
            generated_at: self.generated_at,
            grouping: self.scope.grouping,
            from: self.scope.from,
            to: self.scope.to,
            rows: self,
            periods: &self.periods,
            total: &self.total,
        }
    }
}

impl<S: Store> Rows for QueueReport<'_, S> {
    fn each(&self, f: &mut dyn FnMut(Row) -> anyhow::Result<()>) -> anyhow::Result<()> {
        for_each_entry(
            self.store,
            &mut |e| match row_of(&e, &self.superseded, &self.scope) {
                Some(row) => f(row),
                None => Ok(()),
            },
        )
    }
}
