//! Corrections (ins 2), cancellations (ins 3) and sales returns (ins 4) built from the
//! accepted original invoice.
