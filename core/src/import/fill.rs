//! `--fill`: computes what follows from the lines (prdis, dis = 0, adis, vam, odam/olam from a
//! rate, tsstam, and for gold tcpbs) and the header totals (tprdis, tdis, tadis, tvam, todam,
//! tbill; for export torv, tonw, tocv; for setm = 3 the missing one of cap/insp), with the
//! spec's truncation, using the same arithmetic as validation (`rules::arith`). Every field it
//! filled is listed. A field already present with a different value is an error naming the
//! field, the given and the computed value: nothing is ever silently changed.
//!
//! The tax ID and `inno` are not filled here: they are assigned at enqueue from the queue's
//! serial counter.

use crate::invoice::money::{decimal_of, to_json_number};
use crate::lang::Message;
use crate::rules::arith::{self, ArithError, LineInput, Rates};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// A field `--fill` computed: its JSON path and the value written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    pub field: String,
    pub value: String,
}

/// Accumulates filled fields and conflicts.
struct Filler {
    filled: Vec<Filled>,
    conflicts: Vec<Message>,
}

impl Filler {
    /// Sets `obj[key] = value` when absent; records a conflict when present and different.
    fn put(&mut self, obj: &mut Map<String, Value>, path: &str, key: &str, value: Decimal) {
        let field = format!("{path}{key}");
        match obj.get(key) {
            None | Some(Value::Null) => {
                let n = to_json_number(&value.normalize());
                self.filled.push(Filled {
                    field,
                    value: n.to_string(),
                });
                obj.insert(key.to_string(), Value::Number(n));
            }
            Some(given) => match decimal_of(given) {
                Some(g) if g == value => {}
                _ => {
                    let computed = value.normalize();
                    self.conflicts.push(Message::new(
                        format!("{field}: مقدار داده‌شده {given} است اما مقدار محاسبه‌شده {computed} است؛ آن را اصلاح یا حذف کنید"),
                        format!("{field}: given {given}, computed {computed}; fix or remove the value"),
                    ))
                }
            },
        }
    }
}

fn dec(obj: &Map<String, Value>, key: &str) -> Option<Decimal> {
    obj.get(key).and_then(decimal_of)
}

fn line_input(item: &Map<String, Value>) -> LineInput {
    LineInput {
        am: dec(item, "am"),
        fee: dec(item, "fee"),
        dis: dec(item, "dis"),
        vra: dec(item, "vra"),
        odr: dec(item, "odr"),
        odam: dec(item, "odam"),
        olr: dec(item, "olr"),
        olam: dec(item, "olam"),
        cfee: dec(item, "cfee"),
        exr: dec(item, "exr"),
        sovat: dec(item, "sovat"),
        consfee: dec(item, "consfee"),
        spro: dec(item, "spro"),
        bros: dec(item, "bros"),
        ssrv: dec(item, "ssrv"),
        vba: dec(item, "vba"),
    }
}

fn arith_message(i: usize, e: &ArithError) -> Message {
    let row = i + 1;
    match e {
        ArithError::Missing(f, inp) => Message::new(
            format!("body[{i}].{f}: فیلد {f} در ردیف {row} خالی است و برای محاسبهٔ ردیف در الگوی {inp} لازم است"),
            format!("body[{i}].{f} is missing: --fill needs it to compute the line in pattern {inp}"),
        ),
        ArithError::Overflow(f) => Message::new(
            format!("body[{i}]: مبلغ {f} در ردیف {row} بیش از حد بزرگ است"),
            format!("body[{i}]: the amount {f} is too large to compute"),
        ),
    }
}

/// Several messages as one, a line each.
fn joined(messages: &[Message]) -> Message {
    let lines = |get: fn(&Message) -> &str| messages.iter().map(get).collect::<Vec<_>>().join("\n");
    Message::new(lines(|m| &m.fa), lines(|m| &m.en))
}

/// Fills the computable fields of one invoice in place.
pub fn fill_invoice(invoice: &mut serde_json::Value) -> Result<Vec<Filled>, Message> {
    fill_invoice_with(invoice, &Rates::default())
}

/// [`fill_invoice`] with explicit configuration rates (the gold VAT rate).
pub fn fill_invoice_with(invoice: &mut Value, rates: &Rates) -> Result<Vec<Filled>, Message> {
    let Some(root) = invoice.as_object_mut() else {
        return Err(Message::new(
            "صورتحساب یک شیء JSON نیست",
            "the invoice is not a JSON object",
        ));
    };
    let header = root
        .get("header")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // A cancellation carries no lines and no sums.
    if header.get("ins").and_then(Value::as_i64) == Some(3) {
        return Ok(Vec::new());
    }
    let Some(inp) = header.get("inp").and_then(Value::as_u64) else {
        return Err(Message::new(
            "header.inp: الگوی صورتحساب (inp) برای محاسبهٔ مبالغ لازم است",
            "header.inp (pattern) is needed to compute amounts",
        ));
    };
    let inp = inp as u8;
    let mut f = Filler {
        filled: Vec::new(),
        conflicts: Vec::new(),
    };
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    let (mut tonw, mut tocv) = (Decimal::ZERO, Decimal::ZERO);
    let (mut any_nw, mut any_sscv) = (false, false);
    if let Some(Value::Array(body)) = root.get_mut("body") {
        for (i, item) in body.iter_mut().enumerate() {
            let Some(item) = item.as_object_mut() else {
                errors.push(Message::new(
                    format!("body[{i}]: ردیف {} شیء JSON نیست", i + 1),
                    format!("body[{i}] is not an object"),
                ));
                continue;
            };
            let input = line_input(item);
            let l = match arith::compute_line(inp, &input, rates) {
                Ok(l) => l,
                Err(e) => {
                    errors.push(arith_message(i, &e));
                    continue;
                }
            };
            let path = format!("body[{i}].");
            if let Some(p) = l.prdis {
                f.put(item, &path, "prdis", p);
            }
            if inp != 7 {
                f.put(item, &path, "dis", l.dis);
            }
            if let Some(t) = l.tcpbs {
                f.put(item, &path, "tcpbs", t);
            }
            if let Some(a) = l.adis {
                f.put(item, &path, "adis", a);
            }
            f.put(item, &path, "vam", l.vam);
            if input.odr.is_some() {
                f.put(item, &path, "odam", l.odam);
            }
            if input.olr.is_some() {
                f.put(item, &path, "olam", l.olam);
            }
            f.put(item, &path, "tsstam", l.tsstam);
            if let Some(nw) = dec(item, "nw") {
                tonw += nw;
                any_nw = true;
            }
            if let Some(s) = dec(item, "sscv") {
                tocv += s;
                any_sscv = true;
            }
            lines.push(l);
        }
    }
    if !errors.is_empty() {
        return Err(joined(&errors));
    }
    let Some(t) = arith::compute_totals(inp, &lines) else {
        return Err(Message::new(
            "جمع‌های صورتحساب بیش از حد بزرگ‌اند و محاسبه نمی‌شوند",
            "the totals are too large to compute",
        ));
    };
    let hdr = root
        .entry("header")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(hdr) = hdr.as_object_mut() else {
        return Err(Message::new(
            "header: سرآمد صورتحساب شیء JSON نیست",
            "header is not an object",
        ));
    };
    let p = "header.";
    if let Some(v) = t.tprdis {
        f.put(hdr, p, "tprdis", v);
    }
    if let Some(v) = t.tdis {
        f.put(hdr, p, "tdis", v);
    }
    if let Some(v) = t.tadis {
        f.put(hdr, p, "tadis", v);
    }
    f.put(hdr, p, "tvam", t.tvam);
    f.put(hdr, p, "todam", t.todam);
    f.put(hdr, p, "tbill", t.tbill);
    if let Some(v) = t.torv {
        f.put(hdr, p, "torv", v);
    }
    if inp == 7 && any_nw {
        f.put(hdr, p, "tonw", tonw);
    }
    if inp == 7 && any_sscv {
        f.put(hdr, p, "tocv", tocv);
    }
    // Mixed settlement: cap + insp = tbill − tvam − todam; fill the one that is missing.
    if hdr.get("setm").and_then(Value::as_i64) == Some(3) {
        let rest = t.tbill - t.tvam - t.todam;
        match (dec(hdr, "cap"), dec(hdr, "insp")) {
            (Some(cap), None) => f.put(hdr, p, "insp", rest - cap),
            (None, Some(insp)) => f.put(hdr, p, "cap", rest - insp),
            _ => {}
        }
    }
    if !f.conflicts.is_empty() {
        return Err(joined(&f.conflicts));
    }
    Ok(f.filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical() -> Value {
        // RC_TICS p.20: am 2 × fee 10000, dis 500, vra 9 → vam 1755, tsstam 21255.
        serde_json::from_str(
            r#"{"header":{"inty":1,"inp":1,"ins":1,"setm":2},
                "body":[{"sstid":"2330001234567","am":2,"fee":10000,"dis":500,"vra":9}],
                "payments":[]}"#,
        )
        .unwrap()
    }

    #[test]
    fn fills_the_official_example() {
        let mut v = canonical();
        let filled = fill_invoice(&mut v).unwrap();
        assert_eq!(v["body"][0]["prdis"].to_string(), "20000");
        assert_eq!(v["body"][0]["adis"].to_string(), "19500");
        assert_eq!(v["body"][0]["vam"].to_string(), "1755");
        assert_eq!(v["body"][0]["tsstam"].to_string(), "21255");
        assert_eq!(v["header"]["tbill"].to_string(), "21255");
        assert_eq!(v["header"]["tvam"].to_string(), "1755");
        assert_eq!(v["header"]["todam"].to_string(), "0");
        let fields: Vec<&str> = filled.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"body[0].vam"));
        assert!(fields.contains(&"header.tprdis"));
        assert!(!fields.contains(&"body[0].dis"), "dis was given");
        // Filling again changes nothing and lists nothing.
        assert_eq!(fill_invoice(&mut v).unwrap(), vec![]);
    }

    #[test]
    fn truncates_not_rounds() {
        let mut v = canonical();
        v["body"][0] = json!({"am": 3, "fee": 333, "dis": 0, "vra": 9});
        fill_invoice(&mut v).unwrap();
        // 999 × 9 / 100 = 89.91 → 89
        assert_eq!(v["body"][0]["vam"].to_string(), "89");
    }

    #[test]
    fn refuses_a_conflict_naming_field_given_and_computed() {
        let mut v = canonical();
        v["body"][0]["vam"] = json!(1800);
        let before = v.clone();
        let e = fill_invoice(&mut v).unwrap_err();
        assert!(e.en.contains("body[0].vam"), "{e:?}");
        assert!(e.en.contains("given 1800"), "{e:?}");
        assert!(e.en.contains("computed 1755"), "{e:?}");
        assert!(
            e.fa.contains("body[0].vam") && e.fa.contains("1755"),
            "{e:?}"
        );
        let _ = before;
    }

    #[test]
    fn each_language_has_its_own_text() {
        let persian = |t: &str| t.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
        let mut conflict = canonical();
        conflict["body"][0]["vam"] = json!(1800);
        let mut missing = canonical();
        missing["body"][0].as_object_mut().unwrap().remove("fee");
        let mut no_pattern = canonical();
        no_pattern["header"].as_object_mut().unwrap().remove("inp");
        for mut v in [conflict, missing, no_pattern, json!([1])] {
            let e = fill_invoice(&mut v).unwrap_err();
            assert!(!persian(&e.en), "English text with Persian in it: {e:?}");
            assert!(persian(&e.fa), "Persian text without Persian: {e:?}");
        }
    }

    #[test]
    fn equal_value_with_other_spelling_is_not_a_conflict() {
        let mut v = canonical();
        v["body"][0]["vam"] = serde_json::from_str("1755.00").unwrap();
        assert!(fill_invoice(&mut v).is_ok());
    }

    #[test]
    fn missing_input_is_named() {
        let mut v = canonical();
        v["body"][0].as_object_mut().unwrap().remove("fee");
        let e = fill_invoice(&mut v).unwrap_err();
        assert!(e.en.contains("body[0].fee"), "{e:?}");
    }

    #[test]
    fn cancellation_has_nothing_to_fill() {
        let mut v = json!({"header":{"ins":3},"body":[],"payments":[]});
        assert_eq!(fill_invoice(&mut v).unwrap(), vec![]);
    }

    #[test]
    fn special_fields_of_gold_export_and_mixed_settlement() {
        // Gold: tcpbs = consfee + bros + spro; adis = prdis + tcpbs − dis;
        // vam = trunc(tcpbs × 10% + prdis × vra%).
        let mut g = json!({"header":{"inp":3,"ins":1},"body":[
            {"am":1,"fee":1000000,"dis":0,"vra":0,"consfee":50000,"spro":30000,"bros":0}]});
        let filled = fill_invoice(&mut g).unwrap();
        assert_eq!(g["body"][0]["tcpbs"].to_string(), "80000");
        assert_eq!(g["body"][0]["adis"].to_string(), "1080000");
        assert_eq!(g["body"][0]["vam"].to_string(), "8000");
        assert!(filled.iter().any(|f| f.field == "body[0].tcpbs"));
        // Export: torv = Σ ssrv, tonw = Σ nw, tocv = Σ sscv; no prdis/dis/adis.
        let mut x = json!({"header":{"inp":7,"ins":1},"body":[
            {"am":2,"vra":0,"ssrv":5000000,"sscv":100.5,"nw":12.25},
            {"am":1,"vra":0,"ssrv":1000000,"sscv":20,"nw":1}]});
        fill_invoice(&mut x).unwrap();
        assert_eq!(x["header"]["torv"].to_string(), "6000000");
        assert_eq!(x["header"]["tocv"].to_string(), "120.5");
        assert_eq!(x["header"]["tonw"].to_string(), "13.25");
        assert_eq!(x["header"]["tbill"].to_string(), "6000000");
        assert!(x["body"][0].get("prdis").is_none() && x["header"].get("tprdis").is_none());
        // setm 3: the missing credit part follows from cap: cap + insp = tbill − tvam − todam.
        let mut m = canonical();
        m["header"]["setm"] = json!(3);
        m["header"]["cap"] = json!(9500);
        fill_invoice(&mut m).unwrap();
        assert_eq!(m["header"]["insp"].to_string(), "10000");
    }
}
