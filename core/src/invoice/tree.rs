//! A JSON tree that borrows from the text it was read from, built in ONE pass that also refuses
//! a key repeated in one object (the tax system's «فیلد … تکرار شده است», EC_V02 table 7
//! row 1 — `serde_json::Value` would silently keep the last one, and that is what would be
//! signed).
//!
//! Why not `serde_json::Value`: building its maps (a hash table per object, a `String` per key
//! and per text) is most of the cost of reading an invoice, and the rules engine only looks
//! keys up in objects of a few dozen keys. Here keys and texts without escapes are borrowed,
//! objects are vectors of pairs in the order written, and numbers keep their exact text
//! (serde_json's `arbitrary_precision`: never an `f64`).

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The marker of a duplicate-key error in serde_json's message (the loader turns it into
/// [`super::LoadError::DuplicateKey`] with serde_json's line and column).
pub(crate) const DUPLICATE: &str = "duplicate key ";

/// The key serde_json (`arbitrary_precision`) uses to hand a number over as a one-entry map.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// One JSON value, borrowing from its text where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Num<'a>),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Obj<'a>),
}

/// A JSON number as written (exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Num<'a>(Cow<'a, str>);

impl Num<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON object: its keys and values in the order written (no key twice when parsed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Obj<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Obj<'a> {
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        // (Objects are small: a scan, with the length and the first and last bytes compared
        // before the rest — many keys share a length and a first letter.)
        let q = key.as_bytes();
        self.0
            .iter()
            .find(|(k, _)| same_key(k.as_bytes(), q))
            .map(|(_, v)| v)
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_ref())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether two keys are the same bytes. Keys are short (a few letters): compared with a
/// few fixed-size loads instead of a call to `memcmp` for each key of an object.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |x: &[u8], at: usize| u64::from_le_bytes(x[at..at + 8].try_into().unwrap_or([0; 8]));
    let w4 = |x: &[u8], at: usize| u32::from_le_bytes(x[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        _ => a == b,
    }
}

impl<'a> Json<'a> {
    /// Parses one JSON document, refusing a key repeated in one object (error message starting
    /// with [`DUPLICATE`], at serde_json's position of the second key).
    pub fn parse(text: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// A member of an object (`None` for anything else).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(o) => o.get(key),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&Obj<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
    pub fn is_array(&self) -> bool {
        matches!(self, Json::Array(_))
    }
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// The JSON type, for "expected an invoice object, found …".
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// A view of a `serde_json::Value` (keys, texts and numbers borrowed).
impl<'a> From<&'a serde_json::Value> for Json<'a> {
    fn from(v: &'a serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(*b),
            serde_json::Value::Number(n) => Json::Number(Num(Cow::Borrowed(n.as_str()))),
            serde_json::Value::String(s) => Json::String(Cow::Borrowed(s)),
            serde_json::Value::Array(a) => Json::Array(a.iter().map(Json::from).collect()),
            serde_json::Value::Object(m) => Json::Object(Obj(m
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from(v)))
                .collect())),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    // (With arbitrary_precision serde_json hands numbers over as maps; these are for other
    // deserializers, and stay exact. There is no visit_f64: no float is ever accepted.)
    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(Num(Cow::Owned(n.to_string()))))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(Num(Cow::Owned(n.to_string()))))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element::<Json<'de>>()? {
            items.push(v);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let Some(first) = map.next_key_seed(KeySeed)? else {
            return Ok(Json::Object(Obj(Vec::new())));
        };
        if first == NUMBER_TOKEN {
            // A number's exact text (or an object that uses serde_json's private key: refused
            // unless it holds a valid number, as serde_json::Value does).
            let text = map.next_value_seed(NumberText)?;
            if map.next_key_seed(KeySeed)?.is_some() {
                return Err(de::Error::custom("invalid number"));
            }
            return Ok(Json::Number(Num(Cow::Owned(text))));
        }
        let mut entries: Vec<(Cow<'de, str>, Json<'de>)> = Vec::with_capacity(16);
        let v = map.next_value::<Json<'de>>()?;
        entries.push((first, v));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if entries
                .iter()
                .any(|(k, _)| same_key(k.as_bytes(), key.as_bytes()))
            {
                return Err(de::Error::custom(format!(
                    "{DUPLICATE}\"{}\"",
                    crate::import::limits::clip(&key)
                )));
            }
            let v = map.next_value::<Json<'de>>()?;
            entries.push((key, v));
        }
        Ok(Json::Object(Obj(entries)))
    }
}

/// The text of a number: serde_json hands it over as an owned `String` (`visit_string`),
/// which its parser never does for a string written in the document — so an object that
/// merely uses the private key is refused instead of being taken for a number.
struct NumberText;

impl<'de> DeserializeSeed<'de> for NumberText {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(NumberTextVisitor)
    }
}

struct NumberTextVisitor;

impl Visitor<'_> for NumberTextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_string<E>(self, s: String) -> Result<String, E> {
        Ok(s)
    }
    /// A text written in the document under the private key: not a number.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<String, E> {
        Err(E::custom("invalid number"))
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

/// The first string (or number) in `v` longer than `max` characters: its JSON path and length.
/// (A caller holding the text can skip this when the text itself is not longer than `max`
/// bytes: no value is longer in characters than its JSON text is in bytes.)
pub(crate) fn too_long(v: &Json<'_>, max: usize) -> Option<(String, usize)> {
    fn walk(v: &Json<'_>, max: usize, path: &mut String) -> Option<(String, usize)> {
        match v {
            Json::String(s) => {
                // (A character is at least one byte: short texts need no counting.)
                if s.len() <= max {
                    return None;
                }
                let n = s.chars().count();
                (n > max).then(|| (path.clone(), n))
            }
            Json::Number(n) => {
                let len = n.as_str().len();
                (len > max).then(|| (path.clone(), len))
            }
            Json::Array(a) => a.iter().enumerate().find_map(|(i, x)| {
                let keep = path.len();
                path.push_str(&format!("[{i}]"));
                let r = walk(x, max, path);
                path.truncate(keep);
                r
            }),
            Json::Object(m) => m.iter().find_map(|(k, x)| {
                if k.len() > max {
                    let n = k.chars().count();
                    if n > max {
                        return Some((format!("{path} (a key)"), n));
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_keeps_order_and_exact_numbers() {
        let text = br#"{"b":1.10,"a":"x\"y","n":null,"l":[12345678901234567890123,true]}"#;
        let j = Json::parse(text).unwrap();
        let o = j.as_object().unwrap();
        assert_eq!(o.keys().collect::<Vec<_>>(), ["b", "a", "n", "l"]);
        assert!(matches!(o.get("b"), Some(Json::Number(n)) if n.as_str() == "1.10"));
        assert_eq!(j.get("a").and_then(Json::as_str), Some("x\"y"));
        assert!(j.get("n").unwrap().is_null());
        let l = j.get("l").and_then(Json::as_array).unwrap();
        assert!(matches!(&l[0], Json::Number(n) if n.as_str() == "12345678901234567890123"));
        let v: serde_json::Value = serde_json::from_slice(text).unwrap();
        assert_eq!(Json::from(&v), j);
    }

    #[test]
    fn keys_compare_as_bytes() {
        let keys = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "acc",
            "abd",
            "tinb",
            "tins",
            "indatim",
            "indatiM",
            "indati2m",
            "Indati2m",
            "sstid_abcdefghi",
            "sstid_abcdefghj",
            "0123456789abcdef",
            "0123456789abcdeg",
            "a longer key than sixteen",
            "a longer key than sixteeN",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(same_key(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
        }
    }

    #[test]
    fn refuses_a_repeated_key_where_it_is() {
        let e = Json::parse(b"{\"a\":{\"x\":1,\n\"x\":2}}").unwrap_err();
        assert!(e.to_string().starts_with("duplicate key \"x\""), "{e}");
        assert_eq!((e.line(), e.column()), (2, 3));
        // The same key in two objects is fine.
        assert!(Json::parse(br#"[{"x":1},{"x":2}]"#).is_ok());
    }

    #[test]
    fn the_private_number_key_is_not_a_way_in() {
        assert!(Json::parse(br#"{"$serde_json::private::Number":"abc"}"#).is_err());
        assert!(Json::parse(br#"{"$serde_json::private::Number":"12"}"#).is_err());
        assert!(Json::parse(br#"[12, -0.5e3]"#).is_ok());
    }
}
