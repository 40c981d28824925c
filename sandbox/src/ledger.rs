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
    /// Of those, how many ended TIMEOUT (not registered: a resend is legitimate).
    #[serde(default)]
    pub timed_out: u32,
    /// The uids (requestTraceId) they came with, in order.
    pub uids: Vec<String>,
}

/// All tax IDs seen, plus the packet count (packets whose tax ID could not be read count only
/// there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub packets_received: u64,
    pub taxids: BTreeMap<String, LedgerEntry>,
    /// How often each fault knob actually fired (tests prove their faults happened).
    #[serde(default)]
    pub faults: FaultCounts,
}

/// How often each fault fired since the sandbox started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultCounts {
    /// API answers replaced by HTTP 500 (`error_rate`).
    pub server_errors: u64,
    /// Invoice POSTs whose connection was dropped before the invoices were recorded.
    pub dropped_before_accept: u64,
    /// Invoice POSTs whose connection was dropped after the invoices were recorded.
    pub dropped_after_accept: u64,
    /// Packets that will end TIMEOUT.
    pub timeouts: u64,
    /// Encryption key rotations.
    pub key_rotations: u64,
    /// Packets acknowledged and then forgotten (NOT_FOUND).
    pub forgotten: u64,
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

    /// A packet with `taxid` that ended TIMEOUT (not registered).
    pub fn record_timeout(&mut self, taxid: &str, uid: &str) {
        let e = self.taxids.entry(taxid.to_string()).or_default();
        e.received += 1;
        e.timed_out += 1;
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
