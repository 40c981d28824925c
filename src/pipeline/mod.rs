//! The submission pipeline: preflight, signing pipelined with sending, polling and
//! reconciliation of unknown outcomes, on top of the durable queue.
