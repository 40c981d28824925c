//! The catalogue of rule ids (`schemas/rules.json`): what each rule checks, its severity and the
//! official code it attaches, and the full list of official codes the engine can emit — so the
//! code explainer can prove it explains every one of them.

use super::data::{FieldType, MinBound, Obligation, TABLES};
use super::Severity;
use once_cell::sync::Lazy;
use serde::Deserialize;
use std::collections::BTreeSet;

const RULES_JSON: &str = include_str!("../../../schemas/rules.json");

/// Documentation of one rule id.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleDoc {
    /// Stable id, e.g. `arith.line.vam`.
    pub id: String,
    pub severity: Severity,
    /// What the rule checks, in Persian.
    pub fa: String,
    /// What the rule checks, in English.
    pub en: String,
    /// The official code or code pattern (`01<ec>03`: `<ec>` is the field number), if any.
    pub code: Option<String>,
    /// The fixed codes this rule attaches (pattern rules list none here).
    #[serde(default)]
    pub codes: Vec<String>,
}

#[derive(Deserialize)]
struct RulesFile {
    rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
struct OptionalFile {
    optional_computed: OptionalComputed,
}

#[derive(Deserialize)]
struct OptionalComputed {
    fields: Vec<String>,
}

#[derive(Deserialize)]
struct PolicyFile {
    policies: Policies,
}

#[derive(Deserialize)]
struct Policies {
    sending_deadline: DeadlineDoc,
}

#[derive(Deserialize)]
struct DeadlineDoc {
    days: i64,
    fa: String,
    en: String,
}

/// The official sending deadline and its source, from `schemas/rules.json` (`policies`);
/// one week (RC_IITP.IS_V7.8 جدول ۴ ردیف ۵) if that could not be read.
pub(crate) fn official_deadline() -> super::SendingDeadline {
    static D: Lazy<super::SendingDeadline> =
        Lazy::new(|| match serde_json::from_str::<PolicyFile>(RULES_JSON) {
            Ok(f) => {
                let d = f.policies.sending_deadline;
                super::SendingDeadline::configured(d.days, crate::lang::Message::new(d.fa, d.en))
            }
            Err(_) => super::SendingDeadline::configured(
                7,
                crate::lang::Message::new(
                    "RC_IITP.IS_V7.8 جدول ۴ ردیف ۵",
                    "RC_IITP.IS_V7.8 table 4 row 5",
                ),
            ),
        });
    D.clone()
}

/// The computed fields whose wrong value is a warning where they are optional (the
/// `optional_computed` list of `schemas/rules.json`).
pub fn optional_computed_fields() -> Vec<String> {
    serde_json::from_str::<OptionalFile>(RULES_JSON)
        .map(|f| f.optional_computed.fields)
        .unwrap_or_default()
}

static RULES: Lazy<Vec<RuleDoc>> = Lazy::new(|| {
    serde_json::from_str::<RulesFile>(RULES_JSON)
        .map(|r| r.rules)
        .unwrap_or_default()
});

/// Every rule id the engine can report, with its documentation.
pub fn rule_catalogue() -> &'static [RuleDoc] {
    &RULES
}

/// Every official code the engine can attach to a finding, sorted.
pub fn codes_emitted() -> Vec<String> {
    let mut set = BTreeSet::new();
    for r in RULES.iter() {
        set.extend(r.codes.iter().cloned());
    }
    for (i, f) in TABLES.fields.iter().enumerate() {
        let Some(ec) = f.ec.as_deref() else { continue };
        set.insert(format!("01{ec}03"));
        match f.ty {
            FieldType::Str => {
                set.insert(format!("01{ec}04"));
            }
            FieldType::Int => {
                set.insert(format!("01{ec}06"));
            }
            FieldType::Dec => {
                set.insert(format!("01{ec}06"));
                set.insert(format!("01{ec}09"));
                if f.min == Some(MinBound::ExclusiveZero) {
                    set.insert(format!("01{ec}05"));
                }
            }
            FieldType::Array => {}
        }
        if f.enum_values.is_some() || f.enum_set.is_some() {
            set.insert(format!("01{ec}02"));
        }
        let obl = &TABLES.matrix[i].obl;
        if obl
            .iter()
            .any(|o| matches!(o, Obligation::Required | Obligation::Conditional))
        {
            set.insert(format!("00{ec}"));
        }
        if obl.contains(&Obligation::Ignore) {
            set.insert(format!("14{ec}"));
        }
    }
    // Referral and cancellation fields taken from the reference.
    for k in [
        "tinb", "bid", "bpc", "bbc", "billid", "tprdis", "tdis", "tadis", "tvam", "todam", "tbill",
        "setm", "cap", "insp", "tvop", "tax17", "torv",
    ] {
        if let Some(ec) = TABLES
            .index_of(k)
            .and_then(|i| TABLES.fields[i].ec.as_deref())
        {
            set.insert(format!("14{ec}"));
        }
    }
    // Type-3 receipts and cancellations require these whatever the matrix says.
    for k in [
        "taxid", "indatim", "inty", "inp", "ins", "tins", "tbill", "irtaxid", "iinn", "acn",
        "trmn", "trn", "pdt", "pv",
    ] {
        if let Some(ec) = TABLES
            .index_of(k)
            .and_then(|i| TABLES.fields[i].ec.as_deref())
        {
            set.insert(format!("00{ec}"));
        }
    }
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_loads_with_unique_ids() {
        let ids: BTreeSet<_> = rule_catalogue().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), rule_catalogue().len());
        assert!(ids.contains("arith.line.vam"));
        assert!(ids.contains("matrix.required"));
    }

    #[test]
    fn optional_computed_list_matches_the_engine_and_the_matrix() {
        use crate::rules::data::Obligation;
        let listed = optional_computed_fields();
        let engine: Vec<String> = crate::rules::util::OPTIONAL_COMPUTED
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(listed, engine, "schemas/rules.json optional_computed");
        // Every listed field is optional somewhere in جدول ۱; every computed (arith.*) rule on a
        // field that is optional somewhere is listed.
        let optional_somewhere = |k: &str| {
            TABLES
                .index_of(k)
                .map(|i| TABLES.matrix[i].obl.contains(&Obligation::Optional))
                .unwrap_or(false)
        };
        for k in &listed {
            assert!(optional_somewhere(k), "{k} is never optional");
        }
        for r in rule_catalogue() {
            let Some(k) =
                r.id.strip_prefix("arith.line.")
                    .or(r.id.strip_prefix("arith.total."))
            else {
                continue;
            };
            if TABLES.index_of(k).is_some() && optional_somewhere(k) {
                assert!(listed.iter().any(|l| l == k), "{} not listed", r.id);
                assert_eq!(r.severity, Severity::Warning, "{}", r.id);
            }
        }
    }

    #[test]
    fn the_official_deadline_is_one_week_and_names_its_source() {
        let d = official_deadline();
        assert_eq!(d.days, 7);
        assert!(
            d.source.en.contains("RC_IITP.IS_V7.8") && d.source.en.contains("table 4 row 5"),
            "{}",
            d.source.en
        );
        assert!(d.source.fa.contains("جدول ۴ ردیف ۵"), "{}", d.source.fa);
    }

    #[test]
    fn codes_have_the_official_shape() {
        let codes = codes_emitted();
        assert!(codes.contains(&"0100504".to_string()));
        assert!(codes.contains(&"1300501".to_string()));
        assert!(codes.contains(&"14800".to_string()));
        for c in codes {
            assert!(c.len() == 5 || c.len() == 7, "{c}");
            assert!(c.bytes().all(|b| b.is_ascii_digit()), "{c}");
        }
    }
}
