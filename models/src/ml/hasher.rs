//! Feature hashing of character n-grams and word tokens.

use serde::{Deserialize, Serialize};

/// A sparse vector: sorted, distinct indices with values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseVec {
    /// Indices, ascending.
    pub idx: Vec<u32>,
    /// Values.
    pub val: Vec<f32>,
}

impl SparseVec {
    /// Empties the vector, keeping its storage.
    pub fn clear(&mut self) {
        self.idx.clear();
        self.val.clear();
    }
}

/// Hashes text into `2^bits` buckets: character n-grams of lengths
/// `n_min..=n_max` (over the first `max_bytes` bytes) and word unigrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NgramHasher {
    /// log2 of the number of buckets.
    pub bits: u8,
    /// Shortest character n-gram.
    pub n_min: u8,
    /// Longest character n-gram.
    pub n_max: u8,
    /// Bytes of text hashed at most.
    pub max_bytes: usize,
}

impl Default for NgramHasher {
    fn default() -> Self {
        NgramHasher {
            bits: 18,
            n_min: 2,
            n_max: 5,
            max_bytes: 1024,
        }
    }
}

const WORD_SEED: u64 = 0x005e_ed0f_0b0d;

impl NgramHasher {
    /// Number of buckets.
    pub fn dim(&self) -> usize {
        1usize << self.bits
    }

    fn bucket(&self, h: u64) -> u32 {
        (h & ((1u64 << self.bits) - 1)) as u32
    }

    /// Calls `f(bucket, start, len)` for every n-gram and word of `text`
    /// (byte offsets, for explanations).
    pub fn for_each(&self, text: &str, mut f: impl FnMut(u32, usize, usize)) {
        let b = &text.as_bytes()[..text.len().min(self.max_bytes)];
        for n in self.n_min as usize..=self.n_max as usize {
            if b.len() < n {
                break;
            }
            for i in 0..=b.len() - n {
                let h = xxhash_rust::xxh3::xxh3_64_with_seed(&b[i..i + n], n as u64);
                f(self.bucket(h), i, n);
            }
        }
        let mut start = None;
        for (i, &c) in b.iter().chain(std::iter::once(&b' ')).enumerate() {
            let word = c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
            match (word, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    let h = xxhash_rust::xxh3::xxh3_64_with_seed(&b[s..i], WORD_SEED);
                    f(self.bucket(h), s, i - s);
                    start = None;
                }
                _ => {}
            }
        }
    }

    /// Term counts of `text` into `out` (sorted, merged), using `buf` as scratch.
    pub fn counts(&self, text: &str, buf: &mut Vec<u32>, out: &mut SparseVec) {
        buf.clear();
        self.for_each(text, |bucket, _, _| buf.push(bucket));
        buf.sort_unstable();
        out.clear();
        for &k in buf.iter() {
            if out.idx.last() == Some(&k) {
                if let Some(v) = out.val.last_mut() {
                    *v += 1.0;
                }
            } else {
                out.idx.push(k);
                out.val.push(1.0);
            }
        }
    }

    /// TF-IDF in place: sublinear term frequency times `idf`, then L2-normalized.
    pub fn tfidf(&self, v: &mut SparseVec, idf: &[f32]) {
        let mut norm = 0.0f32;
        for (i, x) in v.idx.iter().zip(v.val.iter_mut()) {
            *x = (1.0 + x.ln()) * idf.get(*i as usize).copied().unwrap_or(1.0);
            norm += *x * *x;
        }
        if norm > 0.0 {
            let inv = 1.0 / norm.sqrt();
            for x in &mut v.val {
                *x *= inv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_sorted_and_merged() {
        let h = NgramHasher {
            bits: 10,
            ..Default::default()
        };
        let mut buf = Vec::new();
        let mut v = SparseVec::default();
        h.counts("aaaa", &mut buf, &mut v);
        assert!(v.idx.windows(2).all(|w| w[0] < w[1]));
        // "aa" appears three times.
        assert!(v.val.contains(&3.0));
        h.tfidf(&mut v, &vec![1.0; h.dim()]);
        let norm: f32 = v.val.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        h.counts("", &mut buf, &mut v);
        assert!(v.idx.is_empty());
    }
}
