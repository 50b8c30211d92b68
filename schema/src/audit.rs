//! Tamper-evident audit records.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One line of the hash-chained audit log.
///
/// `hash` is the SHA-256 (hex) of the record serialized without `hash`,
/// which includes `prev_hash`: editing, removing or reordering any record
/// breaks the chain from that point on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Sequence number, 0-based, gapless across rotations.
    pub seq: u64,
    /// Wall time, ms since the Unix epoch.
    pub time_ms: i64,
    /// Who acted (`system`, `sandbox`, a token name, ...).
    pub actor: String,
    /// What happened (e.g. `sandbox.panic`, `rule.applied`, `model.promoted`, `auth.failed`).
    pub action: String,
    /// What it happened to (a rule id, model version, ...).
    pub subject: String,
    /// Structured details.
    #[serde(default)]
    pub detail: serde_json::Value,
    /// Hash of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// Hash of this record.
    pub hash: String,
}

/// Where lower crates (sandbox, models, sinks) report audit events without
/// depending on the audit log's implementation (`sentinel_sinks::AuditLog`).
///
/// Implementations must be cheap to call and must not panic; failing to
/// persist a record is the implementation's to report.
pub trait AuditHook: Send + Sync {
    /// Records that `actor` did `action` to `subject`, with `detail`.
    fn audit(&self, actor: &str, action: &str, subject: &str, detail: serde_json::Value);
}

/// An [`AuditHook`] that discards everything (tests, one-shot commands).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAudit;

impl AuditHook for NoAudit {
    fn audit(&self, _: &str, _: &str, _: &str, _: serde_json::Value) {}
}
