//! Structural rules (RC_IITP.IS_V7.8 §6 «قاعده کلی» 3): type, length, characters, digits,
//! decimals, sign and enumeration, applied to EVERY present field whatever its obligation —
//! an empty string is a present value and fails. Also unknown keys and the envelope itself.

use super::data::{Chars, EnumSet, FieldSpec, FieldType, MinBound, Section, TABLES};
use super::util::{code, parse_decimal, Sink};
use super::Severity;
use crate::invoice::tree::{Json as Value, Obj};

/// Header keys of later spec versions (V7.9) that are accepted without checks.
const LATER_KEYS: [&str; 3] = ["insr", "nti1", "nti2"];

fn sec_code(sec: Section) -> &'static str {
    match sec {
        Section::Header | Section::Sg => "500",
        Section::Body => "600",
        Section::Payment => "700",
    }
}

fn sec_name(sec: Section) -> &'static str {
    match sec {
        Section::Header | Section::Sg => "header",
        Section::Body => "body",
        Section::Payment => "payments",
    }
}

/// Checks every key of one object (header, a line, a payment or a carried good), and returns
/// the matrix rows of `sec` the object has, not `null` ([`super::util::Rows`]; a key written
/// in another case, `Indati2m`, is not its row). `keep` is told each of those fields with its
/// index in the field table.
pub(crate) fn check_object<'o, 'j>(
    obj: &'o Obj<'j>,
    sec: Section,
    prefix: &dyn Fn(&str) -> String,
    sink: &mut Sink,
    keep: &mut dyn FnMut(usize, &'o Value<'j>),
) -> u128 {
    let mut rows = 0u128;
    for (key, value) in obj.iter() {
        if value.is_null() {
            continue;
        }
        let (lookup, recased) = match key {
            "Indati2m" if sec == Section::Header => ("indati2m", true),
            "Tax17" if sec == Section::Header => ("tax17", true),
            k => (k, false),
        };
        if recased {
            sink.warn(
                "field.key_case",
                prefix(key),
                None,
                format!("کلید «{key}» با حرف بزرگ نوشته شده است؛ آن را «{lookup}» بنویسید."),
                format!("key `{key}` is capitalised as in the V7.8 template; write it `{lookup}` as the SDKs do"),
            );
        }
        let Some((i, spec)) = TABLES.field(sec, lookup) else {
            if sec == Section::Header && LATER_KEYS.contains(&lookup) {
                continue;
            }
            let c = format!("01{}01", sec_code(sec));
            sink.error(
                "field.unknown",
                prefix(key),
                Some(c),
                format!("فیلد «{key}» در بخش {} تعریف نشده است؛ آن را حذف کنید یا نام آن را اصلاح کنید.", sec_name(sec)),
                format!("`{key}` is not a field of the {} in RC_IITP.IS_V7.8; remove it or fix its name", sec_name(sec)),
            );
            continue;
        };
        // (The fields and the matrix list the same keys in the same order, as
        // `fields_and_matrix_agree_on_keys_and_sections` holds.)
        if !recased {
            if i < 128 {
                rows |= 1 << i;
            }
            keep(i, value);
        }
        check_value(spec, value, &|| prefix(key), sink);
        if spec.ty == FieldType::Array {
            if let Value::Array(items) = value {
                for (j, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(m) => {
                            let p = |k: &str| format!("header.sg[{j}].{k}");
                            check_object(m, Section::Sg, &p, sink, &mut |_, _| {});
                        }
                        _ => type_error(spec, &format!("header.sg[{j}]"), "object", sink),
                    }
                }
            }
        }
    }
    rows
}

fn ec(spec: &FieldSpec) -> Option<&str> {
    spec.ec.as_deref()
}

fn with_code(spec: &FieldSpec, detail: u8) -> Option<String> {
    ec(spec).map(|e| code(Severity::Error, 1, e, Some(detail)))
}

fn type_error(spec: &FieldSpec, path: &str, want: &str, sink: &mut Sink) {
    let want_fa = match want {
        "string" => "رشته (داخل گیومه)",
        "integer" => "عدد صحیح (بدون گیومه)",
        "number" => "عدد (بدون گیومه)",
        "array" => "آرایه",
        _ => "شیء",
    };
    sink.error(
        "field.type",
        path.to_string(),
        with_code(spec, 3),
        format!("نوع مقدار «{}» باید {want_fa} باشد.", spec.key),
        format!("`{}` must be a JSON {want}", spec.key),
    );
}

/// Checks one present value against its dictionary entry.
pub(crate) fn check_value(
    spec: &FieldSpec,
    v: &Value<'_>,
    path: &dyn Fn() -> String,
    sink: &mut Sink,
) {
    match spec.ty {
        FieldType::Str => match v {
            Value::String(s) => check_str(spec, s, path, sink),
            _ => type_error(spec, &path(), "string", sink),
        },
        FieldType::Int => match v {
            Value::Number(n) => check_int(spec, n.as_str(), path, sink),
            _ => type_error(spec, &path(), "integer", sink),
        },
        FieldType::Dec => match v {
            Value::Number(n) => check_dec(spec, n.as_str(), path, sink),
            _ => type_error(spec, &path(), "number", sink),
        },
        FieldType::Array => {
            if !v.is_array() {
                type_error(spec, &path(), "array", sink)
            }
        }
    }
}

fn chars_ok(chars: Chars, s: &str) -> bool {
    match chars {
        Chars::Taxid => s
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
        Chars::Hex => s.bytes().all(|b| b.is_ascii_hexdigit()),
        Chars::Digits | Chars::Digits1114 => s.bytes().all(|b| b.is_ascii_digit()),
        Chars::Alnum => s.bytes().all(|b| b.is_ascii_alphanumeric()),
        Chars::Upper => s.bytes().all(|b| b.is_ascii_uppercase()),
        Chars::Text => true,
    }
}

fn chars_en(chars: Chars) -> &'static str {
    match chars {
        Chars::Taxid => "digits and capital letters",
        Chars::Hex => "hexadecimal digits",
        Chars::Digits | Chars::Digits1114 => "digits 0-9",
        Chars::Alnum => "letters and digits",
        Chars::Upper => "capital letters",
        Chars::Text => "text",
    }
}

fn chars_fa(chars: Chars) -> &'static str {
    match chars {
        Chars::Taxid => "رقم و حرف بزرگ لاتین",
        Chars::Hex => "رقم مبنای ۱۶",
        Chars::Digits | Chars::Digits1114 => "رقم ۰ تا ۹ (لاتین)",
        Chars::Alnum => "حرف و رقم لاتین",
        Chars::Upper => "حرف بزرگ لاتین",
        Chars::Text => "متن",
    }
}

/// A C0 control character (U+0000–U+001F, TAB and line breaks included) or DEL: never part of
/// the plain text the official field definitions allow. Format characters of Persian text
/// (ZWNJ, RLM, LRM) are not among them.
fn is_control_char(c: char) -> bool {
    c <= '\u{1f}' || c == '\u{7f}'
}

fn check_str(spec: &FieldSpec, s: &str, path: &dyn Fn() -> String, sink: &mut Sink) {
    // Bytes first (the hot path: almost every value has none); a control character is ASCII.
    let any = s.bytes().any(|b| b <= 0x1f || b == 0x7f);
    if let Some((at, c)) = any
        .then(|| s.chars().enumerate().find(|(_, c)| is_control_char(*c)))
        .flatten()
    {
        // The sink shows control characters escaped in every finding (`\u{1b}`).
        let shown = crate::import::limits::clip(s);
        let pos = at + 1;
        sink.error(
            "field.control_char",
            path(),
            with_code(spec, 4),
            format!(
                "مقدار «{}» نویسهٔ کنترلی {c} (نویسهٔ {pos}) دارد؛ متن فیلدهای صورتحساب ساده است و نویسهٔ کنترلی (NUL، ESC، سطر جدید، TAB…) ندارد. آن را حذف کنید؛ مقدار فعلی: «{shown}».",
                spec.key
            ),
            format!(
                "`{}` holds the control character {c} (character {pos}); invoice fields are plain text without control characters (NUL, ESC, line breaks, TAB…): remove it; got \"{shown}\"",
                spec.key
            ),
        );
        return;
    }
    let chars = spec.chars.unwrap_or(Chars::Text);
    // inno: a decimal or short hex serial is accepted by the server with warning 1300501
    // (checked with the tax ID); only non-hex content or a wrong length beyond 10 fails here.
    let inno_lenient = spec.key == "inno" && !s.is_empty() && s.len() <= 10;
    let len = if chars == Chars::Text {
        s.chars().count()
    } else {
        s.len()
    };
    let min = spec.min_len.unwrap_or(0);
    let max = spec.max_len.unwrap_or(usize::MAX);
    let len_ok = if chars == Chars::Digits1114 {
        len == 11 || len == 14
    } else {
        (min..=max).contains(&len) || inno_lenient
    };
    // Enumerated codes (units, currencies) are judged by the list alone, as the server does:
    // `"mu": ""` is answered with the enum code 0103502.
    if let Some(set) = spec.enum_set {
        check_set(spec, set, s, path, sink);
        return;
    }
    if len_ok && chars_ok(chars, s) {
        return;
    }
    let want = match (chars, min == max) {
        (Chars::Digits1114, _) => "11 or 14".to_string(),
        (_, true) => format!("{min}"),
        _ => format!("{min} to {max}"),
    };
    let want_fa = match (chars, min == max) {
        (Chars::Digits1114, _) => "۱۱ یا ۱۴".to_string(),
        (_, true) => format!("{min}"),
        _ => format!("{min} تا {max}"),
    };
    sink.error(
        "field.format",
        path(),
        with_code(spec, 4),
        format!(
            "مقدار «{}» باید {want_fa} کاراکتر از نوع {} باشد؛ مقدار فعلی «{s}» است (رشته خالی هم نادرست است).",
            spec.key,
            chars_fa(chars)
        ),
        format!(
            "`{}` must be {want} characters of {} (regex {}); got \"{s}\" (an empty string is not allowed either)",
            spec.key,
            chars_en(chars),
            spec.regex.as_deref().unwrap_or("")
        ),
    );
}

fn check_set(spec: &FieldSpec, set: EnumSet, s: &str, path: &dyn Fn() -> String, sink: &mut Sink) {
    let (ok, fa, en) = match set {
        EnumSet::Units => (
            TABLES.units.contains(s),
            "جدول واحدهای اندازه‌گیری RC_UMGS.ST_V1.18 (مثلاً 1627 عدد)",
            "the unit table RC_UMGS.ST_V1.18 (e.g. 1627 = piece)",
        ),
        EnumSet::Currencies => (
            TABLES.currencies.contains(s),
            "فهرست ارزهای سازمان (کد الفبایی ISO مانند USD)",
            "the official currency list (ISO alphabetic code such as USD)",
        ),
        EnumSet::Countries => (
            TABLES.countries.contains(s),
            "جدول کدینگ کشورها در RC_IITP.IS_V7.8 بخش ۸-۴ (ایران 033 است، نه کد ISO یعنی 364)",
            "the country table of RC_IITP.IS_V7.8 §8-4 (Iran is 033, not its ISO number 364)",
        ),
        EnumSet::Cities => (
            TABLES.cities.contains(s),
            "جدول کدینگ شهرها در RC_IITP.IS_V7.8 بخش ۸-۵ (مثلاً 12 تبریز)",
            "the city table of RC_IITP.IS_V7.8 §8-5 (e.g. 12 = Tabriz)",
        ),
    };
    if !ok {
        sink.error(
            "field.enum",
            path(),
            with_code(spec, 2),
            format!(
                "مقدار «{s}» برای «{}» مجاز نیست؛ یک کد از {fa} بنویسید.",
                spec.key
            ),
            format!(
                "\"{s}\" is not an allowed `{}`; use a code from {en}",
                spec.key
            ),
        );
    }
}

fn check_int(spec: &FieldSpec, text: &str, path: &dyn Fn() -> String, sink: &mut Sink) {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        sink.error(
            "field.type",
            path(),
            with_code(spec, 3),
            format!(
                "«{}» باید عدد صحیح بدون اعشار باشد؛ مقدار فعلی {text} است.",
                spec.key
            ),
            format!(
                "`{}` must be a whole number without fraction or exponent; got {text}",
                spec.key
            ),
        );
        return;
    }
    let max = spec.digits.unwrap_or(19) as usize;
    if neg || digits.len() > max {
        sink.error(
            "field.range",
            path(),
            with_code(spec, 6),
            format!(
                "«{}» باید عددی نامنفی با حداکثر {max} رقم باشد؛ مقدار فعلی {text} است.",
                spec.key
            ),
            format!(
                "`{}` must be a non-negative number of at most {max} digits; got {text}",
                spec.key
            ),
        );
        return;
    }
    if let Some(allowed) = &spec.enum_values {
        let ok = digits
            .parse::<i64>()
            .map(|n| allowed.contains(&n))
            .unwrap_or(false);
        if !ok {
            let list = allowed
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            sink.error(
                "field.enum",
                path(),
                with_code(spec, 2),
                format!(
                    "مقدار {text} برای «{}» مجاز نیست؛ مقادیر مجاز: {list}.",
                    spec.key
                ),
                format!("{text} is not an allowed `{}`; allowed: {list}", spec.key),
            );
        }
    }
}

fn check_dec(spec: &FieldSpec, text: &str, path: &dyn Fn() -> String, sink: &mut Sink) {
    let Some(d) = parse_decimal(text) else {
        sink.error(
            "field.range",
            path(),
            with_code(spec, 6),
            format!("عدد «{}» خارج از محدوده قابل پذیرش است: {text}", spec.key),
            format!("`{}` is out of range: {text}", spec.key),
        );
        return;
    };
    let int_max = spec.int_digits.unwrap_or(18);
    let dec_max = spec.decimals.unwrap_or(0);
    let n = d.normalize();
    if n.scale() > dec_max {
        sink.error(
            "field.decimals",
            path(),
            with_code(spec, 9),
            format!("«{}» حداکثر {dec_max} رقم اعشار می‌پذیرد؛ مقدار {text} را با قطع کردن اعشار اصلاح کنید.", spec.key),
            format!("`{}` allows at most {dec_max} decimals; got {text} — truncate it", spec.key),
        );
    }
    let limit = rust_decimal::Decimal::from_i128_with_scale(10i128.pow(int_max.min(28)), 0);
    if n.abs().trunc() >= limit {
        sink.error(
            "field.range",
            path(),
            with_code(spec, 6),
            format!(
                "بخش صحیح «{}» حداکثر {int_max} رقم است؛ مقدار فعلی {text} است.",
                spec.key
            ),
            format!(
                "`{}` allows at most {int_max} integer digits; got {text}",
                spec.key
            ),
        );
    }
    if let Some(max) = spec.max.filter(|m| d > *m) {
        let src = spec.max_source.as_deref().unwrap_or("RC_IITP.IS_V7.8");
        let src_fa = spec.max_source_fa.as_deref().unwrap_or(src);
        sink.error(
            "field.range",
            path(),
            with_code(spec, 6),
            format!(
                "«{}» حداکثر {max} است؛ مقدار فعلی {text} است ({src_fa}).",
                spec.key
            ),
            format!("`{}` must be at most {max}; got {text} ({src})", spec.key),
        );
    }
    match spec.min {
        Some(MinBound::ExclusiveZero) if d <= rust_decimal::Decimal::ZERO => sink.error(
            "field.range",
            path(),
            with_code(spec, 5),
            format!(
                "«{}» باید بزرگتر از صفر باشد؛ مقدار فعلی {text} است.",
                spec.key
            ),
            format!("`{}` must be greater than 0; got {text}", spec.key),
        ),
        Some(MinBound::Zero) if d.is_sign_negative() && !d.is_zero() => sink.error(
            "field.range",
            path(),
            with_code(spec, 6),
            format!("«{}» نمی‌تواند منفی باشد؛ مقدار فعلی {text} است.", spec.key),
            format!("`{}` must not be negative; got {text}", spec.key),
        ),
        _ => {}
    }
}
