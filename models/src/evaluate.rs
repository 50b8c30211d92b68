//! Evaluation: per-class precision, recall, F1 and false-positive rate,
//! the confusion matrix, and the attack-vs-benign threshold sweep.
//!
//! Per-class figures are computed one-vs-rest from the confusion matrix
//! (rows = truth, columns = prediction). linfa 0.8.1's binary
//! `precision()`/`recall()` read its (prediction × truth) matrix as if it
//! were (truth × prediction) and come out swapped, so they are not used.

use serde::{Deserialize, Serialize};

use sentinel_schema::ThreatClass;

use crate::ml::ML_CLASSES;

/// Figures for one class (one-vs-rest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The class.
    pub class: ThreatClass,
    /// True samples of the class.
    pub support: usize,
    /// Precision.
    pub precision: f32,
    /// Recall.
    pub recall: f32,
    /// F1.
    pub f1: f32,
    /// False-positive rate: other samples predicted as this class.
    pub fpr: f32,
}

/// TPR reached at a false-positive-rate budget (attack vs benign).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The false-positive-rate budget.
    pub max_fpr: f32,
    /// The best true-positive rate within it.
    pub tpr: f32,
    /// The attack-score threshold that achieves it.
    pub threshold: f32,
    /// The false-positive rate actually reached.
    pub fpr: f32,
}

/// Evaluation results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Samples evaluated.
    pub samples: usize,
    /// Per class, in [`ML_CLASSES`] order (classes absent from the truth are skipped).
    pub per_class: Vec<ClassMetrics>,
    /// Mean precision over the classes present.
    pub macro_precision: f32,
    /// Mean recall over the classes present.
    pub macro_recall: f32,
    /// Mean F1 over the classes present.
    pub macro_f1: f32,
    /// Share predicted exactly right.
    pub accuracy: f32,
    /// Attack vs benign: attacks called attacks.
    pub attack_tpr: f32,
    /// Attack vs benign: benign values called attacks.
    pub attack_fpr: f32,
    /// Confusion matrix, rows = truth, columns = prediction, [`ML_CLASSES`] order.
    pub confusion: Vec<Vec<u64>>,
    /// TPR at FPR ≤ 0.1 %, 0.5 % and 1 %.
    pub sweep: Vec<SweepPoint>,
}

fn idx(c: ThreatClass) -> usize {
    ML_CLASSES
        .iter()
        .position(|x| *x == c)
        .unwrap_or(ML_CLASSES.len() - 1)
}

/// Computes metrics from truths, predicted labels and attack scores
/// (probability that the sample is an attack).
pub fn evaluate(truth: &[ThreatClass], predicted: &[ThreatClass], attack_score: &[f32]) -> Metrics {
    let n = truth.len();
    let k = ML_CLASSES.len();
    let mut confusion = vec![vec![0u64; k]; k];
    for (t, p) in truth.iter().zip(predicted) {
        confusion[idx(*t)][idx(*p)] += 1;
    }
    let mut per_class = Vec::new();
    for (c, class) in ML_CLASSES.iter().enumerate() {
        let support = confusion[c].iter().sum::<u64>() as usize;
        if support == 0 {
            continue;
        }
        let tp = confusion[c][c] as f32;
        let predicted_as: u64 = (0..k).map(|r| confusion[r][c]).sum();
        let precision = if predicted_as == 0 {
            0.0
        } else {
            tp / predicted_as as f32
        };
        let recall = tp / support as f32;
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        let fp: u64 = (0..k).filter(|r| *r != c).map(|r| confusion[r][c]).sum();
        let negatives = (n - support) as u64;
        per_class.push(ClassMetrics {
            class: *class,
            support,
            precision,
            recall,
            f1,
            fpr: if negatives == 0 {
                0.0
            } else {
                fp as f32 / negatives as f32
            },
        });
    }
    let m = per_class.len().max(1) as f32;
    let correct = (0..k).map(|c| confusion[c][c]).sum::<u64>();
    let attacks = truth.iter().filter(|t| t.is_attack()).count();
    let benign = n - attacks;
    let tp = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| t.is_attack() && p.is_attack())
        .count();
    let fp = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| !t.is_attack() && p.is_attack())
        .count();
    Metrics {
        samples: n,
        macro_precision: per_class.iter().map(|c| c.precision).sum::<f32>() / m,
        macro_recall: per_class.iter().map(|c| c.recall).sum::<f32>() / m,
        macro_f1: per_class.iter().map(|c| c.f1).sum::<f32>() / m,
        per_class,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f32 / n as f32
        },
        attack_tpr: if attacks == 0 {
            0.0
        } else {
            tp as f32 / attacks as f32
        },
        attack_fpr: if benign == 0 {
            0.0
        } else {
            fp as f32 / benign as f32
        },
        confusion,
        sweep: [0.001f32, 0.005, 0.01]
            .iter()
            .map(|f| sweep(truth, attack_score, *f))
            .collect(),
    }
}

/// The best TPR with FPR ≤ `max_fpr` over all thresholds of `score`.
pub fn sweep(truth: &[ThreatClass], score: &[f32], max_fpr: f32) -> SweepPoint {
    let mut pairs: Vec<(f32, bool)> = score
        .iter()
        .zip(truth)
        .map(|(s, t)| (*s, t.is_attack()))
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let pos = pairs.iter().filter(|p| p.1).count().max(1) as f32;
    let neg = pairs.iter().filter(|p| !p.1).count().max(1) as f32;
    let (mut tp, mut fp) = (0f32, 0f32);
    let mut best = SweepPoint {
        max_fpr,
        tpr: 0.0,
        threshold: 1.0,
        fpr: 0.0,
    };
    let mut i = 0;
    while i < pairs.len() {
        let s = pairs[i].0;
        // Take every sample with this exact score together.
        while i < pairs.len() && pairs[i].0 == s {
            if pairs[i].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        if fp / neg <= max_fpr && tp / pos >= best.tpr {
            best = SweepPoint {
                max_fpr,
                tpr: tp / pos,
                threshold: s,
                fpr: fp / neg,
            };
        }
    }
    best
}

/// Gating thresholds a model must meet to be promoted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// Minimum macro precision.
    pub min_precision: f32,
    /// Minimum macro recall.
    pub min_recall: f32,
    /// Maximum attack-vs-benign false-positive rate.
    pub max_fpr: f32,
    /// Minimum macro F1.
    pub min_f1: f32,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            min_precision: 0.85,
            min_recall: 0.80,
            max_fpr: 0.05,
            min_f1: 0.82,
        }
    }
}

impl GateConfig {
    /// The thresholds `m` fails (empty when it passes).
    pub fn failures(&self, m: &Metrics) -> Vec<&'static str> {
        let mut f = Vec::new();
        if m.macro_precision < self.min_precision {
            f.push("precision");
        }
        if m.macro_recall < self.min_recall {
            f.push("recall");
        }
        if m.attack_fpr > self.max_fpr {
            f.push("fpr");
        }
        if m.macro_f1 < self.min_f1 {
            f.push("f1");
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ThreatClass::*;

    #[test]
    fn figures_by_hand() {
        let truth = [Sqli, Sqli, Xss, Benign, Benign, Benign];
        let pred = [Sqli, Benign, Xss, Benign, Sqli, Benign];
        let score = [0.9, 0.4, 0.8, 0.1, 0.6, 0.2];
        let m = evaluate(&truth, &pred, &score);
        let sqli = m.per_class.iter().find(|c| c.class == Sqli).unwrap();
        assert_eq!(sqli.support, 2);
        assert!((sqli.precision - 0.5).abs() < 1e-6);
        assert!((sqli.recall - 0.5).abs() < 1e-6);
        assert!((sqli.fpr - 0.25).abs() < 1e-6);
        // Asymmetric: benign has 3 true, predicted 3 times (2 right).
        let benign = m.per_class.iter().find(|c| c.class == Benign).unwrap();
        assert!((benign.precision - 2.0 / 3.0).abs() < 1e-6);
        assert!((benign.recall - 2.0 / 3.0).abs() < 1e-6);
        let m2 = evaluate(
            &[Sqli, Sqli, Benign],
            &[Sqli, Benign, Benign],
            &[0.9, 0.1, 0.1],
        );
        let sqli2 = m2.per_class.iter().find(|c| c.class == Sqli).unwrap();
        assert_eq!((sqli2.precision, sqli2.recall), (1.0, 0.5));
        assert!((m.attack_fpr - 1.0 / 3.0).abs() < 1e-6);
        assert!((m.attack_tpr - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(m.confusion[0][0], 1);
        // At FPR 0: threshold above 0.6 keeps the two attacks scored 0.9 and 0.8.
        let p = sweep(&truth, &score, 0.0);
        assert!((p.tpr - 2.0 / 3.0).abs() < 1e-6, "{p:?}");
        let gate = GateConfig::default();
        assert!(gate.failures(&m).contains(&"fpr"));
    }
}
