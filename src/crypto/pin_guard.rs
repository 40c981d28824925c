//! Remembers that a stored PIN (from `MOADIAN_PIN`) was refused by a token, so a scheduled
//! run does not try the same PIN again and again until the token locks (architecture
//! invariant 5). Only the fact and the time are written — never the PIN or anything derived
//! from it. A PIN typed at a prompt that logs in successfully clears the mark.
//!
//! Marks live in `$MOADIAN_STATE_DIR` or the user's state directory (`~/.local/state/moadian`).

use std::path::PathBuf;

fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MOADIAN_STATE_DIR") {
        return Some(PathBuf::from(d));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("moadian"))
}

fn file(token_serial: &str) -> Option<PathBuf> {
    let safe: String = token_serial
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir().map(|d| d.join(format!("pin-refused-{safe}")))
}

/// When the stored PIN was refused by this token, if it was.
pub fn refused_at(token_serial: &str) -> Option<String> {
    let f = file(token_serial)?;
    std::fs::read_to_string(f)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Records that the stored PIN was refused by this token now.
pub fn record_refusal(token_serial: &str) {
    if let Some(f) = file(token_serial) {
        if let Some(parent) = f.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let when = super::jws::sig_t_now();
        if let Err(e) = std::fs::write(&f, when) {
            tracing::warn!(
                "could not record the refused stored PIN at {}: {e}",
                f.display()
            );
        }
    }
}

/// Forgets a refusal (after a good login with a typed PIN, or on request).
pub fn clear(token_serial: &str) -> bool {
    file(token_serial)
        .map(|f| std::fs::remove_file(f).is_ok())
        .unwrap_or(false)
}
