//! The sandbox's taxpayer registry: which memory IDs exist, who owns them (national ID), their
//! economic number, and which certificate national IDs may sign for them. The real server keeps
//! this in the taxpayer file (پرونده مالیاتی) filled from کارپوشه.

use super::config::TaxpayerConfig;
use std::collections::HashMap;

/// A memory ID is 6 characters, uppercase English letters or digits (4148 otherwise).
pub fn valid_memory_id(s: &str) -> bool {
    s.len() == 6
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Registered taxpayers by memory ID.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_memory_id: HashMap<String, TaxpayerConfig>,
}

impl Registry {
    pub fn new(taxpayers: Vec<TaxpayerConfig>) -> Self {
        let mut by_memory_id = HashMap::new();
        for t in taxpayers {
            by_memory_id.insert(t.memory_id.clone(), t);
        }
        Self { by_memory_id }
    }

    pub fn get(&self, memory_id: &str) -> Option<&TaxpayerConfig> {
        self.by_memory_id.get(memory_id)
    }

    /// Whether a certificate carrying `national_id` may sign for `memory_id` (04132).
    pub fn may_sign(&self, memory_id: &str, national_id: &str) -> bool {
        self.get(memory_id).is_some_and(|t| {
            t.national_id == national_id
                || t.authorized_national_ids.iter().any(|n| n == national_id)
        })
    }

    /// Whether the memory IDs belong to the same owner (access to each other's data, 4160).
    pub fn same_owner(&self, a: &str, b: &str) -> bool {
        match (self.get(a), self.get(b)) {
            (Some(x), Some(y)) => x.national_id == y.national_id,
            _ => false,
        }
    }

    /// The taxpayer whose economic number is `code` (first registered memory ID).
    pub fn by_economic_code(&self, code: &str) -> Option<&TaxpayerConfig> {
        let mut found: Vec<&TaxpayerConfig> = self
            .by_memory_id
            .values()
            .filter(|t| t.economic_code == code || t.national_id == code)
            .collect();
        found.sort_by(|a, b| a.memory_id.cmp(&b.memory_id));
        found.into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_memory_ids_share_the_owner() {
        let r = Registry::new(TaxpayerConfig::demo());
        assert!(r.same_owner("A11216", "A11226"));
        assert!(r.may_sign("A11226", "14003778990"));
        assert!(!r.may_sign("A11226", "0023457708"));
        assert!(!r.may_sign("ZZZZZZ", "14003778990"));
        assert_eq!(
            r.by_economic_code("14003778990")
                .map(|t| t.memory_id.as_str()),
            Some("A11216")
        );
        assert!(valid_memory_id("A111OK"));
        assert!(!valid_memory_id("a11216"));
        assert!(!valid_memory_id("A1121"));
    }
}
