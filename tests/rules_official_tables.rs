//! Where `validate` once disagreed with the official documents (issue #18), each case checked
//! against the table and row it comes from: RC_IITP.IS_V7.8 (اردیبهشت ۱۴۰۵), RC_TXPS.EC_V02
//! (اسفند ۱۴۰۲) and RC_TXPS.RE_V01 (دی ۱۴۰۲). The invoices are the examples in
//! `examples/invoices/invalid/` (and the valid ones they were made from).

use moadian::lang::Message;
use moadian::rules::{
    optional_computed_fields, validate, Context, Finding, SendingDeadline, Severity,
};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/invoices");
/// The moment the invalid examples are judged at (as in invalid-examples-expect.json).
const AT: i64 = 1_795_174_200_000;
const DAY: i64 = 86_400_000;

fn read(rel: &str) -> Value {
    let text =
        std::fs::read_to_string(format!("{DIR}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn judge(v: &Value) -> Vec<Finding> {
    validate(v, &Context::at(AT))
}

fn find<'a>(f: &'a [Finding], rule: &str, field: &str) -> Option<&'a Finding> {
    f.iter().find(|x| x.rule == rule && x.field == field)
}

fn errors(f: &[Finding]) -> Vec<String> {
    f.iter()
        .filter(|x| x.is_error())
        .map(|x| format!("{} @ {} {:?}", x.rule, x.field, x.code))
        .collect()
}

// 1. V7.8 جدول ۵ ردیف ۳: «تاریخ و زمان ایجاد صورتحساب از تاریخ و زمان حال نباید بزرگتر باشد».
#[test]
fn v78_table5_row3_indati2m_in_the_future_is_a_warning() {
    let v = read("invalid/time.created_future-creation-time-tomorrow.json");
    let f = judge(&v);
    let w = find(&f, "time.created_future", "header.indati2m").expect("indati2m in the future");
    assert_eq!(
        w.severity,
        Severity::Warning,
        "conditionally required, here optional"
    );
    assert_eq!(w.code.as_deref(), Some("1200301"));
    assert!(w.message.en.contains("table 5 row 3"), "{}", w.message.en);
    assert!(w.message.fa.contains("جدول ۵ ردیف ۳"), "{}", w.message.fa);
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));
    // Judged a day later it is in the past: nothing to say.
    let later = validate(&v, &Context::at(AT + 2 * DAY));
    assert!(find(&later, "time.created_future", "header.indati2m").is_none());
}

// 2. V7.8 جدول ۶۳ ردیف ۲: «0< cui <= 1000.00».
#[test]
fn v78_table63_row2_gold_purity_above_1000_is_an_error() {
    let v = read("invalid/field.range-gold-purity-above-1000.json");
    let f = judge(&v);
    let e = find(&f, "field.range", "body[0].cui").expect("cui 1001 refused");
    assert_eq!(
        e.severity,
        Severity::Error,
        "a data rule: error even for an optional field"
    );
    assert_eq!(e.code.as_deref(), Some("0107806"));
    assert!(e.message.en.contains("table 63 row 2"), "{}", e.message.en);
    // 1000 itself is allowed, and so is the valid example's 750.
    let mut ok = v.clone();
    ok["body"][0]["cui"] = serde_json::json!(1000);
    assert!(find(&judge(&ok), "field.range", "body[0].cui").is_none());
    ok["body"][0]["cui"] = serde_json::json!(1000.01);
    assert!(find(&judge(&ok), "field.range", "body[0].cui").is_some());
}

// 3. V7.8 جدول ۲۶ ردیف ۳: «مبلغ پرداختی نسیه میبایست بزرگتر از صفر باشد Cr >0» — at insp.
#[test]
fn v78_table26_row3_credit_zero_is_reported_at_insp() {
    let v = read("invalid/settle.split-setm3-credit-zero.json");
    let f = judge(&v);
    let e = find(&f, "settle.split", "header.insp").expect("insp = 0 reported at insp");
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(e.code.as_deref(), Some("0203001"));
    assert!(e.message.en.contains("table 26 row 3"), "{}", e.message.en);
    // cap is right (cap + insp adds up): nothing at cap.
    assert!(find(&f, "settle.split", "header.cap").is_none(), "{f:#?}");
}

// V7.8 جدول ۲۵ ردیف ۳: «C>0» — at cap.
#[test]
fn v78_table25_row3_cash_zero_is_reported_at_cap() {
    let mut v = read("invalid/settle.split-setm3-credit-zero.json");
    v["header"]["cap"] = serde_json::json!(0);
    v["header"]["insp"] = serde_json::json!(800000000);
    let f = judge(&v);
    let e = find(&f, "settle.split", "header.cap").expect("cap = 0 reported at cap");
    assert_eq!(e.code.as_deref(), Some("0202901"));
    assert!(e.message.en.contains("table 25 row 3"), "{}", e.message.en);
    assert!(find(&f, "settle.split", "header.insp").is_none(), "{f:#?}");
}

// V7.8 جدول ۲۵ و ۲۶ ردیف ۲: C = Xs − W2 − W − Cr and Cr = Xs − W2 − W − C; a sum that does not
// hold breaks both, and each field is told the value that would fit the other.
#[test]
fn v78_tables25_26_row2_a_wrong_split_is_reported_at_both_fields() {
    let v = read("invalid/settle.split-cash-plus-credit-not-total.json");
    let f = judge(&v);
    let cap = find(&f, "settle.split", "header.cap").expect("at cap");
    let insp = find(&f, "settle.split", "header.insp").expect("at insp");
    assert_eq!(cap.code.as_deref(), Some("0202901"));
    assert_eq!(insp.code.as_deref(), Some("0203001"));
    // tbill − tvam − todam = 800000000; cap 300000000 → insp 500000000; insp 500000001 → cap 299999999.
    assert!(insp.message.en.contains("500000000"), "{}", insp.message.en);
    assert!(cap.message.en.contains("299999999"), "{}", cap.message.en);
}

// 4. V7.8 جدول ۱ ردیف ۲۵ و جدول ۱۶: tdis «اختیاری»; §6 قاعده کلی ۲-b: a wrong optional field is
// accepted «ضمن ارسال هشدار»; RC_TXPS.EC_V02 table 7 row 18 (اختیاری → 1 هشدار).
#[test]
fn v78_section6_rule2b_wrong_optional_tdis_is_a_warning() {
    let v = read("invalid/arith.total.tdis-tdis-not-sum.json");
    let f = judge(&v);
    let w = find(&f, "arith.total.tdis", "header.tdis").expect("tdis finding");
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.code.as_deref(), Some("1202301"));
    assert!(
        w.message.en.contains("general rule 2-b"),
        "{}",
        w.message.en
    );
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));
}

// The same rule on every optional computed field: each example breaks one and gets a warning
// with the 12<field>01 code, and no error.
#[test]
fn v78_section6_rule2b_holds_for_every_optional_computed_field() {
    let cases = [
        (
            "tdis",
            "invalid/arith.total.tdis-tdis-not-sum.json",
            "header.tdis",
            "1202301",
        ),
        (
            "tvop",
            "invalid/arith.total.tvop-tvop-not-sum.json",
            "header.tvop",
            "1203101",
        ),
        (
            "tax17",
            "invalid/arith.total.tax17-tax17-above-tvam.json",
            "header.tax17",
            "1203201",
        ),
        (
            "fee",
            "invalid/arith.line.fee-export-fee-not-value-over-quantity.json",
            "body[0].fee",
            "1203701",
        ),
        (
            "cfee",
            "invalid/arith.line.cfee-cfee-not-fee-over-rate.json",
            "body[0].cfee",
            "1203801",
        ),
        (
            "cop",
            "invalid/arith.line.cop-cash-share-wrong.json",
            "body[0].cop",
            "1205601",
        ),
        (
            "vop",
            "invalid/arith.line.vop-vat-share-wrong.json",
            "body[0].vop",
            "1205701",
        ),
    ];
    let listed = optional_computed_fields();
    assert_eq!(
        listed,
        cases.iter().map(|c| c.0.to_string()).collect::<Vec<_>>(),
        "schemas/rules.json optional_computed lists exactly these"
    );
    for (key, file, field, code) in cases {
        let v = read(file);
        let f = judge(&v);
        let w = f
            .iter()
            .find(|x| x.field == field)
            .unwrap_or_else(|| panic!("{file}: nothing at {field}: {f:#?}"));
        assert_eq!(w.severity, Severity::Warning, "{key}");
        assert_eq!(w.code.as_deref(), Some(code), "{key}");
        assert!(errors(&f).is_empty(), "{file}: {:?}", errors(&f));
    }
}

// 5. RC_TXPS.EC_V02 table 9 prints 0304401 for a non-zero VAT rate where it must be zero (RE_V01
// «خطای 0344»); V7.8 جدول ۴۳ ردیف ۵: export, bourse and chain sale have rate zero.
#[test]
fn ec_v02_table9_nonzero_vat_rate_in_export_bourse_chain_sale_is_0304401() {
    for file in [
        "invalid/arith.line.vra-export-with-vat.json",
        "invalid/arith.line.vra-bourse-with-vat.json",
        "invalid/arith.line.vra-chain-sale-with-vat.json",
    ] {
        let v = read(file);
        let f = judge(&v);
        let e = find(&f, "arith.line.vra", "body[0].vra").unwrap_or_else(|| panic!("{file}"));
        assert_eq!(e.severity, Severity::Error, "{file}");
        assert_eq!(e.code.as_deref(), Some("0304401"), "{file}");
        assert!(e.message.en.contains("table 43 row 5"), "{}", e.message.en);
    }
    assert!(!moadian::rules::codes_emitted().contains(&"0204401".to_string()));
}

// The late-sending deadline: V7.8 جدول ۴ ردیف ۵ «…نباید بیشتر از یک هفته باشد». A warning past
// one week whose message names that source; a configured deadline names its own.
#[test]
fn v78_table4_row5_late_sending_deadline_is_one_week_and_names_its_source() {
    let v = read("valid/t1-p1-sale.json");
    let indatim = v["header"]["indatim"].as_i64().expect("indatim");
    let late = |f: &[Finding]| find(f, "time.late", "header.indatim").cloned();
    assert!(
        late(&validate(&v, &Context::at(indatim + 7 * DAY))).is_none(),
        "7 days is in time"
    );
    let f = validate(&v, &Context::at(indatim + 7 * DAY + 1));
    let w = late(&f).expect("past one week");
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.en.contains("RC_IITP.IS_V7.8"), "{}", w.message.en);
    assert!(w.message.en.contains("table 4 row 5"), "{}", w.message.en);
    assert!(w.message.fa.contains("جدول ۴ ردیف ۵"), "{}", w.message.fa);
    assert_eq!(SendingDeadline::official().days, 7);

    let mine = SendingDeadline::configured(12, Message::new("تنظیم آزمون", "test setting"));
    let ctx = |t| Context::at(t).with_deadline(mine.clone());
    assert!(late(&validate(&v, &ctx(indatim + 12 * DAY))).is_none());
    let w = late(&validate(&v, &ctx(indatim + 12 * DAY + 1))).expect("past 12 days");
    assert!(
        w.message.en.contains("12 days (source: test setting)"),
        "{}",
        w.message.en
    );
}

// The deadline as a setting: `validate --deadline-days` (or MOADIAN_DEADLINE_DAYS) replaces
// the official week, and the warning names the flag as its source.
#[test]
fn validate_deadline_days_flag_sets_the_policy_and_is_named() {
    let file = format!("{DIR}/valid/t1-p1-sale.json");
    let v = read("valid/t1-p1-sale.json");
    let at10 = (v["header"]["indatim"].as_i64().expect("indatim") + 10 * DAY).to_string();
    let run = |extra: &[&str]| -> Value {
        let out = assert_cmd::Command::cargo_bin("moadian")
            .expect("binary")
            .env_remove("MOADIAN_DEADLINE_DAYS")
            .args(["--lang", "en", "validate", "--json", "--at", &at10])
            .args(extra)
            .arg(&file)
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).expect("json")
    };
    let late = |v: &Value| -> Option<String> {
        v["invoices"][0]["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .find(|w| w["rule"] == "time.late")
            .map(|w| w["message"]["en"].as_str().unwrap_or_default().to_string())
    };
    let official = late(&run(&[])).expect("10 days is past one week");
    assert!(official.contains("table 4 row 5"), "{official}");
    assert!(
        late(&run(&["--deadline-days", "12"])).is_none(),
        "12 days allowed"
    );
    let mine = late(&run(&["--deadline-days", "9"])).expect("past 9 days");
    assert!(mine.contains("9 days (source: --deadline-days 9"), "{mine}");
}

// --- A second reading of RC_IITP.IS_V7.8 against `validate` and `explain`. ---

fn warnings_only(f: &[Finding]) -> bool {
    f.iter().all(|x| !x.is_error())
}

// V7.8 جدول ۱, legend «-»: «مقدار ثبت شده برای این فیلد توسط سامانه دریافت نمی‌شود». In the
// bourse pattern (1/11) tprdis, tdis, todam, prdis, dis and the other taxes are out of the
// pattern: the server drops them, so no sum or formula may judge them; each only draws the
// out-of-pattern warning.
#[test]
fn v78_table1_fields_out_of_the_bourse_pattern_are_warned_about_never_computed() {
    let base = read("valid/t1-p11-bourse.json");
    let mut v = base.clone();
    v["header"]["tprdis"] = serde_json::json!(12_000_000);
    v["header"]["tdis"] = serde_json::json!(5);
    v["header"]["todam"] = serde_json::json!(7);
    v["body"][0]["odt"] = serde_json::json!("عوارض");
    v["body"][0]["odr"] = serde_json::json!(1);
    let f = judge(&v);
    assert!(warnings_only(&f), "{:?}", errors(&f));
    for field in [
        "header.tprdis",
        "header.tdis",
        "header.todam",
        "body[0].odt",
        "body[0].odr",
    ] {
        let w = find(&f, "matrix.out_of_pattern", field).unwrap_or_else(|| panic!("{field}"));
        assert_eq!(w.severity, Severity::Warning);
    }
    assert!(
        f.iter().all(|x| !x.rule.starts_with("arith.")),
        "no arithmetic on dropped fields: {f:?}"
    );
    // Where the same fields are in the pattern (sale, 1/1), they are still computed.
    let mut sale = read("valid/t1-p1-sale.json");
    sale["header"]["tprdis"] = serde_json::json!(1);
    assert!(find(&judge(&sale), "arith.total.tprdis", "header.tprdis").is_some());
}

// V7.8 tables 69–72 and §8-4/§8-5: ocu and dco from the country table (Iran is 033, not the ISO
// 364), oci and dci from the city table, and a city is required where its country is Iran.
#[test]
fn v78_tables69_72_bill_of_lading_countries_and_cities_come_from_the_official_tables() {
    let base = read("valid/t1-p8-bill-of-lading.json");
    assert!(
        errors(&judge(&base)).is_empty(),
        "{:?}",
        errors(&judge(&base))
    );
    let mut iso = base.clone();
    iso["header"]["ocu"] = serde_json::json!("364");
    let f = judge(&iso);
    let e = find(&f, "field.enum", "header.ocu").expect("364 is not in §8-4");
    assert!(e.message.en.contains("Iran is 033"), "{}", e.message.en);
    assert!(e.message.en.contains("§8-4"), "{}", e.message.en);
    let mut city = base.clone();
    city["header"]["dci"] = serde_json::json!("99999");
    assert!(find(&judge(&city), "field.enum", "header.dci").is_some());
    let mut no_city = base.clone();
    let h = no_city["header"].as_object_mut().expect("header");
    h.remove("oci");
    h.remove("dci");
    let f = judge(&no_city);
    for field in ["header.oci", "header.dci"] {
        let e = find(&f, "matrix.conditional", field).unwrap_or_else(|| panic!("{field}"));
        assert!(e.message.en.contains("(033)"), "{}", e.message.en);
    }
    // From abroad (Turkey, 064) to Iran: the origin city is not required, the destination's is.
    let mut abroad = no_city.clone();
    abroad["header"]["ocu"] = serde_json::json!("064");
    let f = judge(&abroad);
    assert!(find(&f, "matrix.conditional", "header.oci").is_none());
    assert!(find(&f, "matrix.conditional", "header.dci").is_some());
}

// V7.8 tables 59 and 60, row 1: pcn and pid «در مورد صورتحساب‌های الکترونیکی از نوع سوم اجباری».
#[test]
fn v78_tables59_60_a_type3_receipt_needs_the_payers_card_and_id() {
    let base = read("valid/t3-pos-receipt.json");
    assert!(
        errors(&judge(&base)).is_empty(),
        "{:?}",
        errors(&judge(&base))
    );
    for key in ["pcn", "pid"] {
        let mut v = base.clone();
        v["payments"][0]
            .as_object_mut()
            .expect("payment")
            .remove(key);
        let f = judge(&v);
        let field = format!("payments[0].{key}");
        let e = find(&f, "matrix.required", &field).unwrap_or_else(|| panic!("{key}"));
        assert!(e.is_error());
    }
}

// V7.8 جدول ۶۲: the amounts paid together no more than tbill (row 5) and zero on credit (setm 2,
// row 3). pv is required in a type-3 receipt, so there a wrong value is an error; elsewhere a
// warning (§6 قاعده کلی ۲-b).
#[test]
fn v78_table62_amounts_paid_are_checked_against_tbill_and_credit() {
    let mut receipt = read("valid/t3-pos-receipt.json");
    receipt["payments"][0]["pv"] = serde_json::json!(1_100_001);
    let f = judge(&receipt);
    let e = find(&f, "settle.payment", "payments[0].pv").expect("pv above tbill");
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(e.code.as_deref(), Some("0207601"));

    let mut credit = read("valid/t1-p1-sale.json");
    credit["header"]["setm"] = serde_json::json!(2);
    credit["payments"] = serde_json::json!([{"pv": 1000, "pdt": credit["header"]["indatim"]}]);
    let f = judge(&credit);
    let w = find(&f, "settle.payment", "payments[0].pv").expect("pv on credit");
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.en.contains("table 62 row 3"), "{}", w.message.en);
    credit["payments"][0]["pv"] = serde_json::json!(0);
    assert!(find(&judge(&credit), "settle.payment", "payments[0].pv").is_none());
}

// A discount above the price is told once, at dis: no fix may ask for a negative adis.
#[test]
fn a_discount_above_the_price_never_asks_for_a_negative_amount() {
    let f = judge(&read("invalid/arith.line.dis-discount-above-price.json"));
    assert!(find(&f, "arith.line.dis", "body[0].dis").is_some());
    for x in &f {
        assert!(!x.message.en.contains("set it to -"), "{}", x.message.en);
        assert!(!x.message.fa.contains("باید -"), "{}", x.message.fa);
    }
}

// RC_TXPS.EC_V02 §3: 00000 is a warning «در کنار ۵۰ خطا/هشدار اول», not a check of a field;
// RE_V01 011304 and V7.8 جدول ۱۱: sbc is exactly 4 digits, as `validate` holds it.
#[test]
fn explain_says_00000_is_a_warning_and_sbc_has_exactly_four_digits() {
    let x = moadian::codes::explain("00000").expect("00000");
    assert_eq!(x.severity, Some(Severity::Warning));
    assert!(x.decoded.is_none(), "not a field check");
    let sbc = moadian::codes::explain("011304").expect("011304");
    assert!(sbc.meaning.en.contains("exactly 4"), "{}", sbc.meaning.en);
    let mut three = read("valid/t1-p1-sale.json");
    three["header"]["sbc"] = serde_json::json!("123");
    let f = judge(&three);
    let e = find(&f, "field.format", "header.sbc").expect("3 digits refused");
    assert_eq!(e.code.as_deref(), Some("0101304"));
}

// RC_TXPS.RE_V01 error 0202 item 1: the server refuses an issue time more than 30 000 ms ahead
// of its clock, so a few seconds ahead (a till whose clock runs fast) is not refused here.
#[test]
fn re_v01_0202_an_issue_time_up_to_30_s_ahead_is_accepted() {
    let v = read("valid/t1-p1-sale.json");
    let indatim = v["header"]["indatim"].as_i64().expect("indatim");
    let future = |at: i64| {
        find(
            &validate(&v, &Context::at(at)),
            "time.future",
            "header.indatim",
        )
        .cloned()
    };
    assert!(future(indatim - 10_000).is_none(), "10 s ahead");
    assert!(future(indatim - 30_000).is_none(), "30 s ahead");
    let e = future(indatim - 30_001).expect("30.001 s ahead");
    assert!(e.is_error());
    assert!(e.message.en.contains("more than 30 s"), "{}", e.message.en);
}

// V7.8 جدول ۴۳ ردیف ۹: in the petroleum pattern, goods with a base amount (vba) have vra out of
// the pattern; جدول ۳۴ ردیف ۳: in export the optional fee is ssrv / am. Both warnings only.
#[test]
fn v78_tables43_34_petroleum_vra_beside_vba_and_a_wrong_export_fee_are_warned_about() {
    let pet = read("valid/t1-p9-petroleum.json");
    let line = pet["body"][0].as_object().expect("line");
    assert!(
        line.contains_key("vba") && !line.contains_key("vra"),
        "{line:?}"
    );
    let mut both = pet.clone();
    both["body"][0]["vra"] = serde_json::json!(10);
    let f = judge(&both);
    let w = find(&f, "matrix.out_of_pattern", "body[0].vra").expect("vra beside vba");
    assert!(w.message.en.contains("table 43 row 9"), "{}", w.message.en);
    assert!(warnings_only(&f), "{:?}", errors(&f));

    let export = read("valid/t1-p7-export.json");
    assert!(judge(&export).is_empty(), "{:?}", judge(&export));
    let mut wrong = export.clone();
    wrong["body"][0]["fee"] = serde_json::json!(123);
    let f = judge(&wrong);
    let w = find(&f, "arith.line.fee", "body[0].fee").expect("fee ≠ ssrv / am");
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.code.as_deref(), Some("1203701"));
    assert!(warnings_only(&f), "{:?}", errors(&f));
}
