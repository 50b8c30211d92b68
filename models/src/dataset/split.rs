//! Stratified, seeded train/validation/test splits.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use sentinel_schema::ThreatClass;

/// A split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training.
    Train,
    /// Validation (model selection, calibration).
    Validation,
    /// Test (reported figures).
    Test,
}

impl Split {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

/// Assigns each label to a split: per class, the samples are shuffled with
/// `seed` and the first `train` share goes to training, the next
/// `validation` share to validation, the rest to test — so every split
/// keeps the class proportions, and the same seed gives the same split.
pub fn stratified_split(
    labels: &[ThreatClass],
    seed: u64,
    train: f64,
    validation: f64,
) -> Vec<Split> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![Split::Train; labels.len()];
    for class in ThreatClass::ALL {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|i| labels[*i] == class).collect();
        idx.shuffle(&mut rng);
        let n = idx.len() as f64;
        let n_train = (n * train.clamp(0.0, 1.0)).round() as usize;
        let n_val = (n * validation.clamp(0.0, 1.0)).round() as usize;
        for (j, i) in idx.into_iter().enumerate() {
            out[i] = if j < n_train {
                Split::Train
            } else if j < n_train + n_val {
                Split::Validation
            } else {
                Split::Test
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_hold_per_class_and_seed_decides() {
        let labels: Vec<ThreatClass> = (0..1000)
            .map(|i| {
                if i % 4 == 0 {
                    ThreatClass::Sqli
                } else {
                    ThreatClass::Benign
                }
            })
            .collect();
        let s = stratified_split(&labels, 7, 0.8, 0.1);
        let count = |c: ThreatClass, sp: Split| {
            (0..1000).filter(|i| labels[*i] == c && s[*i] == sp).count()
        };
        assert_eq!(count(ThreatClass::Sqli, Split::Train), 200);
        assert_eq!(count(ThreatClass::Sqli, Split::Validation), 25);
        assert_eq!(count(ThreatClass::Sqli, Split::Test), 25);
        assert_eq!(count(ThreatClass::Benign, Split::Train), 600);
        assert_eq!(s, stratified_split(&labels, 7, 0.8, 0.1));
        assert_ne!(s, stratified_split(&labels, 8, 0.8, 0.1));
    }
}
