//! A report as the renderers see it: the totals, and rows that can be read more than once
//! (from memory, or from the queue a page at a time).

use super::{Grouping, Period, Report, Row};
use serde::ser::{Error as _, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

/// Rows of a report, in order; each call reads them again.
pub trait Rows {
    fn each(&self, f: &mut dyn FnMut(Row) -> anyhow::Result<()>) -> anyhow::Result<()>;
}

impl Rows for Vec<Row> {
    fn each(&self, f: &mut dyn FnMut(Row) -> anyhow::Result<()>) -> anyhow::Result<()> {
        for r in self {
            f(r.clone())?;
        }
        Ok(())
    }
}

/// What the renderers draw: the report's head and totals, and its rows.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub generated_at: i64,
    pub grouping: Grouping,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub rows: &'a dyn Rows,
    pub periods: &'a [Period],
    pub total: &'a Period,
}

impl Report {
    /// This report, for the renderers.
    pub fn view(&self) -> View<'_> {
        View {
            generated_at: self.generated_at,
            grouping: self.grouping,
            from: self.from,
            to: self.to,
            rows: &self.rows,
            periods: &self.periods,
            total: &self.total,
        }
    }
}

/// The rows as a JSON array, serialized as they are read.
struct StreamedRows<'a>(&'a dyn Rows);

impl Serialize for StreamedRows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut failed = None;
        let read = self.0.each(&mut |row| match seq.serialize_element(&row) {
            Ok(()) => Ok(()),
            Err(e) => {
                failed = Some(e);
                anyhow::bail!("stopped")
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| S::Error::custom(format!("{e:#}")))?;
        seq.end()
    }
}

/// The same fields, in the same order, as [`Report`]'s own serialization.
impl Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Report", 7)?;
        st.serialize_field("generated_at", &self.generated_at)?;
        st.serialize_field("grouping", &self.grouping)?;
        st.serialize_field("from", &self.from)?;
        st.serialize_field("to", &self.to)?;
        st.serialize_field("rows", &StreamedRows(self.rows))?;
        st.serialize_field("periods", self.periods)?;
        st.serialize_field("total", self.total)?;
        st.end()
    }
}
