//! When to train a candidate: enough new analyst labels, or drift of the
//! live score distribution while at least one label is untrained.

use serde::{Deserialize, Serialize};

/// The retraining policy (`[learning]` in the configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrainPolicy {
    /// Train once this many labels arrived since the last training.
    pub after_labels: usize,
    /// Train when the population stability index of the live scores
    /// against the reference window exceeds this (and a label is new).
    pub drift_psi: f64,
    /// Verdicts per drift window (reference and live).
    pub drift_window: u64,
}

impl Default for RetrainPolicy {
    fn default() -> Self {
        RetrainPolicy {
            after_labels: 50,
            drift_psi: 0.25,
            drift_window: 5_000,
        }
    }
}

/// Why a retraining starts.
#[derive(Clone, Debug, PartialEq)]
pub enum RetrainReason {
    /// `n` labels arrived since the last training.
    Labels(usize),
    /// The live score distribution drifted (PSI), with `n` new labels.
    Drift {
        /// The measured index.
        psi: f64,
        /// Labels not trained on yet.
        labels: usize,
    },
}

impl std::fmt::Display for RetrainReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetrainReason::Labels(n) => write!(f, "{n} new labels"),
            RetrainReason::Drift { psi, labels } => {
                write!(f, "score drift (PSI {psi:.3}) with {labels} new labels")
            }
        }
    }
}

impl RetrainPolicy {
    /// Whether to retrain, given the labels not trained on yet and the
    /// current drift (PSI of the live window against the reference).
    pub fn should_retrain(&self, new_labels: usize, drift: Option<f64>) -> Option<RetrainReason> {
        if new_labels == 0 {
            return None;
        }
        if new_labels >= self.after_labels.max(1) {
            return Some(RetrainReason::Labels(new_labels));
        }
        match drift {
            Some(psi) if psi > self.drift_psi => Some(RetrainReason::Drift {
                psi,
                labels: new_labels,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_or_drift_with_a_label() {
        let p = RetrainPolicy {
            after_labels: 3,
            drift_psi: 0.2,
            drift_window: 10,
        };
        assert_eq!(p.should_retrain(0, Some(9.0)), None);
        assert_eq!(p.should_retrain(2, Some(0.1)), None);
        assert_eq!(p.should_retrain(2, None), None);
        assert_eq!(p.should_retrain(3, None), Some(RetrainReason::Labels(3)));
        assert_eq!(
            p.should_retrain(1, Some(0.5)),
            Some(RetrainReason::Drift {
                psi: 0.5,
                labels: 1
            })
        );
    }
}
