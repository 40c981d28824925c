//! What third-party v2 clients send the real server, built by hand the way they build it (not
//! with moadian's own client), taken by the sandbox all the way to SUCCESS: the auth token and
//! the invoice's JWS carry the same header variant.
//!
//! * PHP and Python clients put the certificate into `x5c` as read from the PEM file: the base64
//!   body with its line breaks (`\n` or `\r\n`), sometimes with spaces, sometimes the whole PEM
//!   armour.
//! * The official SDKs' six header keys in their order and in others.
//! * `sigT` computed once when the client started, hours old.
//! * The auth payload serialised with Python's `json.dumps` default separators (`", "`, `": "`).
//! * A JWE without `kid`.
//! * Amounts written `20000.0`, and `null` for absent optional fields.

mod sandbox_support;

use sandbox_support::*;
use serde_json::{json, Value};

/// The base64 body of a PEM certificate as it sits in the file: 64 characters a line.
fn pem_body(der: &[u8], eol: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    b64.as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(eol)
}

/// A JSON string literal for `s` (escapes the line breaks as a JSON encoder does).
fn lit(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// The header variants, by what client sends them.
fn variants(ident: &Ident) -> Vec<(&'static str, String)> {
    let now = utc_sig_t();
    let hours_old = (chrono::Utc::now() - chrono::Duration::hours(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let der = &ident.cert_der;
    let with_x5c =
        |x5c: String| format!(r#"{{"alg":"RS256","x5c":[{x5c}],"sigT":"{now}","crit":["sigT"]}}"#);
    vec![
        (
            "x5c with \\n line breaks",
            with_x5c(lit(&pem_body(der, "\n"))),
        ),
        (
            "x5c with \\r\\n line breaks",
            with_x5c(lit(&pem_body(der, "\r\n"))),
        ),
        ("x5c with spaces", with_x5c(lit(&pem_body(der, " ")))),
        (
            "x5c with the PEM armour",
            with_x5c(lit(&format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                pem_body(der, "\n")
            ))),
        ),
        (
            "six keys, SDK order, typ and cty",
            format!(
                r#"{{"alg":"RS256","typ":"jose","x5c":["{}"],"sigT":"{now}","crit":["sigT"],"cty":"text/plain"}}"#,
                ident.x5c()
            ),
        ),
        (
            "six keys, reversed",
            format!(
                r#"{{"cty":"text/plain","crit":["sigT"],"sigT":"{now}","x5c":["{}"],"typ":"jose","alg":"RS256"}}"#,
                ident.x5c()
            ),
        ),
        (
            "sigT computed at start, hours old",
            format!(
                r#"{{"crit":["sigT"],"sigT":"{hours_old}","x5c":["{}"],"alg":"RS256"}}"#,
                ident.x5c()
            ),
        ),
    ]
}

/// Authenticates with `header` and a `json.dumps`-style payload, posts the invoice signed with
/// the same header (JWE with or without `kid`), and returns its final inquiry result.
async fn submit_as_client(b: &Bench, header: &str, inv: &Value, with_kid: bool) -> Value {
    let nonce = b.nonce().await;
    let payload = format!(r#"{{"nonce": "{nonce}", "clientId": "{DEMO}"}}"#);
    let token = b.ident.sign_with_header(header, payload.as_bytes());
    let jws = b.ident.sign_with_header(header, inv.to_string().as_bytes());
    let (spki, kid) = b.sandbox.server_key();
    let kid = with_kid.then_some(kid.as_str());
    let uid = new_uid();
    let body = json!([{
        "payload": jwe(jws.as_bytes(), &spki, &jwe_header(kid), 12),
        "header": {"requestTraceId": uid, "fiscalId": DEMO}
    }]);
    let r = b
        .http
        .post(b.url("invoice"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{header}: {text}");
    b.final_status(&uid).await
}

#[tokio::test]
async fn every_client_variant_reaches_success() {
    let b = start().await;
    let now = b.now();
    for (serial, (what, header)) in (1u64..).zip(variants(&b.ident)) {
        let inv = invoice(DEMO, now - 60_000, serial);
        let result = submit_as_client(&b, &header, &inv, serial % 2 == 0).await;
        assert_eq!(result["status"], "SUCCESS", "{what}: {result}");
    }
}

#[tokio::test]
async fn amounts_with_a_decimal_point_and_null_optional_fields_reach_success() {
    let b = start().await;
    let mut inv = invoice(DEMO, b.now() - 60_000, 41);
    let h = inv["header"].as_object_mut().unwrap();
    h.insert("tprdis".into(), json!(20000.0));
    h.insert("tadis".into(), json!(19500.0));
    h.insert("irtaxid".into(), Value::Null);
    h.insert("crn".into(), Value::Null);
    let line = inv["body"][0].as_object_mut().unwrap();
    line.insert("fee".into(), json!(10000.0));
    line.insert("cfee".into(), Value::Null);
    line.insert("odt".into(), Value::Null);
    let header = b.ident.header6(&utc_sig_t());
    let result = submit_as_client(&b, &header, &inv, false).await;
    assert_eq!(result["status"], "SUCCESS", "{result}");
}

#[tokio::test]
async fn a_jws_fault_names_the_jws_and_the_header_field() {
    let b = start().await;
    let nonce = b.nonce().await;
    let payload = format!(r#"{{"nonce":"{nonce}","clientId":"{DEMO}"}}"#);
    let header = format!(
        r#"{{"alg":"RS256","x5c":["{}"],"sigT":"{}","crit":["sigT"],"jwk":"nonsense"}}"#,
        b.ident.x5c(),
        utc_sig_t()
    );
    let stranger = Ident::new(DEMO_NID);
    let t = stranger.sign_with_header(&header, payload.as_bytes());
    let (s, v) = b
        .get_with("server-information", &format!("Bearer {t}"))
        .await;
    assert_eq!((s, code(&v)), (401, "4131"), "{v}");
    let detail = v.to_string();
    assert!(detail.contains("JWS"), "{detail}");
    assert!(!detail.contains("JWE"), "{detail}");
    let t = b.ident.sign_with_header(
        &format!(
            r#"{{"alg":"RS256","x5c":["{}"],"crit":["sigT"]}}"#,
            b.ident.x5c()
        ),
        payload.as_bytes(),
    );
    let (_, v) = b
        .get_with("server-information", &format!("Bearer {t}"))
        .await;
    assert!(v.to_string().contains("sigT"), "{v}");
}
