//! A taxpayer with no `moadian.toml` anywhere: the taxpayer and signer flags say everything.
//! `submit` sends to a standalone `moadian sandbox serve` with only `--memory-id`,
//! `--national-id`, `--key` and `--cert`; `status` and `report` read the queue with `--queue`
//! (or `--memory-id`) and no profile. HOME and XDG_CONFIG_HOME point to empty directories and
//! the working directory is empty, so no profile can be found by accident.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Kills the child when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An empty world: working directory, HOME and XDG_CONFIG_HOME, all empty.
struct World {
    _root: tempfile::TempDir,
    cwd: PathBuf,
    home: PathBuf,
    xdg: PathBuf,
}

impl World {
    fn new() -> World {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path().join("work");
        let home = root.path().join("home");
        let xdg = root.path().join("xdg");
        for d in [&cwd, &home, &xdg] {
            std::fs::create_dir_all(d).unwrap();
        }
        World {
            _root: root,
            cwd,
            home,
            xdg,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_moadian"));
        c.current_dir(&self.cwd)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.xdg)
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env_remove("MOADIAN_HOME")
            .env_remove("MOADIAN_CONFIG")
            .env_remove("MOADIAN_LANG")
            .env_remove("MOADIAN_PIN")
            .env("MOADIAN_POLL_FIRST_MS", "100")
            .env("MOADIAN_POLL_MAX_MS", "300");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("moadian runs")
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn serve(w: &World) -> (Child, String) {
    let mut child = Child(
        w.cmd()
            .args(["sandbox", "serve", "--port", "0", "--delay-ms", "50"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("moadian sandbox serve runs"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    (child, base)
}

/// The sandbox taxpayer's flags with a key file.
fn taxpayer<'a>(key: &'a str, cert: &'a str) -> [&'a str; 8] {
    [
        "--memory-id",
        "A11216",
        "--national-id",
        "14003778990",
        "--key",
        key,
        "--cert",
        cert,
    ]
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/invoices/valid")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn submit_with_only_flags_and_a_key_file_then_read_the_queue_without_a_profile() {
    let w = World::new();
    let id_dir = w.cwd.join("identity");
    let made = w.run(&["sandbox", "identity", "--dir", id_dir.to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made));
    let (_server, base) = serve(&w);
    let key = id_dir.join("key.pem");
    let cert = id_dir.join("cert.pem");
    let out = w.run(&[
        "--lang",
        "en",
        "submit",
        "--endpoint",
        &base,
        "--memory-id",
        "A11216",
        "--national-id",
        "14003778990",
        "--key",
        key.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--json",
        "--wait",
        "60s",
        &example("t1-p1-sale.json"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["invoices"][0]["status"], "SUCCESS", "{}", text(&out));
    // The self-signed test certificate is logged as a warning; standard error is a pipe here,
    // so the line carries no colour escapes.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cert.self_signed"), "{}", text(&out));
    assert!(!err.contains('\u{1b}'), "escape codes in a file: {err:?}");
    // Nothing was written beside the user's files: the queue is in the data directory.
    let queue = w
        .home
        .join("data")
        .join("moadian")
        .join("queue-A11216.sqlite");
    assert!(queue.is_file(), "{}", text(&out));
    assert!(
        !w.cwd.join("moadian.toml").exists() && !w.xdg.join("moadian").exists(),
        "no profile was written"
    );

    // Read-only commands need no profile: the queue file, or the memory ID's default queue.
    for args in [
        vec![
            "--lang",
            "en",
            "status",
            "--json",
            "--queue",
            queue.to_str().unwrap(),
        ],
        vec!["--lang", "en", "status", "--json", "--memory-id", "A11216"],
    ] {
        let st = w.run(&args);
        assert_eq!(st.status.code(), Some(0), "{args:?}\n{}", text(&st));
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).expect("JSON");
        assert_eq!(v["summary"]["success"], 1, "{}", text(&st));
    }
    // For people: the summary first, then only what needs attention; --all lists every row.
    let st = w.run(&["--lang", "en", "status", "--queue", queue.to_str().unwrap()]);
    let human = String::from_utf8_lossy(&st.stdout);
    assert!(
        human.starts_with("1 invoice: 1 SUCCESS, 0 FAILED"),
        "summary first, no plural slip: {human}"
    );
    assert!(
        human.contains("1 SUCCESS invoice not listed") && !human.contains("t1-p1-sale.json"),
        "{human}"
    );
    // Wide enough that the table does not wrap the (long, in a fresh clone) path.
    let st = w
        .cmd()
        .env("COLUMNS", "1000")
        .args([
            "--lang",
            "en",
            "status",
            "--all",
            "--queue",
            queue.to_str().unwrap(),
        ])
        .output()
        .expect("moadian runs");
    let listed = String::from_utf8_lossy(&st.stdout).into_owned();
    assert!(
        listed.contains("t1-p1-sale.json"),
        "--all lists the SUCCESS invoice: {listed}"
    );
    let rep = w.run(&[
        "--lang",
        "en",
        "report",
        "--format",
        "json",
        "--queue",
        queue.to_str().unwrap(),
    ]);
    assert_eq!(rep.status.code(), Some(0), "{}", text(&rep));

    // `init` writes a commented profile from flags and runs doctor on it; it never overwrites.
    let file = w.cwd.join("moadian.toml");
    let init = |force: bool| {
        let mut a = vec![
            "--lang",
            "en",
            "init",
            "--memory-id",
            "A11216",
            "--national-id",
            "14003778990",
            "--endpoint",
            &base,
            "--key",
            key.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ];
        if force {
            a.push("--force");
        }
        w.run(&a)
    };
    let first = init(false);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains("memory_id = \"A11216\"") && written.contains("# "),
        "{written}"
    );
    let doctor_ran = String::from_utf8_lossy(&first.stdout);
    assert!(
        doctor_ran.contains("failed"),
        "doctor's summary: {}",
        text(&first)
    );
    let again = init(false);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
    // The profile it wrote is found in the working directory and signs.
    let st = w.run(&[
        "--lang",
        "en",
        "doctor",
        "--key",
        key.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
    ]);
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));
}

#[test]
fn too_few_flags_and_no_profile_says_which_flags() {
    let w = World::new();
    let out = w.run(&[
        "--lang",
        "en",
        "submit",
        "--memory-id",
        "A11216",
        &example("t1-p1-sale.json"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--national-id") && err.contains("--key"),
        "{}",
        text(&out)
    );
    // --sandbox has its own taxpayer and key: flags naming another are refused, not ignored.
    let out = w.run(&[
        "submit",
        "--sandbox",
        "--memory-id",
        "B22222",
        &example("t1-p1-sale.json"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--endpoint"),
        "{}",
        text(&out)
    );
    let st = w.run(&["--lang", "en", "status"]);
    assert_ne!(st.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&st.stderr).contains("--queue"),
        "{}",
        text(&st)
    );
}

#[test]
fn every_signing_command_takes_the_same_taxpayer_and_signer_flags() {
    let flags = [
        "--memory-id",
        "--national-id",
        "--economic-code",
        "--pkcs11-module",
        "--token-label",
        "--token-serial",
        "--key-id",
        "--key",
        "--cert",
        "--profile",
        "--config",
    ];
    for cmd in [
        vec!["submit"],
        vec!["enqueue"],
        vec!["run"],
        vec!["inquire"],
        vec!["correct"],
        vec!["cancel"],
        vec!["return"],
        vec!["sign"],
        vec!["doctor"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
            .args(&cmd)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for f in flags {
            assert!(
                help.contains(&format!("{f} ")),
                "`moadian {} --help` lacks {f}:\n{help}",
                cmd.join(" ")
            );
        }
        // Every command that talks to the tax server says which with the same flag.
        if cmd != ["sign"] {
            assert!(
                help.contains("--endpoint "),
                "`moadian {} --help` lacks --endpoint:\n{help}",
                cmd.join(" ")
            );
        }
    }
}

/// `--endpoint` that is not production, tax-sandbox, sandbox or an http(s) URL is a usage
/// error (exit 2, at once), not a network outage to retry; `doctor` takes the same flag.
#[test]
fn a_malformed_endpoint_is_a_usage_error() {
    let w = World::new();
    for bad in ["not a url", "ftp://127.0.0.1:1/", "http://"] {
        for cmd in ["submit", "doctor"] {
            let file = example("t1-p1-sale.json");
            let head = ["--lang", "en", cmd, "--endpoint", bad];
            let out = w.run(&[&head[..], &taxpayer("key.pem", "cert.pem"), &[&file]].concat());
            assert_eq!(out.status.code(), Some(2), "{cmd} {bad:?}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("--endpoint") && err.contains("http"),
                "{cmd} {bad:?}: {}",
                text(&out)
            );
        }
    }
}

/// A server that answers, but not as the tax API (a wrong path under the sandbox's address):
/// the run stops before sending and says to check `--endpoint`, not the memory ID or the
/// certificate.
#[test]
fn an_endpoint_that_is_not_the_tax_api_is_named_as_the_problem() {
    let w = World::new();
    let id_dir = w.cwd.join("identity");
    let made = w.run(&["sandbox", "identity", "--dir", id_dir.to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made));
    let (_server, base) = serve(&w);
    let wrong = format!("{}/wrong/", base.trim_end_matches('/'));
    let (key, cert) = (id_dir.join("key.pem"), id_dir.join("cert.pem"));
    let (key, cert) = (key.to_str().unwrap(), cert.to_str().unwrap());
    let file = example("t1-p1-sale.json");
    let head = ["--lang", "en", "submit", "--endpoint", &wrong];
    let out = w.run(&[&head[..], &taxpayer(key, cert), &[&file]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("server.not_the_api"), "{all}");
    assert!(all.contains("--endpoint"), "{all}");
    assert!(!all.contains("4103"), "not a certificate problem: {all}");
}

/// The sending deadline the `time.late` warning names can be set where invoices are enqueued,
/// as for `validate`: `--deadline-days` or `MOADIAN_DEADLINE_DAYS`.
#[test]
fn enqueue_takes_the_sending_deadline_like_validate() {
    let w = World::new();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example("t1-p1-sale.json")).unwrap())
            .unwrap();
    let h = v["header"].as_object_mut().unwrap();
    h.remove("taxid");
    h.remove("inno");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    h.insert("indatim".into(), (now_ms - 9 * 86_400_000).into());
    let file = w.cwd.join("late.json");
    std::fs::write(&file, v.to_string()).unwrap();
    let late = |extra: &[&str], env: Option<&str>, queue: &str| {
        let mut c = w.cmd();
        if let Some(days) = env {
            c.env("MOADIAN_DEADLINE_DAYS", days);
        }
        let out = c
            .args(["--lang", "en", "enqueue", "--json"])
            .args(taxpayer("k.pem", "c.pem"))
            .args(["--queue", queue])
            .args(extra)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["invoices"][0]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["rule"] == "time.late")
    };
    assert!(late(&[], None, "a.sqlite"), "9 days > the official week");
    assert!(!late(&["--deadline-days", "12"], None, "b.sqlite"));
    assert!(!late(&[], Some("12"), "c.sqlite"));
}

/// An address that answers every request with a web page (a login page, a captive portal) is
/// not the tax API: said at once, not retried for minutes as a network outage.
#[test]
fn a_web_page_instead_of_the_api_is_not_an_outage() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let body = "<html>login</html>";
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let w = World::new();
    let id_dir = w.cwd.join("identity");
    let made = w.run(&["sandbox", "identity", "--dir", id_dir.to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made));
    let (key, cert) = (id_dir.join("key.pem"), id_dir.join("cert.pem"));
    let (key, cert) = (key.to_str().unwrap(), cert.to_str().unwrap());
    let head = ["--lang", "en", "doctor", "--endpoint", &url];
    let out = w
        .cmd()
        // (Were it taken for an outage, it would give up after 2 s, not 5 minutes.)
        .env("MOADIAN_RETRY_BASE_MS", "500")
        .env("MOADIAN_DEADLINE_MS", "2000")
        .args([&head[..], &taxpayer(key, cert)].concat())
        .output()
        .unwrap();
    let all = text(&out);
    assert!(all.contains("server.not_the_api"), "{all}");
    assert!(!all.contains("server.unreachable"), "{all}");
}

#[test]
fn init_writes_the_key_and_certificate_paths_so_they_work_from_anywhere() {
    let w = World::new();
    let made = w.run(&["sandbox", "identity", "--dir", "identity"]);
    assert!(made.status.success(), "{}", text(&made));
    let file = w.cwd.join("moadian.toml");
    let out = w.run(&[
        "--lang",
        "en",
        "init",
        "--memory-id",
        "A11216",
        "--national-id",
        "14003778990",
        "--key",
        "./identity/key.pem",
        "--cert",
        "identity/cert.pem",
        "--no-doctor",
        "--out",
        "moadian.toml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(&file).unwrap();
    let key = w.cwd.join("identity").join("key.pem");
    let cert = w.cwd.join("identity").join("cert.pem");
    assert!(
        written.contains(&format!("key_file = \"{}\"", key.display()))
            && written.contains(&format!("cert_file = \"{}\"", cert.display())),
        "a relative path would break under cron or from another directory:\n{written}"
    );
    // From another directory, the profile's key and certificate are found.
    let out = w
        .cmd()
        .current_dir(&w.home)
        .args(["--lang", "en", "doctor", "--offline", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = text(&out);
    assert!(
        shown.contains("[ok  ] key.file") && shown.contains("[ok  ] key.matches"),
        "{shown}"
    );
}
