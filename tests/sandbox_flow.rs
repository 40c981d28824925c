//! The sandbox end to end with hand-built requests shaped like the official connection guide's
//! examples: nonce → server-information → POST invoice → inquiry → SUCCESS, the ledger, the
//! duplicate tax ID, and the read-only endpoints.

mod sandbox_support;

use moadian::sandbox::{Faults, SandboxConfig, DUPLICATE_TAXID_CODE};
use sandbox_support::*;
use serde_json::Value;

#[tokio::test]
async fn nonce_then_server_information_then_invoice_to_success() {
    let b = start().await;
    let (status, info) = b.get("server-information").await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["publicKeys"][0]["algorithm"], "RSA");
    assert_eq!(info["publicKeys"][0]["purpose"], 1);
    assert!(info["serverTime"].as_i64().unwrap() > 1_700_000_000_000);

    let uid = new_uid();
    let inv = invoice(DEMO, b.now(), 1);
    let (status, ack) = b.post_packets(vec![b.packet(&inv, &uid)]).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["result"][0]["uid"], uid.as_str());
    assert!(ack["result"][0]["packetType"].is_null());
    assert!(ack["result"][0]["data"].is_null());
    let reference = ack["result"][0]["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ack["timestamp"].as_i64().is_some());

    let r = b.final_status(&uid).await;
    assert_eq!(r["status"], "SUCCESS", "{r}");
    assert_eq!(r["referenceNumber"], reference.as_str());
    assert_eq!(r["packetType"], "receive_invoice_confirm");
    assert_eq!(r["fiscalId"], DEMO);
    assert_eq!(r["data"]["success"], true);
    assert_eq!(r["data"]["error"], Value::Array(vec![]));
    let sign = r["sign"].as_str().unwrap();
    assert_eq!(
        sign.split('.').count(),
        3,
        "SUCCESS carries the organisation's JWS"
    );

    let (status, by_ref) = b
        .get(&format!("inquiry-by-reference-id?referenceIds={reference}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_ref[0]["status"], "SUCCESS");

    let taxid = inv["header"]["taxid"].as_str().unwrap();
    let ledger = b.sandbox.ledger();
    assert_eq!(ledger.succeeded(taxid), 1);
    assert_eq!(ledger.received(taxid), 1);
    let over_http: Value = b
        .http
        .get(format!("{}sandbox/ledger", b.sandbox.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["taxids"][taxid]["succeeded"], 1);
    assert_eq!(over_http["packets_received"], 1);
}

#[tokio::test]
async fn invariant_nothing_twice_duplicate_taxid_fails_and_ledger_counts_it() {
    let b = start().await;
    let inv = invoice(DEMO, b.now(), 7);
    let (u1, u2) = (new_uid(), new_uid());
    assert_eq!(b.post_packets(vec![b.packet(&inv, &u1)]).await.0, 200);
    assert_eq!(b.final_status(&u1).await["status"], "SUCCESS");
    assert_eq!(b.post_packets(vec![b.packet(&inv, &u2)]).await.0, 200);
    let second = b.final_status(&u2).await;
    assert_eq!(second["status"], "FAILED");
    assert_eq!(error_codes(&second), vec![DUPLICATE_TAXID_CODE.to_string()]);
    let taxid = inv["header"]["taxid"].as_str().unwrap();
    let l = b.sandbox.ledger();
    assert_eq!((l.received(taxid), l.succeeded(taxid)), (2, 1));
    assert_eq!(l.received_twice(), vec![taxid]);
}

#[tokio::test]
async fn in_progress_for_the_configured_delay_then_final() {
    let b = start_with(SandboxConfig {
        faults: Faults {
            processing_delay_ms: 400,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let uid = new_uid();
    b.post_packets(vec![b.packet(&invoice(DEMO, b.now(), 2), &uid)])
        .await;
    let (_, v) = b
        .get(&format!("inquiry-by-uid?uidList={uid}&fiscalId={DEMO}"))
        .await;
    assert_eq!(v[0]["status"], "IN_PROGRESS");
    assert_eq!(v[0]["packetType"], "invoice.v01");
    assert_eq!(
        v[0]["data"],
        serde_json::json!({}),
        "empty while in progress"
    );
    assert_eq!(b.final_status(&uid).await["status"], "SUCCESS");
}

#[tokio::test]
async fn server_side_checks_taxid_day_memory_id_and_tins() {
    let b = start().await;
    let now = b.now();
    let mut wrong_day = invoice(DEMO, now, 3);
    wrong_day["header"]["indatim"] = (now - 3 * 86_400_000).into();
    let mut wrong_tins = invoice(DEMO, now, 4);
    wrong_tins["header"]["tins"] = "10100302746".into();
    let other_memory = invoice("A11226", now, 5);
    let cases = [
        (wrong_day, "0300101"),
        (wrong_tins, "0300901"),
        (other_memory, "0300101"),
    ];
    for (inv, expected) in cases {
        let uid = new_uid();
        b.post_packets(vec![b.packet(&inv, &uid)]).await;
        let r = b.final_status(&uid).await;
        assert_eq!(r["status"], "FAILED", "{r}");
        assert_eq!(error_codes(&r), vec![expected.to_string()], "{r}");
        assert_eq!(r["data"]["error"][0]["errorType"], "ERROR");
        assert_eq!(r["sign"], "");
    }
}

#[tokio::test]
async fn fiscal_information_and_taxpayer_as_in_the_guide() {
    let b = start().await;
    let (s, v) = b.get("fiscal-information?memoryId=A11216").await;
    assert_eq!(s, 200);
    assert_eq!(v["nameTrade"], "A11216");
    assert_eq!(v["fiscalStatus"], "ACTIVE");
    assert_eq!(v["nationalId"], DEMO_NID);
    assert_eq!(v["economicCode"], DEMO_NID);
    let (s, v) = b.get("taxpayer?economicCode=14003778990").await;
    assert_eq!(s, 200);
    assert_eq!(v["taxpayerStatus"], "ACTIVE");
    assert_eq!(v["nationalId"], DEMO_NID);
    let (s, v) = b.get("taxpayer?economicCode=10100302746").await;
    assert_eq!((s, code(&v)), (404, "4170"));
    let (s, v) = b.get("taxpayer?economicCode=123").await;
    assert_eq!((s, code(&v)), (404, "4171"));
    let (s, v) = b.get("fiscal-information?memoryId=B99999").await;
    assert_eq!((s, code(&v)), (403, "4160"));
    let (s, v) = b.get("fiscal-information?memoryId=b9").await;
    assert_eq!((s, code(&v)), (400, "4148"));
}

#[tokio::test]
async fn stubs_answer_in_their_documented_shapes() {
    let b = start().await;
    let (s, v) = b.get("taxpayer-info?economicCode=14003778990").await;
    assert_eq!(s, 200);
    assert_eq!(v["taxpayerType"], "LEGAL");
    let (s, v) = b
        .get("taxpayer-article6-status?economicCode=14003778990&vatValue=0&period=1")
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["article6RemainStatus"], true);
    let inv = invoice(DEMO, b.now(), 9);
    let uid = new_uid();
    b.post_packets(vec![b.packet(&inv, &uid)]).await;
    assert_eq!(b.final_status(&uid).await["status"], "SUCCESS");
    let taxid = inv["header"]["taxid"].as_str().unwrap();
    let body = format!(
        r#"{{"taxId":"{taxid}","paidAmount":21255,"paymentDate":0,"paymentMethod":"CASH","terminalNumber":"1","referenceNumber":"1"}}"#
    );
    let (s, v) = b.post_raw("invoice-payment", body).await;
    assert_eq!(s, 200);
    assert_eq!(v["requestStatus"], "SUCCESS");
    let (s, v) = b
        .get(&format!(
            "inquiry-invoice-status?taxIds={taxid}&taxIds=A111DW04E8300004349008"
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v[0]["invoiceStatus"], "APPROVED");
    assert_eq!(v[0]["article6Status"], "NOT_EXCEEDED");
    assert_eq!(v[1]["error"], "NOT_FOUND");
}
