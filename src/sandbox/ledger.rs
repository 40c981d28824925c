//! The ledger: every tax ID the sandbox received, how many times, and how many times it reached
//! SUCCESS. Tests read it (GET `/sandbox/ledger`, or [`super::RunningSandbox::ledger`]) to prove
//! "nothing lost, nothing twice".

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One tax ID's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Packets carrying this tax ID that were decrypted and read.
    pub received: u32,
    /// Of those, how many reached SUCCESS (more than 1 never happens: the duplicate check).
    pub succeeded: u32,
    /// Of those, how many ended FAILED (including duplicates).
    pub failed: u32,
    /// The uids (requestTraceId) they came with, in order.
    pub uids: Vec<String>,
}

/// All tax IDs seen, plus the packet count (packets whose tax ID could not be read count only
/// there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub packets_received: u64,
    pub taxids: BTreeMap<String, LedgerEntry>,
}

impl Ledger {
    pub fn record(&mut self, taxid: &str, uid: &str, success: bool) {
        let e = self.taxids.entry(taxid.to_string()).or_default();
        e.received += 1;
        if success {
            e.succeeded += 1;
        } else {
            e.failed += 1;
        }
        e.uids.push(uid.to_string());
    }

    /// How many times `taxid` reached SUCCESS.
    pub fn succeeded(&self, taxid: &str) -> u32 {
        self.taxids.get(taxid).map_or(0, |e| e.succeeded)
    }

    /// How many times a packet with `taxid` was received.
    pub fn received(&self, taxid: &str) -> u32 {
        self.taxids.get(taxid).map_or(0, |e| e.received)
    }

    /// Tax IDs received more than once (a client that sent twice).
    pub fn received_twice(&self) -> Vec<&str> {
        self.taxids
            .iter()
            .filter(|(_, e)| e.received > 1)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}
