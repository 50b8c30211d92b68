//! Training: feature extraction, IDF, AdaGrad on softmax cross-entropy,
//! temperature calibration. Single-threaded and seeded: the same samples
//! and seed give the same model, bit for bit.

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use sentinel_schema::ThreatClass;

use super::calibrate::fit_temperature;
use super::hasher::{NgramHasher, SparseVec};
use super::model::{log_scale, softmax, LinearModel, K, ML_CLASSES};
use crate::analysis::{Analyzer, PayloadAnalysis};
use crate::features::payload::N as N_DENSE;

/// Training hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// L2 penalty applied to the weights a sample touches.
    pub l2: f32,
    /// Shuffling seed.
    pub seed: u64,
    /// Share of the training indices held out to fit the temperature.
    pub calibration_fraction: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 6,
            learning_rate: 0.5,
            l2: 1e-7,
            seed: 1,
            calibration_fraction: 0.1,
        }
    }
}

/// Progress reports while training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainProgress {
    /// Featurizing sample `done` of `total`.
    Featurize {
        /// Samples done.
        done: usize,
        /// Samples in all.
        total: usize,
    },
    /// Epoch `epoch` of `epochs` finished with this mean loss.
    Epoch {
        /// 1-based epoch.
        epoch: usize,
        /// Epochs in all.
        epochs: usize,
        /// Mean training cross-entropy.
        loss: f32,
    },
}

/// Featurized samples: term counts, raw named features, labels.
#[derive(Clone, Debug, Default)]
pub struct TrainingSet {
    /// Hashed term counts (before IDF).
    pub counts: Vec<SparseVec>,
    /// Raw named payload features.
    pub dense: Vec<[f32; N_DENSE]>,
    /// Label index into [`ML_CLASSES`].
    pub labels: Vec<u8>,
    /// The rule classifier's scores for each sample (for the hybrid).
    pub rules: Vec<sentinel_schema::ClassScores>,
    /// The hasher used.
    pub hasher: NgramHasher,
}

/// The index of a class in [`ML_CLASSES`] (`csrf` has none).
pub fn class_index(class: ThreatClass) -> Option<u8> {
    ML_CLASSES.iter().position(|c| *c == class).map(|i| i as u8)
}

impl TrainingSet {
    /// Featurizes `(payload, class)` pairs (CSRF samples are skipped: they
    /// are request-level). Payloads are treated as query values.
    pub fn build<'a>(
        samples: impl IntoIterator<Item = (&'a str, ThreatClass)>,
        hasher: NgramHasher,
        mut progress: impl FnMut(TrainProgress),
    ) -> TrainingSet {
        let samples: Vec<(&str, ThreatClass)> = samples.into_iter().collect();
        let total = samples.len();
        let mut set = TrainingSet {
            hasher,
            ..Default::default()
        };
        let mut analyzer = Analyzer::default();
        let mut a = PayloadAnalysis::default();
        let mut buf = Vec::new();
        for (i, (text, class)) in samples.into_iter().enumerate() {
            let Some(y) = class_index(class) else {
                continue;
            };
            analyzer.analyze(text.as_bytes(), true, &mut a);
            let mut v = SparseVec::default();
            hasher.counts(&a.normalized.text, &mut buf, &mut v);
            set.counts.push(v);
            set.dense.push(a.features);
            set.labels.push(y);
            set.rules.push(crate::classifier::rule_scores(&a));
            if i % 2048 == 0 {
                progress(TrainProgress::Featurize { done: i, total });
            }
        }
        progress(TrainProgress::Featurize { done: total, total });
        set
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Fits models.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trainer {
    /// Hyper-parameters.
    pub config: TrainConfig,
}

impl Trainer {
    /// Trains on the samples at `indices` of `set`.
    pub fn fit(
        &self,
        set: &TrainingSet,
        indices: &[usize],
        mut progress: impl FnMut(TrainProgress),
    ) -> LinearModel {
        let cfg = self.config;
        let hasher = set.hasher;
        let dim = hasher.dim();
        let cols = dim + N_DENSE;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);

        // Hold out a calibration split (stratified by shuffling).
        let mut idx: Vec<usize> = indices.to_vec();
        idx.shuffle(&mut rng);
        let n_cal = ((idx.len() as f64) * cfg.calibration_fraction) as usize;
        let (cal, fit): (Vec<usize>, Vec<usize>) = (idx[..n_cal].to_vec(), idx[n_cal..].to_vec());

        // IDF over the fitting documents.
        let mut df = vec![0u32; dim];
        for &i in &fit {
            for k in &set.counts[i].idx {
                df[*k as usize] += 1;
            }
        }
        let n = fit.len().max(1) as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|d| ((1.0 + n) / (1.0 + *d as f32)).ln() + 1.0)
            .collect();

        // Standardization of the log-scaled named features.
        let mut mean = vec![0.0f64; N_DENSE];
        let mut sq = vec![0.0f64; N_DENSE];
        for &i in &fit {
            for (j, x) in set.dense[i].iter().enumerate() {
                let v = log_scale(*x) as f64;
                mean[j] += v;
                sq[j] += v * v;
            }
        }
        let dense_mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
        let dense_std: Vec<f32> = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let mu = m / n as f64;
                ((s / n as f64 - mu * mu).max(0.0).sqrt() as f32).max(1e-3)
            })
            .collect();

        let mut model = LinearModel {
            hasher,
            idf,
            dense_mean,
            dense_std,
            weights: Array2::zeros((K, cols)),
            bias: vec![0.0; K],
            temperature: 1.0,
            sparse_mean: vec![0.0; dim],
        };

        // Inputs of every sample, computed once.
        let inputs: Vec<(SparseVec, [f32; N_DENSE])> = (0..set.len())
            .map(|i| {
                let mut v = set.counts[i].clone();
                hasher.tfidf(&mut v, &model.idf);
                let mut z = [0.0f32; N_DENSE];
                for (j, x) in set.dense[i].iter().enumerate() {
                    z[j] = ((log_scale(*x) - model.dense_mean[j]) / model.dense_std[j])
                        .clamp(-5.0, 5.0);
                }
                (v, z)
            })
            .collect();
        for &i in &fit {
            for (k, v) in inputs[i].0.idx.iter().zip(&inputs[i].0.val) {
                model.sparse_mean[*k as usize] += v / n;
            }
        }

        // Class weights: inverse frequency, mean 1.
        let mut freq = [0usize; K];
        for &i in &fit {
            freq[set.labels[i] as usize] += 1;
        }
        let present = freq.iter().filter(|f| **f > 0).count().max(1) as f32;
        let class_w: [f32; K] = std::array::from_fn(|c| {
            if freq[c] == 0 {
                0.0
            } else {
                n / (present * freq[c] as f32)
            }
        });

        // AdaGrad.
        let w = model.weights.as_slice_mut().unwrap_or(&mut []);
        let mut g2 = vec![1e-8f32; K * cols];
        let mut b2 = [1e-8f32; K];
        let lr = cfg.learning_rate;
        let mut order = fit.clone();
        for epoch in 1..=cfg.epochs {
            order.shuffle(&mut rng);
            let mut loss = 0.0f64;
            for &i in &order {
                let (x, z) = &inputs[i];
                let y = set.labels[i] as usize;
                let mut m = [0.0f32; K];
                for (c, mc) in m.iter_mut().enumerate() {
                    let row = &w[c * cols..(c + 1) * cols];
                    let mut s = model.bias[c];
                    for (k, v) in x.idx.iter().zip(&x.val) {
                        s += row[*k as usize] * v;
                    }
                    for (j, zj) in z.iter().enumerate() {
                        s += row[dim + j] * zj;
                    }
                    *mc = s;
                }
                let p = softmax(&m, 1.0);
                loss += -(p[y].max(1e-12) as f64).ln() * class_w[y] as f64;
                for c in 0..K {
                    let g = (p[c] - if c == y { 1.0 } else { 0.0 }) * class_w[y];
                    if g == 0.0 {
                        continue;
                    }
                    let base = c * cols;
                    for (k, v) in x.idx.iter().zip(&x.val) {
                        let o = base + *k as usize;
                        let gi = g * v + cfg.l2 * w[o];
                        g2[o] += gi * gi;
                        w[o] -= lr * gi / g2[o].sqrt();
                    }
                    for (j, zj) in z.iter().enumerate() {
                        let o = base + dim + j;
                        let gi = g * zj + cfg.l2 * w[o];
                        g2[o] += gi * gi;
                        w[o] -= lr * gi / g2[o].sqrt();
                    }
                    b2[c] += g * g;
                    model.bias[c] -= lr * g / b2[c].sqrt();
                }
            }
            progress(TrainProgress::Epoch {
                epoch,
                epochs: cfg.epochs,
                loss: (loss / order.len().max(1) as f64) as f32,
            });
        }

        // Calibration on the held-out split.
        if !cal.is_empty() {
            let mut margins = Vec::with_capacity(cal.len());
            let mut labels = Vec::with_capacity(cal.len());
            let mut s = super::model::Scratch::default();
            for &i in &cal {
                s.sparse = inputs[i].0.clone();
                s.dense = inputs[i].1;
                let mut m = [0.0; K];
                model.margins_of(&s, &mut m);
                margins.push(m);
                labels.push(set.labels[i]);
            }
            model.temperature = fit_temperature(&margins, &labels);
        }
        model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{generate, CorpusSize};

    fn small_set(seed: u64) -> TrainingSet {
        let corpus = generate(
            seed,
            CorpusSize {
                per_attack_class: 150,
                benign: 600,
            },
        );
        TrainingSet::build(
            corpus.iter().map(|s| (s.text.as_str(), s.class)),
            NgramHasher {
                bits: 14,
                ..Default::default()
            },
            |_| {},
        )
    }

    #[test]
    fn learns_and_is_reproducible() {
        let set = small_set(3);
        let all: Vec<usize> = (0..set.len()).collect();
        let trainer = Trainer {
            config: TrainConfig {
                epochs: 4,
                ..Default::default()
            },
        };
        let a = trainer.fit(&set, &all, |_| {});
        let b = trainer.fit(&set, &all, |_| {});
        assert_eq!(a, b, "same data and seed must give the same model");
        // Held-out accuracy on a different corpus.
        let test = small_set(4);
        let mut right = 0;
        for i in 0..test.len() {
            let mut s = super::super::model::Scratch::default();
            s.sparse = test.counts[i].clone();
            a.hasher.tfidf(&mut s.sparse, &a.idf);
            for (j, x) in test.dense[i].iter().enumerate() {
                s.dense[j] = ((log_scale(*x) - a.dense_mean[j]) / a.dense_std[j]).clamp(-5.0, 5.0);
            }
            let mut m = [0.0; K];
            a.margins_of(&s, &mut m);
            let p = a.softmax(&m);
            let best = (0..K).max_by(|x, y| p[*x].total_cmp(&p[*y])).unwrap();
            if best == test.labels[i] as usize {
                right += 1;
            }
        }
        let acc = right as f64 / test.len() as f64;
        assert!(acc > 0.9, "held-out accuracy {acc}");
        assert!(a.temperature > 0.05 && a.temperature < 20.0);
    }
}
