//! The typed model of the v2 invoice JSON (صورتحساب الکترونیکی), with every field of
//! RC_IITP.IS_V7.8 under its official lowercase key, plus the later `insr`, `nti1`, `nti2`.
//!
//! Why it exists: the rest of the tool (prepare, sign, queue) works on typed invoices, and the
//! JSON that is signed must be exactly what the user meant. Money is `rust_decimal::Decimal`
//! read from the number's text (never `f64`); absent fields stay absent when written back
//! (`skip_serializing_if`), because absent and empty mean different things to the server.
//! Enumerations are kept as the small integers the server uses; the rules engine
//! ([`crate::rules`]) judges whether a value is allowed for the type and pattern.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One electronic invoice: header, line items, payments and the (unused) extension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// سرآیند صورتحساب — the header: identity, parties, totals and settlement.
    pub header: Header,
    /// بدنه صورتحساب (اقلام) — the line items; at least one except for cancellations (ins 3).
    #[serde(default)]
    pub body: Vec<Item>,
    /// اطلاعات پرداخت — payments; required for type 3 (card-reader receipts), may be `[]`.
    #[serde(default)]
    pub payments: Vec<Payment>,
    /// الحاقیه — extension, "to be announced"; send `null`/omit it (a non-empty list draws 14800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<serde_json::Value>,
}

/// سرآیند — the invoice header (RC_IITP.IS_V7.8 §7, field dictionary).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// شماره منحصر به فرد مالیاتی — unique tax ID: 22 chars = memory ID (6) + day hex (5) + serial hex (10) + Verhoeff digit (spec §13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxid: Option<String>,
    /// تاریخ و زمان صدور صورتحساب — issue date-time, Unix milliseconds (Gregorian, UTC); its UTC day is the tax ID's date part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indatim: Option<i64>,
    /// تاریخ و زمان ایجاد صورتحساب — creation date-time, Unix ms; only for the exceptions (articles 9 and 12, late registration). The V7.8 template spells it `Indati2m`; that spelling is read too (the rules engine warns on it).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "Indati2m")]
    pub indati2m: Option<i64>,
    /// نوع صورتحساب — invoice type: 1 full buyer info, 2 buyer optional (cash), 3 card-reader/gateway receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inty: Option<u8>,
    /// سریال صورتحساب داخلی حافظه مالیاتی — internal serial of the fiscal memory: 10 hex chars, equal to `taxid[11..21]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inno: Option<String>,
    /// شماره منحصر به فرد مالیاتی صورتحساب مرجع — tax ID of the reference invoice; required iff ins is 2, 3 or 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irtaxid: Option<String>,
    /// الگوی صورتحساب — pattern: 1 sale, 2 currency sale, 3 gold/jewellery, 4 contracting, 5 utility bills, 6 air ticket, 7 export, 8 bill of lading, 9 petroleum, 11 commodity exchange, 13 insurance, 14 chain sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inp: Option<u8>,
    /// موضوع صورتحساب — subject: 1 original, 2 corrective, 3 cancellation, 4 sales return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ins: Option<u8>,
    /// شماره اقتصادی فروشنده — seller economic number: 11 digits (legal person) or 14 (natural person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tins: Option<String>,
    /// نوع شخص خریدار — buyer person type: 1 natural, 2 legal, 3 civil partnership, 4 non-Iranian national.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tob: Option<u8>,
    /// شناسه/کد ملی، شناسه مشارکت مدنی یا کد فراگیر اتباع خریدار — buyer national code (10), legal national ID (11), civil-partnership ID (11) or foreign-national code (12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid: Option<String>,
    /// شماره اقتصادی خریدار — buyer economic number: 11 digits (tob 2, 3) or 14 (tob 1, 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tinb: Option<String>,
    /// کد شعبه فروشنده — seller branch code, 4 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbc: Option<String>,
    /// کد پستی خریدار — buyer postal code, 10 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpc: Option<String>,
    /// کد شعبه خریدار — buyer branch code, 4 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbc: Option<String>,
    /// نوع پرواز — flight type (pattern 6): 1 domestic, 2 international.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ft: Option<u8>,
    /// شماره گذرنامه خریدار — buyer passport number, 9 chars (patterns 2, 6, 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpn: Option<String>,
    /// شماره پروانه گمرکی فروشنده — seller customs licence number, up to 14 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scln: Option<String>,
    /// کد گمرک محل اظهار فروشنده — customs office code, 5 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scc: Option<String>,
    /// شماره کوتاژ اظهارنامه گمرکی — customs declaration (kootaj) number, up to 14 chars (export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdcn: Option<String>,
    /// تاریخ کوتاژ اظهارنامه گمرکی — customs declaration date as a day count since 1970-01-01 (5 digits), not ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdcd: Option<i64>,
    /// شناسه یکتای ثبت قرارداد فروشنده — contracting contract number, up to 12 digits (pattern 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crn: Option<String>,
    /// شماره اشتراک/شناسه قبض بهره‌بردار — subscription or bill ID, up to 19 digits (pattern 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billid: Option<String>,
    /// مجموع مبلغ قبل از کسر تخفیف — total before discount (rial, 18.0), Σ prdis.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tprdis: Option<Decimal>,
    /// مجموع تخفیفات — total discount (rial), Σ dis.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tdis: Option<Decimal>,
    /// مجموع مبلغ پس از کسر تخفیف — total after discount (rial), Σ adis.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tadis: Option<Decimal>,
    /// مجموع مالیات بر ارزش افزوده — total VAT (rial), Σ vam.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tvam: Option<Decimal>,
    /// مجموع سایر مالیات، عوارض و وجوه قانونی — total other taxes, duties and legal levies (rial), Σ odam + Σ olam.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub todam: Option<Decimal>,
    /// مجموع صورتحساب — invoice total (rial), Σ tsstam.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tbill: Option<Decimal>,
    /// مجموع وزن خالص — total net weight in kg (15.8), export.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tonw: Option<Decimal>,
    /// مجموع ارزش ریالی — total rial value per customs (export), Σ ssrv.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub torv: Option<Decimal>,
    /// مجموع ارزش ارزی — total currency value per customs (14.4, export), Σ sscv.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tocv: Option<Decimal>,
    /// روش تسویه — settlement method: 1 cash, 2 credit, 3 cash and credit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setm: Option<u8>,
    /// مبلغ پرداختی نقدی — cash amount (rial); required iff setm = 3.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub cap: Option<Decimal>,
    /// مبلغ نسیه — credit amount (rial); required iff setm = 3.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub insp: Option<Decimal>,
    /// مجموع سهم مالیات بر ارزش افزوده از پرداخت — total VAT share of the payment (rial), Σ vop.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tvop: Option<Decimal>,
    /// مالیات موضوع ماده ۱۷ قانون ارزش افزوده — tax under article 17 of the VAT law (rial), 0 ≤ tax17 ≤ tvam. The V7.8 template spells it `Tax17`; that spelling is read too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "Tax17",
        with = "super::money::opt_decimal"
    )]
    pub tax17: Option<Decimal>,
    /// شماره اقتصادی آژانس — travel agency economic number, 11 or 14 digits (pattern 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tinc: Option<String>,
    /// شماره بارنامه — bill-of-lading number, up to 18 digits (pattern 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lno: Option<String>,
    /// شماره بارنامه مرجع — reference bill-of-lading number, up to 18 digits (pattern 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lrno: Option<String>,
    /// کشور مبدا — origin country code, 3 digits (V7.8 appendix 8-4; pattern 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocu: Option<String>,
    /// شهر مبدا — origin city code, up to 5 digits (appendix 8-5); required when the origin is Iran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// کشور مقصد — destination country code, 3 digits (pattern 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dco: Option<String>,
    /// شهر مقصد — destination city code, up to 5 digits; required when the destination is Iran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dci: Option<String>,
    /// شناسه فرستنده — sender ID, 10/11/12 digits like bid (pattern 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// شناسه گیرنده — receiver ID, 10/11/12 digits (pattern 8, conditional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    /// نوع حمل / نوع بارنامه — transport type: 1 road, 2 rail, 3 air, 4 sea (pattern 8). The V7.8 template types it as a string, so a digit string is read too; it is written as an integer.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "lenient_small_int"
    )]
    pub lt: Option<u8>,
    /// شماره ناوگان — fleet number (VIN, train, flight or ship number), up to 20 alphanumerics (pattern 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cno: Option<String>,
    /// کد ملی/کد فراگیر راننده — driver national code (10) or foreign-national code (12); road transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
    /// کالاهای حمل‌شده — carried goods of a bill of lading (pattern 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sg: Option<Vec<CarriedGoods>>,
    /// شماره اعلامیه فروش بورس — commodity-exchange sale notice number, up to 30 digits (pattern 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<String>,
    /// تاریخ اعلامیه فروش بورس — exchange sale notice date as a day count since 1970-01-01 (pattern 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asd: Option<i64>,
    /// شناسه یکتای بیمه‌نامه — insurance policy ID, 9–12 digits (pattern 13). JSON key `in`.
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    pub in_: Option<String>,
    /// شناسه یکتای الحاقیه — insurance endorsement ID, 9–12 digits (pattern 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub an: Option<String>,
    /// قاعده ارسال صورتحساب — sending rule (after V7.8, from V7.9): 1 marks the article-9 / late-sending path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insr: Option<u8>,
    /// یادداشت ۱ — free-text note 1 (after V7.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nti1: Option<String>,
    /// یادداشت ۲ — free-text note 2 (after V7.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nti2: Option<String>,
}

/// One carried good of a bill of lading (`header.sg[]`, pattern 8).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarriedGoods {
    /// شناسه کالای حمل‌شده — goods ID of the carried goods, 13 digits (must exist in the goods/service registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sgid: Option<String>,
    /// شرح کالای حمل‌شده — description of the carried goods, up to 400 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sgt: Option<String>,
}

/// قلم کالا/خدمت — one line item of the body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// شناسه کالا/خدمت — goods/service ID, 13 digits, registered at stuffid.tax.gov.ir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sstid: Option<String>,
    /// شرح کالا/خدمت — description, up to 400 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sstt: Option<String>,
    /// تعداد/مقدار — quantity (18.8), > 0.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub am: Option<Decimal>,
    /// واحد اندازه‌گیری — unit of measure code (RC_UMGS.ST list), up to 8 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mu: Option<String>,
    /// وزن خالص — net weight in kg (15.8), export.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub nw: Option<Decimal>,
    /// مبلغ واحد — unit price in rial (18.8), > 0.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub fee: Option<Decimal>,
    /// میزان ارز — amount in currency (14.4).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub cfee: Option<Decimal>,
    /// نوع ارز — currency code, 3 chars (ISO 4217).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
    /// نرخ برابری ارز با ریال / نرخ فروش ارز — exchange rate to rial (18.8).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub exr: Option<Decimal>,
    /// ارزش ریالی کالا — rial value per customs (export).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub ssrv: Option<Decimal>,
    /// ارزش ارزی کالا — currency value per customs (14.4, export).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub sscv: Option<Decimal>,
    /// مبلغ قبل از تخفیف — amount before discount (rial) = trunc(am × fee).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub prdis: Option<Decimal>,
    /// مبلغ تخفیف — discount (rial), 0 ≤ dis ≤ prdis.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub dis: Option<Decimal>,
    /// مبلغ بعد از تخفیف — amount after discount (rial) = prdis − dis.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub adis: Option<Decimal>,
    /// نرخ مالیات بر ارزش افزوده — VAT rate in percent (3.2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub vra: Option<Decimal>,
    /// مبلغ مالیات بر ارزش افزوده — VAT amount (rial) = trunc(adis × vra / 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub vam: Option<Decimal>,
    /// موضوع سایر مالیات و عوارض — title of the other tax or duty, up to 255 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odt: Option<String>,
    /// نرخ سایر مالیات و عوارض — rate of the other tax or duty in percent (3.2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub odr: Option<Decimal>,
    /// مبلغ سایر مالیات و عوارض — amount of the other tax or duty (rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub odam: Option<Decimal>,
    /// موضوع سایر وجوه قانونی — title of the other legal levy, up to 255 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub olt: Option<String>,
    /// نرخ سایر وجوه قانونی — rate of the other legal levy in percent (3.2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub olr: Option<Decimal>,
    /// مبلغ سایر وجوه قانونی — amount of the other legal levy (rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub olam: Option<Decimal>,
    /// اجرت ساخت — making fee (gold, pattern 3, rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub consfee: Option<Decimal>,
    /// سود فروشنده — seller profit (gold, pattern 3, rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub spro: Option<Decimal>,
    /// حق‌العمل — commission (gold, pattern 3, rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub bros: Option<Decimal>,
    /// جمع کل اجرت، حق‌العمل و سود — consfee + bros + spro (gold, pattern 3, rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tcpbs: Option<Decimal>,
    /// سهم نقدی از پرداخت — cash share of the payment (rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub cop: Option<Decimal>,
    /// سهم مالیات بر ارزش افزوده از پرداخت — VAT share of the payment (rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub vop: Option<Decimal>,
    /// شناسه یکتای ثبت قرارداد حق‌العمل‌کاری — commission-sale contract number, up to 12 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsrn: Option<String>,
    /// مبلغ کل کالا/خدمت — line total (rial) = adis + vam + odam + olam.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub tsstam: Option<Decimal>,
    /// عیار — gold karat / fineness (4.2), 0 < cui ≤ 1000.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub cui: Option<Decimal>,
    /// نرخ خرید ارز — currency buy rate (18.8, pattern 2), 0 < cpr < exr.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub cpr: Option<Decimal>,
    /// مبنای محاسبه مالیات بر ارزش افزوده در فروش ارز — VAT base of a currency sale (rial, pattern 2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub sovat: Option<Decimal>,
    /// مبلغ پایه مالیات بر ارزش افزوده — base VAT amount per litre (18.4, petroleum pattern 9).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub vba: Option<Decimal>,
    /// (منسوخ) اختلاف نرخ خرید و فروش ارز — deprecated before V7.8 (replaced by cpr/sovat); read so it can be reported.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub pspd: Option<Decimal>,
    /// (منسوخ) کد تعرفه — deprecated HS code, absent from V7.8; read so it can be reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs: Option<String>,
}

/// پرداخت — one payment record (`payments[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// شماره سوئیچ پرداخت — payment switch number, 9 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iinn: Option<String>,
    /// شماره پذیرنده فروشگاهی — merchant acceptor number, 14 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acn: Option<String>,
    /// شماره پایانه — terminal number, 8 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trmn: Option<String>,
    /// روش پرداخت — payment method: 1 cheque, 2 barter/offset, 3 cash, 4 POS, 5 internet gateway, 6 card-to-card, 7 account transfer, 8 other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmt: Option<u8>,
    /// شماره پیگیری/شماره مرجع — tracking or reference number, up to 14 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trn: Option<String>,
    /// شماره کارت پرداخت‌کننده — payer card number, 16 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcn: Option<String>,
    /// شماره/شناسه ملی/کد فراگیر پرداخت‌کننده — payer national ID or code, up to 12 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// تاریخ و زمان پرداخت — payment date-time, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdt: Option<i64>,
    /// مبلغ پرداختی — amount paid (rial).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::money::opt_decimal"
    )]
    pub pv: Option<Decimal>,
}

impl Invoice {
    /// Reads an invoice from a JSON value (exact decimals; unknown keys are ignored here and
    /// reported by the rules engine).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(value)
    }

    /// The official JSON of this invoice (absent fields stay absent).
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// Reads a small integer enumeration written either as a JSON integer or as a digit string
/// (the V7.8 template types `lt` as a string); writes it as an integer.
mod lenient_small_int {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<u8>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a small integer or a string of digits")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_any(V)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u8::try_from(v)
                    .map(Some)
                    .map_err(|_| E::custom("value too large"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u8::try_from(v)
                    .map(Some)
                    .map_err(|_| E::custom("value out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse::<u8>()
                    .map(Some)
                    .map_err(|_| E::custom("not a small integer"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // serde_json arbitrary_precision hands a non-integer number over as a map.
                let _key: Option<de::IgnoredAny> = map.next_key()?;
                let text: String = map.next_value()?;
                text.parse::<u8>()
                    .map(Some)
                    .map_err(|_| de::Error::custom("not a small integer"))
            }
        }
        d.deserialize_option(V)
    }

    pub fn serialize<S: serde::Serializer>(v: &Option<u8>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_u8(*n),
            None => s.serialize_none(),
        }
    }
}
