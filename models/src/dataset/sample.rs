//! Labelled samples as the dataset manager stores them.

use serde::{Deserialize, Serialize};

use sentinel_schema::ThreatClass;

/// Where a sample came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Imported from a corpus file.
    Import {
        /// The corpus spec it was read from.
        source: String,
    },
    /// Added by hand.
    #[default]
    Manual,
    /// A false-positive report: a value a model flagged that an analyst
    /// says is benign (or a different class). First-class training data:
    /// it wins label conflicts.
    FalsePositive {
        /// What the model predicted.
        predicted: ThreatClass,
        /// The evidence it was seen in, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence_id: Option<String>,
    },
}

/// One labelled payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sample {
    /// The payload as it was seen (query-value semantics: `+` is a space).
    pub payload: String,
    /// Its class.
    pub label: ThreatClass,
    /// Where it came from.
    #[serde(default)]
    pub origin: Origin,
    /// Free-form note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Sample {
    /// True for false-positive reports.
    pub fn is_false_positive(&self) -> bool {
        matches!(self.origin, Origin::FalsePositive { .. })
    }
}
