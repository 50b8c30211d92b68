//! Online learning from analyst feedback: the feedback store, the retraining
//! trigger (new labels or score drift) and the canary judgement. Pure logic;
//! the learner thread of `sentinel run` drives it.

mod canary;
mod drift;
mod store;
mod trigger;

pub use canary::{
    check_labels, contradicted, judge_canary, CanaryDecision, CanaryPolicy, LabelCheck,
    VersionStats,
};
pub use drift::{psi, ScoreHistogram, SCORE_BINS};
pub use store::{feedback_samples, FeedbackStore, FeedbackStoreError};
pub use trigger::{RetrainPolicy, RetrainReason};

use serde::{Deserialize, Serialize};

/// Online learning in `sentinel run` (`[learning]`, `[learning.retrain]`,
/// `[learning.canary]` in the configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// Consume `events.feedback`, retrain, canary and promote while running.
    pub enabled: bool,
    /// How often the learner checks for feedback, drift and the canary, ms.
    pub check_ms: u64,
    /// How many times a feedback sample counts in training.
    pub feedback_weight: usize,
    /// Seed of the candidate's corpus generation and training.
    pub seed: u64,
    /// When to train a candidate.
    pub retrain: RetrainPolicy,
    /// How a candidate is rolled out.
    pub canary: CanaryPolicy,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            enabled: false,
            check_ms: 1_000,
            feedback_weight: 25,
            seed: crate::trainer::DEFAULT_SEED,
            retrain: RetrainPolicy::default(),
            canary: CanaryPolicy::default(),
        }
    }
}
