//! Background training for the API: the same trainer, gate and registry
//! as `sentinel train`.

use std::path::Path;

use anyhow::Context;

use sentinel_models::evaluate::GateConfig;
use sentinel_models::ml::{NgramHasher, TrainConfig};
use sentinel_models::registry::Registry;
use sentinel_models::trainer::{
    default_samples_with_seed, train, TrainPlan, DEFAULT_RULE_OVERRIDE,
};
use sentinel_schema::ThreatClass;

/// What a finished job produced.
pub struct Trained {
    /// The registered version.
    pub version: String,
    /// Gate failures (empty: may be promoted).
    pub gate_failures: Vec<String>,
    /// Cross-validated metrics.
    pub metrics: serde_json::Value,
}

/// Trains on the generated corpus and/or a dataset, gates and registers.
pub fn train_and_register(
    data_dir: &Path,
    dataset: Option<&str>,
    include_generated: bool,
    folds: usize,
    seed: u64,
) -> anyhow::Result<Trained> {
    let mut samples: Vec<(String, ThreatClass)> = Vec::new();
    if include_generated {
        samples.extend(default_samples_with_seed(seed));
    }
    let mut dataset_version = None;
    if let Some(spec) = dataset {
        let (v, s) = crate::cli::dataset::training_samples(data_dir, spec)
            .with_context(|| format!("dataset {spec}"))?;
        samples.extend(s);
        dataset_version = Some(v);
    }
    anyhow::ensure!(!samples.is_empty(), "nothing to train on");
    register_trained(
        data_dir,
        samples,
        dataset_version.or_else(|| Some("generated".into())),
        (Vec::new(), 1),
        folds,
        seed,
    )
}

/// Trains a candidate on `corpus` (the learner's dataset: the generated
/// corpus of `seed` without the payloads analysts labelled) plus analyst
/// feedback counted `weight` times (the learner of `sentinel run`), gates
/// and registers it. A single stratified hold-out keeps it quick.
pub fn train_with_feedback(
    data_dir: &Path,
    corpus: Vec<(String, ThreatClass)>,
    feedback: &[(String, ThreatClass)],
    weight: usize,
    seed: u64,
) -> anyhow::Result<Trained> {
    register_trained(
        data_dir,
        corpus,
        Some(format!("generated+feedback({})", feedback.len())),
        (feedback.to_vec(), weight),
        1,
        seed,
    )
}

fn register_trained(
    data_dir: &Path,
    samples: Vec<(String, ThreatClass)>,
    dataset_version: Option<String>,
    (feedback, feedback_weight): (Vec<(String, ThreatClass)>, usize),
    folds: usize,
    seed: u64,
) -> anyhow::Result<Trained> {
    let registry = Registry::open(data_dir)?;
    let parent = registry.state()?.active;
    let plan = TrainPlan {
        samples,
        folds: folds.max(1),
        seed,
        config: TrainConfig {
            seed,
            ..TrainConfig::default()
        },
        hasher: NgramHasher::default(),
        gate: GateConfig::default(),
        rule_override: DEFAULT_RULE_OVERRIDE,
        dataset_version,
        parent,
        feedback,
        feedback_weight,
    };
    let report = train(&plan, |_| {});
    let mut meta = report.meta.clone();
    meta.created_at_ms = crate::cli::train::now_ms();
    let meta = registry.register(&report.artifact, meta)?;
    Ok(Trained {
        version: meta.version,
        gate_failures: report.gate_failures.iter().map(|s| s.to_string()).collect(),
        metrics: serde_json::to_value(&report.metrics).unwrap_or_default(),
    })
}
