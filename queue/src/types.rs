//! The values the queue stores and hands out: identifiers, the two status machines (invoice
//! and attempt), and the records callers read back. Kept apart from the SQL so the `Store`
//! trait can be implemented by another backend (PostgreSQL) with the same types.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::error::QueueError;

/// Row id of an invoice in the queue (stable for the life of the queue file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InvoiceId(pub i64);

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a sender must present to [`RunnerStore::begin_attempt`](crate::RunnerStore::begin_attempt):
/// the invoice and the revision of its payload that was read (and signed). If the payload was
/// replaced in between (re-enqueued with the same tax ID), the attempt is refused as stale, so
/// what is recorded is always what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InvoiceKey {
    pub id: InvoiceId,
    pub revision: i64,
}

/// Where an invoice stands. Exactly one at a time; stored in `invoices.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceStatus {
    /// Failed local validation; never sent. Fixing the input and enqueuing again replaces it.
    Invalid,
    /// Waiting to be sent (never sent, or its last attempt definitely never reached the server).
    Queued,
    /// An attempt is recorded and its POST has not been answered. If the process dies now the
    /// outcome is unknown: the next runner turns it into `Unknown`.
    Sending,
    /// The server acknowledged the attempt with a reference number; poll until final.
    InProgress,
    /// Final: accepted by the tax system.
    Success,
    /// Final: rejected; the errors are on the last attempt. A new tax ID is needed to resend
    /// (`resubmit`), unless the input itself carries a tax ID and is enqueued again changed.
    Failed,
    /// The outcome of the last attempt is not known (crash while sending, timeout, NOT_FOUND
    /// within the grace period). Never resent: reconcile by inquiry first.
    Unknown,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 7] = [
        InvoiceStatus::Invalid,
        InvoiceStatus::Queued,
        InvoiceStatus::Sending,
        InvoiceStatus::InProgress,
        InvoiceStatus::Success,
        InvoiceStatus::Failed,
        InvoiceStatus::Unknown,
    ];

    /// The stored / displayed name (`IN_PROGRESS`…).
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Invalid => "INVALID",
            InvoiceStatus::Queued => "QUEUED",
            InvoiceStatus::Sending => "SENDING",
            InvoiceStatus::InProgress => "IN_PROGRESS",
            InvoiceStatus::Success => "SUCCESS",
            InvoiceStatus::Failed => "FAILED",
            InvoiceStatus::Unknown => "UNKNOWN",
        }
    }

    /// Sent (or possibly sent) and not final: a tax ID in this state must not be sent again.
    pub fn is_in_flight(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Sending | InvoiceStatus::InProgress | InvoiceStatus::Unknown
        )
    }

    /// SUCCESS or FAILED: the tax system has decided.
    pub fn is_final(self) -> bool {
        matches!(self, InvoiceStatus::Success | InvoiceStatus::Failed)
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvoiceStatus {
    type Err = QueueError;
    fn from_str(s: &str) -> Result<Self, QueueError> {
        InvoiceStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| QueueError::Corrupt(format!("unknown invoice status {s:?}")))
    }
}

/// Where one attempt (one uid = requestTraceId) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptStatus {
    /// Recorded; the POST may be on the wire. Not final.
    Sending,
    /// Acknowledged by the server with a reference number; processing. Not final.
    InProgress,
    /// Outcome unknown; reconcile by inquiry. Not final.
    Unknown,
    /// Final: the server accepted the invoice.
    Success,
    /// Final: the server rejected the invoice (errors recorded).
    Failed,
    /// Final: the POST was definitely refused (4xx error envelope) before acceptance; the
    /// server never took the invoice, so the same tax ID may be sent again.
    Rejected,
    /// Final: the server never registered the invoice — inquiry answered NOT_FOUND after the
    /// grace period for an attempt that was never acknowledged, or TIMEOUT, or the user asked
    /// to resend after an inquiry found nothing — so the same tax ID may be sent again.
    Lost,
}

impl AttemptStatus {
    pub const ALL: [AttemptStatus; 7] = [
        AttemptStatus::Sending,
        AttemptStatus::InProgress,
        AttemptStatus::Unknown,
        AttemptStatus::Success,
        AttemptStatus::Failed,
        AttemptStatus::Rejected,
        AttemptStatus::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Sending => "SENDING",
            AttemptStatus::InProgress => "IN_PROGRESS",
            AttemptStatus::Unknown => "UNKNOWN",
            AttemptStatus::Success => "SUCCESS",
            AttemptStatus::Failed => "FAILED",
            AttemptStatus::Rejected => "REJECTED",
            AttemptStatus::Lost => "LOST",
        }
    }

    /// No further change is possible.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            AttemptStatus::Sending | AttemptStatus::InProgress | AttemptStatus::Unknown
        )
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AttemptStatus {
    type Err = QueueError;
    fn from_str(s: &str) -> Result<Self, QueueError> {
        AttemptStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| QueueError::Corrupt(format!("unknown attempt status {s:?}")))
    }
}

/// A status as the tax server reports it in an inquiry result (protocol §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerStatus {
    Success,
    Failed,
    InProgress,
    /// Only in one SDK's enum; treated like IN_PROGRESS.
    Pending,
    /// Server-side processing timed out and the invoice was not registered: the attempt is
    /// LOST and the invoice queued again with the same tax ID.
    Timeout,
    /// The server does not know the uid/reference (yet). Within the grace period after the
    /// attempt became unknown this is still unknown, never lost.
    NotFound,
}

impl ServerStatus {
    /// Parse the server's word (`"IN_PROGRESS"`…); `None` for anything else.
    pub fn parse(s: &str) -> Option<ServerStatus> {
        Some(match s {
            "SUCCESS" => ServerStatus::Success,
            "FAILED" => ServerStatus::Failed,
            "IN_PROGRESS" => ServerStatus::InProgress,
            "PENDING" => ServerStatus::Pending,
            "TIMEOUT" => ServerStatus::Timeout,
            "NOT_FOUND" => ServerStatus::NotFound,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServerStatus::Success => "SUCCESS",
            ServerStatus::Failed => "FAILED",
            ServerStatus::InProgress => "IN_PROGRESS",
            ServerStatus::Pending => "PENDING",
            ServerStatus::Timeout => "TIMEOUT",
            ServerStatus::NotFound => "NOT_FOUND",
        }
    }
}

/// The error type a caller's closure may return (tax ID computation, validation…).
pub type CallerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Builds the numbered invoice from the serial the queue allocated. Runs inside the queue's
/// write transaction: keep it quick and free of I/O.
pub type BuildFn<'a> = Box<dyn FnOnce(u64) -> Result<Built, CallerError> + Send + 'a>;

/// What a [`BuildFn`] returns: the invoice numbered with the allocated serial.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The 22-character tax ID computed from memory ID, date and the serial.
    pub taxid: String,
    /// The invoice JSON (text) with `taxid` and `inno` filled in. This is what gets signed.
    pub payload: String,
    /// Validation findings (JSON), if any.
    pub findings: Option<serde_json::Value>,
    /// True when the findings include an error: the invoice is recorded INVALID, never sent.
    pub invalid: bool,
    /// Invoice date `indatim` (epoch ms) if the build set or changed it.
    pub indatim: Option<i64>,
}

/// How a new invoice gets its tax ID.
pub enum Content<'a> {
    /// The caller numbered it (or the input carried its own tax ID): keep this tax ID.
    /// If `serial` is given the memory ID's counter is advanced past it.
    /// Refused when the tax ID is already SUCCESS or in flight.
    Numbered {
        taxid: String,
        serial: Option<u64>,
        payload: String,
        findings: Option<serde_json::Value>,
        invalid: bool,
    },
    /// The queue allocates the next serial of the memory ID inside the enqueue transaction and
    /// calls `build(serial)`. If `build` fails the serial is not consumed.
    Allocate(BuildFn<'a>),
    /// Could not even be numbered (unreadable input): recorded INVALID without a tax ID.
    Invalid {
        payload: Option<String>,
        findings: serde_json::Value,
    },
}

impl fmt::Debug for Content<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::Numbered { taxid, serial, .. } => f
                .debug_struct("Numbered")
                .field("taxid", taxid)
                .field("serial", serial)
                .finish_non_exhaustive(),
            Content::Allocate(_) => f.write_str("Allocate(..)"),
            Content::Invalid { findings, .. } => f
                .debug_struct("Invalid")
                .field("findings", findings)
                .finish_non_exhaustive(),
        }
    }
}

/// One invoice to enqueue.
#[derive(Debug)]
pub struct NewInvoice<'a> {
    /// Where it came from, for reports: `path/to/file.json`, `book.xlsx:row 12`.
    pub source: String,
    /// The memory ID (شناسه یکتای حافظه مالیاتی / fiscalId) it is issued under.
    pub memory_id: String,
    /// Invoice date `indatim` (epoch milliseconds), if known.
    pub indatim: Option<i64>,
    /// Invoice type `inty` or another caller-defined kind label, if given.
    pub kind: Option<String>,
    /// Invoice subject `ins` (1 original, 2 correction, 3 cancellation, 4 return), if given.
    pub ins: Option<i64>,
    /// Optional idempotency key (e.g. a hash of the input invoice without taxid/inno). If an
    /// invoice with the same key is already in the queue, nothing is enqueued and no serial is
    /// consumed: enqueuing the same file twice never creates a second tax ID.
    pub dedup_key: Option<String>,
    pub content: Content<'a>,
}

/// Where an enqueued invoice landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placed {
    pub id: InvoiceId,
    pub taxid: Option<String>,
    pub serial: Option<u64>,
    pub status: InvoiceStatus,
    pub revision: i64,
}

/// The result of enqueuing one invoice. Refusals do not abort the batch.
#[derive(Debug)]
pub enum Enqueued {
    /// A new invoice row.
    Inserted(Placed),
    /// The tax ID was already queued/invalid/failed with other content: the payload was
    /// replaced (revision bumped) and the invoice is QUEUED or INVALID again.
    Replaced(Placed),
    /// Same tax ID and same payload already there, or same `dedup_key`: nothing changed.
    Unchanged(Placed),
    /// Not enqueued, with the reason (tax ID already SUCCESS / in flight, bad payload, the
    /// caller's build closure failed…).
    Refused {
        source: String,
        error: crate::QueueError,
    },
}

impl Enqueued {
    /// The invoice row, unless refused.
    pub fn placed(&self) -> Option<&Placed> {
        match self {
            Enqueued::Inserted(p) | Enqueued::Replaced(p) | Enqueued::Unchanged(p) => Some(p),
            Enqueued::Refused { .. } => None,
        }
    }
}

/// One invoice as stored, with its payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invoice {
    pub id: InvoiceId,
    pub source: String,
    pub memory_id: String,
    pub taxid: Option<String>,
    pub serial: Option<u64>,
    pub indatim: Option<i64>,
    pub kind: Option<String>,
    pub ins: Option<i64>,
    pub status: InvoiceStatus,
    /// Bumped each time the payload is replaced; part of the [`InvoiceKey`].
    pub revision: i64,
    /// The invoice JSON text to sign.
    pub payload: Option<String>,
    pub findings: Option<serde_json::Value>,
    /// The FAILED invoice this one resubmits (with a new serial and tax ID).
    pub resubmission_of: Option<InvoiceId>,
    pub dedup_key: Option<String>,
    /// uid of the latest attempt, if any.
    pub last_attempt: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Invoice {
    /// The key to present to `begin_attempt`.
    pub fn key(&self) -> InvoiceKey {
        InvoiceKey {
            id: self.id,
            revision: self.revision,
        }
    }
}

/// One attempt to send an invoice: uid = `requestTraceId` of the packet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub uid: Uuid,
    pub invoice_id: InvoiceId,
    pub taxid: Option<String>,
    pub memory_id: String,
    pub batch_id: String,
    /// The invoice revision this attempt carries.
    pub invoice_revision: i64,
    pub status: AttemptStatus,
    /// Reference number from the POST response.
    pub reference: Option<String>,
    /// Last status word the server gave for it (`IN_PROGRESS`, `NOT_FOUND`…).
    pub server_status: Option<String>,
    pub errors: Option<serde_json::Value>,
    pub warnings: Option<serde_json::Value>,
    /// When the attempt was recorded (before the POST), epoch ms.
    pub created_at: i64,
    /// When the POST's answer (acknowledgement or refusal) was recorded.
    pub sent_at: Option<i64>,
    /// When the outcome became unknown (grace period for NOT_FOUND counts from here).
    pub unknown_since: Option<i64>,
    /// Last inquiry answer recorded.
    pub polled_at: Option<i64>,
    pub updated_at: i64,
}

/// One inquiry answer to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub uid: Uuid,
    pub status: ServerStatus,
    /// Reference number, if the inquiry returned one (useful when reconciling an attempt whose
    /// POST answer was lost).
    pub reference: Option<String>,
    pub errors: Option<serde_json::Value>,
    pub warnings: Option<serde_json::Value>,
}

/// What recording an [`Outcome`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Transition {
    /// The attempt (and invoice) moved to this status.
    Moved {
        from: AttemptStatus,
        to: AttemptStatus,
    },
    /// Nothing changed (same answer as before, e.g. still IN_PROGRESS).
    Unchanged(AttemptStatus),
    /// NOT_FOUND (or TIMEOUT) while the outcome cannot be declared lost yet: still unknown.
    StillUnknown,
    /// NOT_FOUND after the grace period: the attempt is LOST and the invoice QUEUED again
    /// (same tax ID, a new attempt/uid will be made).
    Requeued,
}

/// What to do with an invoice whose POST was definitely refused before acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRejection {
    /// Queue it again (the refusal was about the request, not the invoice: auth, envelope…).
    Requeue,
    /// Mark it FAILED with the refusal's errors (the caller judged the refusal final).
    Fail,
}

/// The newest attempt of an invoice, as shown in listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptBrief {
    pub uid: Uuid,
    pub batch_id: String,
    pub status: AttemptStatus,
    pub reference: Option<String>,
    pub errors: Option<serde_json::Value>,
    pub warnings: Option<serde_json::Value>,
}

/// One row of a listing (no payload, so listing 100,000 invoices stays small).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceRow {
    pub id: InvoiceId,
    pub source: String,
    pub memory_id: String,
    pub taxid: Option<String>,
    pub serial: Option<u64>,
    pub status: InvoiceStatus,
    pub kind: Option<String>,
    pub ins: Option<i64>,
    pub indatim: Option<i64>,
    pub findings: Option<serde_json::Value>,
    pub resubmission_of: Option<InvoiceId>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_attempt: Option<AttemptBrief>,
}

/// Where a paged read of open attempts ([`crate::Store::open_page`]) goes on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenCursor {
    /// 0: the unknown attempts; 1: the acknowledged ones.
    pub phase: u8,
    /// The last attempt row read in this phase.
    pub after_row: i64,
}

/// Which invoices to list. Default: all, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<InvoiceStatus>,
    pub memory_id: Option<String>,
    /// Only these invoices (e.g. the ones one `submit` enqueued).
    pub ids: Option<Vec<InvoiceId>>,
    /// Only ids greater than this (paging).
    pub after: Option<InvoiceId>,
    pub limit: Option<usize>,
    /// Only invoices whose status changed at or after this moment (Unix ms).
    pub updated_since: Option<i64>,
}

/// Count of invoices per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub invalid: u64,
    pub queued: u64,
    pub sending: u64,
    pub in_progress: u64,
    pub success: u64,
    pub failed: u64,
    pub unknown: u64,
    pub total: u64,
}

impl Summary {
    pub fn get(&self, s: InvoiceStatus) -> u64 {
        match s {
            InvoiceStatus::Invalid => self.invalid,
            InvoiceStatus::Queued => self.queued,
            InvoiceStatus::Sending => self.sending,
            InvoiceStatus::InProgress => self.in_progress,
            InvoiceStatus::Success => self.success,
            InvoiceStatus::Failed => self.failed,
            InvoiceStatus::Unknown => self.unknown,
        }
    }

    pub(crate) fn add(&mut self, s: InvoiceStatus, n: u64) {
        let slot = match s {
            InvoiceStatus::Invalid => &mut self.invalid,
            InvoiceStatus::Queued => &mut self.queued,
            InvoiceStatus::Sending => &mut self.sending,
            InvoiceStatus::InProgress => &mut self.in_progress,
            InvoiceStatus::Success => &mut self.success,
            InvoiceStatus::Failed => &mut self.failed,
            InvoiceStatus::Unknown => &mut self.unknown,
        };
        *slot += n;
        self.total += n;
    }
}

/// One entry of the append-only event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: i64,
    pub invoice_id: InvoiceId,
    pub attempt_uid: Option<Uuid>,
    /// Epoch ms.
    pub at: i64,
    /// `enqueued`, `replaced`, `attempt_started`, `accepted`, `rejected`, `outcome`,
    /// `unknown`, `lost`, `resubmitted`, `recovered`…
    pub kind: String,
    pub from_status: Option<InvoiceStatus>,
    pub to_status: Option<InvoiceStatus>,
    pub detail: Option<serde_json::Value>,
    /// Process that wrote it.
    pub pid: u32,
}
