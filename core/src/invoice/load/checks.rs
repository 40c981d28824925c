//! What the loader checks beyond JSON syntax: no key twice in one object (the tax system's
//! «فیلد … تکرار شده است», EC_V02 table 7 row 1 — serde_json would silently keep the last one,
//! and that is what would be signed), and no value longer than the field limit.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

use crate::invoice::tree::DUPLICATE;

/// Deserializes any JSON, failing (with serde_json's line and column) at the second occurrence
/// of a key in one object. Holds nothing: it is a checking pass, values are read separately so
/// their exact numbers and key order stay as serde_json keeps them.
pub(super) struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDupVisitor)
    }
}

struct NoDupVisitor;

impl<'de> Visitor<'de> for NoDupVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_none<E>(self) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NoDuplicateKeys, D::Error> {
        NoDuplicateKeys::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicateKeys, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicateKeys, A::Error> {
        // (With arbitrary_precision a number arrives as a one-key map; one key is never twice.)
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format!(
                    "{DUPLICATE}\"{}\"",
                    crate::import::limits::clip(&key)
                )));
            }
            map.next_value::<NoDuplicateKeys>()?;
            seen.insert(key);
        }
        Ok(NoDuplicateKeys)
    }
}

/// The first string (or number) in `v` longer than `max` characters: its JSON path and length.
pub(super) fn too_long(v: &serde_json::Value, max: usize) -> Option<(String, usize)> {
    fn walk(v: &serde_json::Value, max: usize, path: &mut String) -> Option<(String, usize)> {
        match v {
            serde_json::Value::String(s) => {
                let n = s.chars().count();
                (n > max).then(|| (path.clone(), n))
            }
            serde_json::Value::Number(n) => {
                let len = n.to_string().len();
                (len > max).then(|| (path.clone(), len))
            }
            serde_json::Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| {
                let keep = path.len();
                path.push_str(&format!("[{i}]"));
                let r = walk(x, max, path);
                path.truncate(keep);
                r
            }),
            serde_json::Value::Object(m) => m.iter().find_map(|(k, x)| {
                let n = k.chars().count();
                if n > max {
                    return Some((format!("{path} (a key)"), n));
                }
                let keep = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&crate::import::limits::clip_to(k, 40));
                let r = walk(x, max, path);
                path.truncate(keep);
                r
            }),
            _ => None,
        }
    }
    walk(v, max, &mut String::new())
}
