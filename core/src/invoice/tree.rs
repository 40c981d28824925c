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

use std::borrow::Cow;

mod de;
mod scan;

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
    ///
    /// A quick scan reads what it is sure of (see [`scan`]); serde_json reads the rest, and says
    /// what is wrong with a text that is not JSON.
    pub fn parse(text: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        match scan::parse(text) {
            Some(v) => Ok(v),
            None => serde_json::from_slice(text),
        }
    }

    /// [`Self::parse`] by serde_json alone (what the quick scan is held to).
    #[cfg(test)]
    fn parse_by_serde(text: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
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
mod tests;
