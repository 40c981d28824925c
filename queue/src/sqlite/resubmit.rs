//! Resubmission: a FAILED invoice sent again under a new serial and tax ID, linked to the old
//! one (invariant 4). The decisions are [`crate::placing::resubmit`].

use super::enqueue::Sqlite;
use super::SqliteQueue;
use crate::error::Result;
use crate::types::*;

impl SqliteQueue {
    pub(crate) fn do_resubmit(&self, old: InvoiceId, build: BuildFn<'_>) -> Result<Placed> {
        let now = self.now();
        let pid = self.pid;
        self.write(|tx| {
            let mut p = Sqlite::new(tx);
            let placed = crate::placing::resubmit(&mut p, old, build, now, pid)?;
            p.finish()?;
            Ok(placed)
        })
    }
}
