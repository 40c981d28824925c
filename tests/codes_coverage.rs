//! Invariant 7 — every code the tool can meet is explained: each code the sandbox can emit is in
//! the catalogue, each code the rules engine attaches is explained (catalogued or decoded to a
//! known field), and the catalogue's local ids are exactly the problem ids doctor and the signer
//! emit.

use moadian::codes::{self, Found, Layer};
use std::collections::BTreeSet;

#[test]
fn invariant_7_every_sandbox_code_is_catalogued() {
    assert!(!moadian::sandbox::EMITTED_CODES.is_empty());
    for code in moadian::sandbox::EMITTED_CODES {
        let x =
            codes::explain(code).unwrap_or_else(|| panic!("sandbox code {code} explains nothing"));
        assert_eq!(
            x.found,
            Found::Catalogue,
            "sandbox code {code} is not in the catalogue"
        );
    }
    let dup = moadian::sandbox::DUPLICATE_TAXID_CODE;
    assert!(codes::lookup(dup).is_some(), "{dup}");
}

#[test]
fn invariant_7_every_rules_code_is_explained_with_its_field() {
    let emitted = moadian::rules::codes_emitted();
    assert!(!emitted.is_empty());
    for code in &emitted {
        let x =
            codes::explain(code).unwrap_or_else(|| panic!("rules code {code} explains nothing"));
        if x.found != Found::Catalogue {
            let d = x
                .decoded
                .as_ref()
                .unwrap_or_else(|| panic!("{code} not decoded"));
            assert!(
                d.field.is_some(),
                "rules code {code}: field {:03} unknown",
                d.field_no
            );
        }
    }
    for r in moadian::rules::rule_catalogue() {
        for code in &r.codes {
            assert!(
                codes::explain(code).is_some(),
                "rule {}: code {code} explains nothing",
                r.id
            );
        }
    }
}

#[test]
fn validate_rule_ids_in_the_catalogue_exist() {
    let ids: BTreeSet<&str> = moadian::rules::rule_catalogue()
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    for e in codes::all() {
        for p in &e.prevented_by {
            if let Some(rule) = p.strip_prefix("validate:") {
                assert!(
                    ids.contains(rule),
                    "{}: rule {rule} is not in schemas/rules.json",
                    e.code
                );
            }
        }
    }
}

fn is_problem(id: &str) -> bool {
    ![
        ".ok",
        ".loaded",
        ".present",
        ".matches",
        ".valid",
        ".reachable",
        ".chosen",
        "_matches",
    ]
    .iter()
    .any(|s| id.ends_with(s))
}

#[test]
fn local_ids_match_the_doctor_and_signer_check_ids() {
    let checks: BTreeSet<&str> = moadian::crypto::checks::CHECK_IDS.iter().copied().collect();
    for id in checks.iter().filter(|id| is_problem(id)) {
        assert!(
            codes::lookup_local(id).is_some(),
            "check id {id} has no catalogue entry"
        );
    }
    for e in codes::all().filter(|e| e.layer == Layer::Local) {
        assert!(
            checks.contains(e.code.as_str()),
            "local entry {} is not a check id doctor/signer emit",
            e.code
        );
    }
}
