//! The fault knobs: 5xx answers with 5xxx codes, added latency, the connection dropped before or
//! after the invoices are recorded (the lost-response case), invoices stuck IN_PROGRESS, a
//! `serverTime` offset, deterministic draws with a seed, and changing knobs over HTTP.

mod sandbox_support;

use moadian::sandbox::{Faults, SandboxConfig};
use sandbox_support::*;
use std::time::{Duration, Instant};

fn with_faults(f: Faults) -> SandboxConfig {
    SandboxConfig {
        faults: f,
        ..SandboxConfig::default()
    }
}

#[tokio::test]
async fn error_rate_answers_500_with_the_configured_code() {
    let b = start_with(with_faults(Faults {
        error_rate: 1.0,
        error_code: "5051".into(),
        ..Faults::default()
    }))
    .await;
    let r = b.http.get(b.url("nonce")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code(&v), "5051");
    b.sandbox.update_faults(|f| f.error_rate = 0.0).unwrap();
    assert_eq!(
        b.http
            .get(b.url("nonce"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn seeded_fault_draws_repeat() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let b = start_with(SandboxConfig {
            seed: Some(seed),
            ..with_faults(Faults {
                error_rate: 0.5,
                ..Faults::default()
            })
        })
        .await;
        let mut out = Vec::new();
        for _ in 0..16 {
            out.push(
                b.http
                    .get(b.url("nonce"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            );
        }
        out
    }
    let a = pattern(42).await;
    assert_eq!(a, pattern(42).await);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn latency_is_added() {
    let b = start_with(with_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    }))
    .await;
    let t = Instant::now();
    b.http.get(b.url("nonce")).send().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn dropped_before_accept_nothing_recorded() {
    let b = start_with(with_faults(Faults {
        drop_before_accept_next: 1,
        ..Faults::default()
    }))
    .await;
    let uid = new_uid();
    let token = b.token().await;
    let body = serde_json::Value::Array(vec![b.packet(&invoice(DEMO, b.now(), 1), &uid)]);
    let sent = b
        .http
        .post(b.url("invoice"))
        .header("Authorization", format!("Bearer {token}"))
        .json(&body)
        .send()
        .await;
    assert!(sent.is_err(), "the connection dies: {sent:?}");
    assert_eq!(b.sandbox.ledger().packets_received, 0);
    let (_, v) = b
        .get(&format!("inquiry-by-uid?uidList={uid}&fiscalId={DEMO}"))
        .await;
    assert_eq!(v[0]["status"], "NOT_FOUND");
}

#[tokio::test]
async fn lost_response_invoice_recorded_though_the_client_saw_the_connection_die() {
    let b = start_with(with_faults(Faults {
        drop_after_accept_next: 1,
        ..Faults::default()
    }))
    .await;
    let uid = new_uid();
    let inv = invoice(DEMO, b.now(), 2);
    let token = b.token().await;
    let body = serde_json::Value::Array(vec![b.packet(&inv, &uid)]);
    let sent = b
        .http
        .post(b.url("invoice"))
        .header("Authorization", format!("Bearer {token}"))
        .json(&body)
        .send()
        .await;
    assert!(sent.is_err(), "the client never hears: {sent:?}");
    let r = b.final_status(&uid).await;
    assert_eq!(r["status"], "SUCCESS", "but the server has it");
    assert_eq!(
        b.sandbox
            .ledger()
            .succeeded(inv["header"]["taxid"].as_str().unwrap()),
        1
    );
    // The knob counted down: the next POST is answered.
    let (s, _) = b
        .post_packets(vec![b.packet(&invoice(DEMO, b.now(), 3), &new_uid())])
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn stuck_in_progress_until_released() {
    let b = start_with(with_faults(Faults {
        stuck_in_progress: true,
        ..Faults::default()
    }))
    .await;
    let uid = new_uid();
    b.post_packets(vec![b.packet(&invoice(DEMO, b.now(), 4), &uid)])
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, v) = b
        .get(&format!("inquiry-by-uid?uidList={uid}&fiscalId={DEMO}"))
        .await;
    assert_eq!(v[0]["status"], "IN_PROGRESS");
    let (_, v) = b.get("inquiry?status=IN_PROGRESS").await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    // Switched off over HTTP, as a standalone sandbox would be.
    let mut f = b.sandbox.faults();
    f.stuck_in_progress = false;
    let r = b
        .http
        .put(format!("{}sandbox/faults", b.sandbox.root_url()))
        .json(&f)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(b.final_status(&uid).await["status"], "SUCCESS");
}

#[tokio::test]
async fn server_time_carries_the_clock_offset() {
    let b = start_with(with_faults(Faults {
        clock_offset_ms: -600_000,
        ..Faults::default()
    }))
    .await;
    let (_, v) = b.get("server-information").await;
    let skew = v["serverTime"].as_i64().unwrap() - chrono::Utc::now().timestamp_millis();
    assert!((-610_000..=-590_000).contains(&skew), "{skew}");
}

#[tokio::test]
async fn bad_fault_values_are_refused() {
    let b = start().await;
    assert!(b.sandbox.update_faults(|f| f.error_rate = 2.0).is_err());
    assert!(b
        .sandbox
        .update_faults(|f| f.error_code = "4000".into())
        .is_err());
    let r = b
        .http
        .put(format!("{}sandbox/faults", b.sandbox.root_url()))
        .json(&serde_json::json!({"error_code": "1234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(moadian::sandbox::Sandbox::start(with_faults(Faults {
        drop_after_accept_rate: -0.1,
        ..Faults::default()
    }))
    .await
    .is_err());
}

#[tokio::test]
async fn timeout_is_not_registered_so_a_resend_succeeds() {
    let b = start_with(with_faults(Faults {
        timeout_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let inv = invoice(DEMO, b.now(), 5);
    let first = new_uid();
    b.post_packets(vec![b.packet(&inv, &first)]).await;
    let r = b.final_status(&first).await;
    assert_eq!(r["status"], "TIMEOUT", "{r}");
    assert_eq!(r["data"]["success"], false);
    let (_, listed) = b.get("inquiry?status=TIMEOUT").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    b.sandbox.update_faults(|f| f.timeout_rate = 0.0).unwrap();
    let second = new_uid();
    b.post_packets(vec![b.packet(&inv, &second)]).await;
    assert_eq!(b.final_status(&second).await["status"], "SUCCESS");
    let taxid = inv["header"]["taxid"].as_str().unwrap();
    let l = b.sandbox.ledger();
    assert_eq!((l.received(taxid), l.succeeded(taxid)), (2, 1));
}

/// `too_many_requests_next` answers the next requests HTTP 429, with `Retry-After` when
/// `retry_after_secs` is set, then the API answers again.
#[tokio::test]
async fn too_many_requests_answers_429_with_retry_after() {
    let b = start_with(with_faults(Faults {
        too_many_requests_next: 2,
        retry_after_secs: Some(30),
        ..Faults::default()
    }))
    .await;
    for _ in 0..2 {
        let r = b.http.get(b.url("nonce")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("30")
        );
    }
    let r = b.http.get(b.url("nonce")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    b.sandbox
        .update_faults(|f| {
            f.too_many_requests_next = 1;
            f.retry_after_secs = None;
        })
        .unwrap();
    let r = b.http.get(b.url("nonce")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_none());
}
