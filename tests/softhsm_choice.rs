//! Tokens as they are found in the field, on SoftHSM2: a Sign and a Stamp pair side by side,
//! an expired certificate beside its renewal (both orders), a certificate without its key
//! (alone and beside another pair), key and certificate under different CKA_IDs, swapped
//! CKA_IDs, a key that states another key's public half (the test signature refuses it), a
//! label of exactly 32 bytes. Each choice is said: the chosen certificate's note, every skipped
//! one's reason, and refusals that name what was found and the flag that helps.

mod softhsm_common;
use moadian::crypto::config::open_signer_with_report;
use moadian::crypto::jws::{self, JwsOptions};
use moadian::crypto::pkcs11::{LiveTokenInfo, Pkcs11Signer};
use moadian::crypto::{Pin, PinSource, SignError, Signer, SignerConfig};
use softhsm_common::*;

const PERSON: &str = "0012345679";
const COMPANY: &str = "14003778990";

fn pin() -> PinSource {
    PinSource::Given(Pin::new(USER_PIN))
}

fn open(cfg: &SignerConfig, nid: Option<&str>) -> Result<Pkcs11Signer, SignError> {
    Pkcs11Signer::open(cfg, &pin(), nid)
}

fn with_key_id(label: &str, id: &str) -> SignerConfig {
    let mut c = config(label);
    c.key_id = Some(id.into());
    c
}

fn verifies(s: &dyn Signer) {
    let t = jws::sign_compact(b"{}", s, &JwsOptions::default()).unwrap();
    jws::verify_compact(&t, None).expect("the JWS verifies with its own certificate");
}

#[test]
fn sign_and_stamp_pairs_are_told_apart_by_national_id() {
    let label = new_token("signstamp");
    let person = put_identity(
        &label,
        &[0x01],
        moadian::crypto::testcert::IdentityOptions::new(PERSON),
    );
    let company = put_identity(
        &label,
        &[0x02],
        moadian::crypto::testcert::IdentityOptions::new(COMPANY),
    );
    let s = open(&config(&label), Some(COMPANY)).unwrap();
    assert_eq!(s.certificate_der(), company.cert_der());
    assert!(
        s.choice_note().en.contains(COMPANY),
        "{:?}",
        s.choice_note()
    );
    verifies(&s);
    drop(s);
    let s = open(&config(&label), Some(PERSON)).unwrap();
    assert_eq!(s.certificate_der(), person.cert_der());
    drop(s);
    // Nothing to choose by: the refusal lists both, with their kinds, and the flag.
    let e = open(&config(&label), None).unwrap_err();
    assert_eq!(e.check_id(), "cert.several");
    let en = e.message().en;
    for want in [
        PERSON,
        COMPANY,
        "Sign",
        "Stamp",
        "--national-id",
        "--key-id",
    ] {
        assert!(en.contains(want), "{want} missing in: {en}");
    }
    assert!(e.message().fa.contains("--national-id"));
}

fn expired_and_renewed(expired_first: bool) {
    let label = new_token(if expired_first { "renew-a" } else { "renew-b" });
    let old = identity_valid(COMPANY, -400, -1);
    let new = identity_valid(COMPANY, -2, 360);
    let (first, second) = if expired_first {
        (&old, &new)
    } else {
        (&new, &old)
    };
    for (id, ident) in [(0x01u8, first), (0x02, second)] {
        hsm()
            .import(&label, USER_PIN, &[id], &ident.key, &ident.cert, None)
            .unwrap();
    }
    let opened = Pkcs11Signer::inspect(&config(&label), &pin(), Some(COMPANY), &LiveTokenInfo);
    let s = opened.signer.unwrap();
    assert_eq!(s.certificate_der(), new.cert_der());
    // Said, not silent: the chosen one says an expired one was skipped …
    assert!(
        s.choice_note().en.contains("expired certificate skipped"),
        "{:?}",
        s.choice_note()
    );
    // … and the skipped one says why.
    let inv = opened.tokens.iter().find(|t| t.logged_in).unwrap();
    let skipped = inv.certificates.iter().find(|e| !e.chosen).unwrap();
    assert!(skipped.note.en.contains("expired on"), "{:?}", skipped.note);
    assert!(skipped.note.fa.contains("منقضی"), "{:?}", skipped.note);
    drop(s);
    // Without the national ID too (one holder): the valid one.
    let (s, report) = open_signer_with_report(&config(&label), pin(), None).unwrap();
    assert_eq!(s.certificate_der(), new.cert_der());
    let chosen = report
        .iter()
        .find(|c| c.id == "cert.chosen")
        .expect("cert.chosen");
    assert!(chosen.message.en.contains("expired"), "{chosen:?}");
}

#[test]
fn expired_and_renewed_certificate_expired_first() {
    expired_and_renewed(true);
}

#[test]
fn expired_and_renewed_certificate_renewed_first() {
    expired_and_renewed(false);
}

#[test]
fn two_valid_certificates_of_one_holder_the_latest_not_before_wins() {
    let label = new_token("newest");
    let older = identity_valid(COMPANY, -100, 200);
    let newer = identity_valid(COMPANY, -3, 300);
    hsm()
        .import(&label, USER_PIN, &[0x02], &newer.key, &newer.cert, None)
        .unwrap();
    hsm()
        .import(&label, USER_PIN, &[0x01], &older.key, &older.cert, None)
        .unwrap();
    let s = open(&config(&label), Some(COMPANY)).unwrap();
    assert_eq!(s.certificate_der(), newer.cert_der());
    assert!(
        s.choice_note().en.contains("newest"),
        "{:?}",
        s.choice_note()
    );
}

#[test]
fn certificate_without_its_key_alone() {
    let label = new_token("certonly");
    put_cert(&label, &[0x01], &identity(COMPANY));
    for nid in [Some(COMPANY), None] {
        let e = open(&config(&label), nid).unwrap_err();
        assert_eq!(e.check_id(), "key.not_found", "{e}");
        let en = e.message().en;
        assert!(
            en.contains("the certificate is on token") && en.contains("private key is not"),
            "{en}"
        );
        assert!(en.contains(COMPANY) && en.contains("CKA_ID 01"), "{en}");
        // --key-id cannot help, so it is not suggested.
        assert!(!en.contains("--key-id") && !en.contains("--cert"), "{en}");
    }
}

#[test]
fn certificate_without_its_key_beside_another_pair() {
    let label = new_token("certbeside");
    let person = put_identity(
        &label,
        &[0x01],
        moadian::crypto::testcert::IdentityOptions::new(PERSON),
    );
    put_cert(&label, &[0x02], &identity(COMPANY));
    // The company's certificate is there; its key is not. The message says exactly that.
    let e = open(&config(&label), Some(COMPANY)).unwrap_err();
    assert_eq!(e.check_id(), "key.not_found", "{e}");
    let en = e.message().en;
    assert!(
        en.contains(COMPANY) && en.contains("private key is not"),
        "{en}"
    );
    assert!(!en.contains("no certificate"), "{en}");
    // Without a national ID the only complete pair is used, and the other is skipped with why.
    let opened = Pkcs11Signer::inspect(&config(&label), &pin(), None, &LiveTokenInfo);
    assert_eq!(opened.signer.unwrap().certificate_der(), person.cert_der());
    let inv = opened.tokens.iter().find(|t| t.logged_in).unwrap();
    let keyless = inv.certificates.iter().find(|e| !e.chosen).unwrap();
    assert!(
        keyless.note.en.contains("private key is not on the token"),
        "{:?}",
        keyless.note
    );
}

#[test]
fn key_and_certificate_under_different_cka_ids_pair_by_public_key() {
    let label = new_token("diffid");
    let ident = identity(COMPANY);
    put_key(&label, &[0x01], &ident);
    put_cert(&label, &[0x02], &ident);
    for cfg in [
        config(&label),
        with_key_id(&label, "01"),
        with_key_id(&label, "02"),
    ] {
        let s = open(&cfg, Some(COMPANY)).unwrap();
        assert_eq!(s.certificate_der(), ident.cert_der());
        assert_eq!(s.key_id_hex(), "01");
        assert!(
            s.choice_note()
                .en
                .contains("key found by public key under CKA_ID 01"),
            "{:?}",
            s.choice_note()
        );
        verifies(&s);
    }
}

#[test]
fn key_id_of_another_holder_names_where_the_certificate_is() {
    let label = new_token("otherid");
    put_identity(
        &label,
        &[0x01],
        moadian::crypto::testcert::IdentityOptions::new(PERSON),
    );
    put_identity(
        &label,
        &[0x02],
        moadian::crypto::testcert::IdentityOptions::new(COMPANY),
    );
    let e = open(&with_key_id(&label, "01"), Some(COMPANY)).unwrap_err();
    let en = e.message().en;
    assert!(
        en.contains(&format!("the certificate of {COMPANY} is on token"))
            && en.contains("CKA_ID 02"),
        "{en}"
    );
    assert!(en.contains("--key-id 02"), "{en}");
    assert!(!en.contains("no certificate on the token belongs"), "{en}");
    // A CKA_ID that is nowhere: what is there is listed.
    let e = open(&with_key_id(&label, "7f"), Some(COMPANY)).unwrap_err();
    let en = e.message().en;
    assert!(
        en.contains("CKA_ID 7f") && en.contains("CKA_ID 01") && en.contains("CKA_ID 02"),
        "{en}"
    );
}

#[test]
fn swapped_cka_ids_pair_each_key_with_its_own_certificate() {
    let label = new_token("swapids");
    let person = identity(PERSON);
    let company = identity(COMPANY);
    // Each key under the other one's CKA_ID.
    put_key(&label, &[0x02], &person);
    put_cert(&label, &[0x01], &person);
    put_key(&label, &[0x01], &company);
    put_cert(&label, &[0x02], &company);
    let s = open(&config(&label), Some(COMPANY)).unwrap();
    assert_eq!(s.certificate_der(), company.cert_der());
    assert_eq!(s.key_id_hex(), "01");
    verifies(&s);
}

#[test]
fn a_key_that_is_not_its_certificates_is_refused_by_the_test_signature() {
    let label = new_token("lying");
    let company = identity(COMPANY);
    let other = identity(COMPANY);
    // The key object states the company certificate's public key but holds another key.
    put_lying_key(&label, &[0x01], &other, &company);
    put_cert(&label, &[0x01], &company);
    let e = open(&config(&label), Some(COMPANY)).unwrap_err();
    assert_eq!(e.check_id(), "key.mismatch", "{e}");
    assert!(e.message().en.contains("test signature"), "{e}");
    assert!(e.message().fa.contains("امضای آزمایشی"), "{e}");
}

#[test]
fn a_label_of_exactly_32_bytes() {
    let label = "moadian-label-of-exactly-32-byte";
    assert_eq!(label.len(), 32);
    hsm().init_token(label, SO_PIN, USER_PIN).unwrap();
    put_identity(
        label,
        &[0x01],
        moadian::crypto::testcert::IdentityOptions::new(COMPANY),
    );
    let mut cfg = config(label);
    let s = open(&cfg, Some(COMPANY)).unwrap();
    assert_eq!(s.token().label, label);
    drop(s);
    cfg.token_label = Some(format!("  {label}  "));
    open(&cfg, Some(COMPANY)).unwrap();
}

#[test]
fn invariant_6_the_key_is_sensitive_and_never_read_yet_the_whole_flow_signs() {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    let label = new_token("sensitive");
    let ident = put_identity(
        &label,
        &[0x01],
        moadian::crypto::testcert::IdentityOptions::new(COMPANY),
    );
    // The key on the token is sensitive and not extractable: its private parts cannot be read.
    let ctx = moadian::crypto::pkcs11::module::load(&hsm().module).unwrap();
    let (slot, _) = moadian::crypto::pkcs11::token::find_token(
        &ctx,
        Some(label.as_str()),
        None,
        &LiveTokenInfo,
    )
    .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    session
        .login(
            UserType::User,
            Some(&cryptoki::types::AuthPin::from(USER_PIN)),
        )
        .unwrap();
    let key = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap()[0];
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::PrivateExponent,
                AttributeType::Value,
            ],
        )
        .unwrap();
    assert!(attrs.contains(&Attribute::Sensitive(true)), "{attrs:?}");
    assert!(attrs.contains(&Attribute::Extractable(false)), "{attrs:?}");
    assert!(
        !attrs
            .iter()
            .any(|a| matches!(a, Attribute::PrivateExponent(_) | Attribute::Value(_))),
        "the token gave out private key material: {attrs:?}"
    );
    drop(session);
    // The signer only asks a key for public attributes.
    use cryptoki::object::AttributeType as T;
    for a in moadian::crypto::pkcs11::objects::KEY_ATTRIBUTES {
        assert!(
            matches!(
                a,
                T::Id | T::Label | T::Modulus | T::PublicExponent | T::PublicKeyInfo
            ),
            "the signer reads {a:?} from private keys"
        );
    }
    // And the whole flow works with this key.
    let s = moadian::crypto::open_signer(&config(&label), pin(), Some(COMPANY)).unwrap();
    assert_eq!(s.certificate_der(), ident.cert_der());
    verifies(&*s);
}

#[test]
fn invariant_6_the_signer_code_never_reads_or_wraps_private_key_material() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/crypto/pkcs11");
    let mut value_reads = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for banned in [
            "wrap_key",
            "unwrap_key",
            "derive_key",
            "PrivateExponent",
            "Prime1",
            "Prime2",
            "Exponent1",
            "Exponent2",
            "Coefficient",
        ] {
            assert!(!text.contains(banned), "{} uses {banned}", path.display());
        }
        value_reads += text.matches("AttributeType::Value").count();
    }
    // CKA_VALUE is read once: the DER of certificate objects (read_certificates).
    assert_eq!(
        value_reads, 1,
        "CKA_VALUE is read outside read_certificates"
    );
}
