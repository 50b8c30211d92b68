//! Where an output record came from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The input record an output derives from: source name, partition and
/// offset. For files the partition is absent and the offset is the 0-based
/// ordinal of the record in the file; for Kafka it is the partition and offset.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Source name: the file path as given, or `kafka:TOPIC`.
    pub source: String,
    /// Kafka partition, when the source is Kafka.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Record ordinal in the file, or Kafka offset.
    pub offset: u64,
}
