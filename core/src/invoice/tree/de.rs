//! How serde_json builds a [`Json`] tree: the way every text goes that [`super::scan`] leaves
//! to it (errors above all: serde_json's message and position are what the user reads), and
//! the way a tree is read from any other deserializer.

use super::{same_key, Json, Num, Obj, DUPLICATE, NUMBER_TOKEN};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

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
    // (With arbitrary_precision serde_json hands a whole number that fits 64 bits over as one,
    // whose text is the number as written, and any other number as a map. There is no
    // visit_f64: no float is ever accepted.)
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
