//! Typed errors of the queue. Each message says what happened and what to do next; the CLI
//! renders them (English `Display`, Persian via [`QueueError::persian`]).

use std::path::PathBuf;
use uuid::Uuid;

use crate::types::{AttemptStatus, CallerError, InvoiceId, InvoiceStatus};

/// Everything that can go wrong in the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("queue file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("queue {db} is busy: another runner (pid {pid}) is sending from it (lock file {lock}). Wait for it to finish, or stop that process; read-only commands such as `status` still work", pid = .pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()), db = .db.display(), lock = .lock.display())]
    Busy {
        db: PathBuf,
        lock: PathBuf,
        pid: Option<u32>,
    },

    #[error("queue file {path} has schema version {found}, newer than this program knows ({supported}); upgrade moadian")]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("queue file {path} has schema version {found} and needs migrating to {latest}; open it once read-write (e.g. `moadian run`)")]
    NeedsMigration {
        path: PathBuf,
        found: i64,
        latest: i64,
    },

    #[error("invoice {0} is not in the queue")]
    UnknownInvoice(InvoiceId),

    #[error("attempt {0} is not in the queue")]
    UnknownAttempt(Uuid),

    #[error("invoice {invoice} is {status}, not QUEUED: it cannot be sent now{}", if .status.is_in_flight() { " (its last attempt has no final status; reconcile it by inquiry first)" } else { "" })]
    NotSendable {
        invoice: InvoiceId,
        status: InvoiceStatus,
    },

    #[error("invoice {invoice} changed since it was read (revision {expected} → {found}); read it again and sign the new payload")]
    Stale {
        invoice: InvoiceId,
        expected: i64,
        found: i64,
    },

    #[error("attempt {uid} is {from}; cannot record {what}")]
    InvalidTransition {
        uid: Uuid,
        from: AttemptStatus,
        what: &'static str,
    },

    #[error("tax ID {taxid} already reached SUCCESS (invoice {invoice}); it cannot be sent again. To change that invoice issue a correction (ins=2) or cancellation (ins=3)")]
    TaxIdSucceeded { taxid: String, invoice: InvoiceId },

    #[error("tax ID {taxid} is in flight (invoice {invoice} is {status}); it cannot be enqueued again until the tax system answers")]
    TaxIdInFlight {
        taxid: String,
        invoice: InvoiceId,
        status: InvoiceStatus,
    },

    #[error("CONFLICT: tax ID {taxid} is already {status} in this queue (invoice {invoice}, from {sent_source}{}) with other content; it differs in {}. Nothing was sent. A tax ID carries one invoice: to change an accepted invoice issue a correction (`moadian correct {taxid} FILE`); if this is a new invoice, remove its `taxid` so it gets its own", .sent_at.map(|t| format!(", sent at {} UTC", crate::error::utc(t))).unwrap_or_default(), .fields.join(", "))]
    TaxIdConflict {
        taxid: String,
        invoice: InvoiceId,
        status: InvoiceStatus,
        /// Where the queued invoice came from.
        sent_source: String,
        /// When its last attempt was recorded (epoch ms).
        sent_at: Option<i64>,
        /// The differing fields (`header.tbill`, `body[0].sstt`…).
        fields: Vec<String>,
    },

    #[error("queue file {path} is empty ({size} bytes, no queue tables in it): it holds no queue, and moadian does not treat it as a new one (a queue that lost its contents would hand out tax IDs again). To start a new queue delete the file or give a path that does not exist; if it should hold your invoices, restore it from a backup (`moadian queue backup`)")]
    EmptyFile { path: PathBuf, size: u64 },

    #[error("tax ID {taxid} is already used by invoice {invoice}; a tax ID is never reused")]
    TaxIdReused { taxid: String, invoice: InvoiceId },

    #[error("invoice {invoice} is {status}; only a FAILED invoice can be resubmitted")]
    NotResubmittable {
        invoice: InvoiceId,
        status: InvoiceStatus,
    },

    #[error("invoice {invoice} was already resubmitted as invoice {by}")]
    AlreadyResubmitted { invoice: InvoiceId, by: InvoiceId },

    #[error("{0}")]
    Caller(#[source] CallerError),

    #[error("invalid input to the queue: {0}")]
    InvalidInput(String),

    #[error("queue file is inconsistent: {0}")]
    Corrupt(String),
}

impl QueueError {
    /// The same message in Persian, for the CLI (`--lang fa`).
    pub fn persian(&self) -> String {
        match self {
            QueueError::Sqlite(e) => format!("خطای پایگاه داده صف: {e}"),
            QueueError::Io { path, source } => {
                format!("خطا در فایل صف {}: {source}", path.display())
            }
            QueueError::Busy { db, pid, .. } => format!(
                "صف {} مشغول است: برنامهٔ دیگری (شناسه فرایند {}) در حال ارسال از آن است. صبر کنید تا تمام شود یا آن را متوقف کنید؛ فرمان‌های فقط‌خواندنی مانند `status` کار می‌کنند",
                db.display(),
                pid.map(|p| p.to_string()).unwrap_or_else(|| "نامعلوم".into())
            ),
            QueueError::TooNew { path, found, supported } => format!(
                "نسخهٔ ساختار فایل صف {} ({found}) از نسخهٔ شناخته‌شدهٔ این برنامه ({supported}) جدیدتر است؛ moadian را به‌روز کنید",
                path.display()
            ),
            QueueError::NeedsMigration { path, found, latest } => format!(
                "فایل صف {} نسخهٔ {found} است و باید به {latest} ارتقا یابد؛ یک بار آن را با دسترسی نوشتن باز کنید (مثلاً `moadian run`)",
                path.display()
            ),
            QueueError::UnknownInvoice(id) => format!("صورتحساب {id} در صف نیست"),
            QueueError::UnknownAttempt(uid) => format!("ارسال {uid} در صف نیست"),
            QueueError::NotSendable { invoice, status } => format!(
                "صورتحساب {invoice} در وضعیت {status} است و اکنون قابل ارسال نیست{}",
                if status.is_in_flight() { " (نتیجهٔ آخرین ارسال نهایی نشده؛ ابتدا با استعلام تطبیق دهید)" } else { "" }
            ),
            QueueError::Stale { invoice, .. } => format!(
                "صورتحساب {invoice} پس از خواندن تغییر کرده است؛ دوباره بخوانید و محتوای جدید را امضا کنید"
            ),
            QueueError::InvalidTransition { uid, from, what } => {
                format!("ارسال {uid} در وضعیت {from} است؛ ثبت «{what}» ممکن نیست")
            }
            QueueError::TaxIdSucceeded { taxid, invoice } => format!(
                "شمارهٔ مالیاتی {taxid} پیش‌تر با موفقیت ثبت شده است (صورتحساب {invoice}) و دوباره ارسال نمی‌شود؛ برای تغییر، صورتحساب اصلاحی (ins=2) یا ابطالی (ins=3) صادر کنید"
            ),
            QueueError::TaxIdInFlight { taxid, invoice, status } => format!(
                "شمارهٔ مالیاتی {taxid} در جریان ارسال است (صورتحساب {invoice}، وضعیت {status})؛ تا پاسخ سامانه دوباره در صف قرار نمی‌گیرد"
            ),
            QueueError::TaxIdConflict { taxid, invoice, status, sent_source, sent_at, fields } => format!(
                "تعارض: شمارهٔ مالیاتی {taxid} در این صف با محتوای دیگری در وضعیت {status} است (صورتحساب {invoice} از {sent_source}{})؛ تفاوت در: {}. چیزی ارسال نشد. هر شمارهٔ مالیاتی فقط یک صورتحساب است: برای تغییر صورتحساب پذیرفته‌شده صورتحساب اصلاحی صادر کنید (`moadian correct {taxid} FILE`)؛ اگر صورتحساب تازه‌ای است، taxid را از آن حذف کنید تا شمارهٔ خودش را بگیرد",
                sent_at.map(|t| format!("، ارسال در {} UTC", utc(t))).unwrap_or_default(),
                fields.join("، ")
            ),
            QueueError::EmptyFile { path, size } => format!(
                "فایل صف {} خالی است ({size} بایت، بدون جدول‌های صف): صفی در آن نیست و moadian آن را صف تازه فرض نمی‌کند (صفی که محتوایش از دست رفته شماره‌های مالیاتی را دوباره می‌دهد). برای شروع صف تازه فایل را پاک کنید یا مسیری بدهید که وجود ندارد؛ اگر باید فاکتورهای شما در آن باشد، از نسخهٔ پشتیبان بازیابی کنید (`moadian queue backup`)",
                path.display()
            ),
            QueueError::TaxIdReused { taxid, invoice } => format!(
                "شمارهٔ مالیاتی {taxid} قبلاً برای صورتحساب {invoice} به کار رفته است؛ شمارهٔ مالیاتی هرگز تکرار نمی‌شود"
            ),
            QueueError::NotResubmittable { invoice, status } => format!(
                "صورتحساب {invoice} در وضعیت {status} است؛ فقط صورتحساب ناموفق (FAILED) دوباره ارسال می‌شود"
            ),
            QueueError::AlreadyResubmitted { invoice, by } => {
                format!("صورتحساب {invoice} پیش‌تر با صورتحساب {by} دوباره ارسال شده است")
            }
            QueueError::Caller(e) => e.to_string(),
            QueueError::InvalidInput(m) => format!("ورودی نادرست برای صف: {m}"),
            QueueError::Corrupt(m) => format!("فایل صف ناسازگار است: {m}"),
        }
    }
}

/// Epoch milliseconds as `YYYY-MM-DD HH:MM:SS` (UTC), for messages.
pub(crate) fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Shorthand used throughout the crate.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;
