//! What the learner remembers across restarts (`<data_dir>/feedback/learner.json`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use sentinel_models::learning::VersionStats;
use sentinel_schema::ThreatClass;

/// A canary the learner started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryRun {
    /// The candidate.
    pub version: String,
    /// The active model it is compared with.
    pub active: String,
    /// The active model's counters when the canary started.
    #[serde(with = "stats")]
    pub active_start: VersionStats,
    /// The candidate's counters when the canary started.
    #[serde(with = "stats")]
    pub canary_start: VersionStats,
}

mod stats {
    use super::VersionStats;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &VersionStats, s: S) -> Result<S::Ok, S::Error> {
        (v.scored, v.flagged).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VersionStats, D::Error> {
        let (scored, flagged) = <(u64, u64)>::deserialize(d)?;
        Ok(VersionStats { scored, flagged })
    }
}

/// The learner's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnerState {
    /// Labelled payloads the last candidate was trained on.
    pub trained_labels: usize,
    /// Those labels: the dataset's `trained` input, so that only changes
    /// made since count towards the next training after a restart.
    #[serde(default)]
    pub trained: Vec<(String, ThreatClass)>,
    /// The canary in progress, if the learner started one.
    pub canary: Option<CanaryRun>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("feedback").join("learner.json")
}

impl LearnerState {
    /// Loads the state (default when none was saved).
    pub fn load(data_dir: &Path) -> anyhow::Result<LearnerState> {
        let p = path(data_dir);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).with_context(|| format!("{}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LearnerState::default()),
            Err(e) => Err(e).with_context(|| format!("{}", p.display())),
        }
    }

    /// Saves the state atomically.
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let p = path(data_dir);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("{}", d.display()))?;
        }
        let bytes = serde_json::to_vec_pretty(self)?;
        sentinel_models::fsutil::write_atomic(&p, &bytes)
            .with_context(|| format!("{}", p.display()))
    }
}
