//! Dead letters: inputs Sentinel could not process, with the reason.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ByteString, Provenance};

/// Why a record was dead-lettered (stable codes for dashboards and alerts).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// The bytes are not valid JSON (or are truncated).
    InvalidJson,
    /// Valid JSON that does not match the expected schema.
    SchemaViolation,
    /// The bytes are not an HTTP request / log line of the declared format.
    MalformedRecord,
    /// The record is larger than the configured limit.
    TooLarge,
    /// The record is not valid UTF-8 where text is required.
    InvalidUtf8,
    /// The evidence package could not be fetched.
    PackageUnavailable,
    /// The evidence package's SHA-256 does not match the event.
    PackageHashMismatch,
    /// The evidence package's signature does not verify.
    PackageBadSignature,
    /// A field has a value out of range (time, method, ...).
    InvalidField,
}

impl DeadLetterReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::InvalidJson => "invalid_json",
            DeadLetterReason::SchemaViolation => "schema_violation",
            DeadLetterReason::MalformedRecord => "malformed_record",
            DeadLetterReason::TooLarge => "too_large",
            DeadLetterReason::InvalidUtf8 => "invalid_utf8",
            DeadLetterReason::PackageUnavailable => "package_unavailable",
            DeadLetterReason::PackageHashMismatch => "package_hash_mismatch",
            DeadLetterReason::PackageBadSignature => "package_bad_signature",
            DeadLetterReason::InvalidField => "invalid_field",
        }
    }
}

/// An input that could not be processed. Nothing is dropped silently: the
/// original bytes travel with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    /// Stable reason code.
    pub reason: DeadLetterReason,
    /// Human-readable detail (parser message, limit, ...).
    pub detail: String,
    /// The original record bytes (at most the configured maximum; see `original_len`).
    pub original: ByteString,
    /// Length of the original record in bytes.
    pub original_len: u64,
    /// Record schema version.
    pub schema_version: u32,
    /// The input record.
    pub provenance: Provenance,
}
