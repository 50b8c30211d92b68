//! The evidence event: what arrives on `events.evidence_created`.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::http::is_false;
use crate::{HttpRequest, HttpResponse};

/// Where an event's time came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The evidence carried its own timestamp.
    #[default]
    Recorded,
    /// The input format has no timestamps (raw HTTP streams); the reader
    /// assigned a deterministic synthetic time from the record's ordinal.
    Synthetic,
}

/// Who sent the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInfo {
    /// Client address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Client port, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Session identifier assigned by the recorder, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// A reference to a signed evidence package in an object store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidencePackageRef {
    /// `s3://bucket/key` or `file:///path`.
    pub uri: String,
    /// Expected SHA-256 of the package bytes, lowercase hex.
    pub sha256: String,
    /// Ed25519 signature over the raw 32-byte digest, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Identifier of the signing key among the configured trusted keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// What enrichment learned about the client (geo, ASN, reputation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrichment {
    /// ISO 3166 country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Autonomous system number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Reputation lists the address is on (e.g. `tor-exit`, `scanner`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reputation: Vec<String>,
}

/// One observed HTTP exchange with its context: the unit Sentinel judges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceEvent {
    /// Schema version of the producer.
    #[serde(default = "crate::evidence::current_version")]
    pub schema_version: u32,
    /// Stable identifier of this evidence (deduplication key).
    pub evidence_id: String,
    /// Event time: when the request was observed, milliseconds since the Unix epoch.
    pub event_time_ms: i64,
    /// Whether `event_time_ms` was recorded or synthesized.
    #[serde(default, skip_serializing_if = "is_recorded")]
    pub time_source: TimeSource,
    /// The client.
    #[serde(default)]
    pub client: ClientInfo,
    /// The request.
    pub request: HttpRequest,
    /// The response, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
    /// Signed evidence package to fetch and verify, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<EvidencePackageRef>,
    /// Enrichment (filled by the enrich stage; may be given by the producer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Enrichment>,
    /// Free-form tags from the producer (WAF rule ids, sensor name, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// True when the upstream WAF already blocked the request.
    #[serde(default, skip_serializing_if = "is_false")]
    pub waf_blocked: bool,
}

/// Latest event time accepted: 9999-12-31T23:59:59.999Z (the earliest is
/// the Unix epoch).
pub const MAX_EVENT_TIME_MS: i64 = 253_402_300_799_999;

pub(crate) fn current_version() -> u32 {
    crate::SCHEMA_VERSION
}

fn is_recorded(t: &TimeSource) -> bool {
    *t == TimeSource::Recorded
}
