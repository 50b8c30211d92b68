//! Deterministic evidence ids for formats that carry none.

use xxhash_rust::xxh3::Xxh3;

/// A stable id for a record without its own id: a 128-bit XXH3 hash of the
/// record's ordinal and bytes, prefixed by the format (`raw-…`, `nginx-…`).
///
/// Re-reading the same file yields the same ids, so downstream consumers can
/// drop duplicates; two identical requests at different positions still get
/// different ids.
pub fn evidence_id_for(prefix: &str, offset: u64, bytes: &[u8]) -> String {
    let mut h = Xxh3::new();
    h.update(&offset.to_le_bytes());
    h.update(bytes);
    let mut id = String::with_capacity(prefix.len() + 1 + 32);
    id.push_str(prefix);
    id.push('-');
    sentinel_schema::push_hex128(&mut id, h.digest128());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_position_sensitive() {
        let a = evidence_id_for("raw", 1, b"GET / HTTP/1.1");
        assert_eq!(a, evidence_id_for("raw", 1, b"GET / HTTP/1.1"));
        assert_ne!(a, evidence_id_for("raw", 2, b"GET / HTTP/1.1"));
        assert!(a.starts_with("raw-"));
        assert_eq!(a.len(), 4 + 32);
    }
}
