//! Generated WAF rules.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ThreatClass;

/// What the gatekeeper does when the rule matches.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Deny with 403.
    Block,
    /// Redirect to a challenge (CAPTCHA / proof of work) endpoint.
    Challenge,
    /// Let the request pass but tag and log it.
    Tag,
}

/// Where the rule is in its life cycle (the policy stage decides).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Confidence at or above the auto-apply threshold: the gatekeeper applies it.
    AutoApplied,
    /// Waiting for a reviewer.
    Proposed,
    /// Too weak to apply; kept for analysts.
    LogOnly,
    /// A reviewer approved it: the gatekeeper applies it.
    Approved,
    /// A reviewer rejected it.
    Rejected,
    /// Withdrawn: the gatekeeper removes it.
    Retracted,
}

impl RuleStatus {
    /// The wire name (`auto_applied`, `proposed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::AutoApplied => "auto_applied",
            RuleStatus::Proposed => "proposed",
            RuleStatus::LogOnly => "log_only",
            RuleStatus::Approved => "approved",
            RuleStatus::Rejected => "rejected",
            RuleStatus::Retracted => "retracted",
        }
    }

    /// True when a gatekeeper should have this rule loaded.
    pub fn is_active(self) -> bool {
        matches!(self, RuleStatus::AutoApplied | RuleStatus::Approved)
    }
}

/// Where a rule came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleProvenance {
    /// Evidence that produced the payloads (first few).
    pub evidence_ids: Vec<String>,
    /// Simulations that confirmed the payloads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sim_ids: Vec<String>,
    /// Example payloads the rule generalizes (normalized, first few).
    pub samples: Vec<String>,
    /// Model version that scored the payloads.
    pub model_version: String,
}

/// A WAF rule: structured fields plus the ModSecurity / Coraza `SecRule` text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WafRule {
    /// Stable rule identifier: a hash of (class, variables, operator, pattern).
    pub rule_id: String,
    /// Numeric ModSecurity `id` (from the configured range).
    pub modsec_id: u64,
    /// Version of this rule id; a retraction or status change increments it.
    pub version: u32,
    /// The class the rule targets.
    pub class: ThreatClass,
    /// Life-cycle status.
    pub status: RuleStatus,
    /// Action on match.
    pub action: RuleAction,
    /// Confidence in `[0, 1]` that the rule blocks attacks and nothing else.
    pub confidence: f32,
    /// ModSecurity variables (e.g. `ARGS`, `REQUEST_HEADERS:User-Agent`).
    pub variables: Vec<String>,
    /// Transformations, in order (e.g. `urlDecodeUni`, `lowercase`).
    pub transformations: Vec<String>,
    /// Operator name (`rx`, `pm`, `contains`).
    pub operator: String,
    /// Operator argument (regex, phrase list or string).
    pub pattern: String,
    /// The full `SecRule` text a gatekeeper loads.
    pub secrule: String,
    /// Human-readable message.
    pub msg: String,
    /// Severity (`CRITICAL`, `ERROR`, `WARNING`, `NOTICE`).
    pub severity: String,
    /// Where it came from.
    pub provenance: RuleProvenance,
    /// Event time of the newest evidence that contributed (ms since the epoch).
    pub created_at_ms: i64,
    /// Record schema version.
    pub schema_version: u32,
}
