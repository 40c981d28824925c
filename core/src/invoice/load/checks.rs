//! What the loader checks beyond JSON syntax on a `serde_json::Value`: no value longer than the
//! field limit. (No key twice in one object is checked while parsing: [`crate::invoice::tree`].)

/// The first string (or number) in `v` longer than `max` characters: its JSON path and length.
pub(super) fn too_long(v: &serde_json::Value, max: usize) -> Option<(String, usize)> {
    fn walk(v: &serde_json::Value, max: usize, path: &mut String) -> Option<(String, usize)> {
        match v {
            serde_json::Value::String(s) => {
                let n = s.chars().count();
                (n > max).then(|| (path.clone(), n))
            }
            serde_json::Value::Number(n) => {
                let len = n.to_string().len();
                (len > max).then(|| (path.clone(), len))
            }
            serde_json::Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| {
                let keep = path.len();
                path.push_str(&format!("[{i}]"));
                let r = walk(x, max, path);
                path.truncate(keep);
                r
            }),
            serde_json::Value::Object(m) => m.iter().find_map(|(k, x)| {
                let n = k.chars().count();
                if n > max {
                    return Some((format!("{path} (a key)"), n));
                }
                let keep = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&crate::import::limits::clip_to(k, 40));
                let r = walk(x, max, path);
                path.truncate(keep);
                r
            }),
            _ => None,
        }
    }
    walk(v, max, &mut String::new())
}
