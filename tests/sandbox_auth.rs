//! Authentication as the real server does it (RC_TICS §5, RC_TXPS.EC_V02 §4.2): every auth code
//! from hand-built tokens, nonce single use and expiry, the wrong national ID, and the request
//! variants other public clients send (six-key headers, local-time sigT, two spaces after
//! `Bearer`, PHP-escaped x5c) getting the answers the real server gives them.

mod sandbox_support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sandbox_support::*;
use std::time::Duration;

async fn with_token(b: &Bench, token: &str) -> (u16, serde_json::Value) {
    b.get_with("server-information", &format!("Bearer {token}"))
        .await
}

#[tokio::test]
async fn no_bearer_token_is_401_with_an_empty_body() {
    let b = start().await;
    let r = b
        .http
        .get(b.url("server-information"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().is_empty());
    let (s, v) = b.get_with("server-information", "Basic abc").await;
    assert_eq!((s, v), (401, serde_json::Value::Null));
}

#[tokio::test]
async fn garbled_token_4130_and_envelope_shape() {
    let b = start().await;
    for bad in ["garbage", "a.b", "!!!.e30.sig", "e30.e30"] {
        let (s, v) = with_token(&b, bad).await;
        assert_eq!((s, code(&v)), (401, "4130"), "{bad}: {v}");
        assert!(v["timestamp"].as_i64().is_some());
        let trace = v["requestTraceId"].as_str().unwrap();
        assert_eq!(trace.len(), 32);
        assert!(!v["errors"][0]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn certificate_codes_4135_4136() {
    let b = start().await;
    let nonce = b.nonce().await;
    let payload = format!(r#"{{"nonce":"{nonce}","clientId":"{DEMO}"}}"#);
    let no_x5c = b.ident.sign_with_header(
        r#"{"crit":["sigT"],"sigT":"2024-03-06T13:05:50Z","alg":"RS256"}"#,
        payload.as_bytes(),
    );
    assert_eq!(code(&with_token(&b, &no_x5c).await.1), "4135");
    let empty_x5c = b.ident.sign_with_header(
        r#"{"crit":["sigT"],"sigT":"2024-03-06T13:05:50Z","x5c":[],"alg":"RS256"}"#,
        payload.as_bytes(),
    );
    assert_eq!(code(&with_token(&b, &empty_x5c).await.1), "4135");
    let bad_x5c = b.ident.sign_with_header(
        r#"{"crit":["sigT"],"sigT":"2024-03-06T13:05:50Z","x5c":["TUlJbm90YWNlcnQ="],"alg":"RS256"}"#,
        payload.as_bytes(),
    );
    assert_eq!(code(&with_token(&b, &bad_x5c).await.1), "4136");
}

#[tokio::test]
async fn tampered_jws_and_bad_headers_4131() {
    let b = start().await;
    let good = b.token().await;
    let parts: Vec<&str> = good.split('.').collect();
    let nonce2 = b.nonce().await;
    let other_payload = b64u(format!(r#"{{"nonce":"{nonce2}","clientId":"{DEMO}"}}"#).as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    let (s, v) = with_token(&b, &tampered).await;
    assert_eq!((s, code(&v)), (401, "4131"));

    let nonce = b.nonce().await;
    let payload = format!(r#"{{"nonce":"{nonce}","clientId":"{DEMO}"}}"#);
    let x5c = b.ident.x5c();
    for header in [
        format!(
            r#"{{"crit":["sigT"],"sigT":"2024-03-06T13:05:50Z","x5c":["{x5c}"],"alg":"RS512"}}"#
        ),
        format!(
            r#"{{"crit":["exp"],"sigT":"2024-03-06T13:05:50Z","x5c":["{x5c}"],"alg":"RS256"}}"#
        ),
        format!(r#"{{"crit":["sigT"],"x5c":["{x5c}"],"alg":"RS256"}}"#),
    ] {
        let t = b.ident.sign_with_header(&header, payload.as_bytes());
        assert_eq!(code(&with_token(&b, &t).await.1), "4131", "{header}");
    }
    // Signed by another key than the certificate's.
    let stranger = Ident::new(DEMO_NID);
    let forged_header = b.ident.header4(&utc_sig_t());
    let t = stranger.sign_with_header(&forged_header, payload.as_bytes());
    assert_eq!(code(&with_token(&b, &t).await.1), "4131");
}

#[tokio::test]
async fn payload_codes_4101_4134_4148() {
    let b = start().await;
    let t = b.ident.sign(br#"{"foo":1}"#);
    assert_eq!(code(&with_token(&b, &t).await.1), "4101");
    let t = b.ident.sign(br#"{"nonce":5,"clientId":"A11216"}"#);
    assert_eq!(code(&with_token(&b, &t).await.1), "4101");
    let t = b.ident.sign(&[0xff, 0xfe, 0x00]);
    assert_eq!(code(&with_token(&b, &t).await.1), "4134");
    let nonce = b.nonce().await;
    let t = b
        .ident
        .sign(format!(r#"{{"nonce":"{nonce}","clientId":"a1"}}"#).as_bytes());
    let (s, v) = with_token(&b, &t).await;
    assert_eq!((s, code(&v)), (400, "4148"));
}

#[tokio::test]
async fn nonce_single_use_unknown_and_expired_4102() {
    let b = start().await;
    let t = b.token().await;
    assert_eq!(with_token(&b, &t).await.0, 200);
    let (s, v) = with_token(&b, &t).await;
    assert_eq!((s, code(&v)), (401, "4102"), "a token is good for one call");

    let t = b
        .ident
        .sign(br#"{"nonce":"never-issued-1","clientId":"A11216"}"#);
    assert_eq!(code(&with_token(&b, &t).await.1), "4102");

    b.sandbox.seed_nonce("short-lived-nonce", 0);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let t = b
        .ident
        .sign(br#"{"nonce":"short-lived-nonce","clientId":"A11216"}"#);
    assert_eq!(code(&with_token(&b, &t).await.1), "4102", "expired nonce");
}

#[tokio::test]
async fn nonce_ttl_limits_4146_and_shape() {
    let b = start().await;
    for ttl in ["5", "9", "201", "abc", "-1"] {
        let r = b
            .http
            .get(b.url(&format!("nonce?timeToLive={ttl}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{ttl}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(code(&v), "4146");
    }
    for ttl in ["10", "200"] {
        let r = b
            .http
            .get(b.url(&format!("nonce?timeToLive={ttl}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let v: serde_json::Value = b
        .http
        .get(b.url("nonce"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let nonce = v["nonce"].as_str().unwrap();
    let (uuid_part, ms) = nonce.rsplit_once('-').unwrap();
    assert_eq!(uuid_part.len(), 36);
    let issued: i64 = ms.parse().unwrap();
    let exp = chrono::DateTime::parse_from_rfc3339(v["expDate"].as_str().unwrap()).unwrap();
    assert_eq!(exp.timestamp_millis() - issued, 30_000, "default 30 s");
    assert!(v["expDate"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn unknown_client_4110_and_wrong_national_id_4103() {
    let b = start().await;
    let t = b.token_for(&b.ident, "B99999").await;
    let (s, v) = with_token(&b, &t).await;
    assert_eq!((s, code(&v)), (401, "4110"));
    let someone_else = Ident::new("0023457708");
    let t = b.token_for(&someone_else, DEMO).await;
    let (s, v) = with_token(&b, &t).await;
    assert_eq!((s, code(&v)), (401, "4103"));
    // The guide's clientId A11226 belongs to the same taxpayer.
    let t = b.token_for(&b.ident, "A11226").await;
    assert_eq!(with_token(&b, &t).await.0, 200);
}

#[tokio::test]
async fn method_not_supported_4100() {
    let b = start().await;
    let r = b.http.post(b.url("nonce")).send().await.unwrap();
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!((status, code(&v)), (401, "4100"));
}

#[tokio::test]
async fn public_client_variants_are_accepted_like_the_real_server() {
    let b = start().await;
    let local = (chrono::Utc::now() + chrono::Duration::minutes(210))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let x5c = b.ident.x5c();
    let headers = [
        ("official six keys (SDKs)", b.ident.header6(&utc_sig_t())),
        (
            "guide's local time with +0330",
            b.ident.header4(&format!("{local}Z+0330")),
        ),
        (
            "local wall-clock time with a literal Z",
            b.ident.header4(&format!("{local}Z")),
        ),
        (
            "milliseconds (JS toISOString)",
            b.ident.header4("2024-03-06T13:05:50.123Z"),
        ),
        ("+03:30 offset", b.ident.header4(&format!("{local}+03:30"))),
        (
            "PHP json_encode escaping / in x5c",
            format!(
                r#"{{"alg":"RS256","x5c":["{}"],"sigT":"{}","crit":["sigT"]}}"#,
                x5c.replace('/', "\\/"),
                utc_sig_t()
            ),
        ),
        (
            "keys in yet another order, typ only",
            format!(
                r#"{{"x5c":["{x5c}"],"typ":"jose","alg":"RS256","crit":["sigT"],"sigT":"{}"}}"#,
                utc_sig_t()
            ),
        ),
    ];
    for (what, header) in headers {
        let nonce = b.nonce().await;
        let payload = format!(r#"{{"nonce":"{nonce}","clientId":"{DEMO}"}}"#);
        let t = b.ident.sign_with_header(&header, payload.as_bytes());
        let (s, v) = with_token(&b, &t).await;
        assert_eq!(s, 200, "{what}: {v}");
    }
    // .NET SDK: "Bearer " + " " + jws (two spaces).
    let t = b.token().await;
    let (s, v) = b
        .get_with("server-information", &format!("Bearer  {t}"))
        .await;
    assert_eq!(s, 200, "double space: {v}");
    // A pretty-printed payload with CRLF, as in the guide's example.
    let nonce = b.nonce().await;
    let payload = format!("{{\r\n  \"nonce\": \"{nonce}\",\r\n  \"clientId\": \"{DEMO}\"\r\n}}");
    let t = b.ident.sign(payload.as_bytes());
    assert_eq!(with_token(&b, &t).await.0, 200);
    // x5c with a chain (certificate + issuer) is fine; only the first is the signer's.
    let nonce = b.nonce().await;
    let payload = format!(r#"{{"nonce":"{nonce}","clientId":"{DEMO}"}}"#);
    let chain = format!(
        r#"{{"crit":["sigT"],"sigT":"{}","x5c":["{x5c}","{}"],"alg":"RS256"}}"#,
        utc_sig_t(),
        STANDARD.encode(Ident::new("10100302746").cert_der)
    );
    let t = b.ident.sign_with_header(&chain, payload.as_bytes());
    assert_eq!(with_token(&b, &t).await.0, 200);
}

/// The guide (§5) makes `crit` part of the token's header, naming `sigT` and nothing else: a
/// header without it, or whose `crit` does not name `sigT`, is refused 4131, and the message
/// names what is missing.
#[tokio::test]
async fn a_header_without_crit_sigt_is_4131() {
    let b = start().await;
    let x5c = b.ident.x5c();
    let sig_t = utc_sig_t();
    for header in [
        format!(r#"{{"sigT":"{sig_t}","x5c":["{x5c}"],"alg":"RS256"}}"#),
        format!(r#"{{"crit":[],"sigT":"{sig_t}","x5c":["{x5c}"],"alg":"RS256"}}"#),
        format!(r#"{{"x5c":["{x5c}"],"alg":"RS256"}}"#),
    ] {
        let nonce = b.nonce().await;
        let payload = format!(r#"{{"nonce":"{nonce}","clientId":"{DEMO}"}}"#);
        let t = b.ident.sign_with_header(&header, payload.as_bytes());
        let (s, v) = with_token(&b, &t).await;
        assert_eq!((s, code(&v)), (401, "4131"), "{header}: {v}");
        let said = v.to_string();
        assert!(said.contains("crit"), "{header}: {said}");
        assert!(!said.contains("crit names it"), "{header}: {said}");
    }
    // The guide's header still passes.
    let t = b.token().await;
    assert_eq!(with_token(&b, &t).await.0, 200);
}
