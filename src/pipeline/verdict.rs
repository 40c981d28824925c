//! The verdict on loaded invoices before anything is queued: the official rules, `--fill`, and
//! the notes a person needs (a missing tax ID is allocated at submission). One shape for every
//! face: `validate --json` writes it to standard output, the service's `POST /api/v1/validate`
//! answers with it. Streams: invoices are judged and written one at a time.

use crate::import::fill::{fill_invoice, Filled};
use crate::invoice::load::{LoadError, LoadedInvoice, Next};
use crate::invoice::tree::Json;
use crate::lang::Message;
use crate::rules::{Context, Finding, Severity};
use serde::Serialize;
use std::io::{self, Write};

/// Why `--fill` could not complete an invoice, in each language.
pub fn fill_failed(why: &Message) -> Message {
    Message::new(
        format!("تکمیل خودکار (--fill) انجام نشد: {}", why.fa),
        format!("--fill could not complete the invoice: {}", why.en),
    )
}

/// One finding as `--json` shows it.
#[derive(Serialize)]
pub struct JsonFinding<'a> {
    field: &'a str,
    rule: &'a str,
    code: Option<&'a str>,
    message: &'a Message,
}

#[derive(Serialize)]
pub struct JsonFilled<'a> {
    field: &'a str,
    value: &'a str,
}

/// One invoice as `--json` shows it.
#[derive(Serialize)]
pub struct JsonInvoice<'a> {
    source: &'a str,
    taxid: Option<&'a str>,
    valid: bool,
    errors: Vec<JsonFinding<'a>>,
    warnings: Vec<JsonFinding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filled: Option<Vec<JsonFilled<'a>>>,
    /// Information, neither error nor warning (e.g. the tax ID is allocated at submission).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<JsonFinding<'a>>,
}

/// Totals over everything checked.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub invoices: u64,
    pub valid: u64,
    pub invalid: u64,
    pub errors: u64,
    pub warnings: u64,
    /// The moment the invoices were judged at (Unix ms).
    pub at: i64,
}

/// The verdict on one loaded invoice.
pub struct Checked {
    pub source: String,
    pub taxid: Option<String>,
    pub findings: Vec<Finding>,
    pub filled: Option<Vec<Filled>>,
    /// Information for the person, not counted as errors or warnings.
    pub notes: Vec<Finding>,
}

impl Checked {
    pub fn valid(&self) -> bool {
        !self.findings.iter().any(Finding::is_error)
    }
}

/// Turns a loading problem into a finding of that file (or line).
fn load_finding(e: &LoadError) -> Finding {
    let (rule, code) = match e.kind() {
        LoadError::Io { .. } => ("load.io", None),
        // EC_V02: structure check, field 000, detail 10 = invalid JSON.
        LoadError::Syntax { .. } => ("load.json", Some("0100010")),
        LoadError::NotAnInvoice { .. } => ("load.not_invoice", None),
        LoadError::Empty { .. } => ("load.empty", None),
        // EC_V02 table 7 row 1: validation type 5, a field repeated («فیلد … تکرار شده است»).
        LoadError::DuplicateKey { .. } => ("load.duplicate_key", None),
        LoadError::TooLarge { .. } => ("load.too_large", None),
        LoadError::FieldTooLong { .. } => ("load.field_too_long", None),
        LoadError::Import(_) => ("load.import", None),
        LoadError::Named { .. } => ("load.io", None), // kind() looked past it
    };
    // The file, line and column are in the message (and the source names the file).
    let f = Finding::error(rule, "", e.message());
    match code {
        Some(c) => f.with_code(c),
        None => f,
    }
}

/// The verdict of `moadian validate` on one loaded invoice (`value`, from
/// [`crate::invoice::load::load_paths`]): the official rules as of `ctx`, with what `validate`
/// adds to them (a missing tax ID is a note: `submit` allocates it), and, with `fill`, the
/// amounts `--fill` computes. Software that validates before sending should use this, not
/// [`crate::rules::validate`] alone, to judge exactly as the command does.
pub fn check_one(
    source: String,
    value: Result<serde_json::Value, LoadError>,
    ctx: &Context,
    fill: bool,
) -> Checked {
    match value {
        Err(e) => load_failed(source, &e),
        Ok(mut v) => {
            let mut findings = Vec::new();
            let filled = if fill {
                match fill_invoice(&mut v) {
                    Ok(f) => Some(f),
                    Err(msg) => {
                        findings.push(Finding::error("fill.conflict", "", fill_failed(&msg)));
                        Some(Vec::new())
                    }
                }
            } else {
                None
            };
            judge(source, &Json::from(&v), ctx, findings, filled)
        }
    }
}

/// The verdict on an invoice the loader left as text ([`Next::Text`]), or on one it read
/// (as [`check_one`] without `--fill`): the fast path of `validate`, with no map built.
pub fn check_next(next: Next<'_>, ctx: &Context) -> Checked {
    match next {
        Next::Loaded(l) => match l.value {
            Err(e) => load_failed(l.source, &e),
            Ok(v) => judge(l.source, &Json::from(&v), ctx, Vec::new(), None),
        },
        Next::Text(t) => match t.parse() {
            Err(e) => load_failed(t.source, &e),
            Ok(v) => judge(t.source, &v, ctx, Vec::new(), None),
        },
    }
}

fn load_failed(source: String, e: &LoadError) -> Checked {
    Checked {
        source,
        taxid: None,
        findings: vec![load_finding(e)],
        filled: None,
        notes: Vec::new(),
    }
}

/// The rules on one invoice, after `findings` (from `--fill`) so far.
fn judge(
    source: String,
    v: &Json<'_>,
    ctx: &Context,
    mut findings: Vec<Finding>,
    filled: Option<Vec<Filled>>,
) -> Checked {
    findings.extend(crate::rules::validate_json(v, ctx));
    let header = v.get("header");
    let taxid = header
        .and_then(|h| h.get("taxid"))
        .and_then(Json::as_str)
        .map(str::to_string);
    let mut notes = Vec::new();
    // No tax ID at all: `submit`/`enqueue` allocate it (and inno) from the queue's serial
    // counter, so it is information here, not something the user must add.
    let absent = header.is_some_and(|h| matches!(h.get("taxid"), None | Some(Json::Null)));
    if absent {
        findings.retain(|f| !(f.rule == "matrix.required" && f.field == "header.taxid"));
        notes.push(Finding::warning(
            "taxid.allocated",
            "header.taxid",
            Message::new(
                "شماره مالیاتی (taxid) و سریال (inno) ندارد: هنگام ارسال (`moadian submit` یا `enqueue`) از شمارنده صف تخصیص می‌یابند؛ لازم نیست آن‌ها را بنویسید.",
                "no tax ID (taxid) or serial (inno): `moadian submit` / `enqueue` allocate them from the queue's counter; you need not write them",
            ),
        ));
    }
    Checked {
        source,
        taxid,
        findings,
        filled,
        notes,
    }
}

impl Summary {
    /// Counts one judged invoice.
    pub fn count(&mut self, c: &Checked) {
        self.invoices += 1;
        if c.valid() {
            self.valid += 1;
        } else {
            self.invalid += 1;
        }
        for f in &c.findings {
            match f.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
    }
}

/// Judges every loaded invoice and writes one JSON object `{"invoices": [...], "summary": {...}}`
/// to `out`, invoice by invoice (memory stays flat whatever the count). `tick` is called after
/// each invoice with the count so far (for a progress bar).
pub fn write_json(
    mut loaded: impl Iterator<Item = LoadedInvoice>,
    ctx: &Context,
    fill: bool,
    out: &mut impl Write,
    tick: impl FnMut(u64),
) -> io::Result<Summary> {
    write_checked(
        || {
            loaded
                .next()
                .map(|l| check_one(l.source, l.value, ctx, fill))
        },
        ctx.at_ms,
        out,
        tick,
    )
}

/// [`write_json`] of invoices judged by `next` (e.g. [`check_next`] over
/// [`crate::invoice::load::Invoices::next_invoice`]) until it has none left.
pub fn write_checked(
    mut next: impl FnMut() -> Option<Checked>,
    at_ms: i64,
    out: &mut impl Write,
    mut tick: impl FnMut(u64),
) -> io::Result<Summary> {
    let mut summary = Summary {
        at: at_ms,
        ..Summary::default()
    };
    out.write_all(b"{\"invoices\":[")?;
    while let Some(checked) = next() {
        summary.count(&checked);
        if summary.invoices > 1 {
            out.write_all(b",")?;
        }
        write_json_invoice(out, &checked, checked.valid())?;
        tick(summary.invoices);
    }
    out.write_all(b"],\"summary\":")?;
    serde_json::to_writer(&mut *out, &summary)?;
    out.write_all(b"}\n")?;
    Ok(summary)
}

/// Writes one judged invoice as `--json` shows it.
pub fn write_json_invoice(out: &mut impl Write, c: &Checked, valid: bool) -> io::Result<()> {
    let pick = |sev: Severity| -> Vec<JsonFinding<'_>> {
        c.findings
            .iter()
            .filter(|f| f.severity == sev)
            .map(|f| JsonFinding {
                field: &f.field,
                rule: &f.rule,
                code: f.code.as_deref(),
                message: &f.message,
            })
            .collect()
    };
    let inv = JsonInvoice {
        source: &c.source,
        taxid: c.taxid.as_deref(),
        valid,
        errors: pick(Severity::Error),
        warnings: pick(Severity::Warning),
        notes: c
            .notes
            .iter()
            .map(|f| JsonFinding {
                field: &f.field,
                rule: &f.rule,
                code: None,
                message: &f.message,
            })
            .collect(),
        filled: c.filled.as_ref().map(|v| {
            v.iter()
                .map(|f| JsonFilled {
                    field: &f.field,
                    value: &f.value,
                })
                .collect()
        }),
    };
    serde_json::to_writer(out, &inv)?;
    Ok(())
}
