//! `status` and `report` read a PostgreSQL queue named by `--queue postgres://…`, and no
//! password given in the URL appears in any output or error. Runs against the server
//! `scripts/test.sh` starts (`MOADIAN_TEST_POSTGRES_URL`); fails, never skips, without it.

mod pg_support;
use moadian_queue::{AnyQueue, Built, Content, NewInvoice, QueueOptions, Store};
use std::process::Command;

const SECRET: &str = "Pw-never-shown-71";

fn moadian(args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    moadian_in(home.path(), args)
}

fn moadian_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(args)
        .current_dir(dir)
        .env_remove("MOADIAN_CONFIG")
        .env_remove("MOADIAN_LANG")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .output()
        .expect("run moadian");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains(SECRET),
            "the password appeared on {what} of moadian {args:?}:\n{text}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn enqueue(url: &str, n: usize) {
    let q = AnyQueue::open_with(url, QueueOptions::default()).expect("open the queue");
    enqueue_into(&q, n);
}

fn enqueue_into(q: &AnyQueue, n: usize) {
    let items = (0..n)
        .map(|i| NewInvoice {
            source: format!("invoices/{i}.json"),
            memory_id: "A11111".into(),
            indatim: Some(1_750_000_000_000),
            kind: None,
            ins: Some(1),
            dedup_key: None,
            content: Content::Allocate(Box::new(|serial| {
                let taxid = format!("A11111{serial:016X}");
                Ok(Built {
                    payload: format!(
                        r#"{{"header":{{"taxid":"{taxid}","inno":"{serial:010X}","tbill":"2750000"}},"body":[]}}"#
                    ),
                    taxid,
                    findings: None,
                    invalid: false,
                    indatim: None,
                })
            })),
        })
        .collect();
    q.enqueue_batch(items).unwrap();
}

#[test]
fn status_and_report_read_a_postgres_queue_and_never_show_its_password() {
    let url = pg_support::schema_url("cli", Some(SECRET));
    // Before anything was enqueued there is no queue: a clear error, no password.
    let (code, _, err) = moadian(&["status", "--queue", &url, "--lang", "en"]);
    assert_ne!(code, 0);
    assert!(err.contains("holds no queue yet"), "{err}");
    assert!(
        err.contains(":***@"),
        "the URL is shown without its password: {err}"
    );

    enqueue(&url, 3);
    let (code, out, err) = moadian(&["status", "--queue", &url, "--lang", "en", "--json"]);
    assert_eq!(code, 1, "not everything is SUCCESS yet: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("status --json is JSON");
    let text = v.to_string();
    assert!(text.matches("QUEUED").count() >= 3, "{text}");

    let (code, out, err) = moadian(&["report", "--queue", &url, "--lang", "en", "--format", "csv"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn an_unreachable_server_is_named_without_the_password() {
    let url = format!("postgres://moadian:{SECRET}@127.0.0.1:1/nothing");
    let (code, _, err) = moadian(&["status", "--queue", &url, "--lang", "en"]);
    assert_ne!(code, 0);
    assert!(err.contains("127.0.0.1:1"), "{err}");
    let (code, _, _) = moadian(&["report", "--queue", &url]);
    assert_ne!(code, 0);
}

#[test]
fn a_profile_names_a_postgres_queue() {
    let url = pg_support::schema_url("cli", Some(SECRET));
    enqueue(&url, 2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moadian.toml"),
        format!(
            "[profiles.shop]\nmemory_id = \"A11111\"\nnational_id = \"14003778990\"\nqueue = \"{url}\"\n"
        ),
    )
    .unwrap();
    let (code, out, err) = moadian_in(dir.path(), &["status", "--lang", "en", "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert!(v.to_string().matches("QUEUED").count() >= 2, "{v}");
}

#[test]
fn queue_copy_moves_a_file_into_postgres_once() {
    let url = pg_support::schema_url("cli", Some(SECRET));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queue.sqlite");
    {
        let q = AnyQueue::open_with(file.to_str().unwrap(), QueueOptions::default()).unwrap();
        enqueue_into(&q, 4);
    }
    let f = file.to_str().unwrap();
    let (code, out, err) = moadian(&["--lang", "en", "queue", "copy", "--from", f, "--to", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 invoices"), "{out}");
    let (_, out, err) = moadian(&["status", "--queue", &url, "--lang", "en", "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(v["invoices"].as_array().map(Vec::len), Some(4), "{v}");
    // Again: the tax IDs are already there; refused, nothing written.
    let (code, out, err) = moadian(&["--lang", "en", "queue", "copy", "--from", f, "--to", &url]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already holds tax ID"), "{err}");
    let (_, out, _) = moadian(&["status", "--queue", &url, "--lang", "en", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["invoices"].as_array().map(Vec::len), Some(4), "{v}");
}

#[test]
fn status_shows_which_runner_holds_which_memory_id_since_when() {
    let url = pg_support::schema_url("cli", Some(SECRET));
    enqueue(&url, 1);
    let q = moadian_queue::PgQueue::open(&url).unwrap();
    let runner = q.acquire_runner_for(&["A11111".to_string()]).unwrap();
    let (_, out, err) = moadian(&["status", "--queue", &url, "--lang", "en"]);
    let short = &runner.runner_id()[..8];
    let line = out
        .lines()
        .find(|l| l.contains("holds memory ID A11111 since"))
        .unwrap_or_else(|| panic!("no lease line:\n{out}{err}"));
    assert!(line.contains(short), "{line}");
    assert!(
        line.contains(&format!("(pid {})", std::process::id())),
        "{line}"
    );
    drop(runner);
    let (_, out, _) = moadian(&["status", "--queue", &url, "--lang", "en"]);
    assert!(
        !out.contains("holds memory ID"),
        "released when the runner ended:\n{out}"
    );
}
