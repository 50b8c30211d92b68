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

/// How n-grams are hashed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashScheme {
    /// XXH3 of every n-gram and word (models of artifact format 1).
    Xxh3,
    /// One unaligned 8-byte load per position, masked per n-gram length and
    /// mixed with two multiplications (n-grams up to 8 bytes; XXH3 for
    /// longer words). Several times cheaper than XXH3 on 2–5 byte keys.
    #[default]
    Window,
}

/// Hashes text into `2^bits` buckets: character n-grams of lengths
/// `n_min..=n_max` (over the first `max_bytes` bytes) and word unigrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NgramHasher {
    /// log2 of the number of buckets.
    pub bits: u8,
    /// Shortest character n-gram.
    pub n_min: u8,
    /// Longest character n-gram (at most 8).
    pub n_max: u8,
    /// Bytes of text hashed at most.
    pub max_bytes: usize,
    /// The hash function.
    pub scheme: HashScheme,
}

impl Default for NgramHasher {
    fn default() -> Self {
        NgramHasher {
            bits: 18,
            n_min: 2,
            n_max: 5,
            max_bytes: 1024,
            scheme: HashScheme::Window,
        }
    }
}

/// Mixes a key of up to 8 bytes (little-endian in `v`) of length `n`.
#[inline]
fn mix(v: u64, n: usize, seed: u64) -> u64 {
    let mut h = (v ^ ((n as u64) << 59) ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// The 8 bytes starting at `i` (zero-padded past the end), little-endian.
#[inline]
fn window(b: &[u8], i: usize) -> u64 {
    if i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    } else {
        let mut w = [0u8; 8];
        let rest = &b[i.min(b.len())..];
        w[..rest.len()].copy_from_slice(rest);
        u64::from_le_bytes(w)
    }
}

const NGRAM_SEED: u64 = 0x6E67_7261_6D73;

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
    #[inline]
    pub fn for_each(&self, text: &str, mut f: impl FnMut(u32, usize, usize)) {
        let b = &text.as_bytes()[..text.len().min(self.max_bytes)];
        match self.scheme {
            HashScheme::Xxh3 => {
                for n in self.n_min as usize..=self.n_max as usize {
                    if b.len() < n {
                        break;
                    }
                    for i in 0..=b.len() - n {
                        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&b[i..i + n], n as u64);
                        f(self.bucket(h), i, n);
                    }
                }
            }
            HashScheme::Window => {
                let (lo, hi) = (self.n_min.max(1) as usize, self.n_max.min(8) as usize);
                if b.len() >= lo {
                    for i in 0..=b.len() - lo {
                        let w = window(b, i);
                        let max = hi.min(b.len() - i);
                        for n in lo..=max {
                            let v = if n == 8 {
                                w
                            } else {
                                w & ((1u64 << (8 * n)) - 1)
                            };
                            f(self.bucket(mix(v, n, NGRAM_SEED)), i, n);
                        }
                    }
                }
            }
        }
        let mut start = None;
        for (i, &c) in b.iter().chain(std::iter::once(&b' ')).enumerate() {
            let word = c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
            match (word, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    let key = &b[s..i];
                    let h = match self.scheme {
                        HashScheme::Window if key.len() <= 8 => {
                            mix(window(key, 0), key.len(), WORD_SEED)
                        }
                        _ => xxhash_rust::xxh3::xxh3_64_with_seed(key, WORD_SEED),
                    };
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
    fn both_schemes_visit_every_ngram_and_word() {
        for scheme in [HashScheme::Xxh3, HashScheme::Window] {
            let h = NgramHasher {
                bits: 16,
                scheme,
                ..Default::default()
            };
            let mut seen = Vec::new();
            h.for_each("ab cde", |b, s, n| seen.push((b, s, n)));
            // 2..5-grams over 6 bytes: 5 + 4 + 3 + 2, plus 2 words.
            assert_eq!(seen.len(), 16, "{scheme:?}");
            let mut spans: Vec<(usize, usize)> = seen.iter().map(|(_, s, n)| (*s, *n)).collect();
            spans.sort();
            spans.dedup();
            assert_eq!(spans.len(), 14, "the words share their spans with n-grams");
            // Equal n-grams hash equally wherever they are.
            let mut a = Vec::new();
            h.for_each("xyxy", |b, s, n| {
                if n == 2 && s % 2 == 0 {
                    a.push(b)
                }
            });
            assert_eq!(a[0], a[1]);
        }
    }

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
