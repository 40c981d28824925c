//! The PostgreSQL server `scripts/test.sh` starts (`MOADIAN_TEST_POSTGRES_URL`): a fresh schema
//! per test, so tests run in parallel. Fails, never skips, when the server is not there.
#![allow(dead_code)]

/// The test server's URL, or a failure saying how to get one.
pub fn server() -> String {
    match std::env::var("MOADIAN_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "MOADIAN_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which \
             starts a throwaway PostgreSQL server"
        ),
    }
}

/// A new schema named `PREFIX_<uuid>`, and the queue URL selecting it. With `password`, the
/// URL carries it (the test server trusts 127.0.0.1: it is accepted, and must never be shown).
pub fn schema_url(prefix: &str, password: Option<&str>) -> String {
    let base = server();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let (b, n) = (base.clone(), name.clone());
    // The blocking client makes its own runtime: off any async test's threads.
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&b, postgres::NoTls).expect("test server");
        c.batch_execute(&format!("CREATE SCHEMA {n}")).unwrap();
    })
    .join()
    .expect("schema created");
    let url = match (password, base.split_once("://")) {
        (Some(pw), Some((scheme, rest))) => match rest.split_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or(user);
                format!("{scheme}://{user}:{pw}@{host}")
            }
            None => base.clone(),
        },
        _ => base.clone(),
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{name}")
}
