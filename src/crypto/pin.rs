//! Where the token PIN (or a key file's passphrase) comes from, and a type that never prints it.
//!
//! Order for a person at a terminal: `MOADIAN_PIN`, else a hidden prompt, else a clear error.
//! A scheduled run takes `MOADIAN_PIN` only. The PIN lives in a [`Pin`] (a
//! `secrecy::SecretString`: zeroed on drop, `Debug` prints `[REDACTED]`) and is never logged
//! or written anywhere (architecture invariant 5).

use super::SignError;
use secrecy::{ExposeSecret, SecretString};
use std::io::IsTerminal;

/// The environment variable an unattended run reads the PIN from.
pub const PIN_ENV: &str = "MOADIAN_PIN";

/// A PIN or passphrase. Does not print; zeroed when dropped.
#[derive(Clone)]
pub struct Pin(SecretString);

impl Pin {
    pub fn new(pin: impl Into<String>) -> Self {
        Pin(SecretString::from(pin.into()))
    }

    /// The secret text, for the one call that hands it to the token or OpenSSL.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The same secret as the `cryptoki` PIN type.
    pub fn to_auth_pin(&self) -> cryptoki::types::AuthPin {
        cryptoki::types::AuthPin::from(self.0.expose_secret())
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin([REDACTED])")
    }
}

/// Where a PIN came from: a PIN from the environment that fails is remembered so that a
/// scheduled run does not try it again (a loop would lock the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOrigin {
    /// Typed by a person (prompt) or passed in by a program.
    Given,
    /// Read from `MOADIAN_PIN` (stored, possibly unattended).
    Environment,
}

/// How the signer gets its PIN.
#[derive(Debug, Clone)]
pub enum PinSource {
    /// `MOADIAN_PIN`, else a prompt on the terminal, else [`SignError::PinUnavailable`].
    Interactive,
    /// `MOADIAN_PIN` only (scheduled runs; never prompts).
    Environment,
    /// This PIN (a program that asked for it itself).
    Given(Pin),
    /// A PIN-pad token (protected authentication path), or a key file without a passphrase.
    None,
}

impl PinSource {
    /// Gets the PIN now. `what` names the thing asking (e.g. the token label) in the prompt.
    pub fn obtain(&self, what: &str) -> Result<Option<(Pin, PinOrigin)>, SignError> {
        match self {
            PinSource::Given(p) => Ok(Some((p.clone(), PinOrigin::Given))),
            PinSource::None => Ok(None),
            PinSource::Environment => match env_pin() {
                Some(p) => Ok(Some((p, PinOrigin::Environment))),
                None => Err(SignError::PinUnavailable),
            },
            PinSource::Interactive => {
                if let Some(p) = env_pin() {
                    return Ok(Some((p, PinOrigin::Environment)));
                }
                if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
                    return Err(SignError::PinUnavailable);
                }
                let prompt = format!("PIN / رمز {what}: ");
                match rpassword::prompt_password(prompt) {
                    Ok(s) if !s.is_empty() => Ok(Some((Pin::new(s), PinOrigin::Given))),
                    _ => Err(SignError::PinUnavailable),
                }
            }
        }
    }
}

fn env_pin() -> Option<Pin> {
    match std::env::var(PIN_ENV) {
        Ok(s) if !s.is_empty() => Some(Pin::new(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_never_prints() {
        let p = Pin::new("1234");
        assert_eq!(format!("{p:?}"), "Pin([REDACTED])");
        assert!(!format!("{:?}", PinSource::Given(p)).contains("1234"));
    }
}
