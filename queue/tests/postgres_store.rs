//! What only the PostgreSQL queue has: the database itself refuses what must never happen
//! (a second unfinished attempt, an attempt for an invoice that is not QUEUED, a serial counter
//! going back, a changed or deleted event, a tax ID twice), one runner per queue across
//! processes, and no password in any message. Runs against the server `scripts/test.sh`
//! starts (fails without it).

#[macro_use]
mod common;

use common::*;
use moadian_queue::*;

fn raw(f: &Fixture) -> ::postgres::Client {
    ::postgres::Client::connect(&f.spec, ::postgres::NoTls).expect("connect")
}

fn refused(c: &mut ::postgres::Client, sql: &str) -> String {
    match c.batch_execute(sql) {
        Ok(()) => panic!("the database accepted: {sql}"),
        Err(e) => e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_else(|| e.to_string()),
    }
}

#[test]
fn the_database_refuses_a_second_open_attempt_and_an_attempt_for_an_invoice_not_queued() {
    let f = Fixture::on(Backend::Postgres);
    let runner = f.queue.acquire_runner().unwrap();
    let (id, a) = one_attempt(&f, &runner);
    let mut c = raw(&f);
    let msg = refused(
        &mut c,
        &format!(
            "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status, created_at, updated_at)
             VALUES ('{}', {}, 'x', 1, 'SENDING', 0, 0)",
            uuid::Uuid::new_v4(),
            id.0
        ),
    );
    assert!(msg.contains("not QUEUED"), "{msg}");
    // Even with the invoice forced back to QUEUED, the open attempt blocks a second one.
    c.batch_execute(&format!(
        "UPDATE invoices SET status = 'QUEUED' WHERE id = {}",
        id.0
    ))
    .unwrap();
    let msg = refused(
        &mut c,
        &format!(
            "INSERT INTO attempts (uid, invoice_id, batch_id, invoice_revision, status, created_at, updated_at)
             VALUES ('{}', {}, 'x', 1, 'SENDING', 0, 0)",
            uuid::Uuid::new_v4(),
            id.0
        ),
    );
    assert!(msg.contains("attempts_one_open"), "{msg}");
    assert_eq!(f.queue.attempts(id).unwrap(), vec![a]);
}

#[test]
fn the_event_log_is_append_only_and_serials_never_go_back() {
    let f = Fixture::on(Backend::Postgres);
    enqueue_n(&f.queue, 2);
    let mut c = raw(&f);
    for sql in [
        "UPDATE events SET kind = 'x'",
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
    ] {
        let msg = refused(&mut c, sql);
        assert!(msg.contains("append-only"), "{sql}: {msg}");
    }
    let msg = refused(&mut c, "UPDATE serials SET last = last - 1");
    assert!(msg.contains("backwards"), "{msg}");
    let msg = refused(&mut c, "DELETE FROM serials");
    assert!(msg.contains("never removed"), "{msg}");
    let msg = refused(
        &mut c,
        "INSERT INTO invoices (source, memory_id, taxid, status, created_at, updated_at)
         SELECT source, memory_id, taxid, 'QUEUED', 0, 0 FROM invoices LIMIT 1",
    );
    assert!(msg.contains("invoices_taxid_key"), "{msg}");
    assert_consistent(&f.queue);
}

#[test]
fn one_runner_per_queue_and_another_process_sees_busy() {
    let f = Fixture::on(Backend::Postgres);
    let first = f.queue.acquire_runner().unwrap();
    let other = f.reopen();
    match other.acquire_runner() {
        Err(QueueError::Busy { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        r => panic!("expected Busy, got {r:?}"),
    }
    drop(first);
    other
        .acquire_runner()
        .expect("free again once the first runner ended");
}

#[test]
fn queues_in_two_schemas_are_separate() {
    let a = Fixture::on(Backend::Postgres);
    let b = Fixture::on(Backend::Postgres);
    enqueue_n(&a.queue, 3);
    assert_eq!(a.queue.summary().unwrap().queued, 3);
    assert_eq!(b.queue.summary().unwrap().queued, 0);
    let _ra = a.queue.acquire_runner().unwrap();
    let _rb = b
        .queue
        .acquire_runner()
        .expect("the runner lock is per queue");
}

#[test]
fn read_only_open_never_creates_a_queue() {
    let s = PgSchema::new();
    let e = AnyQueue::open_read_only(&s.url).unwrap_err();
    assert!(e.to_string().contains("holds no queue"), "{e}");
    let mut c = ::postgres::Client::connect(&s.url, ::postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn a_schema_of_another_program_is_not_written_into() {
    let s = PgSchema::new();
    let mut c = ::postgres::Client::connect(&s.url, ::postgres::NoTls).unwrap();
    c.batch_execute("CREATE TABLE customers (id int)").unwrap();
    let e = AnyQueue::open_with(&s.url, QueueOptions::default()).unwrap_err();
    assert!(e.to_string().contains("another program"), "{e}");
}

#[test]
fn no_password_in_any_message() {
    let base = postgres_url();
    let secret = "Zq8-very-secret-pw";
    // A server that is not there (port 1), a password in the URL and in the query.
    for url in [
        format!("postgres://moadian:{secret}@127.0.0.1:1/moadian_test"),
        format!("postgresql://127.0.0.1:1/moadian_test?user=moadian&password={secret}"),
    ] {
        let e = AnyQueue::open_with(&url, QueueOptions::default()).unwrap_err();
        for text in [e.to_string(), e.persian(), format!("{e:?}")] {
            assert!(!text.contains(secret), "password shown: {text}");
        }
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    }
    // Connected: the URL a queue shows has no password either.
    let with_pw = base.replacen("://moadian@", &format!("://moadian:{secret}@"), 1);
    if with_pw != base {
        let q = AnyQueue::open_with(&with_pw, QueueOptions::default()).unwrap();
        assert!(!q.shown().contains(secret), "{}", q.shown());
        assert!(!format!("{q:?}").contains(secret));
    }
}
