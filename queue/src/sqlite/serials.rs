//! Serials unique per memory ID, not per file (invariant 4).
//!
//! The tax ID's serial field holds 10 hex digits (40 bits, RC_DCPS.SN §3-1-3). Each queue file
//! draws a random **prefix** when it is created (or migrated to schema v3), recorded in the file
//! (`queue_meta.serial_prefix`): its serials are `prefix << 20 | n`, n = 1, 2, … So two queue
//! files of one memory ID (a second `--queue`, another profile, a recreated file) number in
//! different blocks, except with odds of 1 in 2^20 − 1 per pair of files. Within a file serials
//! still only go up (`serials.last` is the last full serial; its monotonic trigger stays). A
//! block holds 1,048,575 invoices; when it is used up the queue draws a new prefix above it.
//!
//! Serials an input brings with its own tax ID advance the counter only when they fall in the
//! file's current block (numbers from elsewhere do not move this file's numbering).

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{QueueError, Result};

/// Bits of a serial below the prefix.
pub const BLOCK_BITS: u32 = 20;
/// The largest prefix (the serial field has 40 bits).
pub const MAX_PREFIX: u64 = (1 << (40 - BLOCK_BITS)) - 1;
const LOW_MASK: u64 = (1 << BLOCK_BITS) - 1;

/// A uniformly random prefix in `above + 1 ..= MAX_PREFIX`, or `None` when there is no room.
pub(crate) fn draw_prefix(above: u64) -> Option<u64> {
    if above >= MAX_PREFIX {
        return None;
    }
    let span = MAX_PREFIX - above;
    let r = (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u64;
    Some(above + 1 + r)
}

/// This file's prefix (`None` before schema v3).
pub(crate) fn prefix(conn: &Connection) -> Result<Option<u64>> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM queue_meta WHERE key = 'serial_prefix'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    v.map(|s| {
        s.parse::<u64>()
            .map_err(|_| QueueError::Corrupt(format!("serial_prefix {s:?} is not a number")))
    })
    .transpose()
}

pub(crate) fn set_prefix(conn: &Connection, p: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO queue_meta (key, value) VALUES ('serial_prefix', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([p.to_string()])?;
    Ok(())
}

/// Schema v3: draw the prefix above every serial counter already in the file.
pub(crate) fn init_prefix(conn: &Connection) -> Result<()> {
    if prefix(conn)?.is_some() {
        return Ok(());
    }
    let max_last: i64 = conn.query_row("SELECT coalesce(max(last), 0) FROM serials", [], |r| {
        r.get(0)
    })?;
    let above = (max_last as u64) >> BLOCK_BITS;
    let p = draw_prefix(above).unwrap_or(above);
    set_prefix(conn, p)
}

/// The counter as stored (0 if none yet).
fn stored_last(conn: &Connection, memory_id: &str) -> Result<u64> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT last FROM serials WHERE memory_id = ?1")?
        .query_row([memory_id], |r| r.get(0))
        .optional()?;
    Ok(v.unwrap_or(0) as u64)
}

/// The last serial of a memory ID as the numbering sees it: never below the start of this
/// file's block, so `last + 1` is the next serial handed out (unless the block is full).
pub(crate) fn last_serial(conn: &Connection, memory_id: &str) -> Result<u64> {
    let last = stored_last(conn, memory_id)?;
    Ok(match prefix(conn)? {
        Some(p) if last >> BLOCK_BITS < p => p << BLOCK_BITS,
        _ => last,
    })
}

/// The serial the next allocation for `memory_id` gets, drawing a new block when the current
/// one is used up. Does not record it: [`note_serial`] does, once the invoice is stored.
pub(crate) fn next_serial(conn: &Connection, memory_id: &str, last: u64) -> Result<u64> {
    let next = last + 1;
    let Some(p) = prefix(conn)? else {
        return Ok(next);
    };
    if next & LOW_MASK != 0 && next >> BLOCK_BITS == p {
        return Ok(next);
    }
    let above = (last >> BLOCK_BITS).max(p);
    let fresh = draw_prefix(above).ok_or_else(|| {
        QueueError::InvalidInput(format!(
            "the serial space of this queue file for memory ID {memory_id} is used up; start a new queue file (--queue)"
        ))
    })?;
    set_prefix(conn, fresh)?;
    Ok((fresh << BLOCK_BITS) + 1)
}

/// Whether a serial brought by an input should move this file's counter: it is in the block
/// the file numbers in now (before v3: always).
pub(crate) fn in_own_block(conn: &Connection, serial: u64) -> Result<bool> {
    Ok(match prefix(conn)? {
        Some(p) => serial >> BLOCK_BITS == p,
        None => true,
    })
}

/// Advance the counter to at least `serial` (never backwards).
pub(crate) fn note_serial(conn: &Connection, memory_id: &str, serial: u64) -> Result<()> {
    let s = i64::try_from(serial)
        .map_err(|_| QueueError::InvalidInput(format!("serial {serial} is too large")))?;
    conn.prepare_cached(
        "INSERT INTO serials (memory_id, last) VALUES (?1, ?2)
         ON CONFLICT(memory_id) DO UPDATE SET last = max(last, excluded.last)",
    )?
    .execute(params![memory_id, s])?;
    Ok(())
}
