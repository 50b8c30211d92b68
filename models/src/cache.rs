//! A bounded, allocation-light memo cache with approximate LRU eviction.
//!
//! Two generations: hits in the old generation are promoted; when the young
//! generation fills up it becomes the old one and the previous old one is
//! dropped. Memory is bounded by `2 × capacity` entries and there is no
//! per-access bookkeeping, which keeps the hot path cheap.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// A two-generation memo cache.
#[derive(Debug)]
pub struct MemoCache<K, V> {
    young: FxHashMap<K, V>,
    old: FxHashMap<K, V>,
    capacity: usize,
    hits: u64,
    misses: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> MemoCache<K, V> {
    /// A cache holding about `capacity` recent entries (at most twice that).
    pub fn new(capacity: usize) -> Self {
        MemoCache {
            young: FxHashMap::default(),
            old: FxHashMap::default(),
            capacity: capacity.max(1),
            hits: 0,
            misses: 0,
        }
    }

    /// The cached value, promoting it to the young generation.
    pub fn get(&mut self, key: &K) -> Option<V> {
        if let Some(v) = self.young.get(key) {
            self.hits += 1;
            return Some(v.clone());
        }
        if let Some(v) = self.old.remove(key) {
            self.hits += 1;
            self.insert(key.clone(), v.clone());
            return Some(v);
        }
        self.misses += 1;
        None
    }

    /// Inserts a value.
    pub fn insert(&mut self, key: K, value: V) {
        if self.young.len() >= self.capacity {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    /// `(hits, misses)` so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_promotes() {
        let mut c = MemoCache::new(2);
        c.insert(1, "a");
        c.insert(2, "b");
        c.insert(3, "c"); // young = {3}, old = {1, 2}
        assert_eq!(c.get(&1), Some("a")); // promoted
        c.insert(4, "d"); // young full? {3,1} → old = {3,1}, young = {4}
        assert!(c.len() <= 4);
        assert_eq!(c.get(&2), None);
        assert_eq!(c.get(&1), Some("a"));
        assert_eq!(c.stats(), (2, 1));
    }
}
