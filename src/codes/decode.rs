//! Decoder for the content-layer codes (RC_TXPS.EC_V02 §3, table 7): digit 1 error/warning,
//! digit 2 the kind of check, then the field number, then (for some kinds) two detail digits.
//! So a code nobody catalogued still says which field and what kind of problem.
//!
//! Forms accepted:
//! * 7 digits `[0|1][kind][fff][dd]` — the current form (`0100504`);
//! * 5 digits `[0|1][kind][fff]` — kinds without detail (`00012`, `14003`, `02002`);
//! * 6 digits `[0|1][kind][ff][dd]` — the older form with a 2-digit field (`010504` ≡ `0100504`);
//! * 4 digits `[0|1][kind][ff]` — the older short form of the frequent-errors document (`0301`);
//! * 6 digits not starting with 0 or 1 — a 7-digit code whose leading zero was lost because
//!   some software stored it as a number (`200201` ≡ `0200201`).

use super::catalogue::{catalogue, Field};
use crate::lang::Message;
use crate::rules::Severity;
use serde::Serialize;

/// The kind of check that failed (digit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// 0: the field is empty or missing.
    Existence,
    /// 1: JSON structure: type, enum, pattern, length, range, decimals.
    Structure,
    /// 2: a calculation or logic rule between fields.
    Rule,
    /// 3: the value does not match the tax system's own data.
    Matching,
    /// 4: a field that is out of pattern (or undefined) was filled.
    OutOfPattern,
    /// 5: the field is duplicated.
    Duplicate,
}

impl Check {
    fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            0 => Check::Existence,
            1 => Check::Structure,
            2 => Check::Rule,
            3 => Check::Matching,
            4 => Check::OutOfPattern,
            5 => Check::Duplicate,
            _ => return None,
        })
    }

    pub fn digit(self) -> u8 {
        match self {
            Check::Existence => 0,
            Check::Structure => 1,
            Check::Rule => 2,
            Check::Matching => 3,
            Check::OutOfPattern => 4,
            Check::Duplicate => 5,
        }
    }

    /// Whether the official scheme gives this kind two detail digits.
    pub fn has_detail(self) -> bool {
        matches!(self, Check::Structure | Check::Matching | Check::Rule)
    }

    pub fn label(self) -> Message {
        let (fa, en) = match self {
            Check::Existence => (
                "اعتبارسنجی وجودی (فیلد خالی است)",
                "existence (the field is empty)",
            ),
            Check::Structure => ("اعتبارسنجی ساختار JSON", "JSON structure"),
            Check::Rule => (
                "اعتبارسنجی قاعده‌ای (قواعد محاسباتی و منطقی)",
                "rule (calculation or logic)",
            ),
            Check::Matching => (
                "اعتبارسنجی تطبیقی (با اطلاعات سامانه)",
                "matching against the tax system's data",
            ),
            Check::OutOfPattern => (
                "پر شدن فیلد «خارج از الگو» یا «تعریف نشده»",
                "an out-of-pattern or undefined field was filled",
            ),
            Check::Duplicate => ("اعتبارسنجی تکراری بودن", "duplicate field"),
        };
        Message::new(fa, en)
    }
}

/// The written form a code came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    Seven,
    Five,
    SixLegacy,
    FourLegacy,
    LeadingZeroLost,
}

/// The field a content code names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRef {
    pub no: u16,
    /// JSON key (`inno`); for 500/600/700/800 the section.
    pub key: String,
    pub section: String,
    pub title: Message,
}

impl From<&Field> for FieldRef {
    fn from(f: &Field) -> Self {
        Self {
            no: f.no,
            key: f.key.clone(),
            section: f.section.clone(),
            title: f.title(),
        }
    }
}

/// A decoded content code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentCode {
    /// The form it was written in.
    pub form: Form,
    /// The current spelling: 7 digits when it has detail digits, else 5.
    pub canonical: String,
    /// Every spelling of the same code (current and older forms).
    pub equivalents: Vec<String>,
    pub severity: Severity,
    pub check: Check,
    pub field_no: u16,
    /// `None` when the field number is not in the official table.
    pub field: Option<FieldRef>,
    pub detail: Option<u8>,
    pub detail_meaning: Option<Message>,
}

impl ContentCode {
    /// Key used to match spellings of one code: detail digits are dropped where the official
    /// scheme has none, and `01` stands for "no detail" in rule and matching checks
    /// (`02002` ≡ `0200201`, `0301` ≡ `0300101`).
    pub fn match_key(&self) -> (bool, u8, u16, u8) {
        let d = match self.check {
            Check::Existence | Check::OutOfPattern | Check::Duplicate => 0,
            Check::Rule | Check::Matching => self.detail.unwrap_or(1),
            Check::Structure => self.detail.unwrap_or(0),
        };
        (
            self.severity == Severity::Warning,
            self.check.digit(),
            self.field_no,
            d,
        )
    }

    /// `key` of the field, or `field NNN` when the number is unknown.
    pub fn field_name(&self) -> String {
        match &self.field {
            Some(f) => f.key.clone(),
            None => format!("field {:03}", self.field_no),
        }
    }
}

fn digits(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().map(|b| b - b'0').collect())
}

fn num(d: &[u8]) -> u16 {
    d.iter().fold(0u16, |a, &x| a * 10 + u16::from(x))
}

/// Decodes a content code in any of its forms; `None` when it is not shaped like one.
pub fn decode(code: &str) -> Option<ContentCode> {
    let code = code.trim();
    let d = digits(code)?;
    let (form, d) = match d.len() {
        7 => (Form::Seven, d),
        6 if d[0] > 1 => {
            let mut v = vec![0];
            v.extend(d);
            (Form::LeadingZeroLost, v)
        }
        6 => (Form::SixLegacy, d),
        5 => (Form::Five, d),
        4 => (Form::FourLegacy, d),
        _ => return None,
    };
    if d[0] > 1 {
        return None;
    }
    let severity = if d[0] == 0 {
        Severity::Error
    } else {
        Severity::Warning
    };
    let check = Check::from_digit(d[1])?;
    let (field_no, detail) = match form {
        Form::Seven | Form::LeadingZeroLost => (num(&d[2..5]), Some(d[5] * 10 + d[6])),
        Form::Five => (num(&d[2..5]), None),
        Form::SixLegacy => (num(&d[2..4]), Some(d[4] * 10 + d[5])),
        Form::FourLegacy => (num(&d[2..4]), None),
    };
    let field = catalogue().field(field_no).map(FieldRef::from);
    let detail_meaning = detail.and_then(|dd| detail_meaning(check, field_no, dd));
    let mut c = ContentCode {
        form,
        canonical: String::new(),
        equivalents: Vec::new(),
        severity,
        check,
        field_no,
        field,
        detail,
        detail_meaning,
    };
    c.canonical = spell(&c, 7);
    c.equivalents = equivalents(&c);
    Some(c)
}

/// Writes the code in a given length: 7 (or 5 when there is no detail), 6 or 4.
fn spell(c: &ContentCode, len: usize) -> String {
    let s = u8::from(c.severity == Severity::Warning);
    let k = c.check.digit();
    match (len, c.detail) {
        (7, Some(dd)) => format!("{s}{k}{:03}{dd:02}", c.field_no),
        (6, Some(dd)) => format!("{s}{k}{:02}{dd:02}", c.field_no),
        (4, _) => format!("{s}{k}{:02}", c.field_no),
        _ => format!("{s}{k}{:03}", c.field_no),
    }
}

fn equivalents(c: &ContentCode) -> Vec<String> {
    let mut v = vec![spell(c, 7)];
    let generic = match c.check {
        Check::Rule | Check::Matching => matches!(c.detail, None | Some(1)),
        Check::Existence | Check::OutOfPattern | Check::Duplicate => true,
        Check::Structure => false,
    };
    let with01 = ContentCode {
        detail: Some(1),
        ..c.clone()
    };
    let none = ContentCode {
        detail: None,
        ..c.clone()
    };
    if generic {
        match c.check {
            Check::Rule | Check::Matching => {
                v.push(spell(&with01, 7));
                v.push(spell(&none, 5));
            }
            _ => v.push(spell(&none, 5)),
        }
    }
    if c.field_no < 100 {
        if c.detail.is_some() {
            v.push(spell(c, 6));
        }
        if generic || c.detail.is_none() {
            v.push(spell(&none, 4));
        }
    }
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// What the two detail digits mean (EC_V02 table 7).
pub fn detail_meaning(check: Check, field_no: u16, dd: u8) -> Option<Message> {
    let (fa, en) = match (check, field_no, dd) {
        (Check::Structure, _, 1) => (
            "فیلد جزو فیلدهای مجاز نیست (additionalProperties)",
            "the field is not one of the allowed fields (additionalProperties)",
        ),
        (Check::Structure, _, 2) => (
            "مقدار جزو مقادیر مجاز فیلد شمارشی نیست (enum)",
            "the value is not one of the allowed values (enum)",
        ),
        (Check::Structure, _, 3) => ("نوع مقدار فیلد درست نیست (type)", "the value has the wrong type (type)"),
        (Check::Structure, _, 4) => (
            "الگو (regex) یا طول ثابت رشته رعایت نشده است",
            "the pattern (regex) or fixed length is not met",
        ),
        (Check::Structure, _, 5) => (
            "حد مطلق رعایت نشده است: مقدار باید اکیداً بزرگ‌تر (یا کوچک‌تر) از حد باشد (exclusiveMinimum/Maximum)",
            "exclusive bound not met: the value must be strictly above (or below) the limit (exclusiveMinimum/Maximum)",
        ),
        (Check::Structure, _, 6) => (
            "حداقل یا حداکثر مقدار رعایت نشده است (minimum/maximum)",
            "minimum or maximum not met (minimum/maximum)",
        ),
        (Check::Structure, _, 9) => (
            "تعداد رقم‌های اعشار بیش از حد مجاز است (multipleOf)",
            "too many decimal places (multipleOf)",
        ),
        (Check::Structure, _, 10) => (
            "ساختار استاندارد JSON رعایت نشده است",
            "the invoice is not valid JSON",
        ),
        (Check::Matching, 9, 2) => (
            "فروشنده صورتحساب با فروشنده صورتحساب مرجع منطبق نیست",
            "the seller differs from the seller of the reference invoice",
        ),
        (Check::Matching, 9, 3) => (
            "فروشنده مجاز به ارسال این الگوی صورتحساب نیست",
            "the seller may not send invoices of this pattern",
        ),
        (Check::Matching, _, 1) => (
            "مقدار با اطلاعات سامانه منطبق نیست",
            "the value does not match the tax system's data",
        ),
        (Check::Rule, _, 1) => (
            "مقدار از لحاظ قواعد محاسباتی و منطقی معتبر نیست",
            "the value breaks a calculation or logic rule",
        ),
        _ => return None,
    };
    Some(Message::new(fa, en))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: &str) -> ContentCode {
        match decode(c) {
            Some(x) => x,
            None => panic!("{c} should decode"),
        }
    }

    #[test]
    fn seven_digit_regex_on_inno() {
        let c = d("0100504");
        assert_eq!(c.severity, Severity::Error);
        assert_eq!(c.check, Check::Structure);
        assert_eq!(c.field_name(), "inno");
        assert_eq!(c.detail, Some(4));
    }

    #[test]
    fn six_digit_is_the_same_as_seven() {
        assert_eq!(d("010504").match_key(), d("0100504").match_key());
        assert_eq!(d("010504").canonical, "0100504");
        assert_eq!(d("011204").field_name(), "tinb");
    }

    #[test]
    fn short_forms() {
        assert_eq!(d("0301").match_key(), d("0300101").match_key());
        assert_eq!(d("02002").match_key(), d("0200201").match_key());
        assert_eq!(d("200201").match_key(), d("0200201").match_key());
        let w = d("14003");
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!(w.check, Check::OutOfPattern);
        assert_eq!(w.field_name(), "indati2m");
    }

    #[test]
    fn not_content() {
        assert!(decode("4131").is_none());
        assert!(decode("2131").is_none());
        assert!(decode("abc").is_none());
        assert!(decode("0910504").is_none());
        assert!(decode("").is_none());
    }

    #[test]
    fn equivalents_list_old_forms() {
        let c = d("0100504");
        assert!(c.equivalents.contains(&"010504".to_string()));
        let t = d("0300101");
        assert!(t.equivalents.contains(&"0301".to_string()));
        assert!(t.equivalents.contains(&"03001".to_string()));
    }
}
