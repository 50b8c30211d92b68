//! Hash and signature checks (pure).

use std::collections::BTreeMap;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use sentinel_schema::{DeadLetterReason, EvidencePackage, EvidencePackageRef};

/// Why a package was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// It could not be fetched (missing object, store down, timeout after retries, no store).
    #[error("package unavailable: {0}")]
    Unavailable(String),
    /// Its bytes do not hash to the announced SHA-256.
    #[error("package hash mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// Announced by the event.
        expected: String,
        /// Computed from the bytes.
        actual: String,
    },
    /// The signature is missing, malformed, from an unknown key, or does not verify.
    #[error("package signature rejected: {0}")]
    BadSignature(String),
    /// It verified but is not a package (bad JSON, too large).
    #[error("package is not valid: {0}")]
    Invalid(String),
}

impl PackageError {
    /// The dead-letter reason code.
    pub fn reason(&self) -> DeadLetterReason {
        match self {
            PackageError::Unavailable(_) => DeadLetterReason::PackageUnavailable,
            PackageError::HashMismatch { .. } => DeadLetterReason::PackageHashMismatch,
            PackageError::BadSignature(_) => DeadLetterReason::PackageBadSignature,
            PackageError::Invalid(_) => DeadLetterReason::SchemaViolation,
        }
    }
}

/// Trusted Ed25519 keys by id.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys(BTreeMap<String, VerifyingKey>);

impl TrustedKeys {
    /// Parses `key id → base64 public key` (32 bytes).
    pub fn from_base64(keys: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for (id, b64) in keys {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("trusted key {id:?}: not base64: {e}"))?;
            let arr: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("trusted key {id:?}: an Ed25519 public key is 32 bytes"))?;
            let key =
                VerifyingKey::from_bytes(&arr).map_err(|e| format!("trusted key {id:?}: {e}"))?;
            out.insert(id.clone(), key);
        }
        Ok(TrustedKeys(out))
    }

    /// Adds a key.
    pub fn insert(&mut self, id: &str, key: VerifyingKey) {
        self.0.insert(id.to_string(), key);
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Signs the SHA-256 digest of `bytes` (for producers and tests): base64 signature.
pub fn sign_digest(key: &SigningKey, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    base64::engine::general_purpose::STANDARD.encode(key.sign(&digest).to_bytes())
}

/// Verifies fetched bytes against the reference and parses the package.
pub fn verify_package(
    bytes: &[u8],
    reference: &EvidencePackageRef,
    keys: &TrustedKeys,
    require_signature: bool,
    max_bytes: u64,
) -> Result<EvidencePackage, PackageError> {
    if bytes.len() as u64 > max_bytes {
        return Err(PackageError::Invalid(format!(
            "{} bytes exceeds the {max_bytes} byte limit",
            bytes.len()
        )));
    }
    let digest = Sha256::digest(bytes);
    let actual = hex::encode(digest);
    if !actual.eq_ignore_ascii_case(reference.sha256.trim()) {
        return Err(PackageError::HashMismatch {
            expected: reference.sha256.clone(),
            actual,
        });
    }
    match (&reference.signature, require_signature) {
        (None, true) => {
            return Err(PackageError::BadSignature(
                "the event carries no signature".into(),
            ))
        }
        (None, false) => {}
        (Some(sig), _) => {
            let id = reference.key_id.as_deref().unwrap_or("");
            let key = keys
                .0
                .get(id)
                .ok_or_else(|| PackageError::BadSignature(format!("unknown signing key {id:?}")))?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(sig.trim())
                .map_err(|e| PackageError::BadSignature(format!("signature is not base64: {e}")))?;
            let sig = Signature::from_slice(&raw).map_err(|_| {
                PackageError::BadSignature("an Ed25519 signature is 64 bytes".into())
            })?;
            key.verify(&digest, &sig).map_err(|_| {
                PackageError::BadSignature(format!("does not verify with key {id:?}"))
            })?;
        }
    }
    serde_json::from_slice(bytes).map_err(|e| PackageError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::HttpRequest;

    fn package() -> Vec<u8> {
        serde_json::to_vec(&EvidencePackage {
            request: HttpRequest {
                method: "GET".into(),
                target: "/x?q=1".into(),
                version: "HTTP/1.1".into(),
                ..Default::default()
            },
            response: None,
            captured_at_ms: Some(1),
            sensor: Some("s1".into()),
        })
        .unwrap()
    }

    fn setup() -> (Vec<u8>, SigningKey, TrustedKeys) {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let mut keys = TrustedKeys::default();
        keys.insert("s1", key.verifying_key());
        (package(), key, keys)
    }

    fn reference(bytes: &[u8], sig: Option<String>) -> EvidencePackageRef {
        EvidencePackageRef {
            uri: "file:///x".into(),
            sha256: digest_hex(bytes),
            signature: sig,
            key_id: Some("s1".into()),
        }
    }

    #[test]
    fn good_package_verifies() {
        let (bytes, key, keys) = setup();
        let r = reference(&bytes, Some(sign_digest(&key, &bytes)));
        let p = verify_package(&bytes, &r, &keys, true, 1 << 20).unwrap();
        assert_eq!(p.sensor.as_deref(), Some("s1"));
    }

    #[test]
    fn tampering_and_bad_signatures_are_refused() {
        let (bytes, key, keys) = setup();
        let r = reference(&bytes, Some(sign_digest(&key, &bytes)));
        let mut tampered = bytes.clone();
        tampered[10] ^= 1;
        assert!(matches!(
            verify_package(&tampered, &r, &keys, true, 1 << 20),
            Err(PackageError::HashMismatch { .. })
        ));
        let other = SigningKey::generate(&mut rand::rngs::OsRng);
        let forged = reference(&bytes, Some(sign_digest(&other, &bytes)));
        assert!(matches!(
            verify_package(&bytes, &forged, &keys, true, 1 << 20),
            Err(PackageError::BadSignature(_))
        ));
        let unsigned = reference(&bytes, None);
        assert!(matches!(
            verify_package(&bytes, &unsigned, &keys, true, 1 << 20),
            Err(PackageError::BadSignature(_))
        ));
        assert!(verify_package(&bytes, &unsigned, &keys, false, 1 << 20).is_ok());
        let mut unknown = reference(&bytes, Some(sign_digest(&key, &bytes)));
        unknown.key_id = Some("nobody".into());
        assert!(matches!(
            verify_package(&bytes, &unknown, &keys, true, 1 << 20),
            Err(PackageError::BadSignature(_))
        ));
        assert!(matches!(
            verify_package(&bytes, &r, &keys, true, 10),
            Err(PackageError::Invalid(_))
        ));
    }

    #[test]
    fn key_parsing() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let mut m = BTreeMap::new();
        m.insert(
            "k".to_string(),
            base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes()),
        );
        assert!(TrustedKeys::from_base64(&m).is_ok());
        m.insert("bad".to_string(), "AAAA".into());
        assert!(TrustedKeys::from_base64(&m).is_err());
    }
}
