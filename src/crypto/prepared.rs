//! One prepared OpenSSL context per thread, kept for the key it was made for: preparing a
//! context (fetching the algorithm, setting padding and digests) for every invoice costs a few
//! percent of the operation itself, and OpenSSL lets one context run the same operation again.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A thread's prepared context and the id of the key it was made for.
pub(crate) type Slot<C> = RefCell<Option<(u64, C)>>;

/// Runs `work` on this thread's context in `slot` for the key `id`, first making one with
/// `make` when the slot is empty or holds another key's. A context `work` failed on is
/// dropped: an error may have left it half-way, and it is never reused.
pub(crate) fn with_prepared<C: 'static, T, E>(
    slot: &'static LocalKey<Slot<C>>,
    id: u64,
    make: impl FnOnce() -> Result<C, E>,
    work: impl FnOnce(&mut C) -> Result<T, E>,
) -> Result<T, E> {
    slot.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ctx = match &mut *slot {
            Some((have, ctx)) if *have == id => ctx,
            other => &mut other.insert((id, make()?)).1,
        };
        let done = work(ctx);
        if done.is_err() {
            *slot = None;
        }
        done
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static SLOT: Slot<Vec<u64>> = const { RefCell::new(None) };
    }

    /// Made once per key, kept while the key is the same, made again after a failure.
    #[test]
    fn a_context_is_kept_for_its_key_and_dropped_after_an_error() {
        let made = std::cell::Cell::new(0);
        let run = |id: u64, fail: bool| {
            with_prepared(
                &SLOT,
                id,
                || {
                    made.set(made.get() + 1);
                    Ok::<_, ()>(Vec::new())
                },
                |ctx| {
                    ctx.push(id);
                    if fail {
                        Err(())
                    } else {
                        Ok(ctx.len())
                    }
                },
            )
        };
        assert_eq!(run(1, false), Ok(1));
        assert_eq!(run(1, false), Ok(2), "the same context");
        assert_eq!(run(2, false), Ok(1), "another key: a new context");
        assert_eq!(run(2, true), Err(()));
        assert_eq!(run(2, false), Ok(1), "not reused after the error");
        assert_eq!(made.get(), 3);
    }
}
