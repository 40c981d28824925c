//! A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
//! commands on fd 3, answers on fd 4, each a JSON message ended by a NUL byte) — clicks, file
//! inputs and screenshots as a person would make them, with no driver to install.

use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Debian's Chromium (scripts/test.sh installs it), or `MOADIAN_TEST_CHROMIUM`.
pub fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("MOADIAN_TEST_CHROMIUM") {
        return PathBuf::from(p);
    }
    for p in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("the dashboard tests need Chromium: run scripts/test.sh (it installs it) or set MOADIAN_TEST_CHROMIUM")
}

/// Chromium's flags for a closed machine: no sandbox (CI runs as root), no background
/// connections, a fresh profile.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// A pipe whose two ends are numbered 10 or above (so dup2 onto 3 and 4 never meets them).
fn high_pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let hi = |fd: i32| {
        let h = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        assert!(h >= 10);
        unsafe { libc::close(fd) };
        h
    };
    (hi(fds[0]), hi(fds[1]))
}

pub struct Browser {
    child: Child,
    to: File,
    messages: Receiver<Value>,
    next: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let (cmd_r, cmd_w) = high_pipe();
        let (out_r, out_w) = high_pipe();
        let mut c = Command::new(chromium());
        c.args(FLAGS)
            .arg("--remote-debugging-pipe")
            .arg("--window-size=1200,1000")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        unsafe {
            c.pre_exec(move || {
                if libc::dup2(cmd_r, 3) < 0 || libc::dup2(out_w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c.spawn().expect("chromium starts");
        unsafe {
            libc::close(cmd_r);
            libc::close(out_w);
        }
        let to = unsafe { File::from_raw_fd(cmd_w) };
        let from = unsafe { File::from_raw_fd(out_r) };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(from);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                            if tx.send(v).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to,
            messages: rx,
            next: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}), false);
        let id = target["targetId"].as_str().expect("a page").to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
            false,
        );
        b.session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        b.call("Page.enable", json!({}), true);
        b.call("Runtime.enable", json!({}), true);
        b
    }

    /// Sends one command and waits (bounded) for its answer.
    fn call(&mut self, method: &str, params: Value, on_page: bool) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if on_page {
            msg["sessionId"] = Value::String(self.session.clone());
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(v) if v["id"] == id => {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("chromium did not answer {method}"),
                Err(RecvTimeoutError::Disconnected) => panic!("chromium ended during {method}"),
            }
        }
    }

    /// Runs `expr` in the page and returns its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            true,
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits until the page at a URL containing `part` has loaded.
    pub fn wait_for(&mut self, part: &str) {
        for _ in 0..400 {
            let state = self.eval("[location.href, document.readyState]");
            if state[0].as_str().is_some_and(|u| u.contains(part)) && state[1] == "complete" {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the page {part} did not load");
    }

    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}), true);
        self.wait_for(url);
    }

    /// Chooses files in a file input, as a person would in the file dialog.
    pub fn set_files(&mut self, selector: &str, files: &[&Path]) {
        let doc = self.call("DOM.getDocument", json!({}), true);
        let root = doc["root"]["nodeId"].clone();
        let node = self.call(
            "DOM.querySelector",
            json!({"nodeId": root, "selector": selector}),
            true,
        );
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.call(
            "DOM.setFileInputFiles",
            json!({"files": files, "nodeId": node["nodeId"]}),
            true,
        );
    }

    /// Clicks an element and waits for the page it leads to.
    pub fn click_to(&mut self, selector: &str, next: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        self.eval(&format!("document.querySelector({sel}).click(), true"));
        self.wait_for(next);
    }

    pub fn screenshot(&mut self, path: &Path) {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}), true);
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("png data"))
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
