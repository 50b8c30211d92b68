//! `events.evidence_ready`: evidence that passed decoding, verification and enrichment.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Enrichment, Provenance};

/// A reference to evidence that is decoded, verified and enriched, ready for analysis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceReady {
    /// The evidence.
    pub evidence_id: String,
    /// Event time (ms since the Unix epoch).
    pub event_time_ms: i64,
    /// Behavioural key of the client.
    pub client_key: String,
    /// Method and path, for dashboards.
    pub method: String,
    /// Decoded path.
    pub path: String,
    /// Number of payloads extracted.
    pub payload_count: u32,
    /// Whether an evidence package was fetched and its hash and signature verified.
    pub package_verified: bool,
    /// Enrichment results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Enrichment>,
    /// Extraction limits that were hit (e.g. `body_truncated`, `json_depth`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits_hit: Vec<String>,
    /// Record schema version.
    pub schema_version: u32,
    /// The input record.
    pub provenance: Provenance,
}
