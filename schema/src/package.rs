//! The content of a signed evidence package.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{HttpRequest, HttpResponse};

/// An evidence package: the authoritative, complete copy of an observed
/// exchange, stored in an object store and referenced by an event's
/// `package` (which carries its SHA-256 and an Ed25519 signature over the
/// digest). When a package verifies, its request and response replace the
/// event's (events on the wire often carry only a summary).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidencePackage {
    /// The request as captured.
    pub request: HttpRequest,
    /// The response as captured, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
    /// Capture time, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_at_ms: Option<i64>,
    /// The sensor that captured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
}
