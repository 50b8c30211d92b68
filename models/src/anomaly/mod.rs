//! Anomaly detection: how unusual a client's behaviour is (an Isolation
//! Forest over window features) and how unusual a request's values are for
//! the endpoint they were sent to (a learned application profile).

pub mod behaviour_model;
pub mod iforest;
pub mod profile;
pub mod score_memo;
pub mod sessions;

pub use behaviour_model::{BehaviourMethod, BehaviourModelConfig, BehaviourScorer, ForestModel};
pub use iforest::{ForestConfig, IsolationForest};
pub use profile::{AppProfile, ProfileConfig, ProfileScore};
pub use score_memo::{BehaviourScoreMemo, SCORE_MEMO_SLOTS};
