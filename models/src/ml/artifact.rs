//! Model artifacts: a versioned, content-addressed file.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::LinearModel;

/// Magic bytes at the start of every artifact file.
const MAGIC: &[u8; 8] = b"SNTLMDL1";

/// A trained payload model as stored in the registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    /// Model kind (`hybrid-logreg`).
    pub kind: String,
    /// Feature name-table version the model expects.
    pub feature_schema: String,
    /// Rule-override threshold of the hybrid (signature weight from which a rule wins).
    pub rule_override: f32,
    /// The linear model.
    pub model: LinearModel,
}

/// An artifact that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// I/O.
    #[error("model artifact I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Not an artifact, or corrupted.
    #[error("not a Sentinel model artifact ({0})")]
    Format(String),
    /// The bytes do not hash to the expected id.
    #[error("model artifact hash mismatch: expected {expected}, got {actual}")]
    Hash {
        /// Expected SHA-256.
        expected: String,
        /// Computed SHA-256.
        actual: String,
    },
}

impl ModelArtifact {
    /// Serializes to bytes (magic + bincode).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        let mut out = MAGIC.to_vec();
        bincode::serialize_into(&mut out, self)
            .map_err(|e| ArtifactError::Format(e.to_string()))?;
        Ok(out)
    }

    /// Parses bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArtifactError> {
        let body = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| ArtifactError::Format("bad magic".into()))?;
        bincode::deserialize(body).map_err(|e| ArtifactError::Format(e.to_string()))
    }

    /// SHA-256 (hex) of the serialized artifact: its content address.
    pub fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Writes the artifact to `path` atomically; returns its SHA-256.
    pub fn write(&self, path: &Path) -> Result<String, ArtifactError> {
        let bytes = self.to_bytes()?;
        crate::fsutil::write_atomic(path, &bytes)?;
        Ok(Self::sha256(&bytes))
    }

    /// Reads an artifact, checking its SHA-256 when `expected` is given.
    pub fn read(path: &Path, expected: Option<&str>) -> Result<Self, ArtifactError> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)?.read_to_end(&mut bytes)?;
        if let Some(e) = expected {
            let actual = Self::sha256(&bytes);
            if actual != e {
                return Err(ArtifactError::Hash {
                    expected: e.to_string(),
                    actual,
                });
            }
        }
        Self::from_bytes(&bytes)
    }
}
