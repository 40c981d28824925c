//! The columns a spreadsheet may have: every official invoice field (RC_IITP.IS_V7.8 table 2)
//! with its section, its JSON kind, an English alias and its Persian title, plus the
//! spreadsheet-only key that joins header rows to item rows (`invoice_no`). A small TOML mapping
//! file can add names of one's own (`"Customer code" = "tinb"`).

use std::collections::HashMap;
use std::path::Path;

/// Where a field lives in the invoice JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Header,
    Body,
    Payment,
}

/// How a cell is turned into JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A small integer enum (`inty`, `ins`, `setm`…): JSON integer.
    Int,
    /// A string of digits (`tins`, `sstid`, `mu`…): JSON string, leading zeros kept.
    Digits,
    /// Free text or an alphanumeric code: JSON string.
    Text,
    /// An exact decimal amount or rate: JSON number, never through f64.
    Decimal,
    /// A date-time: JSON integer Unix ms (Jalali or Gregorian input, Tehran local time).
    DateTimeMs,
    /// A date as days since 1970-01-01 (`cdcd`, `asd`).
    DayCount,
}

/// One known column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Official JSON key (or `invoice_no` for the join key).
    pub key: &'static str,
    pub section: Section,
    pub kind: Kind,
    /// English name accepted as a header (and written in templates).
    pub en: &'static str,
    /// Persian title from the spec (and written in templates).
    pub fa: &'static str,
}

/// The spreadsheet-only column that groups rows into invoices.
pub const INVOICE_NO: &str = "invoice_no";

use Kind::*;
use Section::*;

macro_rules! col {
    ($k:literal, $s:ident, $t:ident, $en:literal, $fa:literal) => {
        Column {
            key: $k,
            section: $s,
            kind: $t,
            en: $en,
            fa: $fa,
        }
    };
}

/// Every column, in template order.
#[rustfmt::skip]
pub const COLUMNS: &[Column] = &[
    col!("invoice_no", Header, Text, "Invoice number", "شماره فاکتور"),
    col!("taxid", Header, Text, "Tax ID", "شماره منحصر به فرد مالیاتی"),
    col!("indatim", Header, DateTimeMs, "Issue date", "تاریخ و زمان صدور صورتحساب"),
    col!("indati2m", Header, DateTimeMs, "Creation date", "تاریخ و زمان ایجاد صورتحساب"),
    col!("inty", Header, Int, "Invoice type", "نوع صورتحساب"),
    col!("inno", Header, Text, "Invoice serial", "سریال صورتحساب"),
    col!("irtaxid", Header, Text, "Reference tax ID", "شماره منحصر به فرد مالیاتی صورتحساب مرجع"),
    col!("inp", Header, Int, "Invoice pattern", "الگوی صورتحساب"),
    col!("ins", Header, Int, "Invoice subject", "موضوع صورتحساب"),
    col!("tins", Header, Digits, "Seller economic number", "شماره اقتصادی فروشنده"),
    col!("tob", Header, Int, "Buyer type", "نوع شخص خریدار"),
    col!("bid", Header, Digits, "Buyer national ID", "شناسه ملی خریدار"),
    col!("tinb", Header, Digits, "Buyer economic number", "شماره اقتصادی خریدار"),
    col!("sbc", Header, Digits, "Seller branch code", "کد شعبه فروشنده"),
    col!("bpc", Header, Digits, "Buyer postal code", "کد پستی خریدار"),
    col!("bbc", Header, Digits, "Buyer branch code", "کد شعبه خریدار"),
    col!("ft", Header, Int, "Flight type", "نوع پرواز"),
    col!("bpn", Header, Text, "Buyer passport number", "شماره گذرنامه خریدار"),
    col!("scln", Header, Digits, "Customs licence number", "شماره پروانه گمرکی"),
    col!("scc", Header, Digits, "Customs office code", "کد گمرک محل اظهار فروشنده"),
    col!("cdcn", Header, Text, "Customs declaration number", "شماره کوتاژ اظهارنامه گمرکی"),
    col!("cdcd", Header, DayCount, "Customs declaration date", "تاریخ کوتاژ اظهارنامه گمرکی"),
    col!("crn", Header, Digits, "Contract number", "شماره قرارداد پیمانکاری"),
    col!("billid", Header, Digits, "Subscription number", "شماره اشتراک/شناسه قبض بهره بردار"),
    col!("tprdis", Header, Decimal, "Total before discount", "مجموع مبلغ قبل از کسر تخفیف"),
    col!("tdis", Header, Decimal, "Total discount", "مجموع تخفیفات"),
    col!("tadis", Header, Decimal, "Total after discount", "مجموع مبلغ پس از کسر تخفیف"),
    col!("tvam", Header, Decimal, "Total VAT", "مجموع مالیات بر ارزش افزوده"),
    col!("todam", Header, Decimal, "Total other taxes", "مجموع سایر مالیات، عوارض و وجوه قانونی"),
    col!("tbill", Header, Decimal, "Invoice total", "مجموع صورتحساب"),
    col!("tonw", Header, Decimal, "Total net weight", "مجموع وزن خالص"),
    col!("torv", Header, Decimal, "Total rial value", "مجموع ارزش ریالی"),
    col!("tocv", Header, Decimal, "Total currency value", "مجموع ارزش ارزی"),
    col!("setm", Header, Int, "Settlement method", "روش تسویه"),
    col!("cap", Header, Decimal, "Cash amount", "مبلغ پرداختی نقدی"),
    col!("insp", Header, Decimal, "Credit amount", "مبلغ نسیه"),
    col!("tvop", Header, Decimal, "Total VAT of payment", "مجموع سهم مالیات بر ارزش افزوده از پرداخت"),
    col!("tax17", Header, Decimal, "Article 17 tax", "مالیات موضوع ماده ۱۷"),
    col!("tinc", Header, Digits, "Agency economic number", "شماره اقتصادی آژانس"),
    col!("lno", Header, Digits, "Bill of lading number", "شماره بارنامه"),
    col!("lrno", Header, Digits, "Reference bill of lading", "شماره بارنامه مرجع"),
    col!("ocu", Header, Digits, "Origin country", "کشور مبدا"),
    col!("oci", Header, Digits, "Origin city", "شهر مبدا"),
    col!("dco", Header, Digits, "Destination country", "کشور مقصد"),
    col!("dci", Header, Digits, "Destination city", "شهر مقصد"),
    col!("tid", Header, Digits, "Sender ID", "شناسه فرستنده"),
    col!("rid", Header, Digits, "Receiver ID", "شناسه گیرنده"),
    col!("lt", Header, Int, "Bill of lading type", "نوع بارنامه/نوع حمل"),
    col!("cno", Header, Text, "Fleet number", "شماره ناوگان"),
    col!("did", Header, Digits, "Driver national code", "کد ملی راننده"),
    col!("asn", Header, Digits, "Exchange notice number", "شماره اعلامیه فروش بورس"),
    col!("asd", Header, DayCount, "Exchange notice date", "تاریخ اعلامیه فروش بورس"),
    col!("in", Header, Digits, "Insurance policy ID", "شناسه یکتای بیمه نامه"),
    col!("an", Header, Digits, "Endorsement ID", "شناسه یکتای الحاقیه"),
    col!("sstid", Body, Digits, "Goods/service ID", "شناسه کالا/خدمت"),
    col!("sstt", Body, Text, "Description", "شرح کالا/خدمت"),
    col!("am", Body, Decimal, "Quantity", "تعداد/مقدار"),
    col!("mu", Body, Digits, "Unit", "واحد اندازه گیری"),
    col!("nw", Body, Decimal, "Net weight", "وزن خالص"),
    col!("fee", Body, Decimal, "Unit price", "مبلغ واحد"),
    col!("cfee", Body, Decimal, "Currency amount", "میزان ارز"),
    col!("cut", Body, Text, "Currency", "نوع ارز"),
    col!("exr", Body, Decimal, "Exchange rate", "نرخ برابری ارز با ریال"),
    col!("ssrv", Body, Decimal, "Rial value", "ارزش ریالی کالا"),
    col!("sscv", Body, Decimal, "Currency value", "ارزش ارزی کالا"),
    col!("prdis", Body, Decimal, "Amount before discount", "مبلغ قبل از تخفیف"),
    col!("dis", Body, Decimal, "Discount", "مبلغ تخفیف"),
    col!("adis", Body, Decimal, "Amount after discount", "مبلغ بعد از تخفیف"),
    col!("vra", Body, Decimal, "VAT rate", "نرخ مالیات بر ارزش افزوده"),
    col!("vam", Body, Decimal, "VAT amount", "مبلغ مالیات بر ارزش افزوده"),
    col!("odt", Body, Text, "Other tax title", "موضوع سایر مالیات و عوارض"),
    col!("odr", Body, Decimal, "Other tax rate", "نرخ سایر مالیات و عوارض"),
    col!("odam", Body, Decimal, "Other tax amount", "مبلغ سایر مالیات و عوارض"),
    col!("olt", Body, Text, "Other levy title", "موضوع سایر وجوه قانونی"),
    col!("olr", Body, Decimal, "Other levy rate", "نرخ سایر وجوه قانونی"),
    col!("olam", Body, Decimal, "Other levy amount", "مبلغ سایر وجوه قانونی"),
    col!("consfee", Body, Decimal, "Making fee", "اجرت ساخت"),
    col!("spro", Body, Decimal, "Seller profit", "سود فروشنده"),
    col!("bros", Body, Decimal, "Commission", "حق العمل"),
    col!("tcpbs", Body, Decimal, "Fee+commission+profit", "جمع کل اجرت، حق العمل و سود"),
    col!("cop", Body, Decimal, "Cash share", "سهم نقدی از پرداخت"),
    col!("vop", Body, Decimal, "VAT share of payment", "سهم مالیات بر ارزش افزوده از پرداخت"),
    col!("bsrn", Body, Digits, "Commission contract number", "شماره قرارداد حق العملکاری"),
    col!("tsstam", Body, Decimal, "Line total", "مبلغ کل کالا/خدمت"),
    col!("cui", Body, Decimal, "Karat", "عیار"),
    col!("cpr", Body, Decimal, "Currency buy rate", "نرخ خرید ارز"),
    col!("sovat", Body, Decimal, "VAT base (currency sale)", "ماخذ مالیات بر ارزش افزوده"),
    col!("vba", Body, Decimal, "Base VAT amount", "مبلغ پایه مالیات بر ارزش افزوده"),
    col!("iinn", Payment, Digits, "Payment switch number", "شماره سوییچ پرداخت"),
    col!("acn", Payment, Digits, "Acceptor number", "شماره پذیرنده فروشگاهی"),
    col!("trmn", Payment, Digits, "Terminal number", "شماره پایانه"),
    col!("pmt", Payment, Int, "Payment method", "روش پرداخت"),
    col!("trn", Payment, Digits, "Tracking number", "شماره پیگیری/شماره مرجع"),
    col!("pcn", Payment, Digits, "Payer card number", "شماره کارت پرداخت کننده"),
    col!("pid", Payment, Digits, "Payer national ID", "شماره/شناسه ملی پرداخت کننده"),
    col!("pdt", Payment, DateTimeMs, "Payment date", "تاریخ و زمان پرداخت"),
    col!("pv", Payment, Decimal, "Amount paid", "مبلغ پرداختی"),
];

/// The template header of a column: Persian title, English name and the key, e.g.
/// `مبلغ واحد / Unit price (fee)`. Any of the three parts alone is also accepted on import.
pub fn template_header(c: &Column) -> String {
    format!("{} / {} ({})", c.fa, c.en, c.key)
}

/// Normalises a header for matching: Persian/Arabic letter variants unified, zero-width and
/// spaces and punctuation removed, ASCII lowercased.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'ي' | 'ى' => Some('ی'),
            'ك' => Some('ک'),
            'ة' => Some('ه'),
            'أ' | 'إ' => Some('ا'),
            '\u{200c}' | '\u{200f}' | '\u{200e}' | '\u{feff}' => None,
            c if c.is_whitespace() || c == '_' || c == '-' || c == '.' || c == '،' => None,
            c => Some(c.to_ascii_lowercase()),
        })
        .collect()
}

/// Header names → columns, including the user's mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    names: HashMap<String, &'static Column>,
}

/// A problem with a mapping file. Its text, in each language, is [`MappingError::message`].
#[derive(Debug)]
pub enum MappingError {
    Read {
        path: String,
        source: std::io::Error,
    },
    Toml {
        path: String,
        message: String,
    },
    UnknownKey {
        path: String,
        name: String,
        key: String,
    },
}

/// English, then Persian: the one-line form (logs, `to_string`).
impl std::fmt::Display for MappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.message().fmt(f)
    }
}

impl std::error::Error for MappingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MappingError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl MappingError {
    /// The error in each language.
    pub fn message(&self) -> crate::lang::Message {
        use crate::lang::Message;
        match self {
            MappingError::Read { path, source } => Message::new(
                format!("فایل نگاشت {path} خوانده نشد: {source}"),
                format!("cannot read mapping file {path}: {source}"),
            ),
            MappingError::Toml { path, message } => Message::new(
                format!("فایل نگاشت {path} یک TOML معتبر نیست: {message}"),
                format!("mapping file {path} is not valid TOML: {message}"),
            ),
            MappingError::UnknownKey { path, name, key } => Message::new(
                format!("فایل نگاشت {path}: «{name}» به «{key}» نگاشت شده است که فیلد صورتحساب نیست"),
                format!("mapping file {path}: \"{name}\" maps to \"{key}\", which is not an invoice field"),
            ),
        }
    }
}

impl Default for Mapping {
    fn default() -> Self {
        let mut names = HashMap::new();
        for c in COLUMNS {
            names.insert(normalize(c.key), c);
            names.insert(normalize(c.en), c);
            names.insert(normalize(c.fa), c);
            names.insert(normalize(&template_header(c)), c);
        }
        let extra: &[(&str, &str)] = &[
            ("invoice", INVOICE_NO),
            ("invoice number", INVOICE_NO),
            ("invoice no", INVOICE_NO),
            ("شماره صورتحساب", INVOICE_NO),
            ("issue date time", "indatim"),
            ("date", "indatim"),
            ("تاریخ", "indatim"),
            ("تاریخ صدور", "indatim"),
            ("price", "fee"),
            ("qty", "am"),
            ("تعداد", "am"),
            ("مقدار", "am"),
            ("فی", "fee"),
            ("تخفیف", "dis"),
            ("نرخ مالیات", "vra"),
            ("کد کالا", "sstid"),
            ("شرح", "sstt"),
            ("نوع شخص", "tob"),
        ];
        for (name, key) in extra {
            if let Some(c) = COLUMNS.iter().find(|c| c.key == *key) {
                names.insert(normalize(name), c);
            }
        }
        Self { names }
    }
}

impl Mapping {
    /// The default names plus a TOML mapping file of `"header name" = "official_key"` pairs
    /// (optionally under a `[columns]` table).
    pub fn with_file(path: &Path) -> Result<Self, MappingError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            path: p.clone(),
            source,
        })?;
        let mut m = Self::default();
        m.add_toml(&text, &p)?;
        Ok(m)
    }

    /// Adds the pairs of a TOML mapping text.
    pub fn add_toml(&mut self, text: &str, path: &str) -> Result<(), MappingError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| MappingError::Toml {
                path: path.to_string(),
                message: e.message().to_string(),
            })?;
        let table = match table.get("columns") {
            Some(toml::Value::Table(t)) => t.clone(),
            _ => table,
        };
        for (name, v) in table {
            let key = v.as_str().unwrap_or_default().to_string();
            let col =
                COLUMNS
                    .iter()
                    .find(|c| c.key == key)
                    .ok_or_else(|| MappingError::UnknownKey {
                        path: path.to_string(),
                        name: name.clone(),
                        key: key.clone(),
                    })?;
            self.names.insert(normalize(&name), col);
        }
        Ok(())
    }

    /// The column a header names: exact name, or an official key in parentheses at the end
    /// (`… (fee)`).
    pub fn lookup(&self, header: &str) -> Option<&'static Column> {
        if let Some(c) = self.names.get(&normalize(header)) {
            return Some(c);
        }
        let h = header.trim();
        if h.ends_with(')') {
            if let Some(open) = h.rfind('(') {
                let key = &h[open + 1..h.len() - 1];
                return COLUMNS.iter().find(|c| c.key == key.trim());
            }
        }
        None
    }
}

/// The column of an official key.
pub fn by_key(key: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_three_forms() {
        let m = Mapping::default();
        assert_eq!(m.lookup("fee").map(|c| c.key), Some("fee"));
        assert_eq!(m.lookup("Unit price").map(|c| c.key), Some("fee"));
        assert_eq!(m.lookup("مبلغ واحد").map(|c| c.key), Some("fee"));
        assert_eq!(m.lookup("مبلغ‌ واحد").map(|c| c.key), Some("fee"));
        assert_eq!(
            m.lookup("مبلغ واحد / Unit price (fee)").map(|c| c.key),
            Some("fee")
        );
        assert_eq!(m.lookup("anything (vra)").map(|c| c.key), Some("vra"));
        assert!(m.lookup("nonsense").is_none());
    }

    #[test]
    fn mapping_file_adds_names() {
        let mut m = Mapping::default();
        m.add_toml("[columns]\n\"Kala code\" = \"sstid\"\n", "t.toml")
            .unwrap();
        assert_eq!(m.lookup("kala code").map(|c| c.key), Some("sstid"));
        assert!(m.add_toml("x = \"nope\"", "t.toml").is_err());
    }

    #[test]
    fn headers_are_unique() {
        let m = Mapping::default();
        for c in COLUMNS {
            assert_eq!(m.lookup(&template_header(c)).map(|x| x.key), Some(c.key));
            assert_eq!(m.lookup(c.fa).map(|x| x.key), Some(c.key), "{}", c.fa);
            assert_eq!(m.lookup(c.en).map(|x| x.key), Some(c.key), "{}", c.en);
        }
    }

    #[test]
    fn example_mapping_file_parses() {
        let mut m = Mapping::default();
        m.add_toml(
            include_str!("../../../examples/spreadsheets/columns.example.toml"),
            "columns.example.toml",
        )
        .unwrap();
        assert_eq!(m.lookup("Qty").map(|c| c.key), Some("am"));
        assert_eq!(m.lookup("Doc no").map(|c| c.key), Some("invoice_no"));
    }
}
