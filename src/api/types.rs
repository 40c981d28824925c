//! The shapes the tax API v2 sends and receives (protocol.md §2–§5), read leniently: unknown
//! fields are ignored, codes may be numbers or text, `msg` is accepted for `message`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `GET nonce` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct NonceResponse {
    pub nonce: String,
    #[serde(default, rename = "expDate")]
    pub exp_date: Option<String>,
}

/// One public key of the tax server (`server-information`).
#[derive(Debug, Clone, Deserialize)]
pub struct ServerKey {
    /// Standard base64 of the SPKI DER.
    pub key: String,
    pub id: String,
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default)]
    pub purpose: Option<Value>,
}

/// `GET server-information` answer: the server clock (epoch ms) and its encryption keys.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerInformation {
    #[serde(rename = "serverTime")]
    pub server_time: i64,
    #[serde(rename = "publicKeys", default)]
    pub public_keys: Vec<ServerKey>,
}

/// `GET fiscal-information` answer: the owner and status of a memory ID.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FiscalInformation {
    #[serde(rename = "nameTrade", default)]
    pub name_trade: Option<String>,
    #[serde(rename = "fiscalStatus", default)]
    pub fiscal_status: Option<String>,
    #[serde(rename = "nationalId", default, deserialize_with = "opt_text")]
    pub national_id: Option<String>,
    #[serde(rename = "economicCode", default, deserialize_with = "opt_text")]
    pub economic_code: Option<String>,
    #[serde(rename = "saleThreshold", default)]
    pub sale_threshold: Option<Value>,
}

/// `GET taxpayer` answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Taxpayer {
    #[serde(rename = "nameTrade", default)]
    pub name_trade: Option<String>,
    #[serde(rename = "taxpayerStatus", default)]
    pub taxpayer_status: Option<String>,
    #[serde(rename = "nationalId", default, deserialize_with = "opt_text")]
    pub national_id: Option<String>,
}

/// The header of one invoice packet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PacketHeader {
    /// The invoice uid (UUID v4), recorded in the queue before sending.
    #[serde(rename = "requestTraceId")]
    pub request_trace_id: String,
    /// The memory ID.
    #[serde(rename = "fiscalId")]
    pub fiscal_id: String,
}

/// One element of the `POST invoice` body: the JWE of the signed invoice and its header.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Packet {
    pub payload: String,
    pub header: PacketHeader,
}

/// The acknowledgement of one packet in the `POST invoice` answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SendResult {
    pub uid: String,
    #[serde(rename = "referenceNumber", default)]
    pub reference_number: Option<String>,
    #[serde(rename = "packetType", default)]
    pub packet_type: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// The `POST invoice` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SendResponse {
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub result: Vec<SendResult>,
    /// The error envelope's list (RC_TXPS.EC_V02 §2.1), when a 2xx answer carries one.
    #[serde(default)]
    pub errors: Vec<Value>,
}

/// Where an invoice stands at the tax server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InvoiceStatus {
    Success,
    Failed,
    InProgress,
    Timeout,
    NotFound,
    /// Anything else the server says (kept as text).
    Other(String),
}

impl InvoiceStatus {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "SUCCESS" => Self::Success,
            "FAILED" => Self::Failed,
            "IN_PROGRESS" | "PENDING" => Self::InProgress,
            "TIMEOUT" => Self::Timeout,
            "NOT_FOUND" => Self::NotFound,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::InProgress => "IN_PROGRESS",
            Self::Timeout => "TIMEOUT",
            Self::NotFound => "NOT_FOUND",
            Self::Other(s) => s,
        }
    }

    /// SUCCESS or FAILED: the server will not change its mind.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Success | Self::Failed)
    }
}

impl<'de> Deserialize<'de> for InvoiceStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

impl Serialize for InvoiceStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A code and its message as the server wrote it (error or warning of an invoice, or of a call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCode {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// One inquiry result (`inquiry`, `inquiry-by-uid`, `inquiry-by-reference-id`).
#[derive(Debug, Clone, Deserialize)]
pub struct InquiryResult {
    #[serde(rename = "referenceNumber", default)]
    pub reference_number: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
    pub status: InvoiceStatus,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(rename = "packetType", default)]
    pub packet_type: Option<String>,
    #[serde(rename = "fiscalId", default)]
    pub fiscal_id: Option<String>,
    /// Present on SUCCESS per one transcription of the official guide; optional.
    #[serde(rename = "taxId", default)]
    pub tax_id: Option<String>,
}

impl InquiryResult {
    /// The errors in `data.error` (also accepts `data` as a bare list).
    /// A SUCCESS whose `data` says otherwise (`success: false`, or errors listed): not an
    /// answer the connection guide shows (§8: SUCCESS comes with `success: true` and no
    /// errors), so neither SUCCESS nor FAILED may be read from it.
    pub fn contradicts_itself(&self) -> bool {
        self.status == InvoiceStatus::Success
            && (self
                .data
                .as_ref()
                .and_then(|d| d.get("success"))
                .and_then(Value::as_bool)
                == Some(false)
                || !self.errors().is_empty())
    }

    pub fn errors(&self) -> Vec<ServerCode> {
        match &self.data {
            Some(Value::Array(items)) => codes_of(items),
            Some(Value::Object(o)) => o
                .get("error")
                .and_then(Value::as_array)
                .map(|a| codes_of(a))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The warnings in `data.warning`.
    pub fn warnings(&self) -> Vec<ServerCode> {
        match &self.data {
            Some(Value::Object(o)) => o
                .get("warning")
                .and_then(Value::as_array)
                .map(|a| codes_of(a))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// One answer of `inquiry-invoice-status`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TaxIdStatus {
    #[serde(rename = "taxId", default)]
    pub tax_id: Option<String>,
    #[serde(rename = "invoiceStatus", default)]
    pub invoice_status: Option<String>,
    #[serde(rename = "article6Status", default)]
    pub article6_status: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
}

/// What an `inquiry-invoice-status` answer says of one tax ID (connection guide §10: `error`
/// is NOT_FOUND or ACCESS_DENIED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxIdAnswer {
    /// The server holds it, with this status (APPROVED…).
    Held(String),
    /// The server says it has no such tax ID.
    NotFound,
    /// The server would not say (ACCESS_DENIED, another error, no status at all, or no answer
    /// for this tax ID): neither held nor free may be assumed.
    Unknown(String),
}

impl TaxIdStatus {
    /// What this answer says of its tax ID. Only an absent or `null` error counts as none.
    pub fn answer(&self) -> TaxIdAnswer {
        let error = match &self.error {
            None | Some(Value::Null) => None,
            Some(Value::String(e)) => Some(e.clone()),
            Some(other) => Some(other.to_string()),
        };
        match (
            self.invoice_status.as_deref().filter(|v| !v.is_empty()),
            error,
        ) {
            (Some(status), None) => TaxIdAnswer::Held(status.to_string()),
            (_, Some(e)) if e == "NOT_FOUND" => TaxIdAnswer::NotFound,
            (_, Some(e)) => TaxIdAnswer::Unknown(e),
            (None, None) => TaxIdAnswer::Unknown("no status and no error".into()),
        }
    }
}

/// The answer for `taxid` among `answers` (none: the server would not say).
pub fn taxid_answer(answers: &[TaxIdStatus], taxid: &str) -> TaxIdAnswer {
    answers
        .iter()
        .find(|s| s.tax_id.as_deref() == Some(taxid))
        .map_or_else(
            || TaxIdAnswer::Unknown("no answer for this tax ID".into()),
            TaxIdStatus::answer,
        )
}

/// The error envelope of a non-2xx answer: `{timestamp, requestTraceId, errors:[{code,message}]}`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ErrorEnvelope {
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(rename = "requestTraceId", default)]
    pub request_trace_id: Option<String>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

impl ErrorEnvelope {
    pub fn codes(&self) -> Vec<ServerCode> {
        codes_of(&self.errors)
    }
}

/// Reads `{code|errorCode, message|msg|detail}` items; codes as text whatever their JSON type.
pub fn codes_of(items: &[Value]) -> Vec<ServerCode> {
    items
        .iter()
        .filter_map(|item| {
            let o = item.as_object()?;
            let code = o
                .get("code")
                .or_else(|| o.get("errorCode"))
                .map(value_text)
                .unwrap_or_default();
            let message = ["message", "msg", "detail", "errorDetail"]
                .iter()
                .find_map(|k| o.get(*k).filter(|v| !v.is_null()).map(value_text))
                .unwrap_or_default();
            Some(ServerCode { code, message })
        })
        .collect()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.filter(|v| !v.is_null()).map(|v| value_text(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inquiry_result_reads_errors_with_msg_or_message() {
        let r: InquiryResult = serde_json::from_str(
            r#"{"referenceNumber":"r","uid":"u","status":"FAILED","data":{"error":[
            {"code":"010504","message":"bad inno","errorType":"ERROR"},{"code":404,"msg":"x"}],
            "warning":[{"code":"1100101","message":"w"}],"success":false}}"#,
        )
        .unwrap();
        assert_eq!(r.status, InvoiceStatus::Failed);
        let e = r.errors();
        assert_eq!(e[0].code, "010504");
        assert_eq!(e[1].code, "404");
        assert_eq!(e[1].message, "x");
        assert_eq!(r.warnings()[0].code, "1100101");
    }

    #[test]
    fn a_success_listing_errors_contradicts_itself() {
        let read = |data: &str| -> InquiryResult {
            serde_json::from_str(&format!(
                r#"{{"uid":"u","status":"SUCCESS","data":{data}}}"#
            ))
            .unwrap()
        };
        assert!(!read(r#"{"error":[],"warning":[],"success":true}"#).contradicts_itself());
        assert!(!read("null").contradicts_itself());
        assert!(read(r#"{"error":[],"success":false}"#).contradicts_itself());
        assert!(read(r#"{"error":[{"code":"0100504"}],"success":true}"#).contradicts_itself());
    }

    #[test]
    fn status_pending_counts_as_in_progress() {
        assert_eq!(InvoiceStatus::parse("PENDING"), InvoiceStatus::InProgress);
        assert!(!InvoiceStatus::parse("TIMEOUT").is_final());
    }

    #[test]
    fn envelope_code_may_be_text() {
        let e: ErrorEnvelope = serde_json::from_str(
            r#"{"timestamp":1,"requestTraceId":"ab","errors":[{"code":"Unable to load certificate","message":null}]}"#,
        )
        .unwrap();
        assert_eq!(e.codes()[0].code, "Unable to load certificate");
    }
}
