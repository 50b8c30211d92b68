//! The models a pipeline scores with, opened from the data directory:
//! the payload models of the registry (bootstrapping the default model on a
//! fresh machine), the behaviour anomaly model, and the learned
//! application profile when there is one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::anomaly::{
    AppProfile, BehaviourMethod, BehaviourModelConfig, BehaviourScorer, ForestModel,
};
use crate::registry::{Registry, RegistryError};
use crate::serving::{ensure_default_model, load_models, ModelSet, ServingConfig};
use crate::trainer::Stage;

/// `[models]` configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Which payload classifier to serve.
    pub payload: PayloadSource,
    /// The behaviour anomaly model.
    pub behaviour: BehaviourModelConfig,
    /// Whether a learned application profile (if present) is used.
    pub profile: ProfileUse,
    /// Prediction cache and circuit breaker of single-payload serving.
    pub serving: ServingConfig,
}

/// Where the payload classifier comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadSource {
    /// The registry's active model and canary (the default model is
    /// trained on first use).
    #[default]
    Registry,
    /// The rule classifier only.
    Rules,
}

/// Whether the learned profile is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileUse {
    /// When `data_dir/profile/profile.json` exists.
    #[default]
    Auto,
    /// Never.
    Off,
}

/// Everything the pipeline scores with.
#[derive(Clone, Debug)]
pub struct ModelBundle {
    /// Payload classifiers (active and canary).
    pub payload: ModelSet,
    /// Behaviour window scorer.
    pub behaviour: BehaviourScorer,
    /// The learned application profile.
    pub profile: Option<Arc<AppProfile>>,
}

/// What opening a bundle is doing (for progress displays).
#[derive(Clone, Debug, PartialEq)]
pub enum OpenStage {
    /// Training the default payload model (first run on this data directory).
    DefaultModel(Stage),
    /// Fitting the default behaviour model on simulated traffic.
    BehaviourModel,
}

/// Errors opening a bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Registry problem.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Profile problem.
    #[error(transparent)]
    Profile(#[from] crate::anomaly::profile::ProfileError),
    /// Cached behaviour model problem.
    #[error("{path}: {detail}")]
    Behaviour {
        /// File.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// Where the learned profile lives.
pub fn profile_path(data_dir: &Path) -> PathBuf {
    data_dir.join("profile").join("profile.json")
}

/// Version of the stored forest format (part of the cache key).
const FOREST_FORMAT: &[u8] = b"forest-v2";

/// Where the behaviour model for `config` is cached: the file name carries
/// a hash of the configuration, so changing it refits.
pub fn behaviour_path(data_dir: &Path, config: &BehaviourModelConfig) -> PathBuf {
    let mut key = serde_json::to_vec(config).unwrap_or_default();
    key.extend_from_slice(FOREST_FORMAT);
    let h = xxhash_rust::xxh3::xxh3_64(&key);
    data_dir
        .join("anomaly")
        .join(format!("behaviour-{h:016x}.bin"))
}

/// The behaviour model for `config`: a learned one when `sentinel profile
/// learn` stored one (`anomaly/behaviour-learned.bin`), else the default
/// fitted on simulated traffic (cached in the data directory; fitting is
/// deterministic, so the cache only saves time).
pub fn open_behaviour(
    data_dir: &Path,
    config: &BehaviourModelConfig,
    mut stage: impl FnMut(OpenStage),
) -> Result<BehaviourScorer, BundleError> {
    if config.method == BehaviourMethod::Heuristic {
        return Ok(BehaviourScorer::Heuristic);
    }
    let learned = learned_behaviour_path(data_dir);
    let cached = behaviour_path(data_dir, config);
    for (path, is_cache) in [(learned, false), (cached, true)] {
        match std::fs::read(&path) {
            Ok(bytes) => match bincode::deserialize::<ForestModel>(&bytes) {
                Ok(model) => return Ok(BehaviourScorer::Forest(Arc::new(model))),
                // A damaged cache is refitted; a damaged learned model is an error.
                Err(_) if is_cache => break,
                Err(e) => {
                    return Err(BundleError::Behaviour {
                        path: path.clone(),
                        detail: format!("not a behaviour model ({e}); learn it again or delete it"),
                    })
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(BundleError::Behaviour {
                    path,
                    detail: e.to_string(),
                })
            }
        }
    }
    stage(OpenStage::BehaviourModel);
    let scorer = BehaviourScorer::from_config(config);
    if let BehaviourScorer::Forest(m) = &scorer {
        let path = behaviour_path(data_dir, config);
        let bytes = bincode::serialize(m.as_ref()).map_err(|e| BundleError::Behaviour {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        crate::fsutil::write_atomic(&path, &bytes).map_err(|e| BundleError::Behaviour {
            path,
            detail: e.to_string(),
        })?;
    }
    Ok(scorer)
}

/// Where `sentinel profile learn` stores a behaviour model fitted on real traffic.
pub fn learned_behaviour_path(data_dir: &Path) -> PathBuf {
    data_dir.join("anomaly").join("behaviour-learned.bin")
}

impl ModelBundle {
    /// Rules, the heuristic behaviour score, no profile: needs no data directory.
    pub fn rules_only() -> Self {
        ModelBundle {
            payload: ModelSet::rules(),
            behaviour: BehaviourScorer::Heuristic,
            profile: None,
        }
    }

    /// Opens the bundle of `data_dir` as `config` asks.
    pub fn open(
        data_dir: &Path,
        config: &ModelsConfig,
        mut stage: impl FnMut(OpenStage),
    ) -> Result<Self, BundleError> {
        let payload = match config.payload {
            PayloadSource::Rules => ModelSet::rules(),
            PayloadSource::Registry => {
                let registry = Registry::open(data_dir)?;
                ensure_default_model(&registry, |s| stage(OpenStage::DefaultModel(s)))?;
                load_models(&registry)?
            }
        };
        let behaviour = open_behaviour(data_dir, &config.behaviour, &mut stage)?;
        let profile = match config.profile {
            ProfileUse::Off => None,
            ProfileUse::Auto => {
                let p = profile_path(data_dir);
                if p.exists() {
                    Some(Arc::new(AppProfile::load(&p)?))
                } else {
                    None
                }
            }
        };
        Ok(ModelBundle {
            payload,
            behaviour,
            profile,
        })
    }

    /// One line describing what is in use.
    pub fn describe(&self) -> String {
        let canary = match &self.payload.canary {
            Some((c, pct)) => format!(", canary {} at {pct}%", c.version()),
            None => String::new(),
        };
        let profile = match &self.profile {
            Some(p) => format!("profile of {} endpoints", p.endpoints.len()),
            None => "no profile".into(),
        };
        format!(
            "payload {}{canary}; behaviour {}; {profile}",
            self.payload.active.version(),
            self.behaviour.name()
        )
    }
}

/// Live models: the bundle in use and a generation bumped on every swap.
/// Scorers check the generation (one atomic load) before each record and
/// pick up a new bundle between records, so each record is scored by
/// exactly one model version, which its verdict names.
#[derive(Debug)]
pub struct ModelWatch {
    current: std::sync::RwLock<Arc<ModelBundle>>,
    generation: std::sync::atomic::AtomicU64,
    /// Every bundle this watch has held, by `describe()`: a model update
    /// broadcast through the graph names its bundle this way.
    loaded: std::sync::Mutex<std::collections::HashMap<String, Arc<ModelBundle>>>,
}

impl ModelWatch {
    /// Starts with `bundle`.
    pub fn new(bundle: Arc<ModelBundle>) -> ModelWatch {
        let loaded = std::iter::once((bundle.describe(), bundle.clone())).collect();
        ModelWatch {
            current: std::sync::RwLock::new(bundle),
            generation: std::sync::atomic::AtomicU64::new(0),
            loaded: std::sync::Mutex::new(loaded),
        }
    }

    /// Replaces the bundle.
    pub fn swap(&self, bundle: Arc<ModelBundle>) {
        if let Ok(mut l) = self.loaded.lock() {
            l.insert(bundle.describe(), bundle.clone());
        }
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = bundle;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Makes `bundle` resolvable without switching to it (a replay's
    /// scheduled models).
    pub fn preload(&self, bundle: Arc<ModelBundle>) {
        if let Ok(mut l) = self.loaded.lock() {
            l.insert(bundle.describe(), bundle);
        }
    }

    /// A bundle this watch has held, by its `describe()`.
    pub fn resolve(&self, id: &str) -> Option<Arc<ModelBundle>> {
        self.loaded.lock().ok()?.get(id).cloned()
    }

    /// The current bundle and its generation.
    pub fn current(&self) -> (u64, Arc<ModelBundle>) {
        let b = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        (self.generation(), b)
    }
}
