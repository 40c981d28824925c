//! The two languages every message of the tool is written in.

use serde::{Deserialize, Serialize};

/// A language a person reads the tool's output in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Persian (فارسی), the default.
    #[default]
    Fa,
    /// English.
    En,
}

/// A message in both languages. Everything the tool tells a person carries both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub fa: String,
    pub en: String,
}

impl Message {
    pub fn new(fa: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            fa: fa.into(),
            en: en.into(),
        }
    }

    /// The text in one language.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fa => &self.fa,
            Lang::En => &self.en,
        }
    }
}

/// English, then Persian, on one line: the form of logs, `to_string` and usage errors.
impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.en, self.fa)
    }
}

/// Which language(s) a person reads the output in — one rule for every command: Persian by
/// default, `--lang en` English, `--lang both` Persian with English beside or beneath it.
/// JSON output is not affected: every message in it is a [`Message`] (`{"fa": …, "en": …}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Default)]
pub enum Langs {
    /// Persian (فارسی), the default.
    #[default]
    Fa,
    /// English.
    En,
    /// Both: Persian, then English.
    Both,
}

impl Langs {
    /// The one language, or `None` for both.
    pub fn single(self) -> Option<Lang> {
        match self {
            Langs::Fa => Some(Lang::Fa),
            Langs::En => Some(Lang::En),
            Langs::Both => None,
        }
    }

    /// The languages to show, in order.
    pub fn list(self) -> &'static [Lang] {
        match self {
            Langs::Fa => &[Lang::Fa],
            Langs::En => &[Lang::En],
            Langs::Both => &[Lang::Fa, Lang::En],
        }
    }

    /// The language of the first line (Persian for both).
    pub fn primary(self) -> Lang {
        self.single().unwrap_or(Lang::Fa)
    }

    /// A short label (a header, a word): `fa / en` for both.
    pub fn label(self, fa: &str, en: &str) -> String {
        match self {
            Langs::Fa => fa.to_string(),
            Langs::En => en.to_string(),
            Langs::Both if fa == en => fa.to_string(),
            Langs::Both => format!("{fa} / {en}"),
        }
    }

    /// A message: one line per language (English beneath Persian for both).
    pub fn text(self, m: &Message) -> String {
        match self {
            Langs::Both if m.fa == m.en => m.fa.clone(),
            Langs::Both => format!("{}\n{}", m.fa, m.en),
            l => m.get(l.primary()).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let m = Message::new("سلام", "hello");
        assert_eq!(Langs::default(), Langs::Fa);
        assert_eq!(Langs::Fa.text(&m), "سلام");
        assert_eq!(Langs::En.text(&m), "hello");
        assert_eq!(Langs::Both.text(&m), "سلام\nhello");
        assert_eq!(Langs::Both.label("وضعیت", "Status"), "وضعیت / Status");
        assert_eq!(Langs::Both.list(), &[Lang::Fa, Lang::En]);
    }
}

/// `s` as it may be shown to a person: control characters (C0, DEL, C1) written escaped as
/// `\u{1b}`, so a value quoted in a message can never move the cursor, clear the screen or
/// cut the line. Everything else is left as typed, Persian format characters (ZWNJ U+200C,
/// RLM U+200F, LRM U+200E) included.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod escape_tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(escape_controls("a\u{1b}[2J\u{0}b"), "a\\u{1b}[2J\\u{0}b");
        assert_eq!(escape_controls("x\u{7f}\ty"), "x\\u{7f}\\u{9}y");
        let persian = "می\u{200c}خواهم\u{200f}\u{200e}";
        assert_eq!(escape_controls(persian), persian);
    }
}
