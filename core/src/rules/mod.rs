//! Pre-submission validation against the official tax rules (RC_IITP.IS_V7.8): obligation
//! matrix, field formats, arithmetic with the spec's truncation, settlement, buyer
//! identification, referrals (ins 2/3/4) and time rules. Produces [`Finding`]s.
//!
//! The engine works on the raw `serde_json::Value` (numbers kept exact by `arbitrary_precision`)
//! so that it can report everything wrong at once — including values the typed model could not
//! even hold — and never panics on any input. Data lives in `schemas/` (matrix, fields, units,
//! currencies, rule catalogue); the arithmetic is in [`arith`] as pure functions.

mod amounts;
pub mod arith;
mod catalogue;
pub mod data;
pub mod finding;
pub mod idcheck;
mod keys;
mod obligation;
mod parties;
mod structural;
mod timeref;
pub(crate) mod util;

pub use catalogue::{codes_emitted, optional_computed_fields, rule_catalogue, RuleDoc};
pub use finding::{Finding, Severity};

use crate::invoice::tree::Json;
use crate::lang::Message;
use data::{column, Section};
use rust_decimal::Decimal;
use serde_json::Value;
use util::{HeaderFields, Inv, RowBits, Rows, Sink};

/// How far ahead of the server's clock an issue time may be: RC_TXPS.RE_V01, error 0202 item 1
/// («… از تاریخ و زمان حال بزرگتر باشد (بیش از ۳۰۰۰۰ میلی ثانیه)»). RC_IITP.IS_V7.8 جدول ۴
/// ردیف ۶ names no margin; the server's, which RE_V01 describes, is what refuses an invoice.
pub const FUTURE_TOLERANCE_MS: i64 = 30_000;

/// What validation needs to know besides the invoice.
#[derive(Debug, Clone)]
pub struct Context {
    /// The moment the invoice is judged at (Unix ms): `--at`, default now.
    pub at_ms: i64,
    /// Within how many days after `indatim` an invoice should reach the server, and where that
    /// number comes from. Default: [`SendingDeadline::official`] (one week).
    pub deadline: SendingDeadline,
    /// How far in the future `indatim` may be before it is an error (clock skew). Default
    /// [`FUTURE_TOLERANCE_MS`], the server's own.
    pub future_tolerance_ms: i64,
    /// Rates that are configuration rather than invoice data (gold VAT rate on tcpbs).
    pub rates: arith::Rates,
}

impl Context {
    pub fn at(at_ms: i64) -> Self {
        Self {
            at_ms,
            deadline: SendingDeadline::official(),
            future_tolerance_ms: FUTURE_TOLERANCE_MS,
            rates: arith::Rates::default(),
        }
    }

    /// The same context with another sending deadline (days), set by the caller.
    pub fn with_deadline_days(mut self, days: i64) -> Self {
        self.deadline = SendingDeadline::configured(
            days,
            Message::new("مقداری که شما تنظیم کرده‌اید", "a value you configured"),
        );
        self
    }

    /// The same context with another sending-deadline policy.
    pub fn with_deadline(mut self, deadline: SendingDeadline) -> Self {
        self.deadline = deadline;
        self
    }

    /// The same context tolerating `ms` of clock skew for future issue times.
    pub fn with_future_tolerance_ms(mut self, ms: i64) -> Self {
        self.future_tolerance_ms = ms;
        self
    }

    /// The same context with another fixed VAT rate on tcpbs in the gold pattern (percent).
    pub fn with_gold_vat_rate(mut self, rate: Decimal) -> Self {
        self.rates.gold_vat_rate = rate;
        self
    }
}

/// The late-sending policy: within how many days after `indatim` an invoice should reach the
/// server, and where that number comes from (named in the `time.late` warning).
///
/// The official rule is one week: RC_IITP.IS_V7.8 (اردیبهشت ۱۴۰۵) جدول ۴ ردیف ۵ «فاصله
/// زمانی تاریخ و زمان صدور صورتحساب با ارسال آن به سامانه مودیان نباید بیشتر از یک هفته
/// باشد», error 0200201 (RC_TXPS.EC_V02 table 9 «02002»; RC_TXPS.RE_V01 «0202» item 2).
/// Users report the server accepting up to 12 days since 1403/08/15 (circular 268/56504/د), so
/// passing the deadline is a warning — the server decides, and an invoice sent late is still
/// better than one not sent — and the number is configurable (`validate --deadline-days`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingDeadline {
    pub days: i64,
    /// Where `days` comes from, e.g. the official document and row, or the user's setting.
    pub source: Message,
}

impl SendingDeadline {
    /// The official deadline as of the data compiled in (`schemas/rules.json`, `policies`).
    pub fn official() -> Self {
        catalogue::official_deadline()
    }

    /// A deadline the user configured; `source` says where (flag, profile).
    pub fn configured(days: i64, source: Message) -> Self {
        Self { days, source }
    }
}

const TOP_KEYS: [&str; 4] = ["header", "body", "payments", "extension"];

fn structure(sink: &mut Sink, field: &str, fa: &str, en: &str) {
    sink.error(
        "invoice.structure",
        field.to_string(),
        Some("0100010".into()),
        fa.into(),
        en.into(),
    );
}

/// Validates one invoice (the official v2 JSON) and returns every finding.
pub fn validate(invoice: &Value, ctx: &Context) -> Vec<Finding> {
    validate_json(&Json::from(invoice), ctx)
}

/// [`validate`] on an invoice read into a [`Json`] tree (what the loader's fast path builds).
pub fn validate_json(invoice: &Json<'_>, ctx: &Context) -> Vec<Finding> {
    let mut sink = Sink::default();
    let Some(top) = invoice.as_object() else {
        structure(
            &mut sink,
            "",
            "صورتحساب باید یک شیء JSON با بخش‌های header، body و payments باشد.",
            "an invoice must be a JSON object with header, body and payments",
        );
        return sink.out;
    };
    for key in top.keys() {
        if !TOP_KEYS.contains(&key) {
            sink.error(
                "field.unknown",
                key.to_string(),
                None,
                format!("بخش «{key}» در صورتحساب تعریف نشده است (بخش‌ها: header، body، payments، extension)."),
                format!("`{key}` is not a part of an invoice (header, body, payments, extension); check its name"),
            );
        }
    }
    let header = match top.get("header") {
        Some(Json::Object(h)) => Some(h),
        _ => {
            structure(
                &mut sink,
                "header",
                "بخش header (سرآمد) وجود ندارد یا شیء نیست.",
                "`header` is missing or not an object",
            );
            None
        }
    };
    let body: &[Json] = match top.get("body") {
        Some(Json::Array(b)) => b,
        None | Some(Json::Null) => &[],
        Some(_) => {
            structure(
                &mut sink,
                "body",
                "بخش body (بدنه) باید آرایه باشد.",
                "`body` must be an array of lines",
            );
            &[]
        }
    };
    let payments: &[Json] = match top.get("payments") {
        Some(Json::Array(p)) => p,
        None | Some(Json::Null) => &[],
        Some(_) => {
            structure(
                &mut sink,
                "payments",
                "بخش payments باید آرایه باشد.",
                "`payments` must be an array",
            );
            &[]
        }
    };
    match top.get("extension") {
        None | Some(Json::Null) => {}
        Some(Json::Array(a)) if a.is_empty() => {}
        Some(_) => sink.warn(
            "extension.present",
            "extension".into(),
            Some("14800".into()),
            "بخش extension هنوز تعریف نشده و هر مقداری در آن هشدار خارج از الگو می‌گیرد؛ آن را null بگذارید یا حذف کنید.".into(),
            "`extension` is not defined yet and any content draws out-of-pattern warning 14800; send null or omit it".into(),
        ),
    }

    // Structural rules on every present field (noting which matrix rows each object has).
    let mut head = HeaderFields::default();
    let header_rows = header.map_or(0, |h| {
        let mut keep = |i: usize, v| head.keep(i, v);
        structural::check_object(h, Section::Header, &util::hpath, &mut sink, &mut keep)
    });
    let body_rows = RowBits::of_each(body, |j, line| match line {
        Json::Object(m) => {
            let path = |k: &str| util::bpath(j, k);
            structural::check_object(m, Section::Body, &path, &mut sink, &mut |_, _| {})
        }
        _ => {
            structure(
                &mut sink,
                &format!("body[{j}]"),
                "هر ردیف بدنه باید یک شیء باشد.",
                "each body line must be an object",
            );
            0
        }
    });
    let payment_rows = RowBits::of_each(payments, |j, p| match p {
        Json::Object(m) => {
            let path = |k: &str| util::ppath(j, k);
            structural::check_object(m, Section::Payment, &path, &mut sink, &mut |_, _| {})
        }
        _ => {
            structure(
                &mut sink,
                &format!("payments[{j}]"),
                "هر پرداخت باید یک شیء باشد.",
                "each payment must be an object",
            );
            0
        }
    });
    let Some(header) = header else {
        return sink.out;
    };

    let small = |k: &str| {
        header
            .get(k)
            .and_then(util::int_of)
            .and_then(|n| u8::try_from(n).ok())
    };
    let (inty, inp, ins) = (small("inty"), small("inp"), small("ins"));
    let inv = Inv {
        header: Some(header),
        head,
        body,
        payments,
        inty,
        inp,
        ins,
        col: inty.zip(inp).and_then(|(t, p)| column(t, p)),
        rows: Rows {
            header: header_rows,
            body: body_rows,
            payments: payment_rows,
        },
    };
    if body.is_empty() && ins != Some(3) {
        sink.error(
            "body.empty",
            "body".into(),
            Some("00600".into()),
            "صورتحساب باید دست‌کم یک ردیف کالا/خدمت داشته باشد.".into(),
            "an invoice needs at least one line in body (only a cancellation, ins 3, has none)"
                .into(),
        );
    }
    obligation::check(&inv, &mut sink);
    obligation::check_line_conditionals(&inv, &mut sink);
    amounts::check(&inv, ctx, &mut sink);
    parties::check_parties(&inv, &mut sink);
    parties::check_settlement(&inv, &mut sink);
    timeref::check(&inv, ctx, &mut sink);
    // Errors first, as the server lists them.
    sink.out.sort_by_key(|f| f.severity);
    sink.out
}
