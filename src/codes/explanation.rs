//! Turning a code into an [`Explanation`]: a catalogue hit, a decoded content code, or (for an
//! uncatalogued 4xxx/5xxx) what the official document says the first digit means.

use super::catalogue::{catalogue, Category, Entry, Layer};
use super::decode::{decode, Check, ContentCode};
use crate::lang::{Lang, Message};
use crate::rules::Severity;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// How an explanation was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    /// The code (or one of its spellings) is in the catalogue.
    Catalogue,
    /// Not catalogued: built from the content-code scheme (field and kind of check).
    Decoded,
    /// Not catalogued: only the class is known (4xxx caller side, 5xxx server side).
    Class,
}

/// A code mentioned under "see also", with its short title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeeAlso {
    pub code: String,
    pub title: Message,
}

/// Everything the tool can say about one code. Serialises as the `--json` output of `explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The code as asked.
    pub code: String,
    pub found: Found,
    /// The catalogue entry's own code when it was found by another spelling (`010504` →
    /// `0100504`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalogue_code: Option<String>,
    pub layer: Layer,
    pub category: Category,
    /// Error or warning, for content codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<u16>,
    pub title: Message,
    pub meaning: Message,
    pub causes: Vec<Message>,
    pub fix: Vec<Message>,
    /// What catches it before sending (`doctor:…`, `signer:…`, `validate:…`, `pipeline:…`).
    pub prevented_by: Vec<String>,
    pub see_also: Vec<SeeAlso>,
    /// The content-code decoding, for content codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<ContentCode>,
    pub source: String,
}

impl Explanation {
    fn from_entry(code: &str, e: &Entry, decoded: Option<ContentCode>) -> Self {
        let decoded = decoded.filter(|_| e.severity.is_none());
        let severity = e.severity.or(decoded.as_ref().map(|d| d.severity));
        Explanation {
            code: code.to_string(),
            found: Found::Catalogue,
            catalogue_code: (e.code != code).then(|| e.code.clone()),
            layer: e.layer,
            category: e.category,
            severity,
            retryable: e.retryable,
            http: e.http,
            title: e.title.clone(),
            meaning: e.meaning.clone(),
            causes: e.causes.clone(),
            fix: e.fix.clone(),
            prevented_by: e.prevented_by.clone(),
            see_also: see_also(&e.see_also),
            decoded,
            source: e.source.clone(),
        }
    }
}

fn see_also(codes: &[String]) -> Vec<SeeAlso> {
    codes
        .iter()
        .map(|c| SeeAlso {
            code: c.clone(),
            title: lookup(c)
                .map(|e| e.title.clone())
                .or_else(|| decode(c).map(|d| decoded_title(&d)))
                .unwrap_or_else(|| Message::new("", "")),
        })
        .collect()
}

/// Content entries indexed by their decoded shape, so any spelling finds them.
fn content_index() -> &'static HashMap<(bool, u8, u16, u8), usize> {
    static IDX: OnceLock<HashMap<(bool, u8, u16, u8), usize>> = OnceLock::new();
    IDX.get_or_init(|| {
        let mut m = HashMap::new();
        for (i, e) in catalogue().entries.iter().enumerate() {
            if e.layer != Layer::Content {
                continue;
            }
            if let Some(d) = decode(&e.code) {
                m.entry(d.match_key()).or_insert(i);
            }
        }
        m
    })
}

/// The code as typed, trimmed, with Persian (۰–۹) and Arabic-Indic (٠–٩) digits made ASCII:
/// accountants copy codes from Persian screens.
pub fn normalize(code: &str) -> String {
    code.trim()
        .chars()
        .map(|c| match c {
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            _ => c,
        })
        .collect()
}

/// The catalogue entry for a code, by its exact spelling, an alias, or (content codes) any
/// equivalent spelling. Local ids are found too.
pub fn lookup(code: &str) -> Option<&'static Entry> {
    let code = &normalize(code);
    let cat = catalogue();
    if let Some(e) = cat.get(code) {
        return Some(e);
    }
    if let Some(e) = cat.get(&code.to_ascii_lowercase()) {
        return Some(e);
    }
    let d = decode(code)?;
    content_index()
        .get(&d.match_key())
        .map(|&i| &cat.entries[i])
}

/// Explains a code: catalogue hit (with the decoding for content codes), else decoded from the
/// content-code scheme, else the class of an uncatalogued 4xxx/5xxx. `None` when nothing at all
/// can be said (including text the server put in a `code` field).
pub fn explain(code: &str) -> Option<Explanation> {
    let code = &normalize(code);
    if code.is_empty() {
        return None;
    }
    let decoded = decode(code);
    if let Some(e) = lookup(code) {
        let d = if e.layer == Layer::Content {
            // An alias may be the older spelling of another check (0204401 → the official
            // 0304401): then the decoding is the entry's own code's.
            match (decoded, decode(&e.code)) {
                (Some(a), Some(b)) if a.match_key() != b.match_key() => Some(b),
                (a, b) => a.or(b),
            }
        } else {
            None
        };
        return Some(Explanation::from_entry(code, e, d));
    }
    // A 5-digit 04xxx/05xxx with a field number outside the table is a transport code, not
    // content (those are the official leading-zero transport codes).
    if let Some(d) = decoded {
        let transport_like = code.len() == 5 && (code.starts_with("04") || code.starts_with("05"));
        if !(transport_like && d.field.is_none()) {
            return Some(generic_content(code, d));
        }
    }
    class_of(code)
}

/// Short meaning for tables, in one language.
pub fn one_line(code: &str, lang: Lang) -> Option<String> {
    explain(code).map(|x| x.title.get(lang).to_string())
}

fn decoded_title(d: &ContentCode) -> Message {
    let what = d.detail_meaning.clone().unwrap_or_else(|| d.check.label());
    let (ffa, fen) = match &d.field {
        Some(f) => (f.key.clone(), f.key.clone()),
        None => (
            format!(
                "فیلد شماره {:03} (در جدول شناسنامه فیلدها نیست)",
                d.field_no
            ),
            format!(
                "field no. {:03} (not in the official field table)",
                d.field_no
            ),
        ),
    };
    let (wfa, wen) = match d.severity {
        Severity::Warning => ("هشدار: ", "warning: "),
        Severity::Error => ("", ""),
    };
    Message::new(
        format!("{wfa}{ffa}: {}", what.fa),
        format!("{wen}{fen}: {}", what.en),
    )
}

fn generic_content(code: &str, d: ContentCode) -> Explanation {
    let field = d.field_name();
    let (ffa, fen) = match &d.field {
        Some(f) => (
            format!("«{}» ({}، شماره {:03})", f.title.fa, f.key, f.no),
            format!(
                "“{}” ({}, no. {:03}, {})",
                f.title.en, f.key, f.no, f.section
            ),
        ),
        None => (
            format!("شماره {:03} (در جدول شناسنامه فیلدها نیست)", d.field_no),
            format!("no. {:03} (not in the official field table)", d.field_no),
        ),
    };
    let check = d.check.label();
    let detail = d
        .detail_meaning
        .as_ref()
        .map(|m| (format!(" جزئیات: {}.", m.fa), format!(" Detail: {}.", m.en)))
        .unwrap_or_default();
    let (sfa, sen, tail_fa, tail_en) = match d.severity {
        Severity::Error => (
            "خطا",
            "Error",
            "خطا باعث رد صورتحساب (FAILED) می‌شود.",
            "An error rejects the invoice (FAILED).",
        ),
        Severity::Warning => (
            "هشدار",
            "Warning",
            "هشدار باعث رد صورتحساب نمی‌شود، ولی بهتر است اصلاح شود.",
            "A warning does not reject the invoice, but should be fixed.",
        ),
    };
    // The sentence follows the official message templates of EC_V02 table 7.
    let (pfa, pen) = match d.check {
        Check::Existence => (
            format!("فیلد {ffa} خالی است."),
            format!("Field {fen} is empty."),
        ),
        Check::Structure => (
            format!("مقدار واردشده در فیلد {ffa} ساختار تعریف‌شده را رعایت نمی‌کند."),
            format!("The value of field {fen} breaks its defined structure."),
        ),
        Check::Rule => (
            format!("مقدار فیلد {ffa} از لحاظ قواعد محاسباتی و منطقی معتبر نیست."),
            format!("The value of field {fen} breaks a calculation or logic rule."),
        ),
        Check::Matching => (
            format!("مقدار فیلد {ffa} با اطلاعات سامانه منطبق نیست."),
            format!("The value of field {fen} does not match the tax system's data."),
        ),
        Check::OutOfPattern => (
            format!("فیلد {ffa} در الگوی صورتحساب ارسالی خارج از الگو (یا تعریف‌نشده) است ولی پر شده است."),
            format!("Field {fen} is out of pattern (or undefined) for the invoice sent, yet it was filled."),
        ),
        Check::Duplicate => (
            format!("فیلد {ffa} در صورتحساب ارسالی تکرار شده است."),
            format!("Field {fen} is repeated in the invoice sent."),
        ),
    };
    let meaning = Message::new(
        format!("{sfa} ({}): {pfa}{} {tail_fa}", check.fa, detail.0),
        format!("{sen} ({}): {pen}{} {tail_en}", check.en, detail.1),
    );
    let (causes, fix) = generic_steps(d.check, &field);
    Explanation {
        code: code.to_string(),
        found: Found::Decoded,
        catalogue_code: None,
        layer: Layer::Content,
        category: Category::Content,
        severity: Some(d.severity),
        retryable: false,
        http: None,
        title: decoded_title(&d),
        meaning,
        causes,
        fix,
        prevented_by: rules_for(&d),
        see_also: Vec::new(),
        decoded: Some(d),
        source: "RC_TXPS.EC_V02 §3, tables 7 and 8 (decoded)".to_string(),
    }
}

/// The validation rules (`validate:<rule id>`) that attach this code, from the rules engine's
/// own catalogue; plain `validate` when none names it but validate checks that kind of thing
/// (a known field's presence, structure and rules); nothing for a check only the server can
/// run (matching against its data) or a field outside the official table.
fn rules_for(d: &ContentCode) -> Vec<String> {
    static EMITTED: OnceLock<Vec<String>> = OnceLock::new();
    let emitted = EMITTED.get_or_init(crate::rules::codes_emitted);
    let is = |c: &String| d.equivalents.contains(c);
    let mut out = Vec::new();
    for r in crate::rules::rule_catalogue() {
        let fixed = r.codes.iter().any(is);
        let pattern = r.code.as_deref().is_some_and(|p| {
            p.split('|').any(|alt| {
                alt.contains("<ec>") && {
                    let c = alt.replace("<ec>", &format!("{:03}", d.field_no));
                    is(&c) && emitted.contains(&c)
                }
            })
        });
        if fixed || pattern {
            out.push(format!("validate:{}", r.id));
        }
    }
    if out.is_empty() && d.field.is_some() && d.check != Check::Matching {
        out.push("validate".to_string());
    }
    out
}

fn generic_steps(check: Check, field: &str) -> (Vec<Message>, Vec<Message>) {
    let m = |fa: String, en: String| Message::new(fa, en);
    match check {
        Check::Existence => (
            vec![m(
                format!("فیلد {field} که در این نوع و الگوی صورتحساب اجباری است خالی مانده یا فرستاده نشده است."),
                format!("{field} is required for this invoice type and pattern but is empty or missing."),
            )],
            vec![m(
                format!("فیلد {field} را پر کنید (رشته خالی هم خالی حساب می‌شود) و صورتحساب را با `moadian validate` بررسی کنید."),
                format!("Fill in {field} (an empty string counts as missing) and check with `moadian validate`."),
            )],
        ),
        Check::Structure => (
            vec![m(
                format!("مقدار {field} با شناسنامه فیلد (نوع، طول، الگو، مقادیر مجاز یا بازه) نمی‌خواند."),
                format!("The value of {field} does not fit the field's definition (type, length, pattern, allowed values or range)."),
            )],
            vec![m(
                format!("قالب {field} را طبق دستورالعمل صدور صورتحساب (RC_IITP.IS) اصلاح کنید؛ `moadian validate` همان بررسی را پیش از ارسال انجام می‌دهد."),
                format!("Correct the format of {field} per the invoice specification (RC_IITP.IS); `moadian validate` runs the same check before sending."),
            )],
        ),
        Check::Rule => (
            vec![m(
                format!("{field} با قاعده محاسباتی یا منطقی مربوط به خود (مثلاً جمع‌ها، نرخ‌ها یا تاریخ) سازگار نیست."),
                format!("{field} breaks the calculation or logic rule that applies to it (totals, rates or dates, for example)."),
            )],
            vec![m(
                format!("{field} را دوباره طبق فرمول‌های سند محاسبه کنید (با برش اعشار به روش سند) و با `moadian validate` بررسی کنید."),
                format!("Recompute {field} with the specification's formulas (truncating as it says) and check with `moadian validate`."),
            )],
        ),
        Check::Matching => (
            vec![m(
                format!("مقدار {field} با اطلاعاتی که سامانه مودیان در اختیار دارد (کارپوشه، ثبت‌نام، شناسه کالا) منطبق نیست."),
                format!("The value of {field} does not match what the tax system holds (کارپوشه, registration, goods/service ids)."),
            )],
            vec![m(
                format!("مقدار {field} را با اطلاعات ثبت‌شده در کارپوشه یا سامانه مربوط مقایسه و اصلاح کنید؛ این بررسی فقط در سرور انجام می‌شود."),
                format!("Compare {field} with what is registered in کارپوشه (or the relevant registry) and correct it; only the server can run this check."),
            )],
        ),
        Check::OutOfPattern => (
            vec![m(
                format!("فیلد {field} در این الگوی صورتحساب «خارج از الگو» یا تعریف‌نشده است ولی مقدار دارد."),
                format!("{field} is out of pattern (or undefined) for this invoice pattern, yet it has a value."),
            )],
            vec![m(
                format!("فیلد {field} را از صورتحساب حذف کنید (خالی بگذارید)."),
                format!("Remove {field} from the invoice (leave it out)."),
            )],
        ),
        Check::Duplicate => (
            vec![m(
                format!("فیلد {field} در صورتحساب ارسالی تکرار شده است."),
                format!("{field} appears more than once in the invoice."),
            )],
            vec![m(
                format!("تکرار {field} را حذف کنید."),
                format!("Remove the repeated {field}."),
            )],
        ),
    }
}

/// An uncatalogued 4xxx/5xxx (or 04xxx/05xxx): the official meaning of the first digit.
fn class_of(code: &str) -> Option<Explanation> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (transport, rest) = match code.len() {
        4 => (false, code),
        5 if code.starts_with('0') => (true, &code[1..]),
        _ => return None,
    };
    let layer = if transport {
        Layer::Transport
    } else {
        Layer::OtherApi
    };
    let (category, retryable, title, meaning, fix) = match rest.as_bytes().first() {
        Some(b'4') => (
            Category::Request,
            false,
            Message::new(
                "خطای سمت فراخواننده (کد ناشناخته ۴xxx)",
                "caller-side error (uncatalogued 4xxx)",
            ),
            Message::new(
                "این کد در فهرست نیست. طبق سند کد خطاها، کدی که با ۴ شروع شود یعنی ساختار درخواست یا پارامترهای ارسالی از سمت فراخواننده اشتباه است.",
                "This code is not catalogued. Per the official code document, a code starting with 4 means the caller sent a wrongly built request or wrong parameters.",
            ),
            Message::new(
                "متن پیام سرور را بخوانید، درخواست را اصلاح کنید و دوباره بفرستید؛ ارسال دوباره بدون تغییر کمکی نمی‌کند.",
                "Read the server's message, correct the request and send again; resending unchanged will not help.",
            ),
        ),
        Some(b'5') => (
            Category::Server,
            true,
            Message::new(
                "خطای سمت سرور (کد ناشناخته ۵xxx)",
                "server-side error (uncatalogued 5xxx)",
            ),
            Message::new(
                "این کد در فهرست نیست. طبق سند کد خطاها، کدی که با ۵ شروع شود یعنی مشکل در سرور است، یا مشکل از درخواست است ولی سرور نتوانسته آن را درست تشخیص دهد.",
                "This code is not catalogued. Per the official code document, a code starting with 5 means a problem on the server, or a problem in the request the server could not identify.",
            ),
            Message::new(
                "درخواست را بازبینی کنید و مدتی بعد دوباره بفرستید (با فاصله‌ی فزاینده).",
                "Review the request and try again later, with growing pauses.",
            ),
        ),
        _ => return None,
    };
    Some(Explanation {
        code: code.to_string(),
        found: Found::Class,
        catalogue_code: None,
        layer,
        category,
        severity: None,
        retryable,
        http: None,
        title,
        meaning,
        causes: Vec::new(),
        fix: vec![fix],
        prevented_by: Vec::new(),
        see_also: Vec::new(),
        decoded: None,
        source: "RC_TXPS.EC_V02 §2.1".to_string(),
    })
}
