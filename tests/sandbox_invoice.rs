//! POST `invoice` and the inquiries: envelope codes answered at once (HTTP 400), transport codes
//! surfacing later inside FAILED inquiry results (tampered JWE, wrong algorithm, short IV, kid
//! missing or wrong, tampered JWS, wrong signer), and the inquiry limits, paging and NOT_FOUND.

mod sandbox_support;

use sandbox_support::*;
use serde_json::{json, Value};

fn packet_raw(payload: &str, uid: &str, fiscal_id: &str) -> Value {
    json!({"payload": payload, "header": {"requestTraceId": uid, "fiscalId": fiscal_id}})
}

#[tokio::test]
async fn envelope_codes_are_answered_at_once() {
    let b = start().await;
    let uid = new_uid();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "4144"),
        ("not json".into(), "4144"),
        ("[]".into(), "4144"),
        (
            json!([{"header": {"requestTraceId": uid, "fiscalId": DEMO}}]).to_string(),
            "4145",
        ),
        (
            json!([{"payload": "x", "header": {"fiscalId": DEMO}}]).to_string(),
            "4145",
        ),
        (
            json!([{"payload": "x", "header": {"requestTraceId": uid}}]).to_string(),
            "4145",
        ),
        (
            json!([{"payload": "", "header": {"requestTraceId": uid, "fiscalId": DEMO}}])
                .to_string(),
            "4145",
        ),
        (
            json!([packet_raw("x", "not-a-uuid", DEMO)]).to_string(),
            "4162",
        ),
        (
            json!([packet_raw("x", &uid, DEMO), packet_raw("y", &uid, DEMO)]).to_string(),
            "4163",
        ),
        (
            Value::Array(
                (0..1001)
                    .map(|_| packet_raw("x", &new_uid(), DEMO))
                    .collect(),
            )
            .to_string(),
            "4143",
        ),
    ];
    for (body, expected) in cases {
        let (s, v) = b.post_raw("invoice", body.clone()).await;
        assert_eq!(
            (s, code(&v)),
            (400, expected),
            "{}",
            &body[..body.len().min(120)]
        );
    }
    assert_eq!(b.sandbox.ledger().packets_received, 0, "nothing recorded");
}

async fn outcome_of(b: &Bench, payload: String, fiscal_id: &str) -> Value {
    let uid = new_uid();
    let (s, ack) = b
        .post_packets(vec![packet_raw(&payload, &uid, fiscal_id)])
        .await;
    assert_eq!(s, 200, "the POST only acknowledges: {ack}");
    let reference = ack["result"][0]["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let reference = reference.as_str();
    eventually("the invoice leaves IN_PROGRESS", move || async move {
        let (_, v) = b
            .get(&format!("inquiry-by-reference-id?referenceIds={reference}"))
            .await;
        (v[0]["status"] != "IN_PROGRESS").then(|| v[0].clone())
    })
    .await
}

#[tokio::test]
async fn transport_codes_surface_in_the_inquiry() {
    let b = start().await;
    let (spki, kid) = b.sandbox.server_key();
    let inv = |serial| invoice(DEMO, b.now(), serial);
    let jws = |serial| b.ident.sign(inv(serial).to_string().as_bytes());

    let good = jwe(jws(1).as_bytes(), &spki, &jwe_header(Some(&kid)), 12);
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let ct = parts[3].clone();
    let flipped = if ct.starts_with('A') { "B" } else { "A" };
    parts[3] = format!("{flipped}{}", &ct[1..]);
    let tampered_jwe = parts.join(".");

    let other_signer = Ident::new("0023457708");
    let mut tampered_jws_parts: Vec<String> = jws(6).split('.').map(str::to_string).collect();
    tampered_jws_parts[1] = b64u(inv(66).to_string().as_bytes());
    let tampered_jws = tampered_jws_parts.join(".");

    let cases: Vec<(&str, String, &str)> = vec![
        ("tampered JWE", tampered_jwe, "04150"),
        ("not a JWE", "abc.def".to_string(), "04150"),
        (
            "kid of another key",
            jwe(jws(2).as_bytes(), &spki, &jwe_header(Some("other-key")), 12),
            "04150",
        ),
        (
            "RSA-OAEP (SHA-1) key wrap",
            jwe(
                jws(3).as_bytes(),
                &spki,
                r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#,
                12,
            ),
            "04152",
        ),
        (
            "A128GCM content",
            jwe(
                jws(3).as_bytes(),
                &spki,
                r#"{"alg":"RSA-OAEP-256","enc":"A128GCM"}"#,
                12,
            ),
            "04152",
        ),
        (
            "IV of 128 bits",
            jwe(jws(4).as_bytes(), &spki, &jwe_header(Some(&kid)), 16),
            "04153",
        ),
        (
            "tampered JWS",
            jwe(tampered_jws.as_bytes(), &spki, &jwe_header(Some(&kid)), 12),
            "04131",
        ),
        (
            "not a JWS inside",
            jwe(b"hello", &spki, &jwe_header(Some(&kid)), 12),
            "04130",
        ),
        (
            "signer not allowed for the memory ID",
            jwe(
                other_signer.sign(inv(5).to_string().as_bytes()).as_bytes(),
                &spki,
                &jwe_header(Some(&kid)),
                12,
            ),
            "04132",
        ),
        (
            "payload not JSON",
            jwe(
                b.ident.sign(b"[1,2").as_bytes(),
                &spki,
                &jwe_header(Some(&kid)),
                12,
            ),
            "0100010",
        ),
    ];
    for (what, payload, expected) in cases {
        let r = outcome_of(&b, payload, DEMO).await;
        assert_eq!(r["status"], "FAILED", "{what}: {r}");
        assert_eq!(error_codes(&r), vec![expected.to_string()], "{what}: {r}");
        assert_eq!(r["data"]["success"], false);
    }
    let good_payload = jwe(jws(8).as_bytes(), &spki, &jwe_header(Some(&kid)), 12);
    let r = outcome_of(&b, good_payload.clone(), "B99999").await;
    assert_eq!(
        error_codes(&r),
        vec!["04133".to_string()],
        "unknown memory ID"
    );
    let r = outcome_of(&b, good_payload, "b9").await;
    assert_eq!(
        error_codes(&r),
        vec!["04148".to_string()],
        "malformed memory ID"
    );
}

#[tokio::test]
async fn kid_missing_is_tolerated_like_the_real_server() {
    let b = start().await;
    let (spki, _) = b.sandbox.server_key();
    let jws = b
        .ident
        .sign(invoice(DEMO, b.now(), 11).to_string().as_bytes());
    let r = outcome_of(&b, jwe(jws.as_bytes(), &spki, &jwe_header(None), 12), DEMO).await;
    assert_eq!(r["status"], "SUCCESS", "{r}");
}

#[tokio::test]
async fn six_key_invoice_jws_and_local_sig_t_are_accepted() {
    let b = start().await;
    let (spki, kid) = b.sandbox.server_key();
    let inv = invoice(DEMO, b.now(), 12);
    let jws = b.ident.sign_with_header(
        &b.ident.header6("2024-03-06T16:46:11Z+0330"),
        inv.to_string().as_bytes(),
    );
    let r = outcome_of(
        &b,
        jwe(jws.as_bytes(), &spki, &jwe_header(Some(&kid)), 12),
        DEMO,
    )
    .await;
    assert_eq!(r["status"], "SUCCESS", "{r}");
}

#[tokio::test]
async fn many_packets_in_one_request_each_get_a_result() {
    let b = start().await;
    let uids: Vec<String> = (0..25).map(|_| new_uid()).collect();
    let packets = uids
        .iter()
        .enumerate()
        .map(|(i, u)| b.packet(&invoice(DEMO, b.now(), 100 + i as u64), u))
        .collect();
    let (s, ack) = b.post_packets(packets).await;
    assert_eq!(s, 200);
    let result = ack["result"].as_array().unwrap();
    assert_eq!(result.len(), 25);
    for (r, u) in result.iter().zip(&uids) {
        assert_eq!(r["uid"], u.as_str());
    }
    let list: Vec<String> = uids.iter().map(|u| format!("uidList={u}")).collect();
    let (b, query) = (&b, list.join("&"));
    let query = query.as_str();
    eventually("all 25 invoices SUCCESS", move || async move {
        let (_, v) = b
            .get(&format!("inquiry-by-uid?{query}&fiscalId={DEMO}"))
            .await;
        let all = v.as_array().unwrap();
        assert_eq!(all.len(), 25);
        all.iter().all(|r| r["status"] == "SUCCESS").then_some(())
    })
    .await;
}

#[tokio::test]
async fn inquiry_limits_and_not_found() {
    let b = start_with(moadian::sandbox::SandboxConfig {
        taxpayers: vec![moadian::sandbox::TaxpayerConfig {
            memory_id: "B22222".into(),
            national_id: "10100302746".into(),
            economic_code: "10100302746".into(),
            name_trade: None,
            authorized_national_ids: vec![],
            fiscal_status: None,
        }],
        ..Default::default()
    })
    .await;
    let uid = new_uid();
    b.post_packets(vec![b.packet(&invoice(DEMO, b.now(), 21), &uid)])
        .await;
    b.final_status(&uid).await;

    let many: Vec<String> = (0..101).map(|_| format!("uidList={}", new_uid())).collect();
    let (s, v) = b
        .get(&format!(
            "inquiry-by-uid?{}&fiscalId={DEMO}",
            many.join("&")
        ))
        .await;
    assert_eq!((s, code(&v)), (400, "4141"));
    let refs: Vec<String> = (0..101)
        .map(|_| format!("referenceIds={}", new_uid()))
        .collect();
    let (s, v) = b
        .get(&format!("inquiry-by-reference-id?{}", refs.join("&")))
        .await;
    assert_eq!((s, code(&v)), (400, "4141"));
    let (s, v) = b.get(&format!("inquiry-by-uid?uidList={uid}")).await;
    assert_eq!((s, code(&v)), (400, "4147"), "fiscalId is required");
    let (s, v) = b
        .get(&format!("inquiry-by-uid?uidList={uid}&fiscalId=B22222"))
        .await;
    assert_eq!((s, code(&v)), (403, "4160"), "another taxpayer's memory ID");
    let start = "2023-06-10T00%3A00%3A00.000000000%2B03%3A30";
    let (s, v) = b
        .get(&format!(
            "inquiry?start={start}&end=2023-06-09T23%3A59%3A59%2B03%3A30"
        ))
        .await;
    assert_eq!((s, code(&v)), (400, "4140"));
    let (s, v) = b
        .get(&format!(
            "inquiry?start={start}&end=2023-06-18T00%3A00%3A00Z"
        ))
        .await;
    assert_eq!((s, code(&v)), (400, "4164"));
    let (s, v) = b.get("inquiry?status=PENDING").await;
    assert_eq!((s, code(&v)), (400, "4142"));
    let (s, v) = b.get("inquiry?status=TIMEOUT").await;
    assert_eq!((s, v), (200, json!([])));

    // The guide's own window (2023-06-10, Tehran time) does not contain today's invoice.
    let (s, v) = b
        .get(&format!(
            "inquiry-by-uid?uidList={uid}&fiscalId={DEMO}&start={start}&end=2023-06-10T23%3A59%3A59.999999999%2B03%3A30"
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v[0]["status"], "NOT_FOUND");
    assert_eq!(
        v[0]["data"],
        json!({}),
        "NOT_FOUND carries an empty data object"
    );
    assert_eq!(v[0]["uid"], uid.as_str());
    let other = new_uid();
    let (_, v) = b
        .get(&format!("inquiry-by-uid?uidList={other}&fiscalId={DEMO}"))
        .await;
    assert_eq!(v[0]["status"], "NOT_FOUND");
    let (_, v) = b
        .get(&format!("inquiry-by-reference-id?referenceIds={other}"))
        .await;
    assert_eq!(v[0]["status"], "NOT_FOUND");
    // Repeated keys and comma-joined values both work.
    let (_, v) = b
        .get(&format!(
            "inquiry-by-uid?uidList={uid},{other}&fiscalId={DEMO}"
        ))
        .await;
    assert_eq!(v.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn inquiry_by_time_pages_from_0_or_1() {
    let b = start().await;
    let mut uids = Vec::new();
    for i in 0..3 {
        let uid = new_uid();
        b.post_packets(vec![b.packet(&invoice(DEMO, b.now(), 300 + i), &uid)])
            .await;
        b.final_status(&uid).await;
        uids.push(uid);
    }
    let page = |n: &str, size: u32| format!("inquiry?pageNumber={n}&pageSize={size}");
    let (_, p1) = b.get(&page("1", 2)).await;
    let (_, p0) = b.get(&page("0", 2)).await;
    let (_, p2) = b.get(&page("2", 2)).await;
    assert_eq!(p1.as_array().unwrap().len(), 2);
    // The same results; each answer's `sign` carries the time it was made (sigT), which can
    // fall in the next second between two requests.
    let unsigned = |v: &Value| {
        let mut v = v.clone();
        for r in v.as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("sign");
        }
        v
    };
    assert_eq!(unsigned(&p0), unsigned(&p1), "0 and 1 are the first page");
    assert_eq!(p2.as_array().unwrap().len(), 1);
    assert_eq!(p2[0]["uid"], uids[2].as_str());
    let (_, ok) = b.get("inquiry?status=SUCCESS&pageSize=100").await;
    assert_eq!(ok.as_array().unwrap().len(), 3);
    let (_, none) = b.get("inquiry?status=FAILED").await;
    assert_eq!(none, json!([]));
    let (s, v) = b.get(&page("1", 101)).await;
    assert_eq!((s, code(&v)), (400, "4147"));
}

#[tokio::test]
async fn a_full_batch_of_1000_packets_fits_in_one_post() {
    let b = start().await;
    let one = b.packet(&invoice(DEMO, b.now(), 500), &new_uid());
    let packets: Vec<Value> = (0..1000)
        .map(|_| {
            let mut p = one.clone();
            p["header"]["requestTraceId"] = new_uid().into();
            p
        })
        .collect();
    let (s, ack) = b.post_packets(packets).await;
    assert_eq!(s, 200, "a body of {} packets is accepted: {ack}", 1000);
    assert_eq!(ack["result"].as_array().unwrap().len(), 1000);
}

/// An invoice JWS whose header has no `crit` (guide §7: it must name `sigT`) fails 04131.
#[tokio::test]
async fn an_invoice_jws_without_crit_fails_04131() {
    let b = start().await;
    let (spki, kid) = b.sandbox.server_key();
    let inv = invoice(DEMO, b.now(), 14);
    let header = format!(
        r#"{{"sigT":"{}","x5c":["{}"],"alg":"RS256"}}"#,
        utc_sig_t(),
        b.ident.x5c()
    );
    let jws = b
        .ident
        .sign_with_header(&header, inv.to_string().as_bytes());
    let r = outcome_of(
        &b,
        jwe(jws.as_bytes(), &spki, &jwe_header(Some(&kid)), 12),
        DEMO,
    )
    .await;
    assert_eq!(r["status"], "FAILED", "{r}");
    assert_eq!(error_codes(&r), vec!["04131".to_string()], "{r}");
    assert!(r.to_string().contains("crit"), "{r}");
}
