//! A queue file that is not a queue, damaged or of a newer schema: one message naming the file,
//! what is wrong and what to do — in the chosen language (`--lang both`: both), never repeated.

use std::path::Path;
use std::process::Command;

fn status(home: &Path, queue: &Path, lang: Option<&str>) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moadian"));
    if let Some(l) = lang {
        c.args(["--lang", l]);
    }
    let out = c
        .args(["status", "--sandbox", "--queue"])
        .arg(queue)
        .env("MOADIAN_HOME", home)
        .env_remove("MOADIAN_LANG")
        .env_remove("MOADIAN_CONFIG")
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn queue_file_problems_are_one_message_in_the_chosen_language() {
    let home = tempfile::tempdir().unwrap();
    let q = home.path().join("notes.sqlite");
    std::fs::write(&q, "my notes, not a queue\n".repeat(300)).unwrap();
    let shown = q.display().to_string();

    let (code, en) = status(home.path(), &q, Some("en"));
    assert_eq!(code, 1, "{en}");
    assert!(
        en.contains("not a moadian queue file") && en.contains("--queue"),
        "{en}"
    );
    assert_eq!(en.matches(&shown).count(), 1, "named once: {en}");
    assert!(!en.contains("فایل صف"), "English only: {en}");

    let (_, fa) = status(home.path(), &q, Some("fa"));
    assert!(
        fa.contains("این فایل صف moadian نیست") && fa.contains(&shown),
        "{fa}"
    );
    assert!(
        !fa.contains("not a moadian queue file"),
        "Persian only: {fa}"
    );

    let (_, both) = status(home.path(), &q, Some("both"));
    assert!(
        both.contains("not a moadian queue file") && both.contains("این فایل صف moadian نیست"),
        "{both}"
    );

    // A newer schema: upgrade moadian.
    let newer = home.path().join("newer.sqlite");
    drop(moadian_queue::SqliteQueue::open(&newer).unwrap());
    let c = rusqlite::Connection::open(&newer).unwrap();
    c.pragma_update(None, "user_version", 999).unwrap();
    drop(c);
    let (code, en) = status(home.path(), &newer, Some("en"));
    assert_eq!(code, 1, "{en}");
    assert!(
        en.contains("upgrade moadian") && en.contains("newer.sqlite"),
        "{en}"
    );
}

/// `queue check` counts the queue's own statuses; an invoice left SENDING by a run that was
/// killed is what `status` shows as UNKNOWN, and the check says so beside the count.
#[test]
fn queue_check_says_what_sending_is_in_status() {
    use moadian_queue::{RunnerStore, Store};
    let home = tempfile::tempdir().unwrap();
    let q = home.path().join("q.sqlite");
    let queue = moadian_queue::SqliteQueue::open(&q).unwrap();
    let placed = queue
        .enqueue(moadian_queue::NewInvoice {
            source: "a.json".into(),
            memory_id: "A11216".into(),
            indatim: None,
            kind: None,
            ins: None,
            dedup_key: None,
            content: moadian_queue::Content::Numbered {
                taxid: "A11216049E8A00000000A2".into(),
                serial: None,
                payload: "{}".into(),
                findings: None,
                invalid: false,
            },
        })
        .unwrap();
    let runner = queue.acquire_runner().unwrap();
    let key = queue
        .get(placed.placed().unwrap().id)
        .unwrap()
        .unwrap()
        .key();
    runner.begin_attempt(&[key], "b").unwrap();
    drop(runner);
    drop(queue);
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(["--lang", "en", "queue", "--queue"])
        .arg(&q)
        .arg("check")
        .env("MOADIAN_HOME", home.path())
        .env_remove("MOADIAN_LANG")
        .env_remove("MOADIAN_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 SENDING (UNKNOWN in `status`"), "{text}");
}

#[test]
fn another_programs_sqlite_file_is_not_a_queue_to_migrate() {
    let home = tempfile::tempdir().unwrap();
    let q = home.path().join("other.sqlite");
    let conn = rusqlite::Connection::open(&q).unwrap();
    conn.execute_batch("CREATE TABLE x(a); INSERT INTO x VALUES (1);")
        .unwrap();
    drop(conn);
    let (code, en) = status(home.path(), &q, Some("en"));
    assert_eq!(code, 1, "{en}");
    assert!(en.contains("not a moadian queue file"), "{en}");
    assert!(!en.contains("migrat"), "never advice to migrate it: {en}");
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(["--lang", "en", "queue", "--queue"])
        .arg(&q)
        .arg("check")
        .env("MOADIAN_HOME", home.path())
        .env_remove("MOADIAN_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("not a moadian queue file"), "{err}");
    assert!(!err.contains("migrat"), "{err}");
    // Untouched.
    let conn = rusqlite::Connection::open(&q).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}
