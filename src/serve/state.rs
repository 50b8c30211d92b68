//! What the control plane shares between requests: the same data
//! directory, registry, models, dataset store, sandbox and audit log as the
//! pipeline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use sentinel_models::serving::ServingEngine;
use sentinel_models::{ModelBundle, ModelsConfig};
use sentinel_operators::analyze::{AnalyzeConfig, EventAnalyzer};
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_operators::infer::InferConfig;
use sentinel_operators::simulate::{SimulateConfig, Simulator};
use sentinel_operators::window::{BehaviourWindows, WindowConfig};
use sentinel_sinks::AuditLog;

use super::auth::TokenConfig;
use super::metrics::Metrics;

/// A background training job.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    /// Job id.
    pub id: String,
    /// `running`, `succeeded`, `failed`.
    pub state: String,
    /// Who started it.
    pub started_by: String,
    /// Registered model version, when done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Gate failures (empty: passed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gate_failures: Vec<String>,
    /// Cross-validated metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The analysis side: the event analyzer and the behaviour windows of
/// clients seen through `analyze`.
pub struct Analysis {
    /// Stateless stage.
    pub analyzer: EventAnalyzer,
    /// Per-client windows.
    pub windows: BehaviourWindows,
}

/// Shared state of `sentinel serve`.
pub struct AppState {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Configured tokens.
    pub tokens: Vec<TokenConfig>,
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// Metrics.
    pub metrics: Metrics,
    /// How models are opened.
    pub models_config: ModelsConfig,
    /// The models in use (replaced on promotion).
    pub bundle: RwLock<Arc<ModelBundle>>,
    /// Single-payload serving (cache, breaker, latency).
    pub engine: ServingEngine,
    /// Analysis of whole evidence events.
    pub analysis: Mutex<Analysis>,
    /// Score combination.
    pub infer: InferConfig,
    /// Window settings.
    pub window: WindowConfig,
    /// Threat twins.
    pub simulator: Option<Arc<Simulator>>,
    /// Simulation settings.
    pub simulate: SimulateConfig,
    /// Training jobs by id.
    pub jobs: Mutex<BTreeMap<String, Job>>,
    /// False while starting.
    pub ready: AtomicBool,
}

impl AppState {
    /// A fresh analyzer over `bundle`.
    pub fn analysis_for(bundle: Arc<ModelBundle>, window: WindowConfig) -> Analysis {
        Analysis {
            analyzer: EventAnalyzer::new(
                AnalyzeConfig {
                    explain: true,
                    ..AnalyzeConfig::default()
                },
                bundle,
                Arc::new(EnrichmentTables::default()),
            ),
            windows: BehaviourWindows::new(window),
        }
    }
}
