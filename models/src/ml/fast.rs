//! The inference fast path: the same function as [`LinearModel::predict`],
//! organized for speed.
//!
//! * weights transposed bucket-major (`[f32; 8]` per column, the six class
//!   weights side by side), so each n-gram costs one cache line instead of six;
//! * term counts in a dense per-thread array with a touched list (no sort);
//! * `1 + ln(count)` from a table; TF-IDF normalization applied once to the
//!   accumulated dot products;
//! * named features that are zero contribute a precomputed constant.
//!
//! No allocation per call once the thread's scratch is warm.

use super::model::{log_scale, LinearModel, K};
use crate::analysis::PayloadAnalysis;
use crate::features::payload::N as N_DENSE;

/// Lanes per column (K padded to 8 for alignment and SIMD).
const LANES: usize = 8;

/// Precomputed inference tables of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct FastTables {
    /// Sparse weights, bucket-major.
    sparse: Vec<[f32; LANES]>,
    /// Dense weights, feature-major.
    dense: Vec<[f32; LANES]>,
    /// IDF per bucket.
    idf: Vec<f32>,
    /// Standardized value of each named feature when it is 0.
    dense_zero: Vec<f32>,
    /// Σ over named features of weight × standardized zero value, plus bias.
    base: [f32; LANES],
}

/// `1 + ln(c)` for small counts.
const LN_TABLE: usize = 64;

fn sublinear(c: f32) -> f32 {
    static TABLE: std::sync::OnceLock<[f32; LN_TABLE]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0.0; LN_TABLE];
        for (i, v) in t.iter_mut().enumerate().skip(1) {
            *v = 1.0 + (i as f32).ln();
        }
        t
    });
    let i = c as usize;
    if i < LN_TABLE {
        t[i]
    } else {
        1.0 + c.ln()
    }
}

/// Per-thread buffers of the fast path.
#[derive(Debug, Default)]
pub struct FastScratch {
    counts: Vec<u16>,
    touched: Vec<u32>,
}

impl FastTables {
    /// Builds the tables of `m`.
    pub fn new(m: &LinearModel) -> Self {
        let dim = m.dim();
        let cols = dim + N_DENSE;
        let w = m.weights.as_slice().unwrap_or(&[]);
        let col = |j: usize| {
            let mut c = [0.0f32; LANES];
            for (k, v) in c.iter_mut().enumerate().take(K) {
                *v = w.get(k * cols + j).copied().unwrap_or(0.0);
            }
            c
        };
        let sparse: Vec<[f32; LANES]> = (0..dim).map(col).collect();
        let dense: Vec<[f32; LANES]> = (0..N_DENSE).map(|d| col(dim + d)).collect();
        let dense_zero: Vec<f32> = (0..N_DENSE)
            .map(|d| ((log_scale(0.0) - m.dense_mean[d]) / m.dense_std[d]).clamp(-5.0, 5.0))
            .collect();
        let mut base = [0.0f32; LANES];
        for (k, b) in base.iter_mut().enumerate().take(K) {
            *b = m.bias[k];
        }
        for d in 0..N_DENSE {
            for k in 0..K {
                base[k] += dense[d][k] * dense_zero[d];
            }
        }
        FastTables {
            sparse,
            dense,
            idf: m.idf.clone(),
            dense_zero,
            base,
        }
    }

    /// Class margins of an analyzed payload (before temperature).
    pub fn margins(&self, m: &LinearModel, a: &PayloadAnalysis, s: &mut FastScratch) -> [f32; K] {
        let dim = self.sparse.len();
        if s.counts.len() != dim {
            s.counts = vec![0; dim];
        }
        s.touched.clear();
        {
            let counts = &mut s.counts;
            let touched = &mut s.touched;
            m.hasher.for_each(&a.normalized.text, |b, _, _| {
                if let Some(c) = counts.get_mut(b as usize) {
                    if *c == 0 {
                        touched.push(b);
                    }
                    *c = c.saturating_add(1);
                }
            });
        }
        let mut acc = [0.0f32; LANES];
        let mut norm = 0.0f32;
        for &b in &s.touched {
            let b = b as usize;
            let x = sublinear(s.counts[b] as f32) * self.idf[b];
            s.counts[b] = 0;
            norm += x * x;
            let w = &self.sparse[b];
            for k in 0..LANES {
                acc[k] += w[k] * x;
            }
        }
        let inv = if norm > 0.0 { 1.0 / norm.sqrt() } else { 0.0 };
        let mut out = self.base;
        for k in 0..LANES {
            out[k] += acc[k] * inv;
        }
        for (d, f) in a.features.iter().enumerate() {
            if *f != 0.0 {
                let z = ((log_scale(*f) - m.dense_mean[d]) / m.dense_std[d]).clamp(-5.0, 5.0);
                let dz = z - self.dense_zero[d];
                let w = &self.dense[d];
                for k in 0..LANES {
                    out[k] += w[k] * dz;
                }
            }
        }
        let mut r = [0.0f32; K];
        r.copy_from_slice(&out[..K]);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;
    use crate::ml::{NgramHasher, Scratch, TrainConfig, Trainer, TrainingSet};

    #[test]
    fn fast_path_agrees_with_the_reference() {
        let corpus = crate::corpus::generate(
            4,
            crate::corpus::CorpusSize {
                per_attack_class: 100,
                benign: 400,
            },
        );
        let set = TrainingSet::build(
            corpus.iter().map(|s| (s.text.as_str(), s.class)),
            NgramHasher {
                bits: 12,
                ..Default::default()
            },
            |_| {},
        );
        let all: Vec<usize> = (0..set.len()).collect();
        let m = Trainer {
            config: TrainConfig {
                epochs: 2,
                ..Default::default()
            },
        }
        .fit(&set, &all, |_| {});
        let t = FastTables::new(&m);
        let mut an = Analyzer::default();
        let mut fs = FastScratch::default();
        let mut s = Scratch::default();
        for v in corpus.iter().take(300).map(|s| s.text.as_str()).chain([
            "",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ]) {
            let a = an.analyze_new(v.as_bytes(), true);
            let fast = t.margins(&m, &a, &mut fs);
            m.featurize(&a, &mut s);
            let mut slow = [0.0; K];
            m.margins_of(&s, &mut slow);
            for k in 0..K {
                assert!(
                    (fast[k] - slow[k]).abs() < 1e-3 * (1.0 + slow[k].abs()),
                    "{v:?}: {fast:?} vs {slow:?}"
                );
            }
        }
    }
}
