//! The model registry: content-addressed artifacts with metadata, the
//! active model, an optional canary, and the promotion history.
//!
//! Layout under the data directory:
//!
//! ```text
//! models/
//!   registry.json          # versions, active, canary, history (replaced atomically)
//!   artifacts/<sha256>.bin # immutable model artifacts
//! ```
//!
//! Canary routing is deterministic: a client key goes to the canary when
//! `xxh3(key) mod 10000 < percent × 100`, so a client sees one model, and
//! the same one on every worker and after a restart.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use sentinel_schema::ModelMeta;

use crate::classifier::RULES_VERSION;
use crate::ml::{ArtifactError, ModelArtifact};

/// A canary rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    /// The version under test.
    pub version: String,
    /// Share of client keys routed to it, percent (0–100).
    pub percent: f32,
}

/// One promotion or rollback, for the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When, ms since the epoch.
    pub time_ms: i64,
    /// What happened (`promote`, `canary`, `rollback`).
    pub action: String,
    /// The version that became active (or canary).
    pub version: String,
    /// The version active before.
    pub previous: Option<String>,
}

/// The registry file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistryState {
    /// Every registered version.
    pub versions: Vec<ModelMeta>,
    /// The active version (`rules-v1` when none).
    pub active: Option<String>,
    /// The canary, when one is rolling out.
    pub canary: Option<Canary>,
    /// Promotions and rollbacks, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// A registry problem.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// I/O on the registry files.
    #[error("model registry I/O at {path}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The registry file is corrupted.
    #[error("model registry {path} is not valid: {detail}")]
    Corrupt {
        /// Where.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An unknown version.
    #[error("no model version {0:?} in the registry")]
    Unknown(String),
    /// Gating refused the promotion.
    #[error("model {version} did not pass gating: {why}")]
    Gated {
        /// The version.
        version: String,
        /// Which thresholds failed.
        why: String,
    },
    /// Nothing to roll back to.
    #[error("nothing to roll back to")]
    NoHistory,
    /// The artifact could not be read.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
}

/// The model registry in a data directory.
#[derive(Clone, Debug)]
pub struct Registry {
    root: PathBuf,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Registry {
    /// Opens (creating) the registry under `data_dir/models`.
    pub fn open(data_dir: &Path) -> Result<Self, RegistryError> {
        let root = data_dir.join("models");
        let art = root.join("artifacts");
        std::fs::create_dir_all(&art).map_err(|source| RegistryError::Io {
            path: art.clone(),
            source,
        })?;
        Ok(Registry { root })
    }

    fn state_path(&self) -> PathBuf {
        self.root.join("registry.json")
    }

    /// The artifact path of a SHA-256.
    pub fn artifact_path(&self, sha256: &str) -> PathBuf {
        self.root.join("artifacts").join(format!("{sha256}.bin"))
    }

    /// Reads the registry state.
    pub fn state(&self) -> Result<RegistryState, RegistryError> {
        let p = self.state_path();
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RegistryError::Corrupt {
                path: p,
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RegistryState::default()),
            Err(source) => Err(RegistryError::Io { path: p, source }),
        }
    }

    fn save(&self, state: &RegistryState) -> Result<(), RegistryError> {
        let p = self.state_path();
        let bytes =
            serde_json::to_vec_pretty(state).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        crate::fsutil::write_atomic(&p, &bytes).map_err(|source| RegistryError::Io {
            path: p.clone(),
            source,
        })
    }

    /// Stores an artifact and registers its metadata (the version label is
    /// derived from the content: `hybrid-<first 12 hex of the SHA-256>`).
    /// Registering the same content twice returns the existing version.
    fn register_inner(
        &self,
        artifact: &ModelArtifact,
        mut meta: ModelMeta,
    ) -> Result<ModelMeta, RegistryError> {
        let bytes = artifact.to_bytes()?;
        let sha = ModelArtifact::sha256(&bytes);
        let mut state = self.state()?;
        if let Some(existing) = state.versions.iter().find(|m| m.sha256 == sha) {
            return Ok(existing.clone());
        }
        let path = self.artifact_path(&sha);
        artifact.write(&path)?;
        meta.sha256 = sha.clone();
        meta.version = format!(
            "{}-{}",
            artifact.kind.split('-').next().unwrap_or("model"),
            &sha[..12]
        );
        state.versions.push(meta.clone());
        self.save(&state)?;
        Ok(meta)
    }

    /// Metadata of a version.
    pub fn meta(&self, version: &str) -> Result<ModelMeta, RegistryError> {
        self.state()?
            .versions
            .into_iter()
            .find(|m| m.version == version)
            .ok_or_else(|| RegistryError::Unknown(version.to_string()))
    }

    /// Loads the artifact of a version, verifying its hash.
    pub fn load(&self, version: &str) -> Result<ModelArtifact, RegistryError> {
        let meta = self.meta(version)?;
        Ok(ModelArtifact::read(
            &self.artifact_path(&meta.sha256),
            Some(&meta.sha256),
        )?)
    }

    /// The active version (`rules-v1` when nothing has been promoted).
    pub fn active(&self) -> Result<String, RegistryError> {
        Ok(self
            .state()?
            .active
            .unwrap_or_else(|| RULES_VERSION.to_string()))
    }

    /// Promotes `version`: with `percent < 100` it becomes the canary,
    /// otherwise the active model (the canary, if any, is cleared). A model
    /// whose metadata says it failed gating is refused unless `force`.
    fn promote_inner(
        &self,
        version: &str,
        percent: f32,
        force: bool,
    ) -> Result<RegistryState, RegistryError> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(RegistryError::Invalid(format!(
                "canary percent {percent} is not within 0..100"
            )));
        }
        let mut state = self.state()?;
        if version != RULES_VERSION {
            let meta = state
                .versions
                .iter()
                .find(|m| m.version == version)
                .ok_or_else(|| RegistryError::Unknown(version.to_string()))?;
            let passed = meta.metrics.get("gate_passed").copied().unwrap_or(0.0) >= 1.0;
            if !passed && !force {
                let why = meta
                    .metrics
                    .iter()
                    .filter(|(k, v)| k.starts_with("gate_fail_") && **v >= 1.0)
                    .map(|(k, _)| k.trim_start_matches("gate_fail_").to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(RegistryError::Gated {
                    version: version.to_string(),
                    why: if why.is_empty() {
                        "not evaluated".into()
                    } else {
                        why
                    },
                });
            }
        }
        let previous = state.active.clone();
        if percent < 100.0 {
            state.canary = Some(Canary {
                version: version.to_string(),
                percent,
            });
            state.history.push(HistoryEntry {
                time_ms: now_ms(),
                action: format!("canary {percent}%"),
                version: version.to_string(),
                previous,
            });
        } else {
            state.active = Some(version.to_string());
            state.canary = None;
            state.history.push(HistoryEntry {
                time_ms: now_ms(),
                action: "promote".into(),
                version: version.to_string(),
                previous,
            });
        }
        self.save(&state)?;
        Ok(state)
    }

    /// Rolls back: a running canary is cancelled; otherwise the active model
    /// returns to the one before the last promotion.
    fn rollback_inner(&self) -> Result<RegistryState, RegistryError> {
        let mut state = self.state()?;
        if let Some(c) = state.canary.take() {
            state.history.push(HistoryEntry {
                time_ms: now_ms(),
                action: "rollback canary".into(),
                version: state.active.clone().unwrap_or_else(|| RULES_VERSION.into()),
                previous: Some(c.version),
            });
            self.save(&state)?;
            return Ok(state);
        }
        let last = state
            .history
            .iter()
            .rev()
            .find(|h| h.action == "promote" && Some(&h.version) == state.active.as_ref())
            .cloned()
            .ok_or(RegistryError::NoHistory)?;
        let current = state.active.clone();
        state.active = last.previous.clone();
        state.history.push(HistoryEntry {
            time_ms: now_ms(),
            action: "rollback".into(),
            version: last.previous.unwrap_or_else(|| RULES_VERSION.into()),
            previous: current,
        });
        self.save(&state)?;
        Ok(state)
    }
}

impl Registry {
    /// Takes the registry's exclusive lock (an OS file lock on
    /// `models/.lock`, so other processes wait too) for a sequence of
    /// changes; dropped, it releases the lock.
    pub fn transaction(&self) -> Result<Transaction<'_>, RegistryError> {
        let path = self.root.join(".lock");
        let io = |source| RegistryError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(Transaction {
            registry: self,
            _file: file,
        })
    }

    /// Stores an artifact and registers its metadata (the version label is
    /// derived from the content: `hybrid-<first 12 hex of the SHA-256>`).
    /// Registering the same content twice returns the existing version.
    pub fn register(
        &self,
        artifact: &ModelArtifact,
        meta: ModelMeta,
    ) -> Result<ModelMeta, RegistryError> {
        self.transaction()?.register(artifact, meta)
    }

    /// Promotes `version`: with `percent < 100` it becomes the canary,
    /// otherwise the active model (the canary, if any, is cleared). A model
    /// whose metadata says it failed gating is refused unless `force`.
    pub fn promote(
        &self,
        version: &str,
        percent: f32,
        force: bool,
    ) -> Result<RegistryState, RegistryError> {
        self.transaction()?.promote(version, percent, force)
    }

    /// Rolls back: a running canary is cancelled; otherwise the active model
    /// returns to the one before the last promotion.
    pub fn rollback(&self) -> Result<RegistryState, RegistryError> {
        self.transaction()?.rollback()
    }
}

/// Changes made under the registry lock (see [`Registry::transaction`]).
pub struct Transaction<'a> {
    registry: &'a Registry,
    _file: std::fs::File,
}

impl Transaction<'_> {
    /// The current state.
    pub fn state(&self) -> Result<RegistryState, RegistryError> {
        self.registry.state()
    }

    /// See [`Registry::register`].
    pub fn register(
        &self,
        artifact: &ModelArtifact,
        meta: ModelMeta,
    ) -> Result<ModelMeta, RegistryError> {
        self.registry.register_inner(artifact, meta)
    }

    /// See [`Registry::promote`].
    pub fn promote(
        &self,
        version: &str,
        percent: f32,
        force: bool,
    ) -> Result<RegistryState, RegistryError> {
        self.registry.promote_inner(version, percent, force)
    }

    /// See [`Registry::rollback`].
    pub fn rollback(&self) -> Result<RegistryState, RegistryError> {
        self.registry.rollback_inner()
    }
}

/// Which model a client key is routed to, given the active version and an optional canary.
pub fn route<'a>(client_key: &str, active: &'a str, canary: Option<(&'a str, f32)>) -> &'a str {
    match canary {
        Some((version, percent)) if percent > 0.0 => {
            let bucket = xxhash_rust::xxh3::xxh3_64(client_key.as_bytes()) % 10_000;
            if (bucket as f32) < percent * 100.0 {
                version
            } else {
                active
            }
        }
        _ => active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::LinearModel;
    use std::collections::BTreeMap;

    fn artifact(bias: f32) -> ModelArtifact {
        let mut model = LinearModel {
            hasher: crate::ml::NgramHasher {
                bits: 8,
                ..Default::default()
            },
            ..Default::default()
        };
        model.idf = vec![1.0; 256];
        model.sparse_mean = vec![0.0; 256];
        model.weights = ndarray::Array2::zeros((6, 256 + crate::features::payload::N));
        model.bias[0] = bias;
        ModelArtifact {
            kind: "hybrid-logreg".into(),
            feature_schema: "payload-v1".into(),
            rule_override: 0.9,
            model,
        }
    }

    fn meta(passed: bool) -> ModelMeta {
        let mut metrics = BTreeMap::new();
        metrics.insert("gate_passed".into(), if passed { 1.0 } else { 0.0 });
        if !passed {
            metrics.insert("gate_fail_precision".into(), 1.0);
        }
        ModelMeta {
            version: String::new(),
            kind: "hybrid-logreg".into(),
            sha256: String::new(),
            dataset_version: None,
            feature_schema: "payload-v1".into(),
            metrics,
            parent: None,
            created_at_ms: 0,
            seed: Some(1),
        }
    }

    #[test]
    fn register_promote_canary_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        assert_eq!(r.active().unwrap(), "rules-v1");
        let a = r.register(&artifact(1.0), meta(true)).unwrap();
        let again = r.register(&artifact(1.0), meta(true)).unwrap();
        assert_eq!(a.version, again.version);
        assert_eq!(r.load(&a.version).unwrap(), artifact(1.0));
        let b = r.register(&artifact(2.0), meta(true)).unwrap();
        r.promote(&a.version, 100.0, false).unwrap();
        assert_eq!(r.active().unwrap(), a.version);
        r.promote(&b.version, 10.0, false).unwrap();
        assert_eq!(r.state().unwrap().canary.unwrap().percent, 10.0);
        r.rollback().unwrap();
        assert!(r.state().unwrap().canary.is_none());
        assert_eq!(r.active().unwrap(), a.version);
        r.promote(&b.version, 100.0, false).unwrap();
        r.rollback().unwrap();
        assert_eq!(r.active().unwrap(), a.version);
        r.rollback().unwrap();
        assert_eq!(r.active().unwrap(), "rules-v1");
        assert!(matches!(r.rollback(), Err(RegistryError::NoHistory)));
    }

    #[test]
    fn gating_refuses_bad_models() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let bad = r.register(&artifact(3.0), meta(false)).unwrap();
        let err = r.promote(&bad.version, 100.0, false).unwrap_err();
        assert!(matches!(err, RegistryError::Gated { .. }), "{err}");
        assert!(err.to_string().contains("precision"));
        assert!(r.promote(&bad.version, 100.0, true).is_ok());
    }

    #[test]
    fn tampered_artifacts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let a = r.register(&artifact(1.0), meta(true)).unwrap();
        let p = r.artifact_path(&a.sha256);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        assert!(matches!(
            r.load(&a.version),
            Err(RegistryError::Artifact(ArtifactError::Hash { .. }))
        ));
    }

    #[test]
    fn canary_routing_proportions() {
        for pct in [1.0f32, 10.0, 50.0] {
            let n = 100_000;
            let canary = (0..n)
                .filter(|i| {
                    route(
                        &format!("ip:10.0.{}.{}", i / 256, i % 256),
                        "a",
                        Some(("b", pct)),
                    ) == "b"
                })
                .count();
            let share = canary as f32 / n as f32 * 100.0;
            assert!(
                (share - pct).abs() < pct * 0.1 + 0.2,
                "{pct}% canary got {share}%"
            );
        }
        // Deterministic per key.
        assert_eq!(
            route("ip:1.2.3.4", "a", Some(("b", 50.0))),
            route("ip:1.2.3.4", "a", Some(("b", 50.0)))
        );
        assert_eq!(route("k", "a", None), "a");
    }
}
