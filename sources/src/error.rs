//! Decode errors: the reason a record becomes a dead letter.

use sentinel_schema::DeadLetterReason;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct DecodeError {
    /// Stable reason code.
    pub reason: DeadLetterReason,
    /// Human-readable detail.
    pub detail: String,
}

impl DecodeError {
    /// Builds an error.
    pub fn new(reason: DeadLetterReason, detail: impl Into<String>) -> Self {
        DecodeError {
            reason,
            detail: detail.into(),
        }
    }

    /// A `malformed_record` error.
    pub fn malformed(detail: impl Into<String>) -> Self {
        DecodeError::new(DeadLetterReason::MalformedRecord, detail)
    }

    /// Classifies a serde_json error: syntax and truncation are
    /// `invalid_json`, well-formed JSON of the wrong shape is `schema_violation`.
    pub fn from_json(err: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let reason = match err.classify() {
            Category::Syntax | Category::Eof | Category::Io => DeadLetterReason::InvalidJson,
            Category::Data => DeadLetterReason::SchemaViolation,
        };
        DecodeError::new(reason, err.to_string())
    }
}
