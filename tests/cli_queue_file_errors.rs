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
