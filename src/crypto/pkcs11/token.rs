//! Finding the token (by label or serial, never by slot index — slot ids are not stable) and
//! the PIN policy of architecture invariant 5: read the token's PIN flags before any login;
//! locked → refuse; final try → refuse unless confirmed; count low → warn.
//!
//! The flags come through [`TokenInfoSource`] so tests can present states SoftHSM never
//! reaches (final try, locked); production uses [`LiveTokenInfo`].

use super::module::map_error;
use crate::crypto::checks::Check;
use crate::crypto::SignError;
use crate::lang::Message;
use cryptoki::context::Pkcs11;
use cryptoki::slot::Slot;
use serde::Serialize;

/// The PIN-related token flags (CK_TOKEN_INFO.flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PinFlags {
    /// At least one wrong user PIN since the last good login.
    pub count_low: bool,
    /// The next wrong user PIN locks the PIN.
    pub final_try: bool,
    /// The user PIN is locked.
    pub locked: bool,
    /// The PIN must be changed (expired or factory default) before use.
    pub to_be_changed: bool,
    /// A PIN pad on the reader (log in without sending a PIN).
    pub protected_auth_path: bool,
    pub login_required: bool,
    pub user_pin_initialized: bool,
}

/// Where the PIN flags of a slot's token come from.
pub trait TokenInfoSource: Send + Sync {
    fn pin_flags(&self, ctx: &Pkcs11, slot: Slot) -> Result<PinFlags, SignError>;
}

/// The token's own flags (C_GetTokenInfo).
#[derive(Debug, Default, Clone, Copy)]
pub struct LiveTokenInfo;

impl TokenInfoSource for LiveTokenInfo {
    fn pin_flags(&self, ctx: &Pkcs11, slot: Slot) -> Result<PinFlags, SignError> {
        let t = ctx
            .get_token_info(slot)
            .map_err(|e| map_error(e, "C_GetTokenInfo"))?;
        Ok(PinFlags {
            count_low: t.user_pin_count_low(),
            final_try: t.user_pin_final_try(),
            locked: t.user_pin_locked(),
            to_be_changed: t.user_pin_to_be_changed(),
            protected_auth_path: t.protected_authentication_path(),
            login_required: t.login_required(),
            user_pin_initialized: t.user_pin_initialized(),
        })
    }
}

/// Fixed flags, for tests of the states a soft token cannot reach.
#[derive(Debug, Clone, Copy)]
pub struct FixedTokenInfo(pub PinFlags);

impl TokenInfoSource for FixedTokenInfo {
    fn pin_flags(&self, _ctx: &Pkcs11, _slot: Slot) -> Result<PinFlags, SignError> {
        Ok(self.0)
    }
}

/// A token as `moadian token list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSummary {
    pub slot_id: u64,
    pub slot_description: String,
    pub label: String,
    pub serial: String,
    pub manufacturer: String,
    pub model: String,
    pub flags: PinFlags,
}

/// Every slot with a token, with its PIN flags.
pub fn list_tokens(
    ctx: &Pkcs11,
    info: &dyn TokenInfoSource,
) -> Result<Vec<TokenSummary>, SignError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| map_error(e, "C_GetSlotList"))?;
    let mut out = Vec::new();
    for slot in slots {
        let Ok(t) = ctx.get_token_info(slot) else {
            continue;
        };
        if !t.token_initialized() {
            continue;
        }
        let desc = ctx
            .get_slot_info(slot)
            .map(|s| s.slot_description().trim().to_string())
            .unwrap_or_default();
        out.push(TokenSummary {
            slot_id: slot.id(),
            slot_description: desc,
            label: t.label().trim().to_string(),
            serial: t.serial_number().trim().to_string(),
            manufacturer: t.manufacturer_id().trim().to_string(),
            model: t.model().trim().to_string(),
            flags: info.pin_flags(ctx, slot)?,
        });
    }
    Ok(out)
}

/// Whether a token's label (as the module reports it) is the label a person gave. Labels are
/// 32 bytes, blank-padded: a longer label was cut, possibly in the middle of a character
/// (which decodes as U+FFFD); the given label matches when its first 32 bytes do.
pub fn label_matches(token_label: &str, given: &str) -> bool {
    fn norm(s: &str) -> &str {
        s.trim_end_matches([' ', '\u{FFFD}'])
    }
    let given = given.trim();
    if token_label.trim() == given {
        return true;
    }
    let cut = &given.as_bytes()[..given.len().min(32)];
    let cut = String::from_utf8_lossy(cut);
    !norm(token_label).is_empty() && norm(token_label) == norm(&cut)
}

/// The tokens with `label` and/or `serial` (all tokens when neither is given), with their
/// slots. None at all is an error that lists what is plugged in.
pub fn matching_tokens(
    ctx: &Pkcs11,
    label: Option<&str>,
    serial: Option<&str>,
    info: &dyn TokenInfoSource,
) -> Result<Vec<(Slot, TokenSummary)>, SignError> {
    let tokens = list_tokens(ctx, info)?;
    let pick: Vec<&TokenSummary> = tokens
        .iter()
        .filter(|t| label.map(|l| label_matches(&t.label, l)).unwrap_or(true))
        .filter(|t| serial.map(|s| t.serial == s.trim()).unwrap_or(true))
        .collect();
    if pick.is_empty() {
        let wanted = match (label, serial) {
            (Some(l), Some(s)) => format!("labelled {l:?} with serial {s}"),
            (Some(l), None) => format!("labelled {l:?}"),
            (None, Some(s)) => format!("with serial {s}"),
            (None, None) => "(any)".to_string(),
        };
        return Err(SignError::TokenNotPresent {
            wanted,
            seen: seen(&tokens),
        });
    }
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| map_error(e, "C_GetSlotList"))?;
    pick.into_iter()
        .map(|t| {
            let slot = slots
                .iter()
                .find(|s| s.id() == t.slot_id)
                .copied()
                .ok_or_else(|| SignError::TokenRemoved {
                    detail: "the slot disappeared while it was being read".into(),
                })?;
            Ok((slot, t.clone()))
        })
        .collect()
}

fn seen(tokens: &[TokenSummary]) -> String {
    if tokens.is_empty() {
        "none".to_string()
    } else {
        tokens
            .iter()
            .map(|t| format!("{:?} (serial {})", t.label, t.serial))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The slot of the token with `label` or `serial`; with neither, the only token present.
pub fn find_token(
    ctx: &Pkcs11,
    label: Option<&str>,
    serial: Option<&str>,
    info: &dyn TokenInfoSource,
) -> Result<(Slot, TokenSummary), SignError> {
    let mut found = matching_tokens(ctx, label, serial, info)?;
    if found.len() == 1 {
        return Ok(found.remove(0));
    }
    let tokens: Vec<TokenSummary> = found.into_iter().map(|(_, t)| t).collect();
    Err(several_tokens(&tokens, label, None))
}

/// The refusal when several tokens fit: every token with its serial (and, when known, whose
/// certificates it holds), and the exact flag that chooses one. `--token-label` is suggested
/// only when it was not given and the labels tell the tokens apart.
pub fn several_tokens(
    tokens: &[TokenSummary],
    label_given: Option<&str>,
    holders: Option<(&str, &[Vec<String>])>,
) -> SignError {
    let shown: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let h = holders
                .and_then(|(_, h)| h.get(i))
                .map(|h| {
                    if h.is_empty() {
                        ", no certificate".to_string()
                    } else {
                        format!(", certificates of {}", h.join(", "))
                    }
                })
                .unwrap_or_default();
            format!("{:?} (serial {}{h})", t.label, t.serial)
        })
        .collect();
    let shown = shown.join("; ");
    let first = tokens.first().map(|t| t.serial.as_str()).unwrap_or("");
    let mut labels: Vec<&str> = tokens.iter().map(|t| t.label.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let labels_differ = labels.len() == tokens.len();
    let (what_fa, what_en) = match (label_given, holders) {
        (_, Some((nid, _))) => (
            format!(
                "{} توکن متصل است که هر کدام گواهی {nid} را دارند",
                tokens.len()
            ),
            format!(
                "{} tokens are plugged in that each hold a certificate of {nid}",
                tokens.len()
            ),
        ),
        (Some(l), None) => (
            format!("{} توکن با برچسب {l:?} متصل است", tokens.len()),
            format!("{} tokens labelled {l:?} are plugged in", tokens.len()),
        ),
        (None, None) => (
            format!("{} توکن متصل است", tokens.len()),
            format!("{} tokens are plugged in", tokens.len()),
        ),
    };
    let mut fix_en = format!("choose one with --token-serial SERIAL (e.g. --token-serial {first}; token_serial in moadian.toml)");
    let mut fix_fa = format!("یکی را با ‎--token-serial SERIAL‎ انتخاب کنید (مثلاً ‎--token-serial {first}‎؛ در moadian.toml: token_serial)");
    if label_given.is_none() && labels_differ {
        fix_en.push_str(", or with --token-label LABEL");
        fix_fa.push_str("، یا با ‎--token-label LABEL‎");
    }
    if holders.is_none() {
        fix_en.push_str(", or give the taxpayer's --national-id and the token holding that certificate is chosen");
        fix_fa.push_str("، یا ‎--national-id‎ مودی را بدهید تا توکنی که گواهی او را دارد انتخاب شود");
    }
    SignError::Choice {
        id: "token.several",
        message: Message::new(
            format!("{what_fa}: {shown}."),
            format!("{what_en}: {shown}."),
        ),
        fix: Message::new(format!("{fix_fa}."), format!("{fix_en}.")),
    }
}

/// Applies the PIN policy to the flags read before login. `Ok` carries warnings to show.
pub fn pin_policy(flags: &PinFlags, allow_final_try: bool) -> Result<Vec<Check>, SignError> {
    if flags.locked {
        return Err(SignError::PinLocked);
    }
    if flags.to_be_changed {
        return Err(SignError::PinExpired);
    }
    if flags.final_try && !allow_final_try {
        return Err(SignError::PinFinalTry);
    }
    let mut out = Vec::new();
    if flags.final_try {
        out.push(Check::warn(
            "pin.final_try",
            Message::new(
                "توکن اعلام کرده است که رمز اشتباه بعدی آن را قفل می‌کند؛ با تأیید شما یک بار امتحان می‌شود.",
                "the token says the next wrong PIN locks it; trying once because you confirmed.",
            ),
            Message::new(
                "اگر رمز رد شد دوباره امتحان نکنید؛ با SO PIN قفل را باز کنید.",
                "if it is refused, do not try again; unblock with the SO PIN.",
            ),
        ));
    } else if flags.count_low {
        out.push(Check::warn(
            "pin.count_low",
            Message::new(
                "از آخرین ورود موفق، رمز اشتباه وارد شده است؛ تعداد تلاش‌های باقی‌مانده کم شده است.",
                "a wrong PIN was entered since the last good login; fewer tries are left.",
            ),
            Message::new(
                "رمز را با دقت وارد کنید؛ ePass3003 پس از ۵ بار رمز اشتباه قفل می‌شود.",
                "enter the PIN carefully; the ePass3003 locks after 5 wrong PINs.",
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cut_at_32_bytes_still_match() {
        let full = "Aتوکن شرکت بازرگانی نمونه";
        assert!(full.len() > 32);
        let cut_mid = String::from_utf8_lossy(&full.as_bytes()[..32]).into_owned();
        assert!(cut_mid.ends_with('\u{FFFD}'), "{cut_mid}");
        assert!(label_matches(&cut_mid, full));
        assert!(label_matches(&cut_mid, &cut_mid));
        let cut_char: String = full
            .char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= 32)
            .map(|(_, c)| c)
            .collect();
        assert!(label_matches(&cut_char, full));
        assert!(label_matches("ePass3003", " ePass3003  "));
        assert!(!label_matches("ePass3003", "ePass"));
        assert!(!label_matches(&cut_mid, "توکن"));
    }

    #[test]
    fn invariant_5_locked_and_final_try_refused_before_login() {
        let locked = PinFlags {
            locked: true,
            ..Default::default()
        };
        assert!(matches!(
            pin_policy(&locked, true),
            Err(SignError::PinLocked)
        ));
        let last = PinFlags {
            final_try: true,
            ..Default::default()
        };
        assert!(matches!(
            pin_policy(&last, false),
            Err(SignError::PinFinalTry)
        ));
        assert_eq!(pin_policy(&last, true).unwrap()[0].id, "pin.final_try");
        let low = PinFlags {
            count_low: true,
            ..Default::default()
        };
        assert_eq!(pin_policy(&low, false).unwrap()[0].id, "pin.count_low");
        assert!(pin_policy(&PinFlags::default(), false).unwrap().is_empty());
    }
}
