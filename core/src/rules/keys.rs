//! The field table's index by key: looked up for every key of every invoice, so built for it.
//! Every key of the dictionary is a few ASCII letters (at most 8 bytes): such a key is packed
//! into one `u64` with its length, and the map hashes that number instead of the text. Longer
//! keys (none today) go to a map by text.

/// key → index, for keys given once at start.
pub(crate) struct KeyIndex {
    short: foldhash::HashMap<(u64, u8), usize>,
    long: foldhash::HashMap<String, usize>,
}

/// A key of at most 8 bytes as one number and its length (`"a"` and `"a\0"` pack alike; the
/// length tells them apart).
#[inline]
fn pack(key: &[u8]) -> Option<(u64, u8)> {
    if key.len() > 8 {
        return None;
    }
    let mut b = [0u8; 8];
    b[..key.len()].copy_from_slice(key);
    Some((u64::from_le_bytes(b), key.len() as u8))
}

impl KeyIndex {
    pub fn new<'k>(keys: impl IntoIterator<Item = &'k str>) -> KeyIndex {
        let mut ix = KeyIndex {
            short: Default::default(),
            long: Default::default(),
        };
        // (A key given twice keeps its last index, as a map's insert does.)
        for (i, key) in keys.into_iter().enumerate() {
            match pack(key.as_bytes()) {
                Some(p) => ix.short.insert(p, i),
                None => ix.long.insert(key.to_string(), i),
            };
        }
        ix
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<usize> {
        match pack(key.as_bytes()) {
            Some(p) => self.short.get(&p).copied(),
            None => self.long.get(key).copied(),
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
