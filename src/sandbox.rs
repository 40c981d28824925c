//! The built-in sandbox (crate `moadian-sandbox`, a local copy of the tax API), and the client's
//! test identity that `--sandbox` runs sign with ([`TestIdentity`], from [`crate::test_identity`]).

pub use crate::test_identity as identity;
pub use crate::test_identity::{SoftHsmIdentity, TestIdentity};
pub use moadian_sandbox::*;
