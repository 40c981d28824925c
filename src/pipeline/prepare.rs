//! load → prepare → validate: turn input files into [`NewInvoice`]s for the queue. An input
//! with its own `taxid` keeps it; one without gets the next serial of the memory ID inside the
//! queue's enqueue transaction (tax ID and `inno` computed from it, then validated). Invalid
//! invoices are still enqueued — as INVALID, never sent — so the report can list them.

use crate::invoice::{inno_for_serial, MemoryId, TaxId};
use crate::rules::{self, Finding};
use moadian_queue::{Built, CallerError, Content, NewInvoice};
use serde_json::Value;
use std::path::PathBuf;

/// One invoice read from a file: where from (`path` or `path#index`) and its JSON, or why it
/// could not be read (in both languages).
#[derive(Debug, Clone)]
pub struct Input {
    pub source: String,
    pub value: Result<Value, crate::lang::Message>,
}

/// Reads every invoice under `paths` with the same loader `validate` uses: one invoice, an
/// array or JSON Lines per `.json`/`.jsonl` file, spreadsheets (`.xlsx`, `.csv`) through the
/// importer, directories walked in sorted order. Sources are `path#index` (or the importer's
/// `file.xlsx#sheet!row`); an unreadable file is one input carrying the error with its position.
pub fn load_inputs(paths: &[PathBuf]) -> Vec<Input> {
    load_inputs_with(paths, &crate::import::limits::ReadOptions::default())
}

/// [`load_inputs`] with the given CSV encoding and size limits.
pub fn load_inputs_with(
    paths: &[PathBuf],
    opts: &crate::import::limits::ReadOptions,
) -> Vec<Input> {
    crate::invoice::load::load_paths_with(paths, opts.clone())
        .map(|loaded| Input {
            source: loaded.source,
            value: loaded.value.map_err(|e| e.message()),
        })
        .collect()
}

fn load_error(rule: &str, field: &str, en: String, fa: String) -> Finding {
    Finding::error(rule, field, crate::lang::Message::new(fa, en))
}

fn findings_json(f: &[Finding]) -> Option<Value> {
    if f.is_empty() {
        None
    } else {
        serde_json::to_value(f).ok()
    }
}

fn has_error(f: &[Finding]) -> bool {
    f.iter().any(Finding::is_error)
}

fn header_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("header")?
        .get(key)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn header_i64(v: &Value, key: &str) -> Option<i64> {
    let x = v.get("header")?.get(key)?;
    x.as_i64()
        .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Prepares one input for the queue under `memory_id`, judged by the rules in `ctx` (the
/// moment, the sending deadline).
pub fn prepare(input: Input, memory_id: &MemoryId, ctx: &rules::Context) -> NewInvoice<'static> {
    let Input { source, value } = input;
    let base = |content| NewInvoice {
        source: source.clone(),
        memory_id: memory_id.as_str().to_string(),
        indatim: None,
        kind: None,
        ins: None,
        dedup_key: None,
        content,
    };
    let value = match value {
        Ok(v) if v.get("header").is_some_and(Value::is_object) => v,
        Ok(v) => {
            let f = vec![load_error(
                "load.shape",
                "header",
                "not an invoice: the object has no `header`; give the official v2 invoice JSON {header, body, payments}".into(),
                "صورتحساب نیست: کلید `header` ندارد؛ JSON رسمی نسخه ۲ را بدهید".into(),
            )];
            // Its content is its identity, as for an invoice: the same input again is the
            // same row, not one more.
            let key = moadian_queue::fingerprint::of_invoice(memory_id.as_str(), &v);
            let mut item = base(Content::Invalid {
                payload: Some(v.to_string()),
                findings: findings_json(&f).unwrap_or(Value::Null),
            });
            item.dedup_key = Some(key);
            return item;
        }
        Err(e) => {
            // Nothing was read: where it is and why stand for its content, so the same broken
            // input again is the same INVALID row, not one more each time.
            let what = serde_json::json!({ "unreadable": { "source": source, "error": e.en } });
            let key = moadian_queue::fingerprint::of_invoice(memory_id.as_str(), &what);
            let f = vec![Finding::error("load.read", "", e)];
            let mut item = base(Content::Invalid {
                payload: None,
                findings: findings_json(&f).unwrap_or(Value::Null),
            });
            item.dedup_key = Some(key);
            return item;
        }
    };
    let indatim = header_i64(&value, "indatim");
    let kind = header_i64(&value, "inty").map(|i| i.to_string());
    let ins = header_i64(&value, "ins");
    let mut item = base(Content::Invalid {
        payload: None,
        findings: Value::Null,
    });
    item.indatim = indatim;
    item.kind = kind;
    item.ins = ins;
    // Its identity: the content (after --fill), however numbers were written, without the
    // tax ID/inno the queue allocates. The same content again is the same invoice.
    item.dedup_key = Some(moadian_queue::fingerprint::of_invoice(
        memory_id.as_str(),
        &value,
    ));

    if let Some(taxid) = header_str(&value, "taxid").map(str::to_string) {
        let mut findings = rules::validate(&value, ctx);
        let serial = match TaxId::parse(&taxid) {
            Ok(t) => {
                let parts = t.decode();
                if parts.memory_id.as_str() != memory_id.as_str() {
                    findings.push(load_error(
                        "taxid.memory_id",
                        "header.taxid",
                        format!("the tax ID {taxid} belongs to memory ID {}, not {} (the server answers 0300101); remove `taxid` to have one allocated, or use the right profile", parts.memory_id.as_str(), memory_id.as_str()),
                        format!("شماره مالیاتی {taxid} متعلق به حافظه {} است نه {} (خطای 0300101)؛ taxid را حذف کنید تا تخصیص یابد یا پروفایل درست را انتخاب کنید", parts.memory_id.as_str(), memory_id.as_str()),
                    ));
                    None
                } else {
                    Some(parts.serial)
                }
            }
            Err(e) => {
                let m = e.message();
                if !findings
                    .iter()
                    .any(|f| f.field == "header.taxid" && f.is_error())
                {
                    findings.push(Finding::error("taxid.format", "header.taxid", m));
                }
                None
            }
        };
        let invalid = has_error(&findings);
        item.content = Content::Numbered {
            taxid,
            serial,
            payload: value.to_string(),
            findings: findings_json(&findings),
            invalid,
        };
        return item;
    }

    let Some(indatim_ms) = indatim else {
        let mut findings = rules::validate(&value, ctx);
        if !findings
            .iter()
            .any(|f| f.field == "header.indatim" && f.is_error())
        {
            findings.push(load_error(
                "matrix.required",
                "header.indatim",
                "`indatim` (issue time, Unix ms) is missing; the tax ID cannot be made without it".into(),
                "`indatim` (زمان صدور، میلی‌ثانیه یونیکس) وجود ندارد؛ بدون آن شماره مالیاتی ساخته نمی‌شود".into(),
            ));
        }
        item.content = Content::Invalid {
            payload: Some(value.to_string()),
            findings: findings_json(&findings).unwrap_or(Value::Null),
        };
        return item;
    };

    let mem = memory_id.clone();
    // The allocation runs later, inside the queue's transaction: it keeps its own copy.
    let ctx = ctx.clone();
    item.content = Content::Allocate(Box::new(move |serial: u64| -> Result<Built, CallerError> {
        let taxid = TaxId::generate(&mem, indatim_ms, serial).map_err(|e| e.message().en)?;
        let mut v = value;
        if let Some(h) = v.get_mut("header").and_then(Value::as_object_mut) {
            h.insert("taxid".into(), Value::String(taxid.as_str().to_string()));
            let has_inno = h
                .get("inno")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty());
            if !has_inno {
                h.insert("inno".into(), Value::String(inno_for_serial(serial)));
            }
        }
        let findings = rules::validate(&v, &ctx);
        Ok(Built {
            taxid: taxid.as_str().to_string(),
            payload: v.to_string(),
            invalid: has_error(&findings),
            findings: findings_json(&findings),
            indatim: None,
        })
    }));
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> MemoryId {
        MemoryId::parse("A11216").unwrap()
    }

    #[test]
    fn unreadable_input_is_invalid() {
        let n = prepare(
            Input {
                source: "x.json".into(),
                value: Err(crate::lang::Message::new("bad", "bad")),
            },
            &mem(),
            &rules::Context::at(0),
        );
        assert!(matches!(n.content, Content::Invalid { .. }));
    }

    #[test]
    fn own_taxid_is_kept() {
        let taxid = TaxId::generate(&mem(), 1_709_700_000_000, 7).unwrap();
        let v = serde_json::json!({"header": {"taxid": taxid.as_str(), "indatim": 1_709_700_000_000i64}, "body": []});
        let n = prepare(
            Input {
                source: "x.json".into(),
                value: Ok(v),
            },
            &mem(),
            &rules::Context::at(0),
        );
        match n.content {
            Content::Numbered {
                taxid: t, serial, ..
            } => {
                assert_eq!(t, taxid.as_str());
                assert_eq!(serial, Some(7));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn allocation_fills_taxid_and_inno() {
        let v = serde_json::json!({"header": {"indatim": 1_709_700_000_000i64}, "body": []});
        let n = prepare(
            Input {
                source: "x.json".into(),
                value: Ok(v),
            },
            &mem(),
            &rules::Context::at(0),
        );
        assert!(n.dedup_key.is_some());
        let Content::Allocate(build) = n.content else {
            panic!("not allocated")
        };
        let built = build(26).unwrap();
        assert!(built.payload.contains("\"inno\":\"000000001A\""));
        assert_eq!(built.taxid.len(), 22);
    }
}
