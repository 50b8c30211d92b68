//! Model metadata, as kept by the registry.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Metadata of one registered model artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// Version label (e.g. `rules-v1`, `hybrid-3f2a9c1d`).
    pub version: String,
    /// Model kind (`rules`, `logreg`, `hybrid`, `isolation_forest`, ...).
    pub kind: String,
    /// SHA-256 of the serialized artifact, lowercase hex (empty for built-in models).
    pub sha256: String,
    /// Content address of the dataset version it was trained on, when trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_version: Option<String>,
    /// Feature name-table version it expects.
    pub feature_schema: String,
    /// Evaluation metrics (e.g. `macro_f1`, `precision_sqli`).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Version it was derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Seed used for training (reproducibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}
