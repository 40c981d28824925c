//! The v2 client against the sandbox over 127.0.0.1, signing with a SoftHSM token: every read
//! endpoint, a fresh nonce and token per call, the server key cache, list limits refused
//! before sending, and failures classified (retry / final / unknown).

mod e2e_support;
use e2e_support::*;
use moadian::api::{ApiError, Client, ClientOptions, Disposition, RetryPolicy};
use moadian::crypto::{open_signer, Pin, PinSource, Signer};
use std::sync::Arc;
use std::time::Duration;

async fn client(env: &Env, retry: RetryPolicy) -> Client {
    let cfg = moadian::crypto::SignerConfig {
        pkcs11_module: Some(hsm().module.clone()),
        token_label: Some(env.label.clone()),
        ..Default::default()
    };
    let signer: Arc<dyn Signer> = Arc::from(
        tokio::task::spawn_blocking(move || {
            open_signer(
                &cfg,
                PinSource::Given(Pin::new(USER_PIN)),
                Some(NATIONAL_ID),
            )
        })
        .await
        .unwrap()
        .expect("token signer"),
    );
    Client::new(
        &env.sandbox.base_url(),
        MEMORY_ID,
        signer,
        ClientOptions {
            retry,
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 8,
        base: Duration::from_millis(10),
        factor: 2.0,
        max: Duration::from_millis(100),
        ..RetryPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_each_sign_a_fresh_token_and_keys_are_cached() {
    let env = Env::new(quick_faults(), 1000).await;
    let c = client(&env, quick_retry()).await;
    let n1 = c.nonce().await.unwrap();
    let n2 = c.nonce().await.unwrap();
    assert_ne!(n1.nonce, n2.nonce);
    let info = c.server_information().await.unwrap();
    assert!(info.server_time > 0 && !info.public_keys.is_empty());
    let fiscal = c.fiscal_information(MEMORY_ID).await.unwrap();
    assert_eq!(fiscal.national_id.as_deref(), Some(NATIONAL_ID));
    let tp = c.taxpayer(NATIONAL_ID).await.unwrap();
    assert!(tp.taxpayer_status.is_some());
    assert_eq!(
        c.auth_signatures(),
        3,
        "one signed token per authenticated call"
    );
    // The key is cached: no further call.
    let k1 = c.encryption_key().await.unwrap();
    let k2 = c.encryption_key().await.unwrap();
    assert_eq!(k1.id, k2.id);
    assert_eq!(c.auth_signatures(), 3);
    c.invalidate_server_key();
    c.encryption_key().await.unwrap();
    assert_eq!(c.auth_signatures(), 4, "fetched again after invalidation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inquiries_with_repeated_keys_and_limits() {
    let env = Env::new(quick_faults(), 1000).await;
    let c = client(&env, quick_retry()).await;
    let now = chrono::Utc::now();
    let uids: Vec<String> = (0..3).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let r = c
        .inquiry_by_uid(&uids, MEMORY_ID, now - chrono::Duration::hours(1), now)
        .await
        .unwrap();
    assert!(r.iter().all(|x| x.status.as_str() == "NOT_FOUND"), "{r:?}");
    let refs = vec![uuid::Uuid::new_v4().to_string()];
    c.inquiry_by_reference(&refs, now - chrono::Duration::hours(1), now)
        .await
        .unwrap();
    c.inquiry(
        now - chrono::Duration::hours(1),
        now,
        Some("SUCCESS"),
        1,
        10,
    )
    .await
    .unwrap();
    let before = c.auth_signatures();
    let too_many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let e = c
        .inquiry_by_uid(&too_many, MEMORY_ID, now, now)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("4141"));
    assert_eq!(
        c.auth_signatures(),
        before,
        "refused before signing anything"
    );
    // Window longer than a week: the server's 4164 is final.
    let e = c
        .inquiry_by_uid(&uids, MEMORY_ID, now - chrono::Duration::days(9), now)
        .await
        .unwrap_err();
    assert_eq!(e.disposition(), Disposition::Final, "{e}");
    assert_eq!(e.code(), Some("4164"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_classified() {
    let env = Env::new(quick_faults(), 1000).await;
    env.sandbox
        .update_faults(|f| {
            f.error_rate = 1.0;
            f.error_code = "5051".into();
        })
        .unwrap();
    let c = client(&env, quick_retry()).await;
    let e = c.server_information().await.unwrap_err();
    assert_eq!(e.disposition(), Disposition::Retry, "{e}");
    env.sandbox.update_faults(|f| f.error_rate = 0.0).unwrap();
    assert!(c.server_information().await.is_ok());
    // Nobody listening: a connect error, nothing can have been sent.
    let dead = Client::new(
        "http://127.0.0.1:9",
        MEMORY_ID,
        c.signer().clone(),
        ClientOptions {
            retry: RetryPolicy::none(),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let e = dead.nonce().await.unwrap_err();
    assert!(matches!(e, ApiError::Connect { .. }), "{e}");
    assert_eq!(e.disposition(), Disposition::Retry);
}

// A signed call whose nonce fails (here HTTP 500 5199, the class the server may have acted on)
// never left this machine: it may be sent again (Retry), never "unknown" — an invoice POST
// behind it would otherwise wait for an inquiry the server cannot answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_nonce_means_the_call_itself_was_not_sent() {
    let env = Env::new(quick_faults(), 1000).await;
    let c = client(&env, RetryPolicy::none()).await;
    env.sandbox
        .update_faults(|f| {
            f.error_rate = 1.0;
            f.error_code = "5199".into();
        })
        .unwrap();
    let direct = c.nonce().await.unwrap_err();
    assert_eq!(direct.disposition(), Disposition::Unknown, "{direct}");
    let e = c.fiscal_information(MEMORY_ID).await.unwrap_err();
    assert!(matches!(e, ApiError::NotSent { .. }), "{e:?}");
    assert_eq!(e.disposition(), Disposition::Retry, "{e}");
    assert_eq!(e.code(), Some("5199"), "the server's code is kept");
    assert!(e.to_string().contains("nothing of it was sent"), "{e}");
}

/// HTTP 429 with `Retry-After` is tried again after the time the server asked for, not after
/// the client's own (here much shorter) backoff; a `Retry-After` that ends past the deadline
/// gives up at once instead of waiting beyond it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_as_long_as_retry_after_says() {
    let env = Env::new(quick_faults(), 1000).await;
    env.sandbox
        .update_faults(|f| {
            f.too_many_requests_next = 1;
            f.retry_after_secs = Some(2);
        })
        .unwrap();
    let c = client(&env, quick_retry()).await;
    let started = std::time::Instant::now();
    c.server_information()
        .await
        .expect("answered after the wait");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "tried again after {:?}, the server asked for 2 s",
        started.elapsed()
    );

    env.sandbox
        .update_faults(|f| {
            f.too_many_requests_next = 100;
            f.retry_after_secs = Some(30);
        })
        .unwrap();
    let c = client(
        &env,
        RetryPolicy {
            deadline: Duration::from_secs(5),
            ..quick_retry()
        },
    )
    .await;
    let started = std::time::Instant::now();
    let e = c.server_information().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?} past a 5 s deadline",
        started.elapsed()
    );
    assert!(e.short().contains("429"), "{e}");
    assert_eq!(
        env.sandbox.faults().too_many_requests_next,
        99,
        "no try after a Retry-After past the deadline"
    );
}
