//! Remembers that a stored PIN (from `MOADIAN_PIN`) was refused by a token, so a scheduled
//! run does not try the same PIN again and again until the token locks (architecture
//! invariant 5) — while a corrected PIN is tried (once: if it is refused too, it is the one
//! remembered). A PIN typed at a prompt that logs in successfully, or any good login, clears
//! the mark; so does `moadian token forget-failed-pin`.
//!
//! The mark holds the time, the token serial and an 8-bit salted fingerprint of the refused
//! PIN — never the PIN. Eight bits tell a changed PIN from the same one in 255 cases of 256
//! (in the 256th the changed PIN is refused like the old one and the message says how to
//! allow it), and reveal nothing useful: one PIN in 256 of every length has any given
//! fingerprint.
//!
//! Marks live in `$MOADIAN_STATE_DIR` or the user's state directory (`~/.local/state/moadian`).

use super::Pin;
use sha2::Digest;
use std::path::{Path, PathBuf};

const PREFIX: &str = "pin-refused-";

fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MOADIAN_STATE_DIR") {
        return Some(PathBuf::from(d));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("moadian"))
}

fn file(token_serial: &str) -> Option<PathBuf> {
    dir().map(|d| file_in(&d, token_serial))
}

fn file_in(dir: &Path, token_serial: &str) -> PathBuf {
    let safe: String = token_serial
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("{PREFIX}{safe}"))
}

/// A recorded refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub when: String,
    pub serial: String,
    /// `None` for marks written before fingerprints were kept: any PIN counts as the same.
    salt_and_fp: Option<(String, u8)>,
}

fn fingerprint(salt: &str, pin: &Pin) -> u8 {
    let mut h = sha2::Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(pin.expose().as_bytes());
    h.finalize()[0]
}

fn parse(text: &str, serial_from_name: &str) -> Refusal {
    let mut r = Refusal {
        when: String::new(),
        serial: serial_from_name.to_string(),
        salt_and_fp: None,
    };
    let (mut salt, mut fp) = (None, None);
    for line in text.lines() {
        match line.split_once('=') {
            Some(("when", v)) => r.when = v.trim().to_string(),
            Some(("serial", v)) => r.serial = v.trim().to_string(),
            Some(("salt", v)) => salt = Some(v.trim().to_string()),
            Some(("fp", v)) => fp = u8::from_str_radix(v.trim(), 16).ok(),
            // The first format: the time alone.
            _ if r.when.is_empty() && !line.trim().is_empty() => r.when = line.trim().to_string(),
            _ => {}
        }
    }
    if let (Some(s), Some(f)) = (salt, fp) {
        r.salt_and_fp = Some((s, f));
    }
    r
}

/// The recorded refusal for this token, if any.
pub fn refusal(token_serial: &str) -> Option<Refusal> {
    refusal_at_path(&file(token_serial)?, token_serial)
}

fn refusal_at_path(f: &Path, token_serial: &str) -> Option<Refusal> {
    let text = std::fs::read_to_string(f).ok()?;
    Some(parse(&text, token_serial))
}

/// When the stored PIN was refused by this token, if it was.
pub fn refused_at(token_serial: &str) -> Option<String> {
    refusal(token_serial).map(|r| r.when)
}

/// When this token refused `pin` (as far as the fingerprint tells), if it did.
pub fn refused_same(token_serial: &str, pin: &Pin) -> Option<String> {
    same(refusal(token_serial)?, pin)
}

/// [`refused_same`] with the marks in `dir` (another process's state directory).
pub fn refused_same_in(dir: &Path, token_serial: &str, pin: &Pin) -> Option<String> {
    same(
        refusal_at_path(&file_in(dir, token_serial), token_serial)?,
        pin,
    )
}

fn same(r: Refusal, pin: &Pin) -> Option<String> {
    match &r.salt_and_fp {
        Some((salt, fp)) if fingerprint(salt, pin) != *fp => None,
        _ => Some(r.when),
    }
}

/// Records that the stored `pin` was refused by this token now.
pub fn record_refusal(token_serial: &str, pin: &Pin) {
    if let Some(f) = file(token_serial) {
        write_refusal(&f, token_serial, pin);
    }
}

/// [`record_refusal`] with the marks in `dir` (another process's state directory).
pub fn record_refusal_in(dir: &Path, token_serial: &str, pin: &Pin) {
    write_refusal(&file_in(dir, token_serial), token_serial, pin);
}

fn write_refusal(f: &Path, token_serial: &str, pin: &Pin) {
    if let Some(parent) = f.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let when = super::jws::sig_t_now();
    let salt: String = {
        use rand::Rng;
        let b: [u8; 16] = rand::thread_rng().gen();
        b.iter().map(|x| format!("{x:02x}")).collect()
    };
    let fp = fingerprint(&salt, pin);
    let text = format!("when={when}\nserial={token_serial}\nsalt={salt}\nfp={fp:02x}\n");
    if let Err(e) = std::fs::write(f, text) {
        tracing::warn!(
            "could not record the refused stored PIN at {}: {e}",
            f.display()
        );
    }
}

/// Forgets a refusal (after a good login, or on request).
pub fn clear(token_serial: &str) -> bool {
    file(token_serial)
        .map(|f| std::fs::remove_file(f).is_ok())
        .unwrap_or(false)
}

/// Every recorded refusal.
pub fn all() -> Vec<Refusal> {
    let Some(d) = dir() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(d) else {
        return Vec::new();
    };
    let mut out: Vec<Refusal> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let serial = name.strip_prefix(PREFIX)?.to_string();
            let text = std::fs::read_to_string(e.path()).ok()?;
            Some(parse(&text, &serial))
        })
        .collect();
    out.sort_by(|a, b| a.serial.cmp(&b.serial));
    out
}

/// The exact command that allows the stored PIN again for this token.
pub fn forget_command(token_serial: &str) -> String {
    let s = token_serial.trim();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        format!("moadian token forget-failed-pin --token-serial {s}")
    } else {
        format!(
            "moadian token forget-failed-pin --token-serial '{}'",
            s.replace('\'', "'\\''")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_hold_no_pin_and_tell_a_changed_pin() {
        let salt = "00112233";
        let a = fingerprint(salt, &Pin::new("1234"));
        let text = format!("when=2024-01-01T00:00:00Z\nserial=S1\nsalt={salt}\nfp={a:02x}\n");
        assert!(!text.contains("1234"));
        let r = parse(&text, "S1");
        assert_eq!(r.when, "2024-01-01T00:00:00Z");
        assert_eq!(r.salt_and_fp, Some((salt.to_string(), a)));
        // The old format: the time alone, any PIN counts as the refused one.
        let old = parse("2024-01-01T00:00:00Z\n", "S2");
        assert_eq!(
            (old.when.as_str(), old.salt_and_fp),
            ("2024-01-01T00:00:00Z", None)
        );
        assert_eq!(
            forget_command("A1-2"),
            "moadian token forget-failed-pin --token-serial A1-2"
        );
        assert_eq!(
            forget_command("a b"),
            "moadian token forget-failed-pin --token-serial 'a b'"
        );
    }
}
