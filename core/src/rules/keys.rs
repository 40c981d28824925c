//! The field table's index by key: looked up for every key of every invoice, so built for it.
//! Every key of the dictionary is a few ASCII letters (at most 8 bytes): such a key is packed
//! into one `u64` and found in a small open-addressed table with one multiplication and a
//! compare or two, instead of hashing the text and comparing bytes. Longer keys (none today)
//! go to an ordinary hash map.

/// key → index, for keys given once at start.
pub(crate) struct KeyIndex {
    /// Open addressing, linear probing; `NONE` marks a free slot.
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`.
    shift: u32,
    long: foldhash::HashMap<String, usize>,
}

#[derive(Clone, Copy)]
struct Slot {
    packed: u64,
    len: u8,
    index: u32,
}

const NONE: u32 = u32::MAX;

/// A key of at most 8 bytes as one number (its length is compared separately: `"a"` and
/// `"a\0"` pack alike).
#[inline]
fn pack(key: &[u8]) -> Option<u64> {
    if key.len() > 8 {
        return None;
    }
    let mut b = [0u8; 8];
    b[..key.len()].copy_from_slice(key);
    Some(u64::from_le_bytes(b))
}

impl KeyIndex {
    pub fn new<'k>(keys: impl IntoIterator<Item = &'k str>) -> KeyIndex {
        let keys: Vec<&str> = keys.into_iter().collect();
        let size = (keys.len() * 2).next_power_of_two().max(16);
        let mut ix = KeyIndex {
            slots: vec![
                Slot {
                    packed: 0,
                    len: 0,
                    index: NONE,
                };
                size
            ],
            shift: 64 - size.trailing_zeros(),
            long: foldhash::HashMap::default(),
        };
        for (i, key) in keys.into_iter().enumerate() {
            let Some(packed) = pack(key.as_bytes()) else {
                ix.long.insert(key.to_string(), i);
                continue;
            };
            let mut at = ix.home(packed);
            // (A key given twice keeps its last index, as a map's insert does.)
            while ix.slots[at].index != NONE
                && !(ix.slots[at].packed == packed && usize::from(ix.slots[at].len) == key.len())
            {
                at = (at + 1) & (ix.slots.len() - 1);
            }
            ix.slots[at] = Slot {
                packed,
                len: key.len() as u8,
                index: u32::try_from(i).unwrap_or(NONE),
            };
        }
        ix
    }

    #[inline]
    fn home(&self, packed: u64) -> usize {
        (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<usize> {
        let Some(packed) = pack(key.as_bytes()) else {
            return self.long.get(key).copied();
        };
        let mut at = self.home(packed);
        loop {
            let s = self.slots[at];
            if s.index == NONE {
                return None;
            }
            if s.packed == packed && usize::from(s.len) == key.len() {
                return Some(s.index as usize);
            }
            at = (at + 1) & (self.slots.len() - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_nothing_else() {
        let keys = [
            "taxid",
            "inno",
            "indatim",
            "indati2m",
            "am",
            "a",
            "ab",
            "sstid",
            "vra",
            "olam",
            "a longer key",
            "x",
        ];
        let ix = KeyIndex::new(keys);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(ix.get(k), Some(i), "{k}");
        }
        for k in [
            "",
            "b",
            "a\0",
            "am\0",
            "\0a",
            "indati2M",
            "Indati2m",
            "indati2m\0",
            "a longer kez",
            "taxid ",
            "ام",
        ] {
            assert_eq!(ix.get(k), None, "{k:?}");
        }
        // The dictionary itself.
        let t = &super::super::data::TABLES;
        for (i, f) in t.fields.iter().enumerate() {
            assert_eq!(t.index_of(&f.key), Some(i));
        }
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_index() {
        let ix = KeyIndex::new(["a", "b", "a"]);
        assert_eq!((ix.get("a"), ix.get("b")), (Some(2), Some(1)));
    }
}
