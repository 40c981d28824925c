//! Corrections (ins 2, اصلاحی), cancellations (ins 3, ابطالی) and sales returns (ins 4, برگشت
//! از فروش) built from the accepted original invoice (the reference, مرجع), following
//! RC_IITP.IS_V7.8 §5 and the field rules for `irtaxid`:
//!
//! * every referral carries `irtaxid` = the reference's tax ID, a later `indatim`, the same
//!   seller (`tins`), type and pattern; buyer fields, goods/service IDs and VAT rates cannot
//!   change (§5 notes, §5-2 note 1, table «نرخ مالیات بر ارزش افزوده»);
//! * a correction cannot add a new goods/service ID (§5-2 2a);
//! * a cancellation needs only `indatim`, `ins`, `irtaxid`, `tins` (type, pattern, buyer and
//!   body are taken from the reference) (§5-3);
//! * a return holds the items sold minus the items returned, quantities only decrease, fee and
//!   VAT rate unchanged; returning everything is a cancellation instead; not for patterns 7, 8,
//!   11 (§5-4).
//!
//! The library builds the new invoice (without tax ID and `inno`: those come at enqueue) or
//! returns the findings naming the rule that forbids it. Queue look-ups are the caller's.

use super::fill::fill_invoice;
use crate::invoice::money::{decimal_of, to_json_number};
use crate::lang::Message;
use crate::rules::Finding;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Buyer fields (اقلام اطلاعاتی خریدار): never changed by a referral.
pub const BUYER_FIELDS: &[&str] = &["tob", "bid", "tinb", "bpc", "bbc", "billid"];

/// Buyer fields the tax system takes from the reference: a referral omits them (sending them
/// draws out-of-pattern warnings), and may not send them different.
pub const FETCHED_BUYER_FIELDS: &[&str] = &["tinb", "bid", "bpc", "bbc", "billid"];

fn drop_fetched(h: &mut Map<String, Value>) {
    for k in FETCHED_BUYER_FIELDS {
        h.remove(*k);
    }
}

/// Fields computed from the lines, dropped from copied content and computed again.
const LINE_COMPUTED: &[&str] = &["prdis", "adis", "vam", "tsstam", "tcpbs", "cop", "vop"];
const HEADER_COMPUTED: &[&str] = &[
    "tprdis", "tdis", "tadis", "tvam", "todam", "tbill", "torv", "tonw", "tocv", "tvop",
];

fn header(v: &Value) -> Map<String, Value> {
    v.get("header")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn body(v: &Value) -> Vec<Map<String, Value>> {
    v.get("body")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_object().cloned()).collect())
        .unwrap_or_default()
}

fn err(rule: &str, field: &str, fa: String, en: String) -> Finding {
    Finding::error(rule, field, Message::new(fa, en))
}

/// A date for a person: Jalali, Tehran time (Gregorian beside it for English).
fn fmt_date(ms: i64, gregorian_too: bool) -> String {
    super::jalali::format_unix_ms(ms, true, gregorian_too)
}

/// Checks that apply to the reference itself, whatever the referral.
pub fn check_reference(reference: &Value, reference_taxid: &str, indatim: i64) -> Vec<Finding> {
    let h = header(reference);
    let mut out = Vec::new();
    if h.get("ins").and_then(Value::as_i64) == Some(3) {
        out.push(err(
            "referral.reference_is_cancellation",
            "header.irtaxid",
            format!("صورتحساب {reference_taxid} خودش ابطالی است و نمی‌تواند مرجع باشد"),
            format!("{reference_taxid} is a cancellation; a cancellation cannot be a reference (V7.8 §5-3 note 2)"),
        ));
    }
    if let Some(r) = h.get("indatim").and_then(Value::as_i64) {
        if indatim <= r {
            out.push(err(
                "referral.indatim_not_after_reference",
                "header.indatim",
                format!(
                    "تاریخ صورتحساب ارجاعی ({}) باید بعد از تاریخ صورتحساب مرجع ({}) باشد",
                    fmt_date(indatim, false),
                    fmt_date(r, false)
                ),
                format!(
                    "the referral's issue time ({}) must be later than the reference's ({})",
                    fmt_date(indatim, true),
                    fmt_date(r, true)
                ),
            ));
        }
    }
    out
}

fn same_or_copy(
    new_h: &mut Map<String, Value>,
    ref_h: &Map<String, Value>,
    key: &str,
    rule: &str,
    what_fa: &str,
    out: &mut Vec<Finding>,
) {
    match (new_h.get(key), ref_h.get(key)) {
        (Some(n), Some(r)) if n != r && (decimal_of(n).is_none() || decimal_of(n) != decimal_of(r)) => out.push(err(
            rule,
            &format!("header.{key}"),
            format!("{what_fa} ({key}) قابل تغییر نیست: مرجع {r}، این فایل {n}؛ برای تغییر آن مرجع را ابطال و صورتحساب جدید صادر کنید"),
            format!("{key} cannot change in a referral: the reference has {r}, this has {n}; cancel the reference and issue a new invoice instead"),
        )),
        (Some(_), None) if BUYER_FIELDS.contains(&key) => out.push(err(
            rule,
            &format!("header.{key}"),
            format!("{what_fa} ({key}) در مرجع نبود و نمی‌توان افزودش"),
            format!("{key} was not in the reference and cannot be added by a referral"),
        )),
        (None, Some(r)) => {
            new_h.insert(key.to_string(), r.clone());
        }
        _ => {}
    }
}

/// Checks line by line: no new goods/service ID, unchanged VAT rate (and, for a return,
/// unchanged fee and no quantity increase).
fn check_lines(
    new_b: &[Map<String, Value>],
    ref_b: &[Map<String, Value>],
    is_return: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, l) in new_b.iter().enumerate() {
        let sstid = l.get("sstid").and_then(Value::as_str).unwrap_or_default();
        let refs: Vec<&Map<String, Value>> = ref_b
            .iter()
            .filter(|r| r.get("sstid").and_then(Value::as_str) == Some(sstid))
            .collect();
        let Some(r) = refs.first() else {
            out.push(err(
                "referral.new_sstid",
                &format!("body[{i}].sstid"),
                format!("شناسه کالا/خدمت {sstid} در صورتحساب مرجع نیست؛ افزودن کالای جدید در صورتحساب ارجاعی ممکن نیست"),
                format!("goods/service ID {sstid} is not in the reference; a referral cannot add a new goods/service ID (V7.8 §5-2 2a)"),
            ));
            continue;
        };
        let vra_n = l.get("vra").and_then(decimal_of);
        if vra_n.is_some() && vra_n != r.get("vra").and_then(decimal_of) {
            out.push(err(
                "referral.vra_changed",
                &format!("body[{i}].vra"),
                "نرخ مالیات بر ارزش افزوده در صورتحساب ارجاعی قابل تغییر نیست".into(),
                format!(
                    "the VAT rate of {sstid} cannot change in a referral (reference {}, this {})",
                    r.get("vra").map(Value::to_string).unwrap_or_default(),
                    l.get("vra").map(Value::to_string).unwrap_or_default()
                ),
            ));
        }
        if is_return {
            let fee_n = l.get("fee").and_then(decimal_of);
            if fee_n.is_some() && fee_n != r.get("fee").and_then(decimal_of) {
                out.push(err(
                    "referral.return_fee_changed",
                    &format!("body[{i}].fee"),
                    "مبلغ واحد در برگشت از فروش قابل تغییر نیست".into(),
                    format!("the unit price of {sstid} cannot change in a sales return (V7.8 §5-4 note 5)"),
                ));
            }
        }
    }
    if is_return {
        // Per goods/service ID: total quantity may only decrease, and something must decrease.
        let mut decreased = false;
        let mut ids: Vec<&str> = ref_b
            .iter()
            .filter_map(|r| r.get("sstid").and_then(Value::as_str))
            .collect();
        ids.dedup();
        for id in ids {
            let total = |b: &[Map<String, Value>]| -> Decimal {
                b.iter()
                    .filter(|l| l.get("sstid").and_then(Value::as_str) == Some(id))
                    .filter_map(|l| l.get("am").and_then(decimal_of))
                    .sum()
            };
            let (n, r) = (total(new_b), total(ref_b));
            if n > r {
                out.push(err(
                    "referral.return_quantity_increased",
                    "body",
                    format!("مقدار {id} در برگشت از فروش ({n}) از مقدار فروخته‌شده ({r}) بیشتر است"),
                    format!("the quantity of {id} in a sales return ({n}) is more than was sold ({r}); a return only decreases quantities (V7.8 §5-4 note 2)"),
                ));
            }
            if n < r {
                decreased = true;
            }
        }
        if !decreased && out.is_empty() {
            out.push(err(
                "referral.return_nothing_returned",
                "body",
                "هیچ مقداری نسبت به مرجع کم نشده است".into(),
                "no quantity decreased compared with the reference; a sales return must return something (V7.8 §5-4 note 2)".into(),
            ));
        }
    }
    out
}

fn strip_numbering(h: &mut Map<String, Value>) {
    for k in ["taxid", "inno"] {
        h.remove(k);
    }
}

fn assemble(h: Map<String, Value>, b: Vec<Map<String, Value>>, payments: Value) -> Value {
    let mut root = Map::new();
    root.insert("header".into(), Value::Object(h));
    root.insert(
        "body".into(),
        Value::Array(b.into_iter().map(Value::Object).collect()),
    );
    root.insert("payments".into(), payments);
    Value::Object(root)
}

fn refill(inv: &mut Value) -> Result<(), Vec<Finding>> {
    fill_invoice(inv).map(|_| ()).map_err(|e| {
        vec![err(
            "referral.amounts",
            "",
            format!("مبالغ صورتحساب ارجاعی محاسبه نشد: {}", e.fa),
            format!("the referral's amounts could not be computed: {}", e.en),
        )]
    })
}

/// The corrective invoice (ins 2): the new content, with `irtaxid` = the reference, the same
/// type, pattern, seller and buyer; no new goods/service ID; unchanged VAT rates. Missing
/// header fields are taken from the reference; `indatim` defaults to `now_ms`.
pub fn correction(
    reference: &Value,
    reference_taxid: &str,
    new: &Value,
    now_ms: i64,
) -> Result<Value, Vec<Finding>> {
    let ref_h = header(reference);
    let mut h = header(new);
    strip_numbering(&mut h);
    let indatim = h
        .entry("indatim")
        .or_insert_with(|| Value::from(now_ms))
        .as_i64()
        .unwrap_or(now_ms);
    let mut out = check_reference(reference, reference_taxid, indatim);
    if let Some(ins) = h.get("ins").and_then(Value::as_i64) {
        if ins != 2 {
            out.push(err(
                "referral.ins",
                "header.ins",
                format!("موضوع صورتحساب اصلاحی باید ۲ باشد، نه {ins}"),
                format!("a correction has ins 2, the file says {ins}"),
            ));
        }
    }
    h.insert("ins".into(), Value::from(2));
    h.insert("irtaxid".into(), Value::from(reference_taxid));
    same_or_copy(
        &mut h,
        &ref_h,
        "inty",
        "referral.type_pattern_changed",
        "نوع صورتحساب",
        &mut out,
    );
    same_or_copy(
        &mut h,
        &ref_h,
        "inp",
        "referral.type_pattern_changed",
        "الگوی صورتحساب",
        &mut out,
    );
    same_or_copy(
        &mut h,
        &ref_h,
        "tins",
        "referral.seller_changed",
        "شماره اقتصادی فروشنده",
        &mut out,
    );
    for k in BUYER_FIELDS {
        same_or_copy(
            &mut h,
            &ref_h,
            k,
            "referral.buyer_changed",
            "اطلاعات خریدار",
            &mut out,
        );
    }
    for k in ["setm", "sbc"] {
        if !h.contains_key(k) {
            if let Some(v) = ref_h.get(k) {
                h.insert(k.to_string(), v.clone());
            }
        }
    }
    drop_fetched(&mut h);
    let b = body(new);
    out.extend(check_lines(&b, &body(reference), false));
    if !out.is_empty() {
        return Err(out);
    }
    let payments = new.get("payments").cloned().unwrap_or(Value::Array(vec![]));
    let mut inv = assemble(h, b, payments);
    refill(&mut inv)?;
    Ok(inv)
}

/// The cancellation (ins 3): only `indatim`, `ins`, `irtaxid` and `tins` (V7.8 §5-3: type,
/// pattern, buyer and body are taken from the reference by the tax system).
pub fn cancellation(
    reference: &Value,
    reference_taxid: &str,
    now_ms: i64,
) -> Result<Value, Vec<Finding>> {
    let ref_h = header(reference);
    let out = check_reference(reference, reference_taxid, now_ms);
    if !out.is_empty() {
        return Err(out);
    }
    let mut h = Map::new();
    h.insert("indatim".into(), Value::from(now_ms));
    h.insert("ins".into(), Value::from(3));
    h.insert("irtaxid".into(), Value::from(reference_taxid));
    if let Some(t) = ref_h.get("tins") {
        h.insert("tins".into(), t.clone());
    }
    Ok(assemble(h, Vec::new(), Value::Array(vec![])))
}

/// One returned quantity: goods/service ID and amount (`--lines SSTID:AM`).
#[derive(Debug, Clone, PartialEq)]
pub struct Returned {
    pub sstid: String,
    pub am: Decimal,
}

/// Parses `--lines 2330001234567:1,2330001234574:0.5`.
pub fn parse_lines(spec: &str) -> Result<Vec<Returned>, String> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|part| {
            let (id, am) = part.split_once(':').ok_or_else(|| {
                format!("\"{part}\": write SSTID:QUANTITY, e.g. 2330001234567:1 / به شکل شناسه:مقدار بنویسید")
            })?;
            let am = super::cells::canonical_decimal(am)
                .and_then(|a| a.parse::<Decimal>().ok())
                .filter(|a| *a > Decimal::ZERO)
                .ok_or_else(|| format!("\"{part}\": the quantity must be a positive number / مقدار باید عدد مثبت باشد"))?;
            Ok(Returned { sstid: id.trim().to_string(), am })
        })
        .collect()
}

/// Scales a line's discount, fixed levies and gold fees (making fee, profit, commission) to a
/// smaller quantity, truncated to rials (UNCERTAIN: the spec says only that prices and rates
/// stay; proportional scaling is our reading).
fn scale_line(l: &mut Map<String, Value>, factor_num: Decimal, factor_den: Decimal) {
    for k in ["dis", "odam", "olam", "consfee", "spro", "bros"] {
        let rate_key = match k {
            "odam" => Some("odr"),
            "olam" => Some("olr"),
            _ => None,
        };
        if rate_key.is_some_and(|r| l.contains_key(r)) {
            continue; // computed from the rate
        }
        if let Some(v) = l.get(k).and_then(decimal_of) {
            if factor_den > Decimal::ZERO {
                let scaled = (v * factor_num / factor_den).trunc();
                l.insert(k.into(), Value::Number(to_json_number(&scaled)));
            }
        }
    }
}

fn return_header(
    reference: &Value,
    reference_taxid: &str,
    now_ms: i64,
) -> (Map<String, Value>, Vec<Finding>) {
    let ref_h = header(reference);
    let mut out = check_reference(reference, reference_taxid, now_ms);
    if let Some(inp) = ref_h.get("inp").and_then(Value::as_i64) {
        if [7, 8, 11].contains(&inp) {
            out.push(err("referral.return_pattern_not_allowed", "header.inp",
                format!("برگشت از فروش در الگوی {inp} ممکن نیست؛ از صورتحساب اصلاحی یا ابطالی استفاده کنید"),
                format!("a sales return is not allowed in pattern {inp} (export, bill of lading, commodity exchange); use a correction or a cancellation")));
        }
    }
    let mut h = ref_h.clone();
    strip_numbering(&mut h);
    for k in HEADER_COMPUTED {
        h.remove(*k);
    }
    drop_fetched(&mut h);
    h.insert("indatim".into(), Value::from(now_ms));
    h.insert("ins".into(), Value::from(4));
    h.insert("irtaxid".into(), Value::from(reference_taxid));
    (h, out)
}

/// The sales return (ins 4) from returned quantities: the reference's items minus the items
/// returned (matched by goods/service ID, earlier lines first), amounts computed again with the
/// same fee and VAT rate; a discount or fixed levy shrinks in proportion to the quantity.
pub fn sales_return(
    reference: &Value,
    reference_taxid: &str,
    returned: &[Returned],
    now_ms: i64,
) -> Result<Value, Vec<Finding>> {
    let (h, mut out) = return_header(reference, reference_taxid, now_ms);
    let mut lines = body(reference);
    for (ri, r) in returned.iter().enumerate() {
        let mut left = r.am;
        let mut found = false;
        for l in lines
            .iter_mut()
            .filter(|l| l.get("sstid").and_then(Value::as_str) == Some(r.sstid.as_str()))
        {
            found = true;
            let am = l.get("am").and_then(decimal_of).unwrap_or_default();
            let take = left.min(am);
            if take > Decimal::ZERO {
                let new_am = am - take;
                scale_line(l, new_am, am);
                l.insert(
                    "am".into(),
                    Value::Number(to_json_number(&new_am.normalize())),
                );
                left -= take;
            }
        }
        if !found {
            out.push(err(
                "referral.new_sstid",
                &format!("--lines[{ri}]"),
                format!("شناسه کالا/خدمت {} در صورتحساب مرجع نیست", r.sstid),
                format!(
                    "goods/service ID {} is not in the reference {reference_taxid}",
                    r.sstid
                ),
            ));
        } else if left > Decimal::ZERO {
            out.push(err(
                "referral.return_quantity_increased",
                &format!("--lines[{ri}]"),
                format!("مقدار برگشتی {} بیش از مقدار فروخته‌شده است", r.sstid),
                format!(
                    "more of {} is returned ({}) than the reference sold",
                    r.sstid, r.am
                ),
            ));
        }
    }
    lines.retain(|l| l.get("am").and_then(decimal_of).unwrap_or_default() > Decimal::ZERO);
    if out.is_empty() && lines.is_empty() {
        out.push(err("referral.return_all_use_cancel", "body",
            "همه اقلام برگشت داده شده‌اند؛ به جای برگشت از فروش صورتحساب ابطالی صادر کنید (moadian cancel)".into(),
            "every item is returned: issue a cancellation instead (moadian cancel TAXID) (V7.8 §5-4 note 4)".into()));
    }
    if out.is_empty() && returned.is_empty() {
        out.push(err(
            "referral.return_nothing_returned",
            "body",
            "هیچ مقداری برگشت داده نشده است".into(),
            "nothing is returned".into(),
        ));
    }
    if !out.is_empty() {
        return Err(out);
    }
    finish_return(h, lines, reference)
}

fn finish_return(
    mut h: Map<String, Value>,
    mut lines: Vec<Map<String, Value>>,
    reference: &Value,
) -> Result<Value, Vec<Finding>> {
    for l in &mut lines {
        for k in LINE_COMPUTED {
            l.remove(*k);
        }
    }
    // Mixed settlement: keep the cash part; the credit part follows from the new total.
    if h.get("setm").and_then(Value::as_i64) == Some(3) {
        h.remove("insp");
    }
    let payments = reference
        .get("payments")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    let mut inv = assemble(h, lines, payments);
    refill(&mut inv)?;
    Ok(inv)
}

/// The sales return (ins 4) from a file holding the remaining items.
pub fn sales_return_from(
    reference: &Value,
    reference_taxid: &str,
    new: &Value,
    now_ms: i64,
) -> Result<Value, Vec<Finding>> {
    let (mut h, mut out) = return_header(reference, reference_taxid, now_ms);
    let nh = header(new);
    if let Some(i) = nh.get("indatim") {
        h.insert("indatim".into(), i.clone());
    }
    for k in BUYER_FIELDS.iter().chain(["inty", "inp", "tins"].iter()) {
        if let (Some(n), Some(r)) = (nh.get(*k), h.get(*k)) {
            if n != r {
                out.push(err(
                    "referral.buyer_changed",
                    &format!("header.{k}"),
                    format!("{k} در برگشت از فروش قابل تغییر نیست"),
                    format!("{k} cannot change in a sales return (reference {r}, file {n})"),
                ));
            }
        }
    }
    let lines = body(new);
    out.extend(check_lines(&lines, &body(reference), true));
    if out.is_empty() && lines.is_empty() {
        out.push(err(
            "referral.return_all_use_cancel",
            "body",
            "همه اقلام برگشت داده شده‌اند؛ صورتحساب ابطالی صادر کنید".into(),
            "every item is returned: issue a cancellation instead (moadian cancel TAXID)".into(),
        ));
    }
    if !out.is_empty() {
        return Err(out);
    }
    finish_return(h, lines, reference)
}
