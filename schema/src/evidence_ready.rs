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

/// An [`EvidenceReady`] record borrowed from the event it describes: what
/// the graph serializes, field for field the same JSON as the owned record
/// (a test checks it), without copying the event's strings into a record
/// that lives only until it is written.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct EvidenceReadyRef<'a> {
    /// See [`EvidenceReady::evidence_id`].
    pub evidence_id: &'a str,
    /// See [`EvidenceReady::event_time_ms`].
    pub event_time_ms: i64,
    /// See [`EvidenceReady::client_key`].
    pub client_key: &'a str,
    /// See [`EvidenceReady::method`].
    pub method: &'a str,
    /// See [`EvidenceReady::path`].
    pub path: &'a str,
    /// See [`EvidenceReady::payload_count`].
    pub payload_count: u32,
    /// See [`EvidenceReady::package_verified`].
    pub package_verified: bool,
    /// See [`EvidenceReady::enrichment`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<&'a Enrichment>,
    /// See [`EvidenceReady::limits_hit`].
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub limits_hit: &'a [String],
    /// See [`EvidenceReady::schema_version`].
    pub schema_version: u32,
    /// See [`EvidenceReady::provenance`].
    pub provenance: &'a Provenance,
}

impl EvidenceReadyRef<'_> {
    /// The owned record (named so, not `to_owned`, which on this `Copy`
    /// view would read as a copy of the view).
    pub fn to_record(&self) -> EvidenceReady {
        EvidenceReady {
            evidence_id: self.evidence_id.to_owned(),
            event_time_ms: self.event_time_ms,
            client_key: self.client_key.to_owned(),
            method: self.method.to_owned(),
            path: self.path.to_owned(),
            payload_count: self.payload_count,
            package_verified: self.package_verified,
            enrichment: self.enrichment.cloned(),
            limits_hit: self.limits_hit.to_vec(),
            schema_version: self.schema_version,
            provenance: self.provenance.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_borrowed_record_serializes_as_the_owned_one(
            evidence_id in ".{0,12}",
            event_time_ms in any::<i64>(),
            client_key in ".{0,12}",
            method in "[A-Z]{0,7}",
            path in ".{0,20}",
            payload_count in any::<u32>(),
            package_verified in any::<bool>(),
            country in proptest::option::of("[A-Z]{2}"),
            asn in proptest::option::of(any::<u32>()),
            enriched in any::<bool>(),
            limits_hit in proptest::collection::vec("[a-z_]{1,12}", 0..3),
            source in ".{0,16}",
            partition in proptest::option::of(any::<i32>()),
            offset in any::<u64>(),
        ) {
            let provenance = Provenance { source, partition, offset };
            let enrichment = enriched.then(|| Enrichment {
                country,
                asn,
                ..Enrichment::default()
            });
            let view = EvidenceReadyRef {
                evidence_id: &evidence_id,
                event_time_ms,
                client_key: &client_key,
                method: &method,
                path: &path,
                payload_count,
                package_verified,
                enrichment: enrichment.as_ref(),
                limits_hit: &limits_hit,
                schema_version: crate::SCHEMA_VERSION,
                provenance: &provenance,
            };
            let owned = view.to_record();
            let line = serde_json::to_vec(&view).unwrap();
            prop_assert_eq!(&line, &serde_json::to_vec(&owned).unwrap());
            // And it reads back, strict about its fields, as the owned record.
            prop_assert_eq!(serde_json::from_slice::<EvidenceReady>(&line).unwrap(), owned);
        }
    }
}
