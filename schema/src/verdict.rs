//! Verdicts: what Sentinel concluded about one evidence event.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::http::{is_false, is_zero};
use crate::{ClassScores, PayloadLocation, Provenance, ThreatClass};

/// What to do with the event, from the combined score and the configured thresholds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Below the tag threshold.
    Benign,
    /// At or above the tag threshold: flagged for analysts and rule generation.
    Tag,
    /// At or above the simulate threshold: replay in a threat twin to confirm.
    Simulate,
}

impl Decision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Benign => "benign",
            Decision::Tag => "tag",
            Decision::Simulate => "simulate",
        }
    }
}

/// One payload that contributed to the verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Where the payload was.
    pub location: PayloadLocation,
    /// Its most likely attack class.
    pub label: ThreatClass,
    /// Probability that it is an attack, in `[0, 1]`.
    pub score: f32,
    /// Identifiers of the detection signatures that matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<String>,
    /// The normalized payload (at most 256 characters).
    pub normalized: String,
    /// The payload as extracted (lossy UTF-8, at most 4 KiB): what the
    /// threat twins replay. Inside the graph only — never serialized, so
    /// verdict records do not carry raw request data.
    #[serde(skip)]
    #[schemars(skip)]
    pub raw: String,
}

/// The verdict on one evidence event. Every input yields exactly one verdict
/// or one dead letter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Deterministic id: a hash of the evidence id and the model version.
    pub verdict_id: String,
    /// The evidence judged.
    pub evidence_id: String,
    /// Event time of the evidence (ms since the Unix epoch).
    pub event_time_ms: i64,
    /// The behavioural key the client was aggregated under.
    pub client_key: String,
    /// What to do.
    pub decision: Decision,
    /// The most likely class (`benign` when no attack class wins).
    pub label: ThreatClass,
    /// Combined score: `payload_weight * payload_score + behaviour_weight * max(behaviour_score, profile_score)`.
    pub score: f32,
    /// The highest payload (or request-level CSRF) attack probability.
    pub payload_score: f32,
    /// The client's behavioural anomaly score in its window.
    pub behaviour_score: f32,
    /// How unusual the request's values are for its endpoint, per the
    /// learned application profile (absent without a profile or when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub profile_score: f32,
    /// Why the behaviour or profile score is high (absent when nothing stood out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
    /// Per-class scores for the request.
    pub class_scores: ClassScores,
    /// Payloads that scored as attacks, best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Number of payloads examined.
    pub payload_count: u32,
    /// True when the event arrived after its window had closed (scored
    /// without updating window state).
    #[serde(default, skip_serializing_if = "is_false")]
    pub late: bool,
    /// The model version that scored the event.
    pub model_version: String,
    /// Why, when explanations were requested (`--explain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Box<crate::VerdictExplanation>>,
    /// Record schema version.
    pub schema_version: u32,
    /// The input record this verdict derives from.
    pub provenance: Provenance,
}
