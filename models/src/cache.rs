//! A bounded, allocation-light memo cache with approximate LRU eviction.
//!
//! Two generations: hits in the old generation are promoted; when the young
//! generation fills up it becomes the old one and the previous old one is
//! dropped. Memory is bounded by `2 × capacity` entries and there is no
//! per-access bookkeeping, which keeps the hot path cheap.
//!
//! [`SharedMemo`] is the same cache for several threads: sharded by key
//! hash, one lock per shard.

use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;

use rustc_hash::{FxBuildHasher, FxHashMap};

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
            // The young generation becomes the old one, and the old one's
            // table, emptied, the young one: it keeps its capacity, so the
            // new generation does not grow a table from nothing again
            // (about ten rehashes into fresh memory per generation).
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
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

/// Shards of a [`SharedMemo`]: enough that a handful of threads rarely
/// wait for one another.
const SHARDS: usize = 16;

/// One shard on cache lines of its own: a shard's lock and maps are about
/// 100 bytes, and unpadded, two threads working in neighbouring shards
/// would write the same cache line (128 bytes: the line and the one the
/// hardware prefetches with it).
#[derive(Debug)]
#[repr(align(128))]
struct Shard<K, V>(Mutex<MemoCache<K, V>>);

/// A [`MemoCache`] shared by threads: the key's hash picks one of 16
/// shards, each behind its own lock (held for one lookup or insert). Keep
/// values cheap to clone (an `Arc`): a hit clones under the lock.
#[derive(Debug)]
pub struct SharedMemo<K, V> {
    shards: Vec<Shard<K, V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> SharedMemo<K, V> {
    /// A cache holding about `capacity` recent entries in all (at most
    /// twice that).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        SharedMemo {
            shards: (0..SHARDS)
                .map(|_| Shard(Mutex::new(MemoCache::new(per_shard))))
                .collect(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<MemoCache<K, V>> {
        // The high bits: FxHash's low bits are weak for small integers.
        let i = (FxBuildHasher.hash_one(key) >> 59) as usize % SHARDS;
        &self.shards[i].0
    }

    /// The cached value, promoting it (`None` also when the shard's lock
    /// was poisoned: the caller computes the value again).
    pub fn get(&self, key: &K) -> Option<V> {
        self.shard(key).lock().ok()?.get(key)
    }

    /// Inserts a value.
    pub fn insert(&self, key: K, value: V) {
        if let Ok(mut shard) = self.shard(&key).lock() {
            shard.insert(key, value);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|s| s.0.lock().ok().map(|s| s.len()))
            .sum()
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

    #[test]
    fn a_new_generation_reuses_the_old_table() {
        let mut c = MemoCache::new(1000);
        for i in 0..1000u32 {
            c.insert(i, i);
        }
        let grown = c.young.capacity();
        assert!(grown >= 1000);
        // The young generation is full: the next insert turns it old, and
        // the new young generation starts empty but with a table as large.
        c.insert(1000, 1000);
        assert_eq!((c.old.len(), c.young.len()), (1000, 1));
        c.insert(1001, 1001);
        for i in 1002..2000u32 {
            c.insert(i, i);
        }
        c.insert(2000, 2000);
        assert_eq!((c.old.len(), c.young.len()), (1000, 1));
        assert!(c.young.capacity() >= grown, "{}", c.young.capacity());
        // The oldest generation is gone, the last two are found.
        assert_eq!(c.get(&5), None);
        assert_eq!(c.get(&1500), Some(1500));
        assert_eq!(c.get(&2000), Some(2000));
    }

    #[test]
    fn shards_do_not_share_cache_lines() {
        let m: SharedMemo<u128, std::sync::Arc<String>> = SharedMemo::new(64);
        for pair in m.shards.windows(2) {
            let (a, b) = (&pair[0] as *const _ as usize, &pair[1] as *const _ as usize);
            assert!(b - a >= 128 && a % 128 == 0, "{a:#x} {b:#x}");
        }
    }

    #[test]
    fn shared_memo_is_bounded_and_seen_by_every_thread() {
        let m = std::sync::Arc::new(SharedMemo::new(64));
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..1000u64 {
                        m.insert(t * 1000 + i, i);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        // Bounded: at most twice the capacity, rounded up per shard.
        assert!(
            m.len() <= 2 * 64usize.div_ceil(SHARDS) * SHARDS,
            "{}",
            m.len()
        );
        assert!(!m.is_empty());
        // A value inserted by one thread is found by another.
        m.insert(7, 70);
        let reader = {
            let m = m.clone();
            std::thread::spawn(move || m.get(&7))
        };
        assert_eq!(reader.join().unwrap(), Some(70));
        assert_eq!(m.get(&123_456), None);
    }
}
