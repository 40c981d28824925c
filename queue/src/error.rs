//! Typed errors of the queue. Each message says what happened and what to do next; the CLI
//! renders them (English `Display`, Persian via [`QueueError::persian`]).

use std::path::{Path, PathBuf};
use uuid::Uuid;

use crate::types::{AttemptStatus, CallerError, InvoiceId, InvoiceStatus};

/// Everything that can go wrong in the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// A PostgreSQL queue's server said no (the message never holds a password).
    #[error("PostgreSQL queue error: {0}")]
    Postgres(String),

    /// The queue's PostgreSQL server cannot be reached (connection refused or closed, the
    /// network down): an outage, not a fault of the queue. What was committed stays.
    #[error("the queue's PostgreSQL server cannot be reached ({0}); nothing committed is lost, and the next run goes on once it is back")]
    PostgresDown(String),

    #[error("queue file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("queue {db} is busy: another runner (pid {pid}) is sending from it (held: {lock}). Wait for it to finish, or stop that process; read-only commands such as `status` still work", pid = .pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()), db = .db.display(), lock = .lock.display())]
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

    /// A runner that paused past its lease (PostgreSQL) was taken over: it sends nothing more
    /// for that memory ID.
    #[error("memory ID {memory_id} is now leased by another runner ({host} pid {pid}, since {since} UTC): this runner paused past its own lease and was taken over, so it sends nothing more for it; the other runner carries on")]
    LeaseTaken {
        memory_id: String,
        host: String,
        pid: u32,
        since: String,
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

    #[error("{}", reference_taken_en(reference, by, *by_ins, *status))]
    ReferenceTaken {
        /// The tax ID the new referral refers to (`irtaxid`).
        reference: String,
        /// The referral already in the queue for it: its tax ID (or row id).
        by: String,
        /// That referral's kind: 2 correction, 3 cancellation, 4 sales return.
        by_ins: i64,
        status: InvoiceStatus,
    },

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

    /// The queue file itself is the problem: what is wrong with it and what to do, naming it.
    #[error("queue file {}: {} ({detail}). {}", .path.display(), .problem.what_en(), .problem.todo_en(.path))]
    File {
        path: PathBuf,
        problem: FileProblem,
        /// SQLite's or the system's own words.
        detail: String,
    },
}

/// What is wrong with a queue file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileProblem {
    /// SQLite reports the file damaged.
    Corrupt,
    /// Not an SQLite file, or an SQLite file of another program.
    NotAQueue,
    /// The file or its folder cannot be written.
    ReadOnly,
    /// The disk (or the file system's quota) is full.
    DiskFull,
}

impl FileProblem {
    pub fn what_en(self) -> &'static str {
        match self {
            FileProblem::Corrupt => "the file is damaged (corrupt)",
            FileProblem::NotAQueue => "this is not a moadian queue file",
            FileProblem::ReadOnly => "the file or its folder is read-only",
            FileProblem::DiskFull => "the disk is full",
        }
    }

    pub fn what_fa(self) -> &'static str {
        match self {
            FileProblem::Corrupt => "فایل آسیب دیده است",
            FileProblem::NotAQueue => "این فایل صف moadian نیست",
            FileProblem::ReadOnly => "فایل یا پوشهٔ آن فقط‌خواندنی است",
            FileProblem::DiskFull => "دیسک پر است",
        }
    }

    pub fn todo_en(self, path: &Path) -> String {
        match self {
            FileProblem::Corrupt => format!(
                "Keep the damaged file aside, then restore the last backup (made by `moadian queue backup`) to {}; nothing was sent from a damaged file",
                path.display()
            ),
            FileProblem::NotAQueue => {
                "Point --queue (or the profile's `queue`) at the queue file, or at a new path to start an empty queue".into()
            }
            FileProblem::ReadOnly => format!(
                "Give your user write permission on {} and its folder (or run as the user that owns it)",
                path.display()
            ),
            FileProblem::DiskFull => {
                "Free space on that disk and run the command again; what was committed before is safe, the step that failed was not saved".into()
            }
        }
    }

    pub fn todo_fa(self, path: &Path) -> String {
        match self {
            FileProblem::Corrupt => format!(
                "فایل آسیب‌دیده را کنار بگذارید و آخرین پشتیبان (ساخته‌شده با `moadian queue backup`) را در {} بازگردانید؛ از فایل آسیب‌دیده چیزی ارسال نشده است",
                path.display()
            ),
            FileProblem::NotAQueue => {
                "گزینهٔ ‎--queue‎ (یا `queue` در نمایه) را به فایل صف یا مسیر تازه‌ای برای صف خالی بدهید".into()
            }
            FileProblem::ReadOnly => format!(
                "به کاربر خود اجازهٔ نوشتن روی {} و پوشهٔ آن را بدهید (یا با کاربر مالک اجرا کنید)",
                path.display()
            ),
            FileProblem::DiskFull => {
                "روی آن دیسک جا باز کنید و فرمان را دوباره اجرا کنید؛ آنچه پیش‌تر ثبت شده سالم است و گامی که شکست خورد ذخیره نشد".into()
            }
        }
    }

    /// The file problem an SQLite error is, if it is one.
    pub fn of_sqlite(e: &rusqlite::Error) -> Option<FileProblem> {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code()? {
            C::DatabaseCorrupt => Some(FileProblem::Corrupt),
            C::NotADatabase => Some(FileProblem::NotAQueue),
            C::ReadOnly => Some(FileProblem::ReadOnly),
            C::DiskFull => Some(FileProblem::DiskFull),
            C::CannotOpen | C::PermissionDenied => Some(FileProblem::ReadOnly),
            _ => None,
        }
    }

    /// The file problem a system error is, if it is one.
    pub fn of_io(e: &std::io::Error) -> Option<FileProblem> {
        // ENOSPC, EDQUOT, EROFS (Linux numbers; `ErrorKind::StorageFull` is newer than our MSRV).
        match (e.kind(), e.raw_os_error()) {
            (std::io::ErrorKind::PermissionDenied, _) => Some(FileProblem::ReadOnly),
            (_, Some(28 | 122)) => Some(FileProblem::DiskFull),
            (_, Some(30)) => Some(FileProblem::ReadOnly),
            _ => None,
        }
    }
}

impl QueueError {
    /// The same message in Persian, for the CLI (`--lang fa`).
    pub fn persian(&self) -> String {
        match self {
            QueueError::Sqlite(e) => format!("خطای پایگاه داده صف: {e}"),
            QueueError::Postgres(e) => format!("خطای پایگاه دادهٔ PostgreSQL صف: {e}"),
            QueueError::PostgresDown(e) => format!(
                "سرور PostgreSQL صف در دسترس نیست ({e})؛ آنچه ثبت شده از دست نمی‌رود و اجرای بعدی پس از بازگشت آن ادامه می‌دهد"
            ),
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
            QueueError::LeaseTaken {
                memory_id,
                host,
                pid,
                since,
            } => format!(
                "شناسه حافظه {memory_id} اکنون در اختیار اجرای دیگری است ({host}، pid {pid}، از {since} UTC): این اجرا بیش از مهلت خود متوقف مانده بود و جای آن گرفته شد، پس برای آن چیزی نمی‌فرستد؛ اجرای دیگر کار را ادامه می‌دهد"
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
            QueueError::ReferenceTaken { reference, by, by_ins, status } => {
                if *by_ins == 3 {
                    format!("صورتحساب {reference} با صورتحساب ابطالی {by} ({status}) ابطال شده است و دیگر نمی‌تواند مرجع باشد؛ چیزی در صف قرار نگرفت")
                } else {
                    format!("صورتحساب {reference} مرجع صورتحساب ارجاعی {by} ({status}) است؛ یک مرجع همزمان فقط یک اصلاحی/برگشت از فروش دارد. صورتحساب بعدی را بر {by} صادر کنید؛ چیزی در صف قرار نگرفت")
                }
            }
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
            QueueError::File {
                path,
                problem,
                detail,
            } => format!(
                "فایل صف {}: {} ({detail}). {}",
                path.display(),
                problem.what_fa(),
                problem.todo_fa(path)
            ),
        }
    }

    /// This error with the queue file named, when the file itself is the problem (damaged,
    /// not a queue, read-only, disk full); other errors are returned unchanged.
    pub fn at(self, path: &Path) -> QueueError {
        let problem = match &self {
            QueueError::Sqlite(e) => FileProblem::of_sqlite(e),
            QueueError::Io { source, .. } => FileProblem::of_io(source),
            _ => None,
        };
        match problem {
            Some(problem) => QueueError::File {
                path: path.to_path_buf(),
                problem,
                detail: match &self {
                    QueueError::Sqlite(e) => e.to_string(),
                    QueueError::Io { source, .. } => source.to_string(),
                    _ => String::new(),
                },
            },
            None => self,
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

fn reference_taken_en(reference: &str, by: &str, by_ins: i64, status: InvoiceStatus) -> String {
    if by_ins == 3 {
        format!("{reference} is cancelled by {by} ({status}); it cannot be a reference again (V7.8 §5-3); nothing was queued")
    } else {
        format!("{reference} is already the reference of {by} ({status}); a reference carries one live correction/return at a time (V7.8 §5); make the next one on {by}; nothing was queued")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Content, NewInvoice, SqliteQueue, Store};

    fn item(n: usize) -> NewInvoice<'static> {
        NewInvoice {
            source: format!("f{n}.json"),
            memory_id: "A11216".into(),
            indatim: Some(1_700_000_000_000),
            kind: Some("1".into()),
            ins: Some(1),
            dedup_key: None,
            content: Content::Numbered {
                taxid: format!("A11216{n:016}"),
                serial: None,
                payload: format!("{{\"pad\":\"{}\"}}", "x".repeat(20_000)),
                findings: None,
                invalid: false,
            },
        }
    }

    #[test]
    fn a_full_disk_names_the_file_and_says_free_space() {
        // SQLite's page limit stands for a full disk: SQLITE_FULL, like ENOSPC.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        let q = SqliteQueue::open(&path).unwrap();
        q.read(|c| {
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            c.pragma_update(None, "max_page_count", pages + 8)?;
            Ok(())
        })
        .unwrap();
        let err = (0..100)
            .map(|n| q.enqueue(item(n)))
            .find_map(Result::err)
            .expect("the disk fills");
        match &err {
            QueueError::File {
                problem, path: p, ..
            } => {
                assert_eq!(*problem, FileProblem::DiskFull);
                assert_eq!(p, &path);
            }
            other => panic!("{other:?}"),
        }
        let en = err.to_string();
        assert!(
            en.contains(&path.display().to_string()) && en.contains("Free space"),
            "{en}"
        );
        assert!(err.persian().contains("دیسک پر است"));
    }

    #[test]
    fn writing_through_a_read_only_open_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        drop(SqliteQueue::open(&path).unwrap());
        let q = SqliteQueue::open_read_only(&path).unwrap();
        let err = q.enqueue(item(1)).unwrap_err();
        assert!(
            matches!(
                &err,
                QueueError::File {
                    problem: FileProblem::ReadOnly,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("write permission"), "{err}");
    }

    #[test]
    fn a_text_file_a_damaged_file_and_another_programs_database_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.sqlite");
        std::fs::write(&text, "these are my notes, not a database\n".repeat(200)).unwrap();
        for open in [SqliteQueue::open, SqliteQueue::open_read_only] {
            let err = open(&text).map(|_| ()).unwrap_err();
            assert!(
                matches!(
                    &err,
                    QueueError::File {
                        problem: FileProblem::NotAQueue,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("notes.sqlite"), "{err}");
        }

        let damaged = dir.path().join("damaged.sqlite");
        drop(SqliteQueue::open(&damaged).unwrap());
        let mut bytes = std::fs::read(&damaged).unwrap();
        // Keep the header, overwrite the schema page's content.
        for b in bytes.iter_mut().skip(100).take(3000) {
            *b = 0xA5;
        }
        std::fs::write(&damaged, &bytes).unwrap();
        let _ = std::fs::remove_file(dir.path().join("damaged.sqlite-wal"));
        let err = SqliteQueue::open_read_only(&damaged)
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(
                &err,
                QueueError::File {
                    problem: FileProblem::Corrupt | FileProblem::NotAQueue,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("damaged.sqlite"), "{err}");

        let foreign = dir.path().join("other.db");
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);")
            .unwrap();
        drop(c);
        let err = SqliteQueue::open(&foreign).map(|_| ()).unwrap_err();
        assert!(
            matches!(
                &err,
                QueueError::File {
                    problem: FileProblem::NotAQueue,
                    ..
                }
            ),
            "{err:?}"
        );
        // Nothing of ours was written into it.
        let c = rusqlite::Connection::open(&foreign).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
