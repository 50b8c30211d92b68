//! The service configuration: a TOML file with environment overrides.
//!
//! Every field has a default except the brokers. Environment variables
//! override the file: `SENTINEL_KAFKA__BROKERS=host:9092`,
//! `SENTINEL_PIPELINE__WORKERS=4`, `SENTINEL_INFERENCE__TAG_THRESHOLD=0.6`
//! (prefix `SENTINEL_`, `__` between section and key).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use sentinel_dataflow::OutputTopics;
use sentinel_models::ModelsConfig;
use sentinel_operators::enrich::EnrichmentConfig;
use sentinel_operators::infer::InferConfig;
use sentinel_operators::policy::PolicyConfig;
use sentinel_operators::rule_guard::RuleGuardConfig;
use sentinel_operators::simulate::SimulateConfig;
use sentinel_operators::window::WindowConfig;
use sentinel_sandbox::SandboxConfig;
use sentinel_sources::evidence_store::EvidenceStoreConfig;

/// The whole configuration (`sentinel.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// Directory for Sentinel's state (models, datasets, rules, audit log).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Kafka connection.
    #[serde(default)]
    pub kafka: KafkaSection,
    /// Topic names.
    #[serde(default)]
    pub topics: TopicsSection,
    /// Runtime of the graph.
    #[serde(default)]
    pub pipeline: PipelineSection,
    /// Behaviour windows.
    #[serde(default)]
    pub window: WindowConfig,
    /// Score combination and thresholds.
    #[serde(default)]
    pub inference: InferConfig,
    /// Rule policy.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// CIDR list files for enrichment.
    #[serde(default)]
    pub enrichment: EnrichmentConfig,
    /// Models: payload classifier source, behaviour model, profile, serving.
    #[serde(default)]
    pub models: ModelsConfig,
    /// Evidence packages: object stores and trusted signing keys.
    #[serde(default)]
    pub evidence_store: EvidenceStoreConfig,
    /// Threat-twin sandbox limits.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// Which verdicts and payloads are simulated.
    #[serde(default)]
    pub simulate: SimulateConfig,
    /// The benign corpus rule candidates are checked against.
    #[serde(default)]
    pub rule_guard: RuleGuardConfig,
    /// The HTTP control plane (`sentinel serve`) and the service's metrics listener.
    #[serde(default)]
    pub api: crate::serve::config::ApiConfig,
    /// Feedback-driven retraining, canary and promotion in `sentinel run`.
    #[serde(default)]
    pub learning: sentinel_models::learning::LearningConfig,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("sentinel-data")
}

/// `[kafka]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSection {
    /// Bootstrap servers, `host:port[,host:port]`.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// Consumer group of the service.
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Extra librdkafka properties for consumers and producers (TLS, SASL, ...).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// How long to wait for the brokers at start before failing, ms.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Static group membership (KIP-345) in cluster mode: each worker joins
    /// as `<group_id>-w<worker>`, so a restarted cluster takes its partitions
    /// back at once instead of waiting for the dead members to time out.
    /// Every cluster of a group must then be the only one using the group.
    #[serde(default = "default_true")]
    pub static_membership: bool,
}

fn default_true() -> bool {
    true
}

impl Default for KafkaSection {
    fn default() -> Self {
        KafkaSection {
            brokers: "127.0.0.1:9092".into(),
            group_id: default_group(),
            properties: BTreeMap::new(),
            connect_timeout_ms: default_connect_timeout(),
            static_membership: true,
        }
    }
}

fn default_group() -> String {
    "sentinel".into()
}

fn default_brokers() -> String {
    "127.0.0.1:9092".into()
}

fn default_connect_timeout() -> u64 {
    10_000
}

/// `[topics]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsSection {
    /// Input: evidence events.
    pub evidence_created: String,
    /// Input: analyst feedback.
    pub feedback: String,
    /// Outputs.
    #[serde(flatten)]
    pub outputs: OutputTopics,
}

impl Default for TopicsSection {
    fn default() -> Self {
        TopicsSection {
            evidence_created: "events.evidence_created".into(),
            feedback: "events.feedback".into(),
            outputs: OutputTopics::default(),
        }
    }
}

/// `[pipeline]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSection {
    /// Timely worker threads.
    pub workers: usize,
    /// Timestamp granularity, ms of event time.
    pub bucket_ms: u64,
    /// Out-of-orderness tolerated before an event counts as late, ms.
    pub allowed_lateness_ms: i64,
    /// A partition silent this long stops holding the watermark back, ms.
    pub idle_timeout_ms: u64,
    /// Records in flight above which input partitions are paused.
    pub max_in_flight: usize,
    /// Messages read per activation of the source.
    pub poll_batch: usize,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// How often the service looks for a promotion or rollback in the model
    /// registry and swaps the new models in, ms (0: never; restart to change models).
    pub model_reload_ms: u64,
}

impl Default for PipelineSection {
    fn default() -> Self {
        PipelineSection {
            workers: 2,
            bucket_ms: 1000,
            allowed_lateness_ms: 5000,
            idle_timeout_ms: 2000,
            max_in_flight: 200_000,
            poll_batch: 4096,
            max_body_bytes: 8 * 1024 * 1024,
            model_reload_ms: 2000,
        }
    }
}

impl SentinelConfig {
    /// Defaults plus environment overrides (no file).
    pub fn load_or_default() -> anyhow::Result<Self> {
        Self::load_figment(Figment::new(), Path::new("(defaults)"))
    }

    /// Loads `path` with environment overrides.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            anyhow::bail!("configuration file {} does not exist", path.display());
        }
        Self::load_figment(Figment::new().merge(Toml::file(path)), path)
    }

    fn load_figment(figment: Figment, path: &Path) -> anyhow::Result<Self> {
        let config: SentinelConfig = figment
            // Only SENTINEL_<SECTION>__<KEY> (and SENTINEL_DATA_DIR) configure
            // the service; other SENTINEL_* variables belong to other tools.
            .merge(
                Env::prefixed("SENTINEL_")
                    .filter(|k| {
                        k.as_str().contains("__") || k.as_str().eq_ignore_ascii_case("data_dir")
                    })
                    .split("__"),
            )
            .extract()
            .with_context(|| format!("invalid configuration {}", path.display()))?;
        config
            .inference
            .validate()
            .map_err(anyhow::Error::msg)
            .context("[inference]")?;
        anyhow::ensure!(
            config.pipeline.workers >= 1,
            "[pipeline] workers must be at least 1"
        );
        anyhow::ensure!(
            !config.kafka.brokers.trim().is_empty(),
            "[kafka] brokers is empty"
        );
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's test jail returns its own error type
    fn example_config_loads_and_env_overrides() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/sentinel.toml");
        let c = SentinelConfig::load(&path).unwrap();
        assert_eq!(c.topics.evidence_created, "events.evidence_created");
        assert_eq!(c.topics.outputs.verdict, "events.sentinel_verdict");
        assert_eq!(c.inference.tag_threshold, 0.5);
        figment::Jail::expect_with(|jail| {
            jail.set_env("SENTINEL_KAFKA__BROKERS", "10.0.0.1:9092");
            jail.set_env("SENTINEL_PIPELINE__WORKERS", "7");
            jail.set_env("SENTINEL_ALLOW_MISSING_CORPORA", "1");
            let c = SentinelConfig::load(&path).unwrap();
            assert_eq!(c.kafka.brokers, "10.0.0.1:9092");
            assert_eq!(c.pipeline.workers, 7);
            Ok(())
        });
    }

    #[test]
    fn typos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[kafka]\nbrokers = \"x:1\"\n[pipeline]\nworkerz = 2\n").unwrap();
        let err = format!("{:#}", SentinelConfig::load(&p).unwrap_err());
        assert!(err.contains("workerz"), "{err}");
    }
}
