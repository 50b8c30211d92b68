//! The linear model and its inference.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use sentinel_schema::{ClassScores, ThreatClass};

use super::hasher::{NgramHasher, SparseVec};
use crate::analysis::PayloadAnalysis;
use crate::features::payload::N as N_DENSE;

/// The classes the payload model predicts, in output order.
pub const ML_CLASSES: [ThreatClass; 6] = [
    ThreatClass::Sqli,
    ThreatClass::Xss,
    ThreatClass::Cmdi,
    ThreatClass::PathTraversal,
    ThreatClass::Xxe,
    ThreatClass::Benign,
];

/// Number of output classes.
pub const K: usize = ML_CLASSES.len();

/// A multinomial logistic regression over hashed TF-IDF n-grams and the
/// (log-scaled, standardized) named payload features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// The n-gram hasher.
    pub hasher: NgramHasher,
    /// Inverse document frequency per bucket.
    pub idf: Vec<f32>,
    /// Mean of each log-scaled named feature over the training set.
    pub dense_mean: Vec<f32>,
    /// Standard deviation of each log-scaled named feature.
    pub dense_std: Vec<f32>,
    /// Weights: one row per class, `dim` sparse columns then the named features.
    pub weights: Array2<f32>,
    /// Bias per class.
    pub bias: Vec<f32>,
    /// Softmax temperature fitted on held-out data (calibration).
    pub temperature: f32,
    /// Mean TF-IDF value per bucket over the training set (the Shapley baseline).
    pub sparse_mean: Vec<f32>,
}

/// Reusable buffers for inference (no allocation per call once warm).
#[derive(Debug)]
pub struct Scratch {
    buf: Vec<u32>,
    /// The TF-IDF vector of the last input.
    pub sparse: SparseVec,
    /// The standardized named features of the last input.
    pub dense: [f32; N_DENSE],
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            buf: Vec::new(),
            sparse: SparseVec::default(),
            dense: [0.0; N_DENSE],
        }
    }
}

impl Default for LinearModel {
    fn default() -> Self {
        let hasher = NgramHasher::default();
        let dim = hasher.dim();
        LinearModel {
            hasher,
            idf: vec![1.0; dim],
            dense_mean: vec![0.0; N_DENSE],
            dense_std: vec![1.0; N_DENSE],
            weights: Array2::zeros((K, dim + N_DENSE)),
            bias: vec![0.0; K],
            temperature: 1.0,
            sparse_mean: vec![0.0; dim],
        }
    }
}

/// `ln(1 + x)` for the non-negative named features (counts, lengths, weights).
#[inline]
pub fn log_scale(x: f32) -> f32 {
    (1.0 + x.max(0.0)).ln()
}

impl LinearModel {
    /// Number of sparse columns.
    pub fn dim(&self) -> usize {
        self.hasher.dim()
    }

    /// Builds the model's input for an analyzed payload into `s`.
    pub fn featurize(&self, a: &PayloadAnalysis, s: &mut Scratch) {
        self.hasher
            .counts(&a.normalized.text, &mut s.buf, &mut s.sparse);
        self.hasher.tfidf(&mut s.sparse, &self.idf);
        for (j, x) in a.features.iter().enumerate() {
            let z = (log_scale(*x) - self.dense_mean[j]) / self.dense_std[j];
            s.dense[j] = z.clamp(-5.0, 5.0);
        }
    }

    /// Class margins (logits before temperature) of the input in `s`.
    pub fn margins_of(&self, s: &Scratch, out: &mut [f32; K]) {
        let dim = self.dim();
        let w = self.weights.as_slice().unwrap_or(&[]);
        let cols = dim + N_DENSE;
        for (c, o) in out.iter_mut().enumerate() {
            let row = &w[c * cols..(c + 1) * cols];
            let mut m = self.bias[c];
            for (i, v) in s.sparse.idx.iter().zip(&s.sparse.val) {
                m += row[*i as usize] * v;
            }
            for (j, z) in s.dense.iter().enumerate() {
                m += row[dim + j] * z;
            }
            *o = m;
        }
    }

    /// Calibrated class probabilities from margins.
    pub fn softmax(&self, margins: &[f32; K]) -> [f32; K] {
        softmax(margins, self.temperature)
    }

    /// Calibrated class probabilities of an analyzed payload.
    pub fn predict(&self, a: &PayloadAnalysis, s: &mut Scratch) -> [f32; K] {
        self.featurize(a, s);
        let mut m = [0.0; K];
        self.margins_of(s, &mut m);
        self.softmax(&m)
    }

    /// Probabilities as class scores (`csrf` is always 0 for payloads).
    pub fn scores(p: &[f32; K]) -> ClassScores {
        let mut s = ClassScores::default();
        for (c, class) in ML_CLASSES.iter().enumerate() {
            s.set(*class, p[c]);
        }
        s
    }
}

/// Softmax with temperature.
pub fn softmax(m: &[f32; K], t: f32) -> [f32; K] {
    let t = t.max(1e-3);
    let max = m.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    let mut p = [0.0; K];
    let mut sum = 0.0;
    for (o, x) in p.iter_mut().zip(m) {
        *o = ((x - max) / t).exp();
        sum += *o;
    }
    for o in &mut p {
        *o /= sum;
    }
    p
}
