//! The asynchronous half of `POST invoice`: what the real server does after acknowledging a
//! packet. Decrypt the JWE with the sandbox key (04150/04152/04153), verify the inner JWS
//! (04130/04131), check the certificate may sign for the memory ID (04133/04148/04132), read the
//! invoice JSON (0100010), re-check content with the project's rules engine, then the
//! server-only checks: the tax ID belongs to the memory ID and the issue day (0300101), the
//! seller economic number is the registered one (0300901). The duplicate check (a tax ID already
//! accepted) needs the store and happens in [`super::state::Store::decide`].

use super::jose::{verify_compact, Decrypter, JweFault, JwsFault};
use super::registry::{valid_memory_id, Registry};
use super::state::{Notice, Outcome};
use moadian_core::rules::{Context, Severity};
use serde_json::Value;

/// The code the sandbox answers when a tax ID that already reached SUCCESS comes again.
///
/// Sandbox-defined use: the official catalogue has no code for "this tax ID was already
/// accepted"; the sandbox uses `0300101` ("taxid does not match system data"), the code the
/// official frequent-errors list (RC_TXPS.EC_V02 §5) names for a repeated internal serial. The
/// message says it is a duplicate.
pub const DUPLICATE_TAXID_CODE: &str = "0300101";

/// Taxid not matching memory ID, issue day or check digit.
pub const TAXID_MISMATCH_CODE: &str = "0300101";
/// Seller economic number (`tins`) not the registered one.
pub const TINS_MISMATCH_CODE: &str = "0300901";
/// The payload is not JSON (structure, field 000, detail 10).
pub const JSON_STRUCTURE_CODE: &str = "0100010";

/// The failed outcome for a repeated tax ID.
pub fn duplicate_notice(taxid: &str) -> Notice {
    Notice::error(
        DUPLICATE_TAXID_CODE,
        format!(
            "مقدار فیلد شماره منحصر به فرد مالیاتی با اطلاعات سامانه منطبق نیست (صورتحسابی با شماره مالیاتی {taxid} قبلا با موفقیت ثبت شده است). / taxid {taxid} was already accepted (sandbox duplicate check)."
        ),
    )
}

/// Everything needed to examine packets; cheap to share between threads.
#[derive(Debug)]
pub struct Examiner {
    /// The current decryption key (replaced when the key rotates).
    pub decrypter: std::sync::RwLock<std::sync::Arc<Decrypter>>,
    pub registry: Registry,
}

fn failed(code: &str, message: impl Into<String>) -> Outcome {
    Outcome {
        success: false,
        errors: vec![Notice::error(code, message)],
        warnings: Vec::new(),
        taxid: None,
    }
}

/// A failure inside the server while decrypting (RC_TXPS.EC_V02 table 5, 05151: «این خطا به
/// بسته ارسالی مربوط نیست و مشکل داخلی سمت سرور میباشد»). Not registered.
pub fn internal_error() -> Outcome {
    failed(
        "05151",
        "خطایی غیر منتظره در رمزگشایی صورتحساب ارسالی رخ داد. / unexpected error decrypting the invoice (sandbox fault)",
    )
}

impl Examiner {
    /// Examines one packet at sandbox time `now_ms`; the duplicate check is left to the store.
    pub fn examine(&self, payload: &str, fiscal_id: &str, now_ms: i64) -> Outcome {
        let decrypter = self
            .decrypter
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let plain = match decrypter.decrypt(payload) {
            Ok(p) => p,
            Err(JweFault::Algorithm(d)) => {
                return failed("04152", format!("الگوریتم مورد استفاده برای رمزنگاری معتبر نمی‌باشد. ({d})"))
            }
            Err(JweFault::Iv(bits)) => {
                return failed("04153", format!("طول فیلد IV باید 96 بیت باشد. ({bits} bits)"))
            }
            Err(JweFault::Undecryptable(d)) => {
                return failed("04150", format!("بسته‌ی JWE صورتحساب ارسالی از نظر ساختاری معتبر نمی‌باشد و امکان رمزگشایی آن وجود ندارد. ({d})"))
            }
        };
        let Ok(jws) = String::from_utf8(plain) else {
            return failed(
                "04130",
                "ساختار بسته‌ی امضا شده صورتحساب صحیح نیست. (not UTF-8)",
            );
        };
        let verified = match verify_compact(jws.trim(), now_ms) {
            Ok(v) => v,
            Err(JwsFault::Structure(d)) => {
                return failed("04130", format!("ساختار بسته‌ی امضا شده صورتحساب صحیح نیست. ({d})"))
            }
            Err(other) => {
                return failed("04131", format!("امضای صورتحساب ارسالی یا گواهی امضایی که صورتحساب با آن امضا شده معتبر نمی‌باشد. ({})", other.detail()))
            }
        };
        if !valid_memory_id(fiscal_id) {
            return failed("04148", "شناسه یکتای ارسالی نامعتبر است.");
        }
        if self.registry.get(fiscal_id).is_none() {
            return failed(
                "04133",
                "شناسه حافظه امضا کننده‌ی صورتحساب یافت نشد/غیر فعال می‌باشد.",
            );
        }
        let national_id = verified.national_id.clone().unwrap_or_default();
        if !self.registry.may_sign(fiscal_id, &national_id) {
            return failed("04132", format!("گواهی امضایی که صورتحساب با آن امضا شده، دسترسی صدور و امضای صورتحساب برای این شناسه یکتا را ندارد. (certificate national ID {national_id:?}, memory ID {fiscal_id})"));
        }
        let invoice: Value = match serde_json::from_slice(&verified.payload) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return failed(
                    JSON_STRUCTURE_CODE,
                    "در صورتحساب ارسالی ساختار جیسون رعایت نشده است.",
                )
            }
        };
        self.check_content(&invoice, fiscal_id, now_ms)
    }

    fn check_content(&self, invoice: &Value, fiscal_id: &str, now_ms: i64) -> Outcome {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for f in moadian_core::rules::validate(invoice, &Context::at(now_ms)) {
            let code = f.code.clone().unwrap_or_else(|| f.rule.clone());
            let message = format!("{} / {}", f.message.fa, f.message.en);
            match f.severity {
                Severity::Error => errors.push(Notice::error(code, message)),
                Severity::Warning => warnings.push(Notice::warning(code, message)),
            }
        }
        let header = &invoice["header"];
        let taxid = header["taxid"].as_str().map(str::to_string);
        // The rules engine may already have judged the tax ID (same code): say it once.
        if let Some(e) = self.check_taxid(header, fiscal_id) {
            if !errors.iter().any(|x| x.code == e.code) {
                errors.push(e);
            }
        }
        if let Some(reg) = self.registry.get(fiscal_id) {
            let tins = text_of(&header["tins"]);
            let already = errors.iter().any(|x| x.code == TINS_MISMATCH_CODE);
            if !already && tins.as_deref() != Some(reg.economic_code.as_str()) {
                errors.push(Notice::error(
                    TINS_MISMATCH_CODE,
                    format!("مقدار فیلد «شماره اقتصادی فروشنده» با اطلاعات سامانه منطبق نیست. (tins {:?}, registered {})", tins.unwrap_or_default(), reg.economic_code),
                ));
            }
        }
        Outcome {
            success: errors.is_empty(),
            errors,
            warnings,
            taxid,
        }
    }

    /// The tax ID must decode, carry the packet's memory ID and the UTC day of `indatim`.
    fn check_taxid(&self, header: &Value, fiscal_id: &str) -> Option<Notice> {
        let msg = |why: String| {
            Notice::error(
                TAXID_MISMATCH_CODE,
                format!(
                    "مقدار فیلد شماره منحصر به فرد مالیاتی با اطلاعات سامانه منطبق نیست. ({why})"
                ),
            )
        };
        let Some(taxid) = header["taxid"].as_str() else {
            return Some(msg("taxid missing".into()));
        };
        let decoded = match super::taxid::decode(taxid) {
            Ok(d) => d,
            Err(e) => return Some(msg(e)),
        };
        if decoded.memory_id != fiscal_id {
            return Some(msg(format!(
                "taxid memory ID {} is not the packet's fiscalId {fiscal_id}",
                decoded.memory_id
            )));
        }
        let indatim = text_of(&header["indatim"]).and_then(|s| s.parse::<i64>().ok());
        match indatim {
            Some(ms) if ms.div_euclid(86_400_000) == decoded.days as i64 => None,
            Some(ms) => Some(msg(format!(
                "taxid day {} is not the UTC day {} of indatim",
                decoded.days,
                ms.div_euclid(86_400_000)
            ))),
            None => Some(msg("indatim missing or not a number".into())),
        }
    }
}

/// A JSON string or number as text (numbers keep their exact digits).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
