//! The queue file itself: one runner at a time (invariant 8), readers alongside it, mode 0600,
//! WAL + synchronous=FULL, versioned migrations, an append-only event log.

mod common;

use common::*;
use moadian_queue::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Held while a test of this binary starts a process, and by a test that drops its runner lock
/// and takes it again: a process being started holds a copy of every open descriptor until it
/// runs its program, the lock's too, so the lock would outlive its runner for that moment.
static STARTING_PROCESSES: Mutex<()> = Mutex::new(());

#[test]
fn invariant_8_second_runner_is_busy() {
    let _no_process_starts = STARTING_PROCESSES.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new();
    let runner = f.queue.acquire_runner().unwrap();
    let other = f.reopen();
    match other.acquire_runner() {
        Err(e @ QueueError::Busy { .. }) => {
            let QueueError::Busy { pid, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*pid, Some(std::process::id()));
            let msg = e.to_string();
            assert!(
                msg.contains("busy") && msg.contains(&std::process::id().to_string()),
                "{msg}"
            );
            assert!(e.persian().contains("مشغول"));
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    drop(runner);
    other
        .acquire_runner()
        .expect("free again once the runner is gone");
}

#[test]
fn invariant_8_runner_in_another_process_is_named_and_readers_still_work() {
    let f = Fixture::new();
    enqueue_n(&f.queue, 3);
    let mut child = {
        let _starting = STARTING_PROCESSES.lock().unwrap_or_else(|e| e.into_inner());
        Command::new(env!("CARGO_BIN_EXE_moadian-queue-stress"))
            .arg("hold")
            .arg(f.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the holder")
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("READY"), "{line}");
    match f.queue.acquire_runner() {
        Err(QueueError::Busy { pid, .. }) => assert_eq!(pid, Some(child.id())),
        other => panic!("expected Busy, got {other:?}"),
    }
    // `status` (read-only) and `enqueue` work while the runner holds the queue.
    let ro = Queue::open_read_only(f.path()).unwrap();
    assert_eq!(ro.summary().unwrap().queued, 3);
    assert_eq!(ro.list(&ListFilter::default()).unwrap().len(), 3);
    assert!(matches!(
        ro.acquire_runner(),
        Err(QueueError::InvalidInput(_))
    ));
    enqueue_n(&f.queue, 1);
    assert_eq!(ro.summary().unwrap().queued, 4);
    // The holder dies: the kernel releases the lock, no stale lock file blocks the next run.
    child.stdin.take().unwrap().write_all(b"bye").unwrap();
    child.kill().ok();
    child.wait().unwrap();
    f.queue
        .acquire_runner()
        .expect("lock released with its holder");
}

#[cfg(unix)]
#[test]
fn queue_files_are_private_0600() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let _runner = f.queue.acquire_runner().unwrap();
    enqueue_n(&f.queue, 1);
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let p = format!("{}{suffix}", f.path().display());
        let mode = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{p} has mode {:o}", mode & 0o777);
    }
    // An existing file readable by others is tightened when opened.
    let loose = f.dir.path().join("loose.db");
    drop(Queue::open(&loose).unwrap());
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    Queue::open(&loose).unwrap();
    let mode = std::fs::metadata(&loose).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn durable_pragmas_are_set() {
    let f = Fixture::new();
    let conn = rusqlite::Connection::open(f.path()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(
        f.queue.as_sqlite().unwrap().schema_version().unwrap(),
        LATEST_VERSION
    );
    // synchronous and foreign_keys are per connection; checked through the queue's behaviour:
    // an attempt pointing at no invoice is refused.
    let r = rusqlite::Connection::open(f.path()).and_then(|c| {
        c.pragma_update(None, "foreign_keys", true)?;
        c.execute(
            "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status, created_at, updated_at)
             VALUES ('x', 999, 'b', 1, 'SENDING', 0, 0)",
            [],
        )
    });
    assert!(r.is_err());
}

#[test]
fn migrations_bring_an_old_file_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrate_to_version(&mut conn, 1).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
        conn.execute(
            "INSERT INTO invoices (source, memory_id, taxid, serial, payload, status, created_at, updated_at)
             VALUES ('old.json', 'A11111', 'A111110000000000000001', 1, '{}', 'QUEUED', 1, 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO serials (memory_id, last) VALUES ('A11111', 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO events (invoice_id, at, kind, pid) VALUES (1, 1, 'enqueued', 1)",
            [],
        )
        .unwrap();
    }
    assert!(matches!(
        Queue::open_read_only(&path),
        Err(QueueError::NeedsMigration { found: 1, .. })
    ));
    let q = Queue::open(&path).unwrap();
    assert_eq!(q.schema_version().unwrap(), LATEST_VERSION);
    let inv = q
        .find_by_taxid("A111110000000000000001")
        .unwrap()
        .expect("old row kept");
    assert_eq!(inv.status, InvoiceStatus::Queued);
    assert_eq!(inv.dedup_key, None);
    // The migrated file works: numbering continues above every old serial, in the file's own
    // block (v3); attempts get the new columns.
    let next = placed(&q.enqueue(alloc("new.json")).unwrap())
        .serial
        .unwrap();
    assert_eq!(next, base(&q) + 1);
    assert!(next > 1);
    let runner = q.acquire_runner().unwrap();
    let a = runner.begin_attempt(&[inv.key()], "b").unwrap().remove(0);
    runner
        .record_outcome(a.uid, ServerStatus::InProgress, None, None)
        .unwrap();
    assert!(q.attempt(a.uid).unwrap().unwrap().polled_at.is_some());
    assert_consistent(&q);
}

/// Statement programs of the send path's writes, and whether any builds a temporary b-tree
/// (an `IN (...)` list of more than two constants in a CHECK or a partial index predicate).
fn send_path_writes_use_ephemeral_tables(c: &rusqlite::Connection) -> Vec<String> {
    [
        "UPDATE attempts SET status = 'IN_PROGRESS', updated_at = 1 WHERE uid = 'x' AND status = 'SENDING'",
        "UPDATE invoices SET status = 'SUCCESS', updated_at = 1 WHERE id = 1 AND last_attempt = 'x'",
        "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status, created_at, updated_at)
         VALUES ('y', 1, 'b', 1, 'SENDING', 1, 1)",
    ]
    .into_iter()
    .filter(|sql| {
        let mut st = c.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let ops: Vec<String> = st
            .query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        ops.iter().any(|o| o == "OpenEphemeral")
    })
    .map(str::to_string)
    .collect()
}

#[test]
fn migration_to_v4_keeps_every_status_and_the_file_still_refuses_a_bad_one() {
    let invoice_statuses = [
        "INVALID",
        "QUEUED",
        "SENDING",
        "IN_PROGRESS",
        "SUCCESS",
        "FAILED",
        "UNKNOWN",
    ];
    let attempt_statuses = [
        "SENDING",
        "IN_PROGRESS",
        "UNKNOWN",
        "SUCCESS",
        "FAILED",
        "REJECTED",
        "LOST",
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrate_to_version(&mut conn, 3).unwrap();
        for (i, s) in invoice_statuses.iter().enumerate() {
            conn.execute(
                "INSERT INTO invoices (id, source, memory_id, status, created_at, updated_at)
                 VALUES (?1, 'old.json', 'A11111', ?2, 1, 1)",
                rusqlite::params![i as i64 + 1, s],
            )
            .unwrap();
        }
        for (i, s) in attempt_statuses.iter().enumerate() {
            conn.execute(
                "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status,
                                       created_at, updated_at)
                 VALUES (?1, ?2, 'b', 1, ?3, 1, 1)",
                rusqlite::params![format!("u{i}"), i as i64 + 1, s],
            )
            .unwrap();
        }
        assert!(
            !send_path_writes_use_ephemeral_tables(&conn).is_empty(),
            "a v3 file builds temporary b-trees (what v4 removes)"
        );
    }
    let q = Queue::open(&path).unwrap();
    assert_eq!(q.schema_version().unwrap(), LATEST_VERSION);
    const { assert!(LATEST_VERSION >= 4) };
    let c = q.check().unwrap();
    assert_eq!(c.integrity, ["ok"]);
    drop(q);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let rows = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(
        rows("SELECT status FROM invoices ORDER BY id"),
        invoice_statuses
    );
    assert_eq!(
        rows("SELECT status FROM attempts ORDER BY uid"),
        attempt_statuses
    );
    assert_eq!(
        send_path_writes_use_ephemeral_tables(&conn),
        Vec::<String>::new()
    );
    // The file itself still refuses a status it does not know, on either table, and a second
    // unfinished attempt of one invoice (invariant 3).
    let bad_invoice = conn.execute(
        "INSERT INTO invoices (source, memory_id, status, created_at, updated_at)
         VALUES ('x', 'A11111', 'BOGUS', 1, 1)",
        [],
    );
    assert!(
        format!("{bad_invoice:?}").contains("CHECK constraint failed"),
        "{bad_invoice:?}"
    );
    let bad_attempt = conn.execute(
        "UPDATE attempts SET status = 'sending' WHERE uid = 'u0'",
        [],
    );
    assert!(
        format!("{bad_attempt:?}").contains("CHECK constraint failed"),
        "{bad_attempt:?}"
    );
    for (uid, open) in [("u3", "SENDING"), ("u4", "IN_PROGRESS"), ("u5", "UNKNOWN")] {
        // u3..u5 belong to invoices 4..6, whose only attempts are final; point them at
        // invoice 1, which has an unfinished one.
        let r = conn.execute(
            "UPDATE attempts SET invoice_id = 1, status = ?2 WHERE uid = ?1",
            [uid, open],
        );
        assert!(
            format!("{r:?}").contains("UNIQUE constraint failed"),
            "{uid} {open}: {r:?}"
        );
    }
    // A final attempt of the same invoice is allowed next to the open one.
    conn.execute("UPDATE attempts SET invoice_id = 1 WHERE uid = 'u3'", [])
        .unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn a_v3_file_whose_status_check_was_changed_by_something_else_is_not_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrate_to_version(&mut conn, 3).unwrap();
        // Another program edited the table's CHECK (same meaning, other text).
        let v: i64 = conn
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "writable_schema", true).unwrap();
        conn.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, 'status IN', 'status  IN')
             WHERE type = 'table' AND name = 'attempts'",
            [],
        )
        .unwrap();
        conn.pragma_update(None, "schema_version", v + 1).unwrap();
        conn.pragma_update(None, "writable_schema", false).unwrap();
    }
    let r = Queue::open(&path);
    assert!(
        format!("{r:?}").contains("does not have the status CHECK this program wrote"),
        "{r:?}"
    );
    // Nothing of v4 was written: the whole upgrade rolled back.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 3);
    let index: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'attempts_one_open'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(index.contains("status IN"), "{index}");
    let invoices: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'invoices'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(invoices.contains("status IN"), "{invoices}");
}

#[test]
fn a_file_from_a_newer_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    Queue::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", LATEST_VERSION + 1)
        .unwrap();
    drop(conn);
    assert!(matches!(Queue::open(&path), Err(QueueError::TooNew { .. })));
    assert!(matches!(
        Queue::open_read_only(&path),
        Err(QueueError::TooNew { .. })
    ));
}

#[test]
fn the_event_log_is_append_only() {
    let f = Fixture::new();
    let id = enqueue_n(&f.queue, 1)[0];
    let conn = rusqlite::Connection::open(f.path()).unwrap();
    assert!(conn.execute("UPDATE events SET kind = 'x'", []).is_err());
    assert!(conn.execute("DELETE FROM events", []).is_err());
    let ev = f.queue.events(id).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].to_status, Some(InvoiceStatus::Queued));
    assert_eq!(ev[0].pid, std::process::id());
}

#[test]
fn open_creates_a_missing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moadian/queues/main.db");
    Queue::open(&path).unwrap();
    assert!(path.exists());
}

#[test]
fn open_read_only_does_not_create_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    assert!(matches!(
        Queue::open_read_only(&path),
        Err(QueueError::Io { .. })
    ));
    assert!(!path.exists());
}
