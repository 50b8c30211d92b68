//! Analyst feedback (`events.feedback`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ThreatClass;

/// What kind of feedback an analyst gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// The correct label for the evidence or payload.
    Label,
    /// Sentinel flagged something benign.
    FalsePositive,
    /// Sentinel missed an attack.
    FalseNegative,
}

/// One piece of analyst feedback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    /// The evidence the feedback is about.
    pub evidence_id: String,
    /// Kind of feedback.
    pub kind: FeedbackKind,
    /// The correct class.
    pub label: ThreatClass,
    /// The payload text, when the feedback is about one payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Who gave it.
    pub analyst: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When, ms since the Unix epoch.
    pub time_ms: i64,
}
