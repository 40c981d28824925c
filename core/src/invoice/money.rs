//! Exact money: amounts are `rust_decimal::Decimal` read straight from the JSON number text
//! (serde_json `arbitrary_precision`), never through `f64`, and written back as JSON numbers with
//! the same digits. Also the spec's truncation (قطع کردن, toward zero) used by the arithmetic.

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::str::FromStr;

/// The key serde_json uses to hand an arbitrary-precision number to a visitor.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Truncates toward zero to `scale` decimals, as the spec computes every amount
/// (rial amounts: 0 decimals; currency: 4; fee/am/exr: 8).
pub fn trunc(value: Decimal, scale: u32) -> Decimal {
    value.trunc_with_scale(scale)
}

/// Parses the text of a JSON number (`29`, `0.29`, `1e3`) into an exact decimal.
pub fn parse_number_text(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
}

/// Reads an exact decimal from a `serde_json::Value` number (any other type gives `None`).
pub fn decimal_of(value: &serde_json::Value) -> Option<Decimal> {
    match value {
        serde_json::Value::Number(n) => parse_number_text(&n.to_string()),
        _ => None,
    }
}

/// Writes an exact decimal as a JSON number with exactly its digits.
pub fn to_json_number(value: &Decimal) -> serde_json::Number {
    // A Decimal's text is always a valid JSON number (digits, optional '-' and '.').
    serde_json::Number::from_str(&value.to_string())
        .unwrap_or_else(|_| serde_json::Number::from(0u8))
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON number (exact decimal, at most 28 significant digits)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Decimal, E> {
        Decimal::try_from_i128_with_scale(
            i128::try_from(v).map_err(|_| E::custom("number too large"))?,
            0,
        )
        .map_err(|_| E::custom("number too large for an exact decimal (28 digits)"))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Decimal, E> {
        Decimal::try_from_i128_with_scale(v, 0)
            .map_err(|_| E::custom("number too large for an exact decimal (28 digits)"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        // serde_json (arbitrary_precision) only calls this from a `Value` when the number's
        // text is exactly the shortest representation of `v`, so that text is recovered here
        // without loss. Reading from text never comes through here.
        parse_number_text(&v.to_string())
            .ok_or_else(|| E::custom("number does not fit an exact decimal"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decimal, A::Error> {
        match map.next_key_seed(TokenSeed)? {
            Some(true) => map.next_value_seed(NumberTextSeed),
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
}

/// Recognises serde_json's private number key without allocating.
struct TokenSeed;

impl<'de> de::DeserializeSeed<'de> for TokenSeed {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number token")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
                Ok(v == NUMBER_TOKEN)
            }
        }
        d.deserialize_str(V)
    }
}

/// Parses the number text serde_json hands over, without allocating.
struct NumberTextSeed;

impl<'de> de::DeserializeSeed<'de> for NumberTextSeed {
    type Value = Decimal;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Decimal, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the text of a JSON number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
                parse_number_text(v).ok_or_else(|| {
                    E::custom(format_args!(
                        "number {v} does not fit an exact decimal (at most 28 significant digits)"
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// `#[serde(with = "…")]` for `Option<Decimal>`: exact in both directions.
pub mod opt_decimal {
    use super::*;
    use serde::Serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        struct OptVisitor;
        impl<'de> Visitor<'de> for OptVisitor {
            type Value = Option<Decimal>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON number or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_any(DecimalVisitor).map(Some)
            }
        }
        d.deserialize_option(OptVisitor)
    }

    pub fn serialize<S: serde::Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => to_json_number(d).serialize(s),
            None => s.serialize_none(),
        }
    }
}

/// `#[serde(with = "…")]` for a required `Decimal`: exact in both directions.
pub mod decimal {
    use super::*;
    use serde::Serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(DecimalVisitor)
    }

    pub fn serialize<S: serde::Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        to_json_number(v).serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct T {
        #[serde(default, with = "opt_decimal", skip_serializing_if = "Option::is_none")]
        v: Option<Decimal>,
    }

    #[test]
    fn invariant_1_decimal_text_round_trips() {
        for text in [
            "0.29",
            "100",
            "123456789012345678",
            "999999999999999999",
            "1234567890.12345678",
            "-5",
            "0",
        ] {
            let json = format!("{{\"v\":{text}}}");
            let t: T = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), json);
            // through a Value as well
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            let t2: T = serde_json::from_value(value).unwrap();
            assert_eq!(t2.v, t.v);
        }
    }

    #[test]
    fn invariant_1_point_29_times_100_is_29() {
        let t: T = serde_json::from_str(r#"{"v":0.29}"#).unwrap();
        let am = t.v.unwrap();
        let fee: T = serde_json::from_str(r#"{"v":100}"#).unwrap();
        assert_eq!(am * fee.v.unwrap(), Decimal::from(29));
        assert_eq!(trunc(am * fee.v.unwrap(), 0), Decimal::from(29));
    }

    #[test]
    fn absent_and_null_are_none() {
        let t: T = serde_json::from_str("{}").unwrap();
        assert!(t.v.is_none());
        let t: T = serde_json::from_str(r#"{"v":null}"#).unwrap();
        assert!(t.v.is_none());
        assert_eq!(serde_json::to_string(&t).unwrap(), "{}");
    }

    #[test]
    fn strings_are_not_numbers() {
        assert!(serde_json::from_str::<T>(r#"{"v":"12"}"#).is_err());
    }

    #[test]
    fn trunc_goes_toward_zero() {
        let d = Decimal::from_str("1755.99").unwrap();
        assert_eq!(trunc(d, 0), Decimal::from(1755));
        assert_eq!(trunc(-d, 0), Decimal::from(-1755));
    }
}
