//! Threat-twin simulation results.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{PayloadLocation, Provenance, ThreatClass};

/// The outcome of replaying one payload against a threat twin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimResult {
    /// Deterministic id: a hash of the verdict id, payload location and twin.
    pub sim_id: String,
    /// The evidence the payload came from.
    pub evidence_id: String,
    /// The verdict that asked for the simulation.
    pub verdict_id: String,
    /// Twin name (`sql`, `xss`, `cmd`, `path`, `xxe`, or a user module's name).
    pub twin: String,
    /// The class under test.
    pub class: ThreatClass,
    /// Where the payload was found.
    pub location: PayloadLocation,
    /// Contexts the payload was embedded in (e.g. `string`, `numeric`, `attr_quoted`).
    pub contexts_tried: Vec<String>,
    /// True when at least one context was exploited.
    pub exploit: bool,
    /// The first context that broke, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_context: Option<String>,
    /// Exploit score in `[0, 1]`.
    pub score: f32,
    /// Structured evidence (e.g. injected AST node kinds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Error, when the simulation did not complete (timeout, fuel, trap, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the simulation in microseconds.
    pub duration_us: u64,
    /// Fuel consumed by the guest.
    pub fuel_used: u64,
    /// Record schema version.
    pub schema_version: u32,
    /// The input record this result derives from.
    pub provenance: Provenance,
}
