//! Model artifacts: a versioned, content-addressed file.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::LinearModel;

/// Magic bytes at the start of every artifact file (format 2).
const MAGIC: &[u8; 8] = b"SNTLMDL2";

/// Magic of format 1 (before the hasher had a scheme: XXH3).
const MAGIC_V1: &[u8; 8] = b"SNTLMDL1";

/// Format 1, read for compatibility.
mod v1 {
    use ndarray::Array2;
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Hasher {
        pub bits: u8,
        pub n_min: u8,
        pub n_max: u8,
        pub max_bytes: usize,
    }

    #[derive(Deserialize)]
    pub struct Model {
        pub hasher: Hasher,
        pub idf: Vec<f32>,
        pub dense_mean: Vec<f32>,
        pub dense_std: Vec<f32>,
        pub weights: Array2<f32>,
        pub bias: Vec<f32>,
        pub temperature: f32,
        pub sparse_mean: Vec<f32>,
    }

    #[derive(Deserialize)]
    pub struct Artifact {
        pub kind: String,
        pub feature_schema: String,
        pub rule_override: f32,
        pub model: Model,
    }
}

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

    /// Parses bytes (formats 2 and 1).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArtifactError> {
        if let Some(body) = bytes.strip_prefix(MAGIC) {
            return bincode::deserialize(body).map_err(|e| ArtifactError::Format(e.to_string()));
        }
        let body = bytes
            .strip_prefix(MAGIC_V1)
            .ok_or_else(|| ArtifactError::Format("bad magic".into()))?;
        let a: v1::Artifact =
            bincode::deserialize(body).map_err(|e| ArtifactError::Format(e.to_string()))?;
        let m = a.model;
        Ok(ModelArtifact {
            kind: a.kind,
            feature_schema: a.feature_schema,
            rule_override: a.rule_override,
            model: LinearModel {
                hasher: super::NgramHasher {
                    bits: m.hasher.bits,
                    n_min: m.hasher.n_min,
                    n_max: m.hasher.n_max,
                    max_bytes: m.hasher.max_bytes,
                    scheme: super::HashScheme::Xxh3,
                },
                idf: m.idf,
                dense_mean: m.dense_mean,
                dense_std: m.dense_std,
                weights: m.weights,
                bias: m.bias,
                temperature: m.temperature,
                sparse_mean: m.sparse_mean,
            },
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::{HashScheme, NgramHasher};

    #[test]
    fn round_trip_and_format_1() {
        let hasher = NgramHasher {
            bits: 6,
            ..Default::default()
        };
        let model = LinearModel {
            hasher,
            idf: vec![1.0; 64],
            sparse_mean: vec![0.0; 64],
            weights: ndarray::Array2::from_elem((6, 64 + crate::features::payload::N), 0.5),
            ..Default::default()
        };
        let a = ModelArtifact {
            kind: "hybrid-logreg".into(),
            feature_schema: "payload-v1".into(),
            rule_override: 0.9,
            model,
        };
        let bytes = a.to_bytes().unwrap();
        assert!(bytes.starts_with(b"SNTLMDL2"));
        assert_eq!(ModelArtifact::from_bytes(&bytes).unwrap(), a);
        // A format-1 file (no hash scheme) reads as XXH3.
        let m = &a.model;
        let mut v1 = b"SNTLMDL1".to_vec();
        bincode::serialize_into(
            &mut v1,
            &(
                &a.kind,
                &a.feature_schema,
                a.rule_override,
                (
                    (
                        m.hasher.bits,
                        m.hasher.n_min,
                        m.hasher.n_max,
                        m.hasher.max_bytes,
                    ),
                    &m.idf,
                    &m.dense_mean,
                    &m.dense_std,
                    &m.weights,
                    &m.bias,
                    m.temperature,
                    &m.sparse_mean,
                ),
            ),
        )
        .unwrap();
        let old = ModelArtifact::from_bytes(&v1).unwrap();
        assert_eq!(old.model.hasher.scheme, HashScheme::Xxh3);
        assert_eq!(old.model.weights, m.weights);
        assert!(ModelArtifact::from_bytes(b"SNTLMDL9junk").is_err());
    }
}
