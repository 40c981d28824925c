//! Reports over the queue: per-invoice status, amounts and VAT totals per period, failures with
//! their explanations, as table, CSV, JSON or a self-contained HTML page.
