//! The PKCS#11 (hardware token) backend: module loading and error mapping ([`module`]),
//! token choice and the PIN policy ([`token`]), the objects on the token ([`objects`]) and
//! the signer itself ([`signer`]). Tested against SoftHSM2, which speaks the same API as the
//! ePass3003 module.

pub mod choice;
pub mod module;
pub mod objects;
pub mod pairing;
pub mod signer;
pub mod token;

pub use signer::Pkcs11Signer;
pub use token::{FixedTokenInfo, LiveTokenInfo, PinFlags, TokenInfoSource, TokenSummary};
