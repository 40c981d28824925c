//! `moadian explain`: explain a server or tool code: meaning, causes and fix, in Persian and English.
//!
//! `moadian explain CODE [--json]` prints what the catalogue (or the content-code decoder) knows;
//! `moadian explain --list [--category C]` lists every catalogue entry with its one-line meaning.
//! Exit 0 when something could be said, 1 when nothing, 2 for a usage error.

use super::Global;
use crate::codes::{self, Category, Explanation, Found};
use crate::lang::{Lang, Message};
use std::fmt::Write as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The code to explain: a server code (4103, 04131, 0100504, 010504…), a code shown by
    /// accounting software (489) or a local problem id (pin.locked, cert.expired…).
    pub code: Option<String>,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
    /// List every catalogue entry with its one-line meaning.
    #[arg(long, conflicts_with = "code")]
    pub list: bool,
    /// With --list: only this category.
    #[arg(long, value_enum, requires = "list")]
    pub category: Option<CategoryArg>,
}

/// Category names for `--category`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CategoryArg {
    Token,
    Certificate,
    Identity,
    Network,
    Content,
    Request,
    Server,
}

impl From<CategoryArg> for Category {
    fn from(c: CategoryArg) -> Self {
        match c {
            CategoryArg::Token => Category::Token,
            CategoryArg::Certificate => Category::Certificate,
            CategoryArg::Identity => Category::Identity,
            CategoryArg::Network => Category::Network,
            CategoryArg::Content => Category::Content,
            CategoryArg::Request => Category::Request,
            CategoryArg::Server => Category::Server,
        }
    }
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let langs: Vec<Lang> = match global.lang.single() {
        Some(l) => vec![l],
        None => vec![Lang::Fa, Lang::En],
    };
    if args.list {
        print!(
            "{}",
            render_list(args.category.map(Into::into), &langs, args.json)?
        );
        return Ok(0);
    }
    let Some(code) = args.code else {
        crate::say_err!("{}", usage_text(&langs));
        return Ok(2);
    };
    match codes::explain(&code) {
        Some(x) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&x)?);
            } else {
                print!("{}", render(&x, &langs));
            }
            Ok(0)
        }
        None => {
            if args.json {
                let v = serde_json::json!({ "code": code.trim(), "found": null });
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            crate::say_err_part!("{}", render_unknown(&code, &langs));
            Ok(1)
        }
    }
}

fn usage_text(langs: &[Lang]) -> String {
    let m = Message::new(
        "کدی بدهید، مثلاً: moadian explain 04131 — یا فهرست همه: moadian explain --list",
        "Give a code, e.g. `moadian explain 04131` — or list them all: `moadian explain --list`",
    );
    langs
        .iter()
        .map(|&l| m.get(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lines of a message, one per chosen language.
fn both(out: &mut String, indent: &str, m: &Message, langs: &[Lang]) {
    for &l in langs {
        let t = m.get(l);
        if !t.is_empty() {
            let _ = writeln!(out, "{indent}{t}");
        }
    }
}

fn heading(out: &mut String, fa: &str, en: &str, langs: &[Lang]) {
    let h: Vec<&str> = langs
        .iter()
        .map(|l| match l {
            Lang::Fa => fa,
            Lang::En => en,
        })
        .collect();
    let _ = writeln!(out, "\n{}", h.join(" / "));
}

fn pick(langs: &[Lang], m: &Message) -> String {
    langs
        .iter()
        .map(|&l| m.get(l).to_string())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

fn yes_no(b: bool, langs: &[Lang]) -> String {
    let m = if b {
        Message::new("بله", "yes")
    } else {
        Message::new("خیر", "no")
    };
    pick(langs, &m)
}

/// The human text of an explanation.
pub fn render(x: &Explanation, langs: &[Lang]) -> String {
    let mut out = String::new();
    let shown = match &x.catalogue_code {
        Some(c) => format!("{} (= {c})", x.code),
        None => x.code.clone(),
    };
    let _ = writeln!(out, "{shown}");
    both(&mut out, "  ", &x.title, langs);

    let mut facts = vec![
        format!(
            "{}: {}",
            pick(langs, &Message::new("دسته", "category")),
            pick(langs, &x.category.label())
        ),
        format!(
            "{}: {}",
            pick(langs, &Message::new("لایه", "layer")),
            pick(langs, &x.layer.label())
        ),
        format!(
            "{}: {}",
            pick(
                langs,
                &Message::new("تلاش دوباره کمک می‌کند", "retrying helps")
            ),
            yes_no(x.retryable, langs)
        ),
    ];
    if let Some(s) = x.severity {
        let m = match s {
            crate::rules::Severity::Error => {
                Message::new("خطا (صورتحساب رد می‌شود)", "error (rejects the invoice)")
            }
            crate::rules::Severity::Warning => {
                Message::new("هشدار (رد نمی‌کند)", "warning (does not reject)")
            }
        };
        facts.insert(
            0,
            format!(
                "{}: {}",
                pick(langs, &Message::new("نوع", "severity")),
                pick(langs, &m)
            ),
        );
    }
    if let Some(h) = x.http {
        facts.push(format!("HTTP: {h}"));
    }
    let _ = writeln!(out);
    for f in facts {
        let _ = writeln!(out, "  {f}");
    }

    if let Some(d) = &x.decoded {
        heading(&mut out, "رمزگشایی کد", "Decoded", langs);
        let field = match &d.field {
            Some(f) => format!(
                "{:03} {} — {} [{}]",
                f.no,
                f.key,
                pick(langs, &f.title),
                f.section
            ),
            None => format!("{:03} ?", d.field_no),
        };
        let _ = writeln!(
            out,
            "  {}: {field}",
            pick(langs, &Message::new("فیلد", "field"))
        );
        let _ = writeln!(
            out,
            "  {}: {}",
            pick(langs, &Message::new("نوع بررسی", "check")),
            pick(langs, &d.check.label())
        );
        if let Some(dd) = d.detail {
            let meaning = d
                .detail_meaning
                .as_ref()
                .map(|m| format!(" — {}", pick(langs, m)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}: {dd:02}{meaning}",
                pick(langs, &Message::new("جزئیات", "detail"))
            );
        }
        let _ = writeln!(
            out,
            "  {}: {}",
            pick(langs, &Message::new("شکل‌های هم‌ارز", "same code as")),
            d.equivalents.join(", ")
        );
    }

    heading(&mut out, "معنی", "Meaning", langs);
    both(&mut out, "  ", &x.meaning, langs);

    if !x.causes.is_empty() {
        heading(&mut out, "علت‌های محتمل", "Likely causes", langs);
        for (i, c) in x.causes.iter().enumerate() {
            numbered(&mut out, i + 1, c, langs);
        }
    }
    if !x.fix.is_empty() {
        heading(&mut out, "راه رفع", "Fix", langs);
        for (i, c) in x.fix.iter().enumerate() {
            numbered(&mut out, i + 1, c, langs);
        }
    }
    if !x.prevented_by.is_empty() {
        heading(
            &mut out,
            "پیش از ارسال چه چیزی آن را می‌گیرد",
            "Caught before sending by",
            langs,
        );
        let _ = writeln!(out, "  {}", x.prevented_by.join(", "));
    }
    if !x.see_also.is_empty() {
        heading(&mut out, "همچنین ببینید", "See also", langs);
        for s in &x.see_also {
            let _ = writeln!(out, "  {:<26} {}", s.code, pick(langs, &s.title));
        }
    }
    if x.found != Found::Catalogue {
        let m = match x.found {
            Found::Decoded => Message::new(
                "این کد در فهرست نیست؛ توضیح از ساختار رسمی کدهای لایه محتوا ساخته شده است.",
                "This code is not catalogued; the explanation is built from the official content-code scheme.",
            ),
            _ => Message::new(
                "این کد در فهرست نیست؛ فقط معنای رقم اول آن طبق سند رسمی معلوم است.",
                "This code is not catalogued; only the meaning of its first digit is known from the official document.",
            ),
        };
        let _ = writeln!(out);
        both(&mut out, "", &m, langs);
    }
    let _ = writeln!(
        out,
        "\n{}: {}",
        pick(langs, &Message::new("منبع", "source")),
        x.source
    );
    out
}

fn numbered(out: &mut String, n: usize, m: &Message, langs: &[Lang]) {
    let mut first = true;
    for &l in langs {
        let t = m.get(l);
        if t.is_empty() {
            continue;
        }
        if first {
            let _ = writeln!(out, "  {n}. {t}");
            first = false;
        } else {
            let _ = writeln!(out, "     {t}");
        }
    }
}

/// The message for a code nothing can be said about.
pub fn render_unknown(code: &str, langs: &[Lang]) -> String {
    let code = code.trim();
    let text_like = code
        .chars()
        .any(|c| c.is_alphabetic() && !c.is_ascii_digit())
        && !code.contains('.');
    let mut out = String::new();
    let m = Message::new(
        format!("کد «{code}» شناخته نشد: نه در فهرست کدها هست و نه شکل کدهای لایه محتوا (۰/۱ + نوع بررسی + شماره فیلد) را دارد."),
        format!("Code “{code}” is unknown: it is not in the catalogue and is not shaped like a content code (0/1 + check kind + field number)."),
    );
    both(&mut out, "", &m, langs);
    if text_like {
        let t = Message::new(
            "سرور گاهی به جای عدد، متن در فیلد code می‌گذارد (مثلاً «Unable to load certificate» همراه HTTP 401 یعنی گواهی x5c خوانده نشد — ببینید: moadian explain 4136). وضعیت HTTP پاسخ را هم ببینید.",
            "The server sometimes puts text instead of a number in `code` (e.g. “Unable to load certificate” with HTTP 401: the x5c certificate could not be read — see `moadian explain 4136`). Check the HTTP status of the reply too.",
        );
        both(&mut out, "", &t, langs);
    }
    let h = Message::new(
        "همه کدهای شناخته‌شده: moadian explain --list",
        "Every known code: moadian explain --list",
    );
    both(&mut out, "", &h, langs);
    out
}

fn render_list(cat: Option<Category>, langs: &[Lang], json: bool) -> anyhow::Result<String> {
    let entries: Vec<&codes::Entry> = codes::all()
        .filter(|e| match cat {
            Some(c) => e.category == c,
            None => true,
        })
        .collect();
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&entries)?));
    }
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(
            out,
            "{:<28} {:<12} {}",
            e.code,
            format!("{:?}", e.category).to_lowercase(),
            pick(langs, &e.title)
        );
    }
    Ok(out)
}
