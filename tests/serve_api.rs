//! `moadian serve` (issue #16): the HTTP API over the same queue, driven the way accounting
//! software would drive it — a real `moadian serve --sandbox` process on 127.0.0.1, plain HTTP.
//! Every endpoint, its bad input answered with RFC 9457 problem details, nothing half-written.

mod pg_support;
mod serve_support;
use serde_json::Value;
use serve_support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_invoice_reaches_success_and_posting_it_again_sends_nothing() {
    let s = Server::start(&[]);
    let (code, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200, "{v:#}");
    let row = &v["invoices"][0];
    assert_eq!(row["status"], "QUEUED", "{v:#}");
    let taxid = row["taxid"]
        .as_str()
        .expect("a tax ID is allocated")
        .to_string();
    // The upload is kept beside the queue and named as the invoice's source.
    let kept = s.uploads();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        row["source"]
            .as_str()
            .unwrap()
            .starts_with(kept[0].to_str().unwrap()),
        "{v:#}"
    );
    let done = s.until_final(&taxid).await;
    assert_eq!(done["status"], "SUCCESS", "{done:#}");
    assert!(done["reference"].is_string(), "{done:#}");
    assert_eq!(done["attempts"].as_array().unwrap().len(), 1, "{done:#}");
    assert!(!done["events"].as_array().unwrap().is_empty(), "{done:#}");

    // The same content again is the same invoice: reported SUCCESS, never sent again.
    let (code, _, again) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200, "{again:#}");
    assert_eq!(again["invoices"][0]["taxid"], taxid.as_str(), "{again:#}");
    assert_eq!(again["invoices"][0]["status"], "SUCCESS", "{again:#}");
    assert!(again["invoices"][0]["note"]["en"].is_string(), "{again:#}");
    // Let the woken runner do a whole pass, then look again.
    let before = s.get("/health").await.2["last_pass"]["at"].clone();
    for _ in 0..40 {
        if s.get("/health").await.2["last_pass"]["at"] != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, _, after) = s.get(&format!("/invoices/{taxid}")).await;
    assert_eq!(after["attempts"].as_array().unwrap().len(), 1, "{after:#}");

    // The list shows it, with the whole queue's counts.
    let (code, _, page) = s.get("/invoices?status=success").await;
    assert_eq!(code, 200, "{page:#}");
    assert_eq!(page["invoices"].as_array().unwrap().len(), 1, "{page:#}");
    assert_eq!(page["counts"]["success"], 1, "{page:#}");
    assert!(page["next_after"].is_null(), "{page:#}");
    let (_, _, health) = s.get("/health").await;
    assert_eq!(health["status"], "ok", "{health:#}");
    // The doctor's checklist ran at start: the token opened, the certificate matches the
    // national ID, the server answered.
    let checks = health["checklist"]["checks"].as_array().expect("checklist");
    assert!(!checks.is_empty(), "{health:#}");
    assert!(checks.iter().all(|c| c["status"] != "fail"), "{health:#}");
    for id in checks.iter().filter_map(|c| c["id"].as_str()) {
        assert!(!id.is_empty());
    }
    assert!(
        checks
            .iter()
            .any(|c| c["id"].as_str().unwrap().starts_with("server.")),
        "{health:#}"
    );
    assert_eq!(health["memory_id"], "A11216", "{health:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spreadsheet_uploaded_as_multipart_is_queued_row_by_row() {
    let s = Server::start(&[]);
    let boundary = "moadian-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"one-row-per-line.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&read(SHEET));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (code, _, v) = s
        .post(
            "/invoices",
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(code, 200, "{v:#}");
    let rows = v["invoices"].as_array().unwrap();
    assert!(!rows.is_empty(), "{v:#}");
    for r in rows {
        assert!(
            r["source"]
                .as_str()
                .unwrap()
                .contains("one-row-per-line.xlsx"),
            "{r:#}"
        );
        assert!(
            matches!(r["status"].as_str(), Some("QUEUED" | "INVALID")),
            "{r:#}"
        );
    }
    for r in rows.iter().filter(|r| r["status"] == "QUEUED") {
        let done = s.until_final(r["taxid"].as_str().unwrap()).await;
        assert_eq!(done["status"], "SUCCESS", "{done:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_answers_exactly_as_validate_json_and_queues_nothing() {
    let s = Server::start(&[]);
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/invoices/invalid/arith.line.vam-vam-rounded-up.json"
    );
    let (code, ctype, api) = s
        .post("/validate?at=2024-05-01", "application/json", read(file))
        .await;
    assert_eq!(code, 200, "{api:#}");
    assert_eq!(ctype, "application/json");
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args(["validate", "--json", "--at", "2024-05-01", file])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The same verdict; only the source (a file name vs the request) differs.
    let strip = |v: &Value| {
        let mut v = v.clone();
        for i in v["invoices"].as_array_mut().unwrap() {
            i.as_object_mut().unwrap().remove("source");
        }
        v
    };
    assert_eq!(strip(&api), strip(&cli));
    assert_eq!(api["summary"]["invalid"], 1, "{api:#}");
    let (_, _, page) = s.get("/invoices").await;
    assert_eq!(page["counts"]["total"], 0, "{page:#}");
    assert!(s.uploads().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_problem_details_and_nothing_is_written() {
    let s = Server::start(&["--max-upload", "4096"]);
    // Malformed JSON: refused whole, nothing kept, nothing queued.
    let (code, ctype, v) = s
        .post(
            "/invoices",
            "application/json",
            b"{\"header\": {\"inty\": 1,".to_vec(),
        )
        .await;
    assert_problem(code, &ctype, &v, 422);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v:#}");
    // JSON Lines with one bad line among good ones: still nothing from the request.
    let mut lines = read(SALE)
        .into_iter()
        .filter(|b| *b != b'\n')
        .collect::<Vec<u8>>();
    lines.extend_from_slice(b"\nnot json\n");
    let (code, ctype, v) = s.post("/invoices", "application/x-ndjson", lines).await;
    assert_problem(code, &ctype, &v, 422);
    assert!(s.uploads().is_empty(), "{:?}", s.uploads());
    let (_, _, page) = s.get("/invoices").await;
    assert_eq!(page["counts"]["total"], 0, "{page:#}");
    // Oversized.
    let (code, ctype, v) = s
        .post("/invoices", "application/json", vec![b' '; 10_000])
        .await;
    assert_problem(code, &ctype, &v, 413);
    // Unsupported format, empty body.
    let (code, ctype, v) = s.post("/invoices", "text/plain", b"x".to_vec()).await;
    assert_problem(code, &ctype, &v, 415);
    let (code, ctype, v) = s.post("/validate", "application/json", Vec::new()).await;
    assert_problem(code, &ctype, &v, 400);
    // Unknown tax ID, status, endpoint, code.
    let (code, ctype, v) = s.get("/invoices/A1121604C220002F095099").await;
    assert_problem(code, &ctype, &v, 404);
    let (code, ctype, v) = s.get("/invoices?status=DONE").await;
    assert_problem(code, &ctype, &v, 400);
    let (code, ctype, v) = s.get("/invoices?limit=0").await;
    assert_problem(code, &ctype, &v, 400);
    let (code, ctype, v) = s.get("/no-such-thing").await;
    assert_problem(code, &ctype, &v, 404);
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/no-such-thing"),
        "{v:#}"
    );
    let (code, ctype, v) = s.get("/explain/99999").await;
    assert_problem(code, &ctype, &v, 404);
    // A known code: meaning and fix in both languages.
    let (code, _, v) = s.get("/explain/04131").await;
    assert_eq!(code, 200, "{v:#}");
    assert!(
        v["meaning"]["fa"].is_string() && v["meaning"]["en"].is_string(),
        "{v:#}"
    );
    assert!(s.uploads().is_empty(), "{:?}", s.uploads());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_endpoint() {
    let s = Server::start(&[]);
    let (code, _, doc) = s.get("/openapi.json").await;
    assert_eq!(code, 200, "{doc:#}");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{doc:#}"
    );
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/health",
        "/api/v1/validate",
        "/api/v1/invoices",
        "/api/v1/invoices/{taxid}",
        "/api/v1/explain/{code}",
        "/api/v1/invoices/{taxid}/cancel",
        "/api/v1/invoices/{taxid}/correct",
        "/api/v1/invoices/{taxid}/return",
        "/api/v1/report",
    ] {
        assert!(paths.contains_key(p), "{p} missing: {:?}", paths.keys());
    }
    assert!(paths["/api/v1/invoices"]["post"].is_object());
    assert!(paths["/api/v1/invoices"]["get"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_file_every_call_needs_the_token() {
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, "s3cret-token-for-the-test\n").unwrap();
    let mut s = Server::start_in(home, &["--token-file", token_file.to_str().unwrap()])
        .unwrap_or_else(|(c, e)| panic!("{c:?}: {e}"));
    let (code, ctype, v) = s.get("/health").await;
    assert_problem(code, &ctype, &v, 401);
    s.token = Some("wrong-token-wrong-token".into());
    let (code, ctype, v) = s.get("/health").await;
    assert_problem(code, &ctype, &v, 401);
    s.token = Some("s3cret-token-for-the-test".into());
    let (code, _, v) = s.get("/health").await;
    assert_eq!(code, 200, "{v:#}");
}

/// Nothing listens on another address without a token; the check happens before any bind, so
/// this test binds nothing but loopback.
#[test]
fn another_address_without_a_token_is_refused_before_listening() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args([
            "--lang",
            "en",
            "serve",
            "--sandbox",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
        ])
        .env("MOADIAN_HOME", home.path())
        .env_remove("MOADIAN_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token-file"), "{err}");
}

#[test]
fn a_second_service_on_the_same_queue_is_told_the_queue_is_busy() {
    let home = tempfile::tempdir().unwrap();
    let dir: &Path = home.path();
    let dir = dir.to_path_buf();
    let first = Server::start_in(home, &[]).unwrap_or_else(|(c, e)| panic!("{c:?}: {e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_moadian"))
        .args([
            "--lang",
            "en",
            "serve",
            "--sandbox",
            "--port",
            "0",
            "--queue",
        ])
        .arg(dir.join("queue.sqlite"))
        .env("MOADIAN_HOME", &dir)
        .env_remove("MOADIAN_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("queue busy"), "{err}");
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_over_http_return_and_cancel_an_accepted_invoice_and_refuse_what_the_rules_refuse(
) {
    let s = Server::start(&[]);
    let (_, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    let sale = v["invoices"][0]["taxid"].as_str().unwrap().to_string();
    assert_eq!(s.until_final(&sale).await["status"], "SUCCESS");

    // A dry run builds and validates only.
    let (code, _, dry) = s
        .post(
            &format!("/invoices/{sale}/cancel?dry_run=true"),
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(code, 200, "{dry:#}");
    assert_eq!(dry["invoice"]["header"]["ins"], 3, "{dry:#}");
    assert_eq!(
        dry["invoice"]["header"]["irtaxid"],
        sale.as_str(),
        "{dry:#}"
    );
    assert_eq!(s.get("/invoices").await.2["counts"]["total"], 1);

    // A sales return of one item, sent by the runner inside.
    let (code, _, ret) = s
        .post(
            &format!("/invoices/{sale}/return"),
            "application/json",
            br#"{"lines": "2710000138624:1"}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{ret:#}");
    let ret_taxid = ret["invoices"][0]["taxid"].as_str().unwrap().to_string();
    assert_eq!(s.until_final(&ret_taxid).await["status"], "SUCCESS");

    // One live correction/return per reference: a correction now is stopped, nothing queued.
    let (code, ctype, v) = s
        .post(
            &format!("/invoices/{sale}/correct"),
            "application/json",
            read(SALE),
        )
        .await;
    assert_problem(code, &ctype, &v, 422);
    assert!(
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["rule"] == "referral.reference_in_use"),
        "{v:#}"
    );
    // The cancellation of the sale; after it, the sale can be no reference at all.
    let (code, _, can) = s
        .post(
            &format!("/invoices/{sale}/cancel"),
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(code, 200, "{can:#}");
    let can_taxid = can["invoices"][0]["taxid"].as_str().unwrap().to_string();
    assert_eq!(s.until_final(&can_taxid).await["status"], "SUCCESS");
    let (code, ctype, v) = s
        .post(
            &format!("/invoices/{sale}/cancel"),
            "application/json",
            Vec::new(),
        )
        .await;
    assert_problem(code, &ctype, &v, 422);
    // An unknown reference, and lines that cannot be read.
    let (code, ctype, v) = s
        .post(
            "/invoices/A1121604C220002F095099/cancel",
            "application/json",
            Vec::new(),
        )
        .await;
    assert_problem(code, &ctype, &v, 422);
    assert_eq!(
        v["errors"][0]["rule"], "referral.reference_unknown",
        "{v:#}"
    );
    let (code, ctype, v) = s
        .post(
            &format!("/invoices/{ret_taxid}/return"),
            "application/json",
            br#"{"lines": "nonsense"}"#.to_vec(),
        )
        .await;
    assert_problem(code, &ctype, &v, 400);
    assert_eq!(s.get("/invoices").await.2["counts"]["total"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_comes_as_json_csv_and_html_and_bad_dates_are_problems() {
    let s = Server::start(&[]);
    let (_, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    let sale = v["invoices"][0]["taxid"].as_str().unwrap().to_string();
    s.until_final(&sale).await;
    let (code, ctype, r) = s.get("/report?period=season").await;
    assert_eq!(code, 200, "{r:#}");
    assert_eq!(ctype, "application/json");
    assert_eq!(r["total"]["invoices"], 1, "{r:#}");
    assert_eq!(r["total"]["success"], 1, "{r:#}");
    assert_eq!(r["grouping"], "season", "{r:#}");
    // A Jalali range that excludes it.
    let (_, _, none) = s.get("/report?from=1390/01/01&to=1390/12/29").await;
    assert_eq!(none["total"]["invoices"], 0, "{none:#}");
    for (format, want) in [("csv", "text/csv"), ("html", "text/html")] {
        let r = s
            .http
            .get(s.url(&format!("/report?format={format}&lang=en")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(want), "{ct}");
        let text = r.text().await.unwrap();
        assert!(text.contains(&sale), "{text}");
    }
    // The list filters by issue day the same way (Jalali or Gregorian).
    let (_, _, none) = s.get("/invoices?from=1390/01/01&to=1390/12/29").await;
    assert!(none["invoices"].as_array().unwrap().is_empty(), "{none:#}");
    let (_, _, some) = s.get("/invoices?from=2020-01-01&status=SUCCESS").await;
    assert_eq!(some["invoices"][0]["taxid"], sale.as_str(), "{some:#}");
    // And by buyer (part of the economic number or national ID).
    let (_, _, by) = s.get("/invoices?buyer=0030274").await;
    assert_eq!(by["invoices"].as_array().unwrap().len(), 1, "{by:#}");
    let (_, _, other) = s.get("/invoices?buyer=99999999").await;
    assert!(
        other["invoices"].as_array().unwrap().is_empty(),
        "{other:#}"
    );
    let (code, ctype, v) = s.get("/invoices?to=tomorrow").await;
    assert_problem(code, &ctype, &v, 400);
    // The dashboard's tax-ID box opens the invoice.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/invoices?taxid={}", s.base, sale.to_lowercase()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/invoices/{sale}").as_str()
    );
    let (code, ctype, v) = s.get("/report?from=yesterday").await;
    assert_problem(code, &ctype, &v, 400);
    let (code, ctype, v) = s.get("/report?format=pdf").await;
    assert_problem(code, &ctype, &v, 400);
    let (code, ctype, v) = s.get("/report?period=week").await;
    assert_problem(code, &ctype, &v, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_works_the_same_on_a_postgresql_queue() {
    let url = pg_support::schema_url("serve", None);
    let s = Server::start(&["--queue", &url]);
    let (code, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200, "{v:#}");
    let taxid = v["invoices"][0]["taxid"].as_str().unwrap().to_string();
    let done = s.until_final(&taxid).await;
    assert_eq!(done["status"], "SUCCESS", "{done:#}");
    assert_eq!(done["attempts"].as_array().unwrap().len(), 1, "{done:#}");
    // The upload is kept in the data directory (there is no queue file to sit beside).
    let kept = std::fs::read_dir(s.home.path().join("uploads").join("A11216"))
        .unwrap()
        .count();
    assert_eq!(kept, 1);
    let (_, _, page) = s.get("/invoices").await;
    assert_eq!(page["counts"]["success"], 1, "{page:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_service_cleanly_with_exit_0() {
    let mut s = Server::start(&[]);
    let (code, _, _) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200);
    let pid = s.child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let mut status = None;
    for _ in 0..400 {
        if let Some(st) = s.child.try_wait().unwrap() {
            status = Some(st);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("serve ends after SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    // The runner lock is released: another service can take the queue at once.
    let queue = s.home.path().join("queue.sqlite");
    let again = Server::start(&["--queue", queue.to_str().unwrap()]);
    let (code, _, page) = again.get("/invoices").await;
    assert_eq!(code, 200, "{page:#}");
    assert_eq!(page["counts"]["total"], 1, "{page:#}");
}

/// A query value as a browser's form sends it (application/x-www-form-urlencoded): every byte
/// but ASCII letters and digits percent-encoded, a space as `+`.
fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b' ' => "+".to_string(),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_parameters_are_decoded_as_a_browser_encodes_them() {
    let s = Server::start(&[]);
    let (code, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200, "{v:#}");
    let sale = v["invoices"][0]["taxid"].as_str().unwrap().to_string();
    // Issued 1405/08/29 12:00 Tehran time (2026-11-20T08:30:00Z).
    for (query, found) in [
        ("from=۱۴۰۵/۰۸/۲۹", 1),
        ("from=۱۴۰۵/۰۸/۳۰", 0),
        ("from=1405/08/29 11:00", 1),
        ("from=1405/08/29 13:00", 0),
        ("to=2026-11-20T08:00:00Z", 0),
        ("to=2026-11-20T09:00:00Z", 1),
        ("buyer=0030274&to=۱۴۰۵/۰۸/۲۹", 1),
    ] {
        let encoded = query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                format!("{k}={}", form_encode(v))
            })
            .collect::<Vec<_>>()
            .join("&");
        let (code, _, page) = s.get(&format!("/invoices?{encoded}")).await;
        assert_eq!(code, 200, "{query} ({encoded}): {page:#}");
        assert_eq!(
            page["invoices"].as_array().unwrap().len(),
            found,
            "{query} ({encoded}): {page:#}"
        );
        let (code, _, r) = s.get(&format!("/report?{encoded}")).await;
        assert_eq!(code, 200, "{query} ({encoded}): {r:#}");
        assert_eq!(r["total"]["invoices"], found, "{query} ({encoded}): {r:#}");
        // The dashboard's filter reads the same, and shows the value as typed.
        let r = s
            .http
            .get(format!("{}/invoices?{encoded}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{query} ({encoded})");
        let html = r.text().await.unwrap();
        assert_eq!(
            html.contains(&sale),
            found == 1,
            "{query} ({encoded}): {html}"
        );
        let (_, typed) = query.rsplit('&').next().unwrap().split_once('=').unwrap();
        assert!(html.contains(typed), "{query} ({encoded}): {html}");
    }
    // Bytes that are not UTF-8 once decoded: a 400 naming the parameter, in the API and on the
    // dashboard.
    for name in ["from", "buyer", "status"] {
        let (code, ctype, v) = s.get(&format!("/invoices?{name}=%FF%FE")).await;
        assert_problem(code, &ctype, &v, 400);
        assert!(v["detail"].as_str().unwrap().contains(name), "{v:#}");
        let r = s
            .http
            .get(format!("{}/invoices?{name}=%FF%FE", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{name}");
        assert!(r.text().await.unwrap().contains(name), "{name}");
    }
    let (code, ctype, v) = s.get("/report?to=%C3").await;
    assert_problem(code, &ctype, &v, 400);
    assert!(v["detail"].as_str().unwrap().contains("to"), "{v:#}");
}

/// Every status name `status --only` and the API's `status=` know, as the README writes them.
const STATUS_NAMES: [&str; 8] = [
    "SUCCESS",
    "FAILED",
    "INVALID",
    "QUEUED",
    "IN_PROGRESS",
    "UNKNOWN",
    "CONFLICT",
    "NEEDS_ATTENTION",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_filters_accept_the_same_names_in_the_cli_and_the_api_and_refuse_others() {
    let s = Server::start(&[]);
    let (code, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200, "{v:#}");
    let sale = v["invoices"][0]["taxid"].as_str().unwrap().to_string();
    s.until_final(&sale).await;
    let queue = s.home.path().join("queue.sqlite");
    let status = |only: &str| {
        Command::new(env!("CARGO_BIN_EXE_moadian"))
            .args(["--lang", "en", "status", "--queue"])
            .arg(&queue)
            .args(["--only", only])
            .env_remove("MOADIAN_CONFIG")
            .env_remove("MOADIAN_LANG")
            .output()
            .unwrap()
    };
    for name in STATUS_NAMES
        .iter()
        .map(|n| n.to_string())
        .chain(["conflict".to_string(), "needs_attention".to_string()])
    {
        let out = status(&name);
        assert_eq!(
            out.status.code(),
            Some(0),
            "--only {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed = String::from_utf8_lossy(&out.stdout).contains(&sale[..10]);
        assert_eq!(listed, name == "SUCCESS", "--only {name}");
        let (code, _, page) = s.get(&format!("/invoices?status={name}")).await;
        assert_eq!(code, 200, "status={name}: {page:#}");
        let found = page["invoices"].as_array().unwrap().len();
        assert_eq!(
            found,
            usize::from(name == "SUCCESS"),
            "status={name}: {page:#}"
        );
    }
    for bad in ["bogus", "DONE", "SENDING"] {
        let out = status(bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--only {bad}: {err}");
        assert!(out.stdout.is_empty(), "--only {bad}");
        assert!(err.contains(bad), "{err}");
        assert!(
            STATUS_NAMES.iter().all(|n| err.contains(n)),
            "--only {bad}: {err}"
        );
        let (code, ctype, v) = s.get(&format!("/invoices?status={bad}")).await;
        assert_problem(code, &ctype, &v, 400);
        let detail = v["detail"].as_str().unwrap();
        assert!(detail.contains(bad), "{v:#}");
        assert!(STATUS_NAMES.iter().all(|n| detail.contains(n)), "{v:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_body_is_named_as_what_was_sent_not_a_staging_file() {
    let s = Server::start(&[]);
    for path in ["/invoices", "/validate"] {
        let (code, _, v) = s
            .post(
                path,
                "application/json",
                b"{\"header\":\n {\"inty\": 1,".to_vec(),
            )
            .await;
        let text = v.to_string();
        assert!(!text.contains(".staging-"), "{path}: {v:#}");
        assert!(!text.contains("uploads"), "{path}: {v:#}");
        assert!(!text.contains("-request.json"), "{path}: {v:#}");
        assert!(text.contains("the request body"), "{path}: {v:#}");
        assert!(text.contains("line 2"), "{path}: {v:#}");
        if path == "/invoices" {
            assert_problem(code, "application/problem+json", &v, 422);
        } else {
            assert_eq!(code, 200, "{v:#}");
        }
    }
    // A file of a multipart upload is named by its own name.
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"march.json\"\r\n\r\n{{\"header\": 1\r\n--{boundary}--\r\n"
    );
    let (code, ctype, v) = s
        .post(
            "/invoices",
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )
        .await;
    assert_problem(code, &ctype, &v, 422);
    let text = v.to_string();
    assert!(!text.contains(".staging-"), "{v:#}");
    assert!(text.contains("march.json"), "{v:#}");
    assert!(s.uploads().is_empty(), "{:?}", s.uploads());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_a_problem_document_and_an_unknown_invoice_page_is_html() {
    let s = Server::start(&[]);
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/invoices", "GET"),
        (reqwest::Method::PUT, "/health", "GET"),
        (reqwest::Method::GET, "/validate", "POST"),
    ] {
        let r = s
            .http
            .request(method.clone(), s.url(path))
            .send()
            .await
            .unwrap();
        let allowed = r
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(
            allowed.contains(allow),
            "{method} {path}: allow {allowed:?}"
        );
        let (code, ctype, v) = answer(r).await;
        assert_problem(code, &ctype, &v, 405);
        assert!(v["detail"].as_str().unwrap().contains(allow), "{v:#}");
    }
    // The dashboard answers a browser with a page, in its language.
    let r = s
        .http
        .delete(format!("{}/report?lang=en", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"problem\""), "{page}");
    for (lang, words) in [("", "A1121604C220002F095099"), ("?lang=en", "no invoice")] {
        let r = s
            .http
            .get(format!("{}/invoices/A1121604C220002F095099{lang}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
        let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ctype.starts_with("text/html"), "{ctype}");
        let page = r.text().await.unwrap();
        assert!(page.contains("id=\"problem\""), "{page}");
        assert!(page.contains(words), "{page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_step_under_serve_names_the_services_runner_not_moadian_run() {
    let s = Server::start(&[]);
    let (code, _, v) = s.post("/invoices", "application/json", read(SALE)).await;
    assert_eq!(code, 200, "{v:#}");
    let row = &v["invoices"][0];
    assert_eq!(row["status"], "QUEUED", "{v:#}");
    for lang in ["fa", "en"] {
        let next = row["next"][lang].as_str().unwrap();
        assert!(!next.contains("moadian run"), "{lang}: {next}");
    }
    assert!(
        row["next"]["en"].as_str().unwrap().contains("service"),
        "{v:#}"
    );
    assert!(
        row["next"]["fa"].as_str().unwrap().contains("سرویس"),
        "{v:#}"
    );
    // The same in the list and in the invoice's own answer while it is on its way.
    let taxid = row["taxid"].as_str().unwrap();
    for _ in 0..40 {
        let (_, _, one) = s.get(&format!("/invoices/{taxid}")).await;
        let (_, _, page) = s.get("/invoices").await;
        for r in [&one, &page["invoices"][0]] {
            if let Some(next) = r["next"].as_object() {
                for (lang, text) in next {
                    assert!(
                        !text.as_str().unwrap().contains("moadian run"),
                        "{lang}: {r:#}"
                    );
                }
            }
        }
        if one["status"] == "SUCCESS" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The dashboard's "next page" link carries the filters and the page size: following it from
/// the first page, with a filter value holding Persian digits and a space, lists every invoice
/// the filter selects exactly once, never more than the page size at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_pages_through_every_invoice_with_its_filters_kept() {
    let s = Server::start(&[]);
    let sale: serde_json::Value = serde_json::from_slice(&read(SALE)).unwrap();
    let mut posted = Vec::new();
    for k in 0..5 {
        let mut inv = sale.clone();
        let header = inv["header"].as_object_mut().unwrap();
        header.remove("taxid");
        header.remove("inno");
        header["indatim"] = serde_json::json!(1_795_163_400_000_i64 + k * 1000);
        let (code, _, v) = s
            .post(
                "/invoices",
                "application/json",
                inv.to_string().into_bytes(),
            )
            .await;
        assert_eq!(code, 200, "{v:#}");
        posted.push(v["invoices"][0]["taxid"].as_str().unwrap().to_string());
    }
    // Issued 1405/08/29 from 12:00 Tehran time; the filter's value as a browser sends it.
    let mut link = format!(
        "/invoices?lang=en&limit=2&from={}",
        form_encode("۱۴۰۵/۰۸/۲۹ 11:00")
    );
    let mut seen = Vec::new();
    for _ in 0..10 {
        let r = s
            .http
            .get(format!("{}{link}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{link}");
        let html = r.text().await.unwrap();
        let rows: Vec<String> = html
            .split("data-taxid=\"")
            .skip(1)
            .map(|x| x[..x.find('"').unwrap()].to_string())
            .collect();
        assert!(rows.len() <= 2, "the page size is kept: {link}\n{rows:?}");
        seen.extend(rows);
        match html.split("id=\"next-page\" href=\"").nth(1) {
            Some(rest) => link = rest[..rest.find('"').unwrap()].replace("&amp;", "&"),
            None => break,
        }
    }
    let mut want = posted.clone();
    want.sort();
    seen.sort();
    assert_eq!(seen, want, "every invoice once, across the pages");
}
