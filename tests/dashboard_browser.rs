//! The dashboard of `moadian serve` (issue #16) in a real headless Chromium: each page in
//! Persian (right to left) and English renders with the queue's numbers, an invoice whose text
//! is markup shows it as text, and screenshots are kept as test artifacts under
//! `target/tmp/browser-artifacts/`. The sign-in cookie, when the service has a token, over HTTP.

mod serve_support;
use serve_support::*;
use std::path::PathBuf;
use std::process::Command;

/// Debian's Chromium (scripts/test.sh installs it), or `MOADIAN_TEST_CHROMIUM`.
fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("MOADIAN_TEST_CHROMIUM") {
        return PathBuf::from(p);
    }
    for p in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if std::path::Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("the dashboard tests need Chromium: run scripts/test.sh (it installs it) or set MOADIAN_TEST_CHROMIUM")
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Chromium's flags for a closed machine: no sandbox (CI runs as root), no background
/// connections, a fresh profile.
fn browser(profile: &std::path::Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The page's DOM after Chromium rendered it, and a screenshot of it saved as `name.png`.
fn render(url: &str, name: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = browser(profile.path())
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "{url}: no page\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shot = artifacts().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let out = browser(profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,1000")
        .arg(url)
        .output()
        .expect("chromium runs");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 1000,
        "{url}: no screenshot\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_persian_and_english_with_the_queues_numbers() {
    let s = Server::start(&[]);
    // One accepted invoice, and one whose description is markup (its own tax ID).
    let (code, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200, "{v:#}");
    let sale = v["invoices"][0]["taxid"].as_str().unwrap().to_string();
    let mut hostile: serde_json::Value = serde_json::from_slice(&read(SALE)).unwrap();
    hostile["header"].as_object_mut().unwrap().remove("taxid");
    hostile["header"].as_object_mut().unwrap().remove("inno");
    hostile["body"][0]["sstt"] =
        "<b id=\"injected\">bold</b><script>document.title='pwned'</script>".into();
    let (code, _, v) = s
        .post(
            "/invoices",
            "application/json",
            serde_json::to_vec(&hostile).unwrap(),
        )
        .await;
    assert_eq!(code, 200, "{v:#}");
    let marked = v["invoices"][0]["taxid"].as_str().unwrap().to_string();
    s.until_final(&sale).await;
    s.until_final(&marked).await;
    let (_, _, page) = s.get("/invoices").await;
    let counts = &page["counts"];

    for (lang, q, dir) in [("fa", "", "rtl"), ("en", "?lang=en", "ltr")] {
        let dom = render(&format!("{}/{q}", s.base), &format!("overview-{lang}"));
        assert!(
            dom.contains(&format!("lang=\"{lang}\" dir=\"{dir}\"")),
            "{dom}"
        );
        for key in ["total", "success", "failed", "invalid", "queued"] {
            let want = format!("id=\"count-{key}\">{}<", counts[key]);
            assert!(dom.contains(&want), "{want} in {dom}");
        }
        assert!(dom.contains("id=\"memory-id\">A11216<"), "{dom}");
        assert!(dom.contains("id=\"checklist\""), "{dom}");
        assert!(dom.contains("data-check=\"server."), "{dom}");
        assert!(!dom.contains("data-status=\"fail\""), "{dom}");

        let dom = render(
            &format!("{}/invoices{q}", s.base),
            &format!("invoices-{lang}"),
        );
        assert!(dom.contains(&sale) && dom.contains(&marked), "{dom}");
        assert!(dom.contains("data-status=\"SUCCESS\""), "{dom}");

        let dom = render(
            &format!("{}/invoices/{marked}{q}", s.base),
            &format!("invoice-{lang}"),
        );
        // The markup is text: escaped, no element made of it, its script never ran.
        assert!(!dom.contains("<b id=\"injected\">"), "{dom}");
        assert!(dom.contains("&lt;b id=\"injected\"&gt;"), "{dom}");
        assert!(!dom.contains("pwned</title>"), "{dom}");
        assert!(dom.contains("id=\"reference\""), "{dom}");
        assert!(dom.contains("data-field=\"tbill\""), "{dom}");
    }
    // The English overview says so in English.
    let dom = render(&format!("{}/?lang=en", s.base), "overview-en-again");
    assert!(dom.contains("Needs attention first"), "{dom}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_pages_ask_for_it_once_and_keep_it_in_a_strict_cookie() {
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, "dashboard-token-123456\n").unwrap();
    let s = Server::start_in(home, &["--token-file", token_file.to_str().unwrap()])
        .unwrap_or_else(|(c, e)| panic!("{c:?}: {e}"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = http
        .post(format!("{}/login", s.base))
        .form(&[("token", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let r = http
        .post(format!("{}/login", s.base))
        .form(&[("token", "dashboard-token-123456")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = http
        .get(format!("{}/", s.base))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"count-total\""), "{page}");
}
