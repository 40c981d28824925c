//! Which certificate on a token signs, and why — said, never silent.
//!
//! Keys and certificates are paired by public key ([`super::objects::PublicHalf`]); CKA_ID is
//! a hint only. The certificate is chosen by, in order: the CKA_ID the user named
//! (`--key-id`), the national ID the memory ID's owner needs (profile, flags), its private key
//! being on the token, validity today, the latest notBefore. Every certificate gets a note:
//! why it is used, or why it was skipped. A refusal names what was found and the exact flag
//! to choose otherwise.

use super::objects::hex;
use super::pairing::shown_id;
pub use super::pairing::{pair, CertKind, Entry, KeyState};
use crate::crypto::jws::format_sig_t;
use crate::crypto::SignError;
use crate::lang::Message;
use time::OffsetDateTime;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Want<'a> {
    /// `--key-id` / `key_id`, bytes.
    pub key_id: Option<&'a [u8]>,
    /// The national ID the memory ID's owner needs.
    pub national_id: Option<&'a str>,
    pub now: OffsetDateTime,
    /// How the token is named in messages: `"ePass" (serial 123)`.
    pub token: String,
}

/// Every certificate with its key and note, and which one signs (or why none can).
#[derive(Debug)]
pub struct Selection {
    pub entries: Vec<Entry>,
    pub outcome: Result<usize, SignError>,
}

fn m(fa: impl Into<String>, en: impl Into<String>) -> Message {
    Message::new(fa, en)
}

fn choice(id: &'static str, message: Message, fix: Message) -> SignError {
    SignError::Choice { id, message, fix }
}

fn list_fa(entries: &[&Entry]) -> String {
    entries
        .iter()
        .map(|e| e.short_fa())
        .collect::<Vec<_>>()
        .join("؛ ")
}

fn list(entries: &[&Entry]) -> String {
    entries
        .iter()
        .map(|e| e.short())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Chooses among `entries` as `want` says, noting on each why it is used or skipped.
pub fn select(mut entries: Vec<Entry>, want: &Want) -> Selection {
    let outcome = choose(&mut entries, want);
    if let Ok(i) = outcome {
        entries[i].chosen = true;
    }
    Selection { entries, outcome }
}

fn choose(entries: &mut [Entry], want: &Want) -> Result<usize, SignError> {
    let tok = &want.token;
    if entries.is_empty() {
        return Err(choice(
            "cert.not_found",
            m(
                format!("روی توکن {tok} هیچ گواهی‌ای نیست."),
                format!("token {tok} holds no certificate."),
            ),
            m(
                "گواهی‌ای که مرکز صدور برای کلید این توکن صادر کرده است را با نرم‌افزار مدیریت توکن روی آن بنویسید، یا توکن درست را وصل کنید.",
                "write the certificate the CA issued for this token's key onto it with the token manager, or plug in the right token.",
            ),
        ));
    }
    let mut live: Vec<bool> = vec![true; entries.len()];
    // 1. The CKA_ID the user named: the certificate's own or its key's.
    if let Some(want_id) = want.key_id {
        let named = |e: &Entry| {
            e.cert.id == want_id
                || matches!(&e.key, KeyState::Present { key_id, .. } if *key_id == hex(want_id))
        };
        if !entries.iter().any(named) {
            let all: Vec<&Entry> = entries.iter().collect();
            return Err(choice(
                "cert.not_found",
                m(
                    format!(
                        "روی توکن {tok} گواهی یا کلیدی با CKA_ID {} نیست؛ آنچه هست: {}.",
                        hex(want_id),
                        list_fa(&all)
                    ),
                    format!(
                        "token {tok} holds no certificate or key with CKA_ID {}; it holds: {}.",
                        hex(want_id),
                        list(&all)
                    ),
                ),
                m(
                    "یکی از این CKA_IDها را با ‎--key-id‎ بدهید، یا ‎--key-id‎ را حذف کنید تا گواهی مودی خودش انتخاب شود.",
                    "pass one of these CKA_IDs with --key-id, or leave --key-id out and the taxpayer's certificate is chosen by itself.",
                ),
            ));
        }
        for (i, e) in entries.iter_mut().enumerate() {
            if !named(e) {
                live[i] = false;
                e.note = m(
                    format!("CKA_ID آن {} نیست (‎--key-id‎).", hex(want_id)),
                    format!("not CKA_ID {} (--key-id).", hex(want_id)),
                );
            }
        }
    }
    // 2. Unreadable certificates.
    for (i, e) in entries.iter_mut().enumerate() {
        if live[i] && e.cert.info.is_none() {
            live[i] = false;
            e.note = m(
                "گواهی X.509 خوانا نیست.",
                "not a readable X.509 certificate.",
            );
        }
    }
    // 3. The taxpayer's national ID.
    if let Some(expected) = want.national_id.map(str::trim) {
        for (i, e) in entries.iter_mut().enumerate() {
            if live[i] && e.national_id() != Some(expected) {
                live[i] = false;
                e.note = m(
                    format!(
                        "متعلق به {} است، نه مودی ({expected}).",
                        e.national_id().unwrap_or("-")
                    ),
                    format!(
                        "belongs to {}, not to the taxpayer ({expected}).",
                        e.national_id().unwrap_or("-")
                    ),
                );
            }
        }
        if !live.iter().any(|l| *l) {
            let theirs: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.national_id() == Some(expected))
                .collect();
            if let (Some(want_id), Some(first)) = (want.key_id, theirs.first()) {
                let id = shown_id(&first.cert.id_hex).to_string();
                return Err(choice(
                    "cert.not_found",
                    m(
                        format!(
                            "گواهی {expected} روی توکن {tok} هست، ولی با CKA_ID {id} و نه {} که ‎--key-id‎ خواسته است ({}).",
                            hex(want_id),
                            list_fa(&theirs)
                        ),
                        format!(
                            "the certificate of {expected} is on token {tok}, under CKA_ID {id}, not under {} that --key-id names ({}).",
                            hex(want_id),
                            list(&theirs)
                        ),
                    ),
                    m(
                        format!("‎--key-id {id}‎ بدهید، یا ‎--key-id‎ را حذف کنید تا گواهی {expected} خودش انتخاب شود."),
                        format!("pass --key-id {id}, or leave --key-id out and the certificate of {expected} is chosen by itself."),
                    ),
                ));
            }
            let all: Vec<&Entry> = entries.iter().collect();
            return Err(choice(
                "cert.national_id_mismatch",
                m(
                    format!(
                        "هیچ گواهی روی توکن {tok} متعلق به شناسه/کد ملی {expected} نیست؛ آنچه هست: {}. سامانه امضای دیگران را برای این مودی رد می‌کند (4103 / 04132).",
                        list_fa(&all)
                    ),
                    format!(
                        "no certificate on token {tok} belongs to national ID {expected}; it holds: {}. The server refuses anyone else's signature for this taxpayer (4103 / 04132).",
                        list(&all)
                    ),
                ),
                m(
                    format!("توکن {expected} را وصل کنید (و اگر چند توکن وصل است آن را با ‎--token-serial‎ انتخاب کنید)، یا شناسه ملی (‎--national-id‎ یا national_id پروفایل) را اصلاح کنید."),
                    format!("plug in the token of {expected} (with several tokens, choose it with --token-serial), or correct the national ID (--national-id or the profile's national_id)."),
                ),
            ));
        }
    }
    // 4. The private key must be on the token.
    for (i, e) in entries.iter_mut().enumerate() {
        if live[i] && e.key == KeyState::Missing {
            live[i] = false;
            e.note = m(
                "کلید خصوصی آن روی توکن نیست.",
                "its private key is not on the token.",
            );
        }
    }
    if !live.iter().any(|l| *l) {
        let keyless: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.key == KeyState::Missing)
            .collect();
        return Err(choice(
            "key.not_found",
            m(
                format!(
                    "گواهی روی توکن {tok} هست ولی کلید خصوصی آن نیست: {}.",
                    list_fa(&keyless)
                ),
                format!(
                    "the certificate is on token {tok} but its private key is not: {}.",
                    list(&keyless)
                ),
            ),
            m(
                "گواهی به‌تنهایی امضا نمی‌کند: کلید هرگز روی این توکن نوشته نشده یا پاک شده است. توکنی (یا فایل کلیدی) را که کلید روی آن ساخته شد به کار ببرید، یا برای کلیدی که روی این توکن است گواهی تازه بگیرید.",
                "a certificate alone cannot sign: the key was never written to this token, or was deleted. Use the token (or key file) the key was made on, or have a new certificate issued for a key on this token.",
            ),
        ));
    }
    // 5. Nothing to tell several holders apart.
    if want.national_id.is_none() {
        let mut holders: Vec<String> = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| live[*i])
            .map(|(_, e)| e.national_id().unwrap_or("-").to_string())
            .collect();
        holders.sort_unstable();
        holders.dedup();
        if holders.len() > 1 {
            let cands: Vec<&Entry> = entries
                .iter()
                .enumerate()
                .filter(|(i, _)| live[*i])
                .map(|(_, e)| e)
                .collect();
            let msg = m(
                format!(
                    "روی توکن {tok} گواهی {} دارنده هست: {}؛ معلوم نیست کدام امضا کند.",
                    holders.len(),
                    list_fa(&cands)
                ),
                format!(
                    "token {tok} holds certificates of {} holders: {}; nothing says which one signs.",
                    holders.len(),
                    list(&cands)
                ),
            );
            for (i, e) in entries.iter_mut().enumerate() {
                if live[i] {
                    e.note = m(
                        "یکی از چند گزینه؛ شناسه ملی مودی داده نشده است.",
                        "one of several; no national ID was given to choose by.",
                    );
                }
            }
            return Err(choice(
                "cert.several",
                msg,
                m(
                    format!(
                        "شناسه ملی مودی را با ‎--national-id‎ (یا national_id پروفایل) بدهید، مثلاً ‎--national-id {}‎، یا جفت را با ‎--key-id‎ انتخاب کنید.",
                        holders[0]
                    ),
                    format!(
                        "give the taxpayer's national ID with --national-id (or the profile's national_id), e.g. --national-id {}, or choose the pair with --key-id.",
                        holders[0]
                    ),
                ),
            ));
        }
    }
    // 6. Valid today, then 7. the latest notBefore.
    let any_valid = entries
        .iter()
        .enumerate()
        .any(|(i, e)| live[i] && e.valid_at(want.now));
    let best = entries
        .iter()
        .enumerate()
        .filter(|(i, e)| live[*i] && (!any_valid || e.valid_at(want.now)))
        .max_by_key(|(_, e)| e.cert.info.as_ref().map(|i| i.not_before))
        .map(|(i, _)| i)
        .expect("at least one candidate is left");
    let best_nb = entries[best]
        .cert
        .info
        .as_ref()
        .map(|i| format_sig_t(i.not_before))
        .unwrap_or_default();
    let best_id = shown_id(&entries[best].cert.id_hex).to_string();
    let mut skipped_expired = Vec::new();
    for (i, e) in entries.iter_mut().enumerate() {
        if !live[i] || i == best {
            continue;
        }
        let info = e.cert.info.as_ref().expect("readable");
        if any_valid && !e.valid_at(want.now) {
            let (fa, en) = if want.now > info.not_after {
                let na = format_sig_t(info.not_after);
                skipped_expired.push(format!("CKA_ID {} ({na})", shown_id(&e.cert.id_hex)));
                (format!("در {na} منقضی شده است"), format!("expired on {na}"))
            } else {
                let nb = format_sig_t(info.not_before);
                (
                    format!("تا {nb} معتبر نیست"),
                    format!("not valid before {nb}"),
                )
            };
            e.note = m(
                format!("{fa}؛ گواهی معتبر CKA_ID {best_id} به کار می‌رود."),
                format!("{en}; the valid certificate CKA_ID {best_id} is used instead."),
            );
        } else {
            let nb = format_sig_t(info.not_before);
            e.note = m(
                format!("قدیمی‌تر است (از {nb})؛ گواهی تازه‌تر از {best_nb} (CKA_ID {best_id}) به کار می‌رود."),
                format!("older (from {nb}); the newer one from {best_nb} (CKA_ID {best_id}) is used."),
            );
        }
    }
    entries[best].note = why_chosen(
        &entries[best],
        want,
        live.iter().filter(|l| **l).count(),
        &skipped_expired,
    );
    Ok(best)
}

fn why_chosen(e: &Entry, want: &Want, candidates: usize, skipped_expired: &[String]) -> Message {
    let mut fa = Vec::new();
    let mut en = Vec::new();
    if want.key_id.is_some() {
        fa.push("همان CKA_ID که ‎--key-id‎ خواسته".to_string());
        en.push("the CKA_ID --key-id names".to_string());
    }
    match want.national_id {
        Some(n) => {
            fa.push(format!("شناسه ملی مودی ({n})"));
            en.push(format!("the taxpayer's national ID ({n})"));
        }
        None => {
            fa.push("تنها دارنده روی توکن".to_string());
            en.push("the only holder on the token".to_string());
        }
    }
    if let Some(i) = &e.cert.info {
        let na = format_sig_t(i.not_after);
        if e.valid_at(want.now) {
            fa.push(format!("معتبر تا {na}"));
            en.push(format!("valid until {na}"));
        } else {
            fa.push(format!("نامعتبر امروز (تا {na})، و گواهی معتبری هم نیست"));
            en.push(format!(
                "NOT valid today (until {na}), and no valid one is there"
            ));
        }
        if candidates > 1 {
            let nb = format_sig_t(i.not_before);
            fa.push(format!("تازه‌ترین (از {nb})"));
            en.push(format!("the newest (from {nb})"));
        }
    }
    match &e.key {
        KeyState::Present {
            key_id,
            by_public_key: true,
        } if *key_id != e.cert.id_hex => {
            fa.push(format!(
                "کلید با کلید عمومی پیدا شد، با CKA_ID {} (CKA_ID گواهی {} است)",
                shown_id(key_id),
                shown_id(&e.cert.id_hex)
            ));
            en.push(format!(
                "key found by public key under CKA_ID {} (the certificate's CKA_ID is {})",
                shown_id(key_id),
                shown_id(&e.cert.id_hex)
            ));
        }
        KeyState::Present {
            by_public_key: true,
            ..
        } => {
            fa.push("کلید با کلید عمومی جفت شد".to_string());
            en.push("key paired by public key".to_string());
        }
        KeyState::Present {
            by_public_key: false,
            ..
        } => {
            fa.push("کلید فقط با CKA_ID جفت شد (کلید عمومی‌اش را نشان نمی‌دهد)".to_string());
            en.push("key paired by CKA_ID only (it does not show its public half)".to_string());
        }
        _ => {}
    }
    if !skipped_expired.is_empty() {
        fa.push(format!(
            "گواهی منقضی کنار گذاشته شد: {}",
            skipped_expired.join("، ")
        ));
        en.push(format!(
            "expired certificate skipped: {}",
            skipped_expired.join(", ")
        ));
    }
    m(
        format!("به کار می‌رود: {}.", fa.join("؛ ")),
        format!("used: {}.", en.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_token_says_so() {
        let s = select(
            Vec::new(),
            &Want {
                key_id: None,
                national_id: None,
                now: OffsetDateTime::now_utc(),
                token: "\"t\" (serial 1)".into(),
            },
        );
        let e = s.outcome.unwrap_err();
        assert_eq!(e.check_id(), "cert.not_found");
        assert!(e.message().en.contains("holds no certificate"));
    }
}
