//! The rule data compiled into the binary: the obligation matrix (RC_IITP.IS_V7.8 جدول ۱), the
//! field dictionary (types, lengths, decimals, enumerations, error-code field numbers), the
//! measurement units (RC_UMGS.ST_V1.18) and the currencies (official currency list).
//!
//! Why data and not code: these tables change with every spec version; keeping them as JSON in
//! `schemas/` lets a reviewer compare them with the official document line by line. They are
//! parsed once (lazily) and looked up by key without allocating.

use once_cell::sync::Lazy;
use serde::Deserialize;
use std::collections::HashSet;

const MATRIX_JSON: &str = include_str!("../../../schemas/matrix.json");
const FIELDS_JSON: &str = include_str!("../../../schemas/fields.json");
const UNITS_JSON: &str = include_str!("../../../schemas/units.json");
const CURRENCIES_JSON: &str = include_str!("../../../schemas/currencies.json");
const PLACES_JSON: &str = include_str!("../../../schemas/places.json");

/// The 16 type/pattern columns of جدول ۱, in the order of `schemas/matrix.json`.
pub const COLUMNS: [(u8, u8); 16] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (1, 8),
    (1, 9),
    (1, 11),
    (1, 13),
    (1, 14),
    (2, 1),
    (2, 3),
    (2, 9),
    (2, 13),
];

/// The column index of a type/pattern pair, if the matrix has it.
pub fn column(inty: u8, inp: u8) -> Option<usize> {
    COLUMNS.iter().position(|&c| c == (inty, inp))
}

/// Obligation of a field in one type/pattern column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obligation {
    /// اجباری — must be present.
    Required,
    /// اختیاری — may be present.
    Optional,
    /// در شرایط خاص اجباری — required under conditions (checked in code).
    Conditional,
    /// خارج از الگو (ignore) — not part of the pattern; the server drops it and warns.
    Ignore,
}

impl Obligation {
    fn from_char(c: char) -> Option<Self> {
        match c {
            'R' => Some(Self::Required),
            'O' => Some(Self::Optional),
            'C' => Some(Self::Conditional),
            '-' => Some(Self::Ignore),
            _ => None,
        }
    }
}

/// Where a field lives in the invoice JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Header,
    Body,
    Payment,
    /// Inside `header.sg[]` (bill of lading carried goods).
    Sg,
}

/// The JSON type a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// A JSON string.
    Str,
    /// A JSON integer number (no fraction).
    Int,
    /// A JSON number with limited integer and decimal digits.
    Dec,
    /// A JSON array (only `sg`).
    Array,
}

/// Which characters a string field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chars {
    /// `0-9A-Z` (tax IDs).
    Taxid,
    /// `0-9a-fA-F`.
    Hex,
    /// `0-9`.
    Digits,
    /// `0-9`, exactly 11 or 14 of them (economic numbers).
    #[serde(rename = "digits_11_14")]
    Digits1114,
    /// `0-9A-Za-z`.
    Alnum,
    /// `A-Z`.
    Upper,
    /// Any characters (free text).
    Text,
}

/// Lower bound of a numeric field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MinBound {
    /// Must be ≥ 0 (JSON Schema `minimum`, detail code 06).
    #[serde(rename = "0")]
    Zero,
    /// Must be > 0 (JSON Schema `exclusiveMinimum`, detail code 05).
    #[serde(rename = "exclusive0")]
    ExclusiveZero,
}

/// A named enumeration kept in its own data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnumSet {
    Units,
    Currencies,
    /// RC_IITP.IS_V7.8 §8-4 (ocu, dco).
    Countries,
    /// RC_IITP.IS_V7.8 §8-5 (oci, dci).
    Cities,
}

/// One field of the dictionary (`schemas/fields.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct FieldSpec {
    /// Row number in جدول ۱ (1–99).
    pub no: u8,
    pub key: String,
    pub sec: Section,
    /// Field number in the error-code scheme (RC_TXPS.EC_V02 table 8), e.g. `"045"`.
    pub ec: Option<String>,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub min_len: Option<usize>,
    pub max_len: Option<usize>,
    pub chars: Option<Chars>,
    /// Maximum digits of an integer field.
    pub digits: Option<u32>,
    pub int_digits: Option<u32>,
    pub decimals: Option<u32>,
    pub min: Option<MinBound>,
    /// Inclusive upper bound of a numeric field (JSON Schema `maximum`, detail code 06), e.g.
    /// `cui` ≤ 1000 (RC_IITP.IS_V7.8 جدول ۶۳ ردیف ۲).
    pub max: Option<rust_decimal::Decimal>,
    /// Where the upper bound is written in the official text, for the message (en, fa).
    pub max_source: Option<String>,
    pub max_source_fa: Option<String>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<i64>>,
    pub enum_set: Option<EnumSet>,
    /// The regular expression the server applies, for documentation.
    pub regex: Option<String>,
}

#[derive(Deserialize)]
struct FieldsFile {
    fields: Vec<FieldSpec>,
}

#[derive(Deserialize)]
struct MatrixRowRaw {
    no: u8,
    key: String,
    sec: Section,
    obl: String,
}

#[derive(Deserialize)]
struct MatrixFile {
    columns: Vec<String>,
    rows: Vec<MatrixRowRaw>,
}

/// One row of the obligation matrix.
#[derive(Debug, Clone)]
pub struct MatrixRow {
    pub no: u8,
    pub key: String,
    pub sec: Section,
    pub obl: [Obligation; 16],
}

/// Everything loaded from `schemas/`.
pub struct Tables {
    pub fields: Vec<FieldSpec>,
    pub matrix: Vec<MatrixRow>,
    pub column_names: Vec<String>,
    /// key → index into `fields` and `matrix` (same order, by row number); keys are unique.
    /// (Looked up for every key of every invoice: see [`super::keys`].)
    index: super::keys::KeyIndex,
    pub units: HashSet<String>,
    pub currencies: HashSet<String>,
    pub countries: HashSet<String>,
    pub cities: HashSet<String>,
}

impl Tables {
    /// The field of a section with this key.
    pub fn field(&self, sec: Section, key: &str) -> Option<(usize, &FieldSpec)> {
        let i = self.index.get(key)?;
        let f = &self.fields[i];
        (f.sec == sec).then_some((i, f))
    }

    /// Index of a field by key alone (keys are unique across sections).
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.index.get(key)
    }
}

/// Parses the raw files once; a malformed file is a build defect caught by [`load_errors`]'s test.
static TABLES_RAW: Lazy<(FieldsFile, MatrixFile)> = Lazy::new(|| {
    let fields: FieldsFile =
        serde_json::from_str(FIELDS_JSON).unwrap_or(FieldsFile { fields: vec![] });
    let matrix: MatrixFile = serde_json::from_str(MATRIX_JSON).unwrap_or(MatrixFile {
        columns: vec![],
        rows: vec![],
    });
    (fields, matrix)
});

/// Why the compiled-in data files do not parse (empty when they do).
pub fn load_errors() -> Vec<String> {
    let mut errs = Vec::new();
    if let Err(e) = serde_json::from_str::<FieldsFile>(FIELDS_JSON) {
        errs.push(format!("schemas/fields.json: {e}"));
    }
    if let Err(e) = serde_json::from_str::<MatrixFile>(MATRIX_JSON) {
        errs.push(format!("schemas/matrix.json: {e}"));
    }
    if let Err(e) = serde_json::from_str::<UnitsFile>(UNITS_JSON) {
        errs.push(format!("schemas/units.json: {e}"));
    }
    if let Err(e) = serde_json::from_str::<CurrenciesFile>(CURRENCIES_JSON) {
        errs.push(format!("schemas/currencies.json: {e}"));
    }
    if let Err(e) = serde_json::from_str::<PlacesFile>(PLACES_JSON) {
        errs.push(format!("schemas/places.json: {e}"));
    }
    errs
}

#[derive(Deserialize)]
struct UnitsFile {
    units: Vec<Unit>,
}
#[derive(Deserialize)]
struct Unit {
    code: String,
}
#[derive(Deserialize)]
struct CurrenciesFile {
    currencies: Vec<Currency>,
}
#[derive(Deserialize)]
struct Currency {
    iso: String,
}
#[derive(Deserialize, Default)]
struct PlacesFile {
    countries: HashSet<String>,
    cities: HashSet<String>,
}

/// The compiled-in tables.
pub static TABLES: Lazy<Tables> = Lazy::new(|| {
    let (ff, mf) = &*TABLES_RAW;
    let mut matrix = Vec::with_capacity(mf.rows.len());
    for r in &mf.rows {
        let mut obl = [Obligation::Ignore; 16];
        for (i, c) in r.obl.chars().take(16).enumerate() {
            obl[i] = Obligation::from_char(c).unwrap_or(Obligation::Optional);
        }
        matrix.push(MatrixRow {
            no: r.no,
            key: r.key.clone(),
            sec: r.sec,
            obl,
        });
    }
    let index = super::keys::KeyIndex::new(ff.fields.iter().map(|f| f.key.as_str()));
    let units = serde_json::from_str::<UnitsFile>(UNITS_JSON)
        .map(|u| u.units.into_iter().map(|u| u.code).collect())
        .unwrap_or_default();
    let currencies = serde_json::from_str::<CurrenciesFile>(CURRENCIES_JSON)
        .map(|c| c.currencies.into_iter().map(|c| c.iso).collect())
        .unwrap_or_default();
    let places = serde_json::from_str::<PlacesFile>(PLACES_JSON).unwrap_or_default();
    Tables {
        fields: ff.fields.clone(),
        matrix,
        column_names: mf.columns.clone(),
        index,
        units,
        currencies,
        countries: places.countries,
        cities: places.cities,
    }
});

/// Raw text of the matrix file, for tests that check its shape strictly.
pub fn matrix_source() -> &'static str {
    MATRIX_JSON
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_parse() {
        assert_eq!(load_errors(), Vec::<String>::new());
    }

    #[test]
    fn matrix_has_99_rows_of_16_known_values() {
        let raw: serde_json::Value =
            serde_json::from_str(matrix_source()).expect("matrix.json parses");
        let rows = raw["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 99);
        assert_eq!(raw["columns"].as_array().map(|c| c.len()), Some(16));
        for (i, r) in rows.iter().enumerate() {
            let obl = r["obl"].as_str().expect("obl");
            assert_eq!(obl.chars().count(), 16, "row {}", i + 1);
            assert!(obl.chars().all(|c| "ROC-".contains(c)), "row {}", i + 1);
            assert_eq!(r["no"].as_u64(), Some(i as u64 + 1));
        }
        assert_eq!(TABLES.matrix.len(), 99);
        assert_eq!(TABLES.fields.len(), 99);
    }

    #[test]
    fn fields_and_matrix_agree_on_keys_and_sections() {
        for (f, m) in TABLES.fields.iter().zip(&TABLES.matrix) {
            assert_eq!(f.key, m.key);
            assert_eq!(f.sec, m.sec);
            assert_eq!(f.no, m.no);
        }
        assert!(TABLES.field(Section::Body, "vam").is_some());
        assert!(TABLES.field(Section::Header, "vam").is_none());
    }

    #[test]
    fn units_and_currencies_loaded() {
        assert_eq!(TABLES.units.len(), 102);
        assert!(TABLES.units.contains("1627"));
        assert!(TABLES.currencies.contains("USD"));
        assert!(TABLES.currencies.contains("IRR"));
    }

    #[test]
    fn anchors_of_the_matrix() {
        let obl = |k: &str, t: u8, p: u8| {
            let i = TABLES.index_of(k).expect("key");
            TABLES.matrix[i].obl[column(t, p).expect("column")]
        };
        assert_eq!(obl("ft", 1, 6), Obligation::Required);
        assert_eq!(obl("ft", 1, 1), Obligation::Ignore);
        assert_eq!(obl("billid", 1, 5), Obligation::Required);
        assert_eq!(obl("crn", 1, 4), Obligation::Required);
        assert_eq!(obl("vba", 2, 9), Obligation::Conditional);
        assert_eq!(obl("tob", 1, 11), Obligation::Ignore);
    }
}
