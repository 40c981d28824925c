//! The dashboard of `moadian serve` (issue #16) in a real headless Chromium: each page in
//! Persian (right to left) and English renders with the queue's numbers, an invoice whose text
//! is markup shows it as text, and screenshots are kept as test artifacts under
//! `target/tmp/browser-artifacts/`. A person's upload — choose the example spreadsheet, check
//! it, confirm — is clicked through in the browser and reaches SUCCESS on the sandbox. The
//! sign-in cookie and the forms' CSRF token, over HTTP.

mod serve_support;
use serve_support::cdp::{self, Browser};
use serve_support::*;
use std::path::PathBuf;
use std::process::Command;

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn browser(profile: &std::path::Path) -> Command {
    let mut c = Command::new(cdp::chromium());
    c.args(cdp::FLAGS)
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
        assert!(dom.contains("id=\"last-passes\""), "{dom}");
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
    for (lang, q) in [("fa", ""), ("en", "?lang=en")] {
        let dom = render(
            &format!("{}/upload{q}", s.base),
            &format!("upload-form-{lang}"),
        );
        assert!(dom.contains("name=\"csrf\""), "{dom}");
        assert!(dom.contains("type=\"file\""), "{dom}");
        let dom = render(&format!("{}/report{q}", s.base), &format!("report-{lang}"));
        assert!(dom.contains("id=\"vat-chart\""), "{dom}");
        assert!(dom.contains("data-period=\"total\""), "{dom}");
    }
    // The report downloads as CSV and HTML from the dashboard too.
    for (format, want) in [("csv", "text/csv"), ("html", "text/html")] {
        let r = reqwest::get(format!("{}/report/download?format={format}", s.base))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(want), "{ct}");
        assert!(r.text().await.unwrap().contains(&sale));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_spreadsheet_is_checked_confirmed_and_reaches_success_and_the_overview_counts_it(
) {
    let s = Server::start(&[]);
    let base = s.base.clone();
    let sheet = std::path::PathBuf::from(SHEET);
    // The browser is driven from a thread of its own (its calls block).
    let (queued, report_dom) = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let mut b = Browser::launch();
            b.goto(&format!("{base}/upload?lang=en"));
            b.screenshot(&artifacts().join("upload-en.png"));
            b.set_files("#files", &[&sheet]);
            // The sheet leaves the totals to be computed: the person ticks --fill.
            b.eval("document.querySelector('#fill').click(), true");
            b.click_to("#check", "/upload/");
            b.screenshot(&artifacts().join("upload-check-en.png"));
            let n = b.eval("document.querySelector('#upload-summary').dataset.invoices");
            let valid = b.eval("document.querySelector('#upload-summary').dataset.valid");
            assert_eq!(
                n, valid,
                "every invoice of the example spreadsheet is valid once filled"
            );
            assert!(n.as_str().unwrap().parse::<u32>().unwrap() > 0);
            b.click_to("#confirm-button", "/confirm");
            b.screenshot(&artifacts().join("upload-queued-en.png"));
            let taxids = b
                .eval("Array.from(document.querySelectorAll('#queued a')).map(a => a.textContent)");
            let taxids: Vec<String> = taxids
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert_eq!(taxids.len().to_string(), n.as_str().unwrap());
            (taxids, String::new())
        })
        .await
        .unwrap()
    };
    let _ = report_dom;
    for t in &queued {
        assert_eq!(s.until_final(t).await["status"], "SUCCESS");
    }
    let want = queued.len();
    let counted = tokio::task::spawn_blocking(move || {
        let mut b = Browser::launch();
        b.goto(&format!("{base}/"));
        b.screenshot(&artifacts().join("overview-after-upload-fa.png"));
        let success = b.eval("document.querySelector('#count-success').textContent");
        b.goto(&format!("{base}/report?lang=en"));
        b.screenshot(&artifacts().join("report-en.png"));
        let bars = b.eval("document.querySelectorAll('#vat-chart rect').length");
        (success, bars)
    })
    .await
    .unwrap();
    assert_eq!(counted.0, want.to_string());
    assert!(counted.1.as_u64().unwrap() >= 1, "{counted:?}");
    // The pending folder is gone once queued; the files are kept under uploads/.
    let kept = s.uploads();
    assert!(
        kept.iter().all(|p| !p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".pending-")),
        "{kept:?}"
    );
    assert!(kept
        .iter()
        .any(|p| p.to_string_lossy().ends_with("one-row-per-line.xlsx")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_forms_refuse_a_post_without_their_csrf_token() {
    let s = Server::start(&[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.json\"\r\n\r\n{{}}\r\n--{boundary}--\r\n"
    );
    let r = http
        .post(format!("{}/upload", s.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"problem\""), "{page}");
    let r = http
        .post(format!(
            "{}/upload/0123456789abcdef0123456789abcdef/confirm",
            s.base
        ))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(s.uploads().is_empty(), "{:?}", s.uploads());
    assert_eq!(s.get("/invoices").await.2["counts"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_an_upload_twice_at_once_queues_it_once_and_the_late_click_is_told_it_is_gone() {
    let s = Server::start(&[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http
        .get(format!("{}/upload?lang=en", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = form.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = form[at..form[at..].find('"').unwrap() + at].to_string();
    let boundary = "b0undary";
    // Rounds of uploads, each confirmed by several clicks at once.
    let rounds = 8;
    for round in 0..rounds {
        // Each round a different invoice (issued a minute later, with a tax ID of its own).
        let mut sale: serde_json::Value = serde_json::from_slice(&read(SALE)).unwrap();
        sale["header"]["taxid"] = serde_json::Value::Null;
        let issued = sale["header"]["indatim"].as_i64().unwrap() + round as i64 * 60_000;
        sale["header"]["indatim"] = issued.into();
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sale.json\"\r\n\r\n"
        )
        .into_bytes();
        body.extend(serde_json::to_vec(&sale).unwrap());
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let r = http
            .post(format!("{}/upload?lang=en", s.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let preview = r.headers()["location"].to_str().unwrap().to_string();
        let id = preview
            .trim_start_matches("/upload/")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        // A double click (and then some): confirms at once.
        let confirm = || {
            http.post(format!("{}/upload/{id}/confirm?lang=en", s.base))
                .form(&[("csrf", csrf.as_str())])
                .send()
        };
        let answers = futures_join((0..4).map(|_| confirm()).collect::<Vec<_>>()).await;
        let mut codes = Vec::new();
        for r in answers {
            let r = r.unwrap();
            let code = r.status().as_u16();
            let page = r.text().await.unwrap();
            if code != 200 {
                assert!(page.contains("no longer waiting"), "{code}: {page}");
            }
            codes.push(code);
        }
        codes.sort();
        assert_eq!(codes, [200, 404, 404, 404], "round {round}: {codes:?}");
        // A later click gets the same answer.
        let r = confirm().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
    }
    let (_, _, page) = s.get("/invoices").await;
    assert_eq!(page["counts"]["total"], rounds, "{page:#}");
    let kept: Vec<_> = s
        .uploads()
        .into_iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(kept.len(), rounds, "{kept:?}");
    assert_eq!(s.uploads().len(), rounds, "{:?}", s.uploads());
}

/// Awaits every future at once (on this runtime's threads), answers in order.
async fn futures_join<F>(fs: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
