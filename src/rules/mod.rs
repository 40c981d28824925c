//! Pre-submission validation against the official tax rules (RC_IITP.IS_V7.8): obligation
//! matrix, field formats, arithmetic with the spec's truncation, settlement, buyer
//! identification, referrals (ins 2/3/4) and time rules. Produces [`Finding`]s.

pub mod finding;

pub use finding::{Finding, Severity};
