//! The quick way to a [`Json`] tree: one pass over the text that allocates only for the
//! containers themselves (and for a text or key with escapes), with every number borrowed as
//! written.
//!
//! It answers only for text it is sure of. Anything it does not accept — bad syntax, a repeated
//! key, serde_json's private number key, a lone surrogate, nesting deeper than [`MAX_DEPTH`] —
//! is left to serde_json (`None`), which says what is wrong and where, in its own words and at
//! its own position. So where this accepts a text, the tree is exactly the one serde_json builds
//! through [`super::Json`]'s `Deserialize` (the differential test in `tests.rs` holds that),
//! including a number's text: serde_json (`arbitrary_precision`) writes an exponent as `e`
//! followed by its sign (`1E3` → `1e+3`), and so does this.

use super::{same_key, Json, Num, Obj, NUMBER_TOKEN};
use std::borrow::Cow;

/// Deeper than this, serde_json decides (its own limit is 127 levels).
const MAX_DEPTH: u32 = 100;

/// The tree of `text` if it is JSON this scanner is sure of; `None` to ask serde_json.
pub(super) fn parse(text: &[u8]) -> Option<Json<'_>> {
    // (Valid JSON is valid UTF-8 as a whole: outside texts only ASCII is allowed.)
    let s = std::str::from_utf8(text).ok()?;
    let mut sc = Scan {
        s,
        b: text,
        i: 0,
        depth: 0,
    };
    let v = sc.value()?;
    sc.ws();
    (sc.i == sc.b.len()).then_some(v)
}

struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Scan<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Option<Json<'a>> {
        self.ws();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Json::String),
            b'-' | b'0'..=b'9' => self.number().map(|n| Json::Number(Num(n))),
            b'n' => self.word(b"null", Json::Null),
            b't' => self.word(b"true", Json::Bool(true)),
            b'f' => self.word(b"false", Json::Bool(false)),
            _ => None,
        }
    }

    fn word(&mut self, w: &[u8], v: Json<'a>) -> Option<Json<'a>> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Some(v)
        } else {
            None
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.i += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn object(&mut self) -> Option<Json<'a>> {
        self.enter()?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            self.depth -= 1;
            return Some(Json::Object(Obj(Vec::new())));
        }
        let mut entries: Vec<(Cow<'a, str>, Json<'a>)> = Vec::with_capacity(16);
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            // (A repeated key, or serde_json's private number key: serde_json says why.)
            if key == NUMBER_TOKEN
                || entries
                    .iter()
                    .any(|(k, _)| same_key(k.as_bytes(), key.as_bytes()))
            {
                return None;
            }
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            let v = self.value()?;
            entries.push((key, v));
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.i += 1;
        self.depth -= 1;
        Some(Json::Object(Obj(entries)))
    }

    fn array(&mut self) -> Option<Json<'a>> {
        self.enter()?;
        self.ws();
        let mut items = Vec::new();
        if self.peek()? != b']' {
            loop {
                items.push(self.value()?);
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.i += 1;
        self.depth -= 1;
        Some(Json::Array(items))
    }

    /// A text from its opening quote: borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.i += 1;
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => {
                    let t = self.s.get(start..self.i)?;
                    self.i += 1;
                    return Some(Cow::Borrowed(t));
                }
                b'\\' => break,
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        let mut out = String::with_capacity(self.i - start + 16);
        out.push_str(self.s.get(start..self.i)?);
        loop {
            let run = self.i;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(self.s.get(run..self.i)?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode()?),
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// The character of a `\u` escape (after the `u`); a surrogate only as a whole pair.
    fn unicode(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if !(0xD800..0xE000).contains(&hi) {
            return char::from_u32(hi);
        }
        if hi >= 0xDC00 || !self.b[self.i..].starts_with(b"\\u") {
            return None;
        }
        self.i += 2;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let mut n = 0u32;
        for &c in h {
            n = n * 16 + char::from(c).to_digit(16)?;
        }
        self.i += 4;
        Some(n)
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - from
    }

    /// A number's text as serde_json keeps it: as written, but for an exponent, which it writes
    /// `e` and a sign.
    fn number(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        let Some(e @ (b'e' | b'E')) = self.peek() else {
            return Some(Cow::Borrowed(self.s.get(start..self.i)?));
        };
        let mantissa = self.i;
        self.i += 1;
        let sign = match self.peek() {
            Some(c @ (b'+' | b'-')) => {
                self.i += 1;
                Some(c)
            }
            _ => None,
        };
        let digits = self.i;
        if self.digits() == 0 {
            return None;
        }
        if e == b'e' && sign.is_some() {
            return Some(Cow::Borrowed(self.s.get(start..self.i)?));
        }
        let mut t = String::with_capacity(self.i - start + 1);
        t.push_str(self.s.get(start..mantissa)?);
        t.push('e');
        t.push(char::from(sign.unwrap_or(b'+')));
        t.push_str(self.s.get(digits..self.i)?);
        Some(Cow::Owned(t))
    }
}
