//! Evidence store configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[evidence_store]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceStoreConfig {
    /// S3-compatible endpoint and credentials for `s3://` packages.
    pub s3: Option<S3Config>,
    /// Per-request timeout, ms.
    pub timeout_ms: u64,
    /// Retries after a failed request (with exponential backoff).
    pub retries: usize,
    /// Trusted Ed25519 public keys: key id → base64 of the 32-byte key.
    pub trusted_keys: BTreeMap<String, String>,
    /// Refuse packages that carry no signature.
    pub require_signature: bool,
    /// Largest package accepted, bytes.
    pub max_package_bytes: u64,
    /// Packages fetched concurrently at most (per process).
    pub concurrency: usize,
}

impl Default for EvidenceStoreConfig {
    fn default() -> Self {
        EvidenceStoreConfig {
            s3: None,
            timeout_ms: 5000,
            retries: 3,
            trusted_keys: BTreeMap::new(),
            require_signature: false,
            max_package_bytes: 16 * 1024 * 1024,
            concurrency: 64,
        }
    }
}

/// `[evidence_store.s3]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL (`http://127.0.0.1:9000` for MinIO or moto); empty for AWS.
    #[serde(default)]
    pub endpoint: String,
    /// Region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Access key id.
    #[serde(default)]
    pub access_key_id: String,
    /// Secret access key.
    #[serde(default)]
    pub secret_access_key: String,
    /// Allow plain HTTP (local stores).
    #[serde(default)]
    pub allow_http: bool,
    /// Virtual-hosted-style requests (`bucket.host`); path style when false.
    #[serde(default)]
    pub virtual_hosted_style: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}
