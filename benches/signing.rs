//! Signing throughput: signatures per second on SoftHSM through our PKCS#11 signer and with
//! OpenSSL in process (the key-file signer) on the same key, and the per-invoice JWS + JWE
//! work outside the RSA operation (goal: under 5% of one RSA-2048 signature).
//! Run: `cargo bench --bench signing` (needs SoftHSM2, like the tests).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use moadian::crypto::jwe::ServerKey;
use moadian::crypto::jws::{self, JwsOptions};
use moadian::crypto::keyfile::KeyFileSigner;
use moadian::crypto::pkcs11::Pkcs11Signer;
use moadian::crypto::softhsm::SoftHsm;
use moadian::crypto::testcert::{make_identity, IdentityOptions};
use moadian::crypto::{Pin, PinSource, SignError, Signer, SignerConfig};
use std::hint::black_box;

/// Returns a fixed 256-byte "signature": isolates everything around the RSA operation.
struct NoRsa(Vec<u8>);
impl Signer for NoRsa {
    fn sign_rs256(&self, _m: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(vec![0x5a; 256])
    }
    fn certificate_der(&self) -> &[u8] {
        &self.0
    }
}

fn invoice(lines: usize) -> Vec<u8> {
    let item = r#"{"sstid":"2710000138624","sstt":"سرسیلندر قطعات صنعت فولاد سازی","mu":"164","am":2,"fee":10000,"prdis":20000,"dis":500,"adis":19500,"vra":9,"vam":1755,"tsstam":21255}"#;
    let body = vec![item; lines].join(",");
    format!(r#"{{"header":{{"taxid":"A1121604C220002F095011","inno":"49321217","indatim":1683997837988,"inty":1,"inp":1,"ins":1,"tins":"14003778990","tob":2,"bid":"10100302746","tinb":"10100302746","tprdis":20000,"tdis":500,"tadis":19500,"tvam":1755,"todam":0,"tbill":21255,"setm":2}},"body":[{body}],"payments":[]}}"#).into_bytes()
}

fn benches(c: &mut Criterion) {
    let hsm =
        SoftHsm::shared().unwrap_or_else(|e| panic!("the signing benchmark needs SoftHSM2: {e}"));
    let id = make_identity(&IdentityOptions::new("14003778990")).expect("identity");
    hsm.init_token("bench", "87654321", "1234").expect("token");
    hsm.import("bench", "1234", &[1], &id.key, &id.cert, None)
        .expect("import");
    let token = Pkcs11Signer::open(
        &SignerConfig {
            pkcs11_module: Some(hsm.module.clone()),
            token_label: Some("bench".into()),
            ..Default::default()
        },
        &PinSource::Given(Pin::new("1234")),
        None,
    )
    .expect("open token");
    let file = KeyFileSigner::from_pem(&id.key_pem(), &id.cert_pem()).expect("key file");
    let server = openssl::rsa::Rsa::generate(4096).expect("server key");
    let server_key =
        ServerKey::from_der(&server.public_key_to_der().expect("spki"), "kid").expect("server key");
    let no_rsa = NoRsa(id.cert_der());
    let opts = JwsOptions::default();
    let input = vec![b'a'; 2000];

    let mut g = c.benchmark_group("rsa2048_sign");
    g.throughput(Throughput::Elements(1));
    g.bench_function("softhsm_pkcs11_signer", |b| {
        b.iter(|| token.sign_rs256(black_box(&input)).unwrap())
    });
    g.bench_function("openssl_keyfile_signer", |b| {
        b.iter(|| file.sign_rs256(black_box(&input)).unwrap())
    });
    g.finish();

    for lines in [1usize, 10] {
        let inv = invoice(lines);
        let mut g = c.benchmark_group(format!("per_invoice_without_rsa_{lines}_lines"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("jws_assembly", |b| {
            b.iter(|| jws::sign_compact(black_box(&inv), &no_rsa, &opts).unwrap())
        });
        let signed = jws::sign_compact(&inv, &no_rsa, &opts).unwrap();
        g.bench_function("jwe_encrypt_4096", |b| {
            b.iter(|| server_key.encrypt(black_box(&signed)).unwrap())
        });
        g.bench_function("jws_plus_jwe", |b| {
            b.iter(|| {
                let s = jws::sign_compact(black_box(&inv), &no_rsa, &opts).unwrap();
                server_key.encrypt(&s).unwrap()
            })
        });
        g.finish();
    }
    // The one public-key operation inside the JWE: RSA-OAEP-256 wrap of a 32-byte key.
    let spki = server.public_key_to_der().expect("spki");
    let pk = openssl::pkey::PKey::public_key_from_der(&spki).expect("pkey");
    c.bench_function("rsa_oaep_4096_wrap_only", |b| {
        b.iter(|| {
            let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&pk).unwrap();
            ctx.encrypt_init().unwrap();
            ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1_OAEP)
                .unwrap();
            ctx.set_rsa_oaep_md(openssl::md::Md::sha256()).unwrap();
            ctx.set_rsa_mgf1_md(openssl::md::Md::sha256()).unwrap();
            let mut out = Vec::new();
            ctx.encrypt_to_vec(black_box(&[7u8; 32]), &mut out).unwrap();
            out
        })
    });
    let mut g = c.benchmark_group("per_invoice_total_softhsm");
    let inv = invoice(1);
    g.bench_function("jws_plus_jwe_on_softhsm", |b| {
        b.iter(|| {
            let s = jws::sign_compact(black_box(&inv), &token, &opts).unwrap();
            server_key.encrypt(&s).unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = signing;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = benches
}
criterion_main!(signing);
