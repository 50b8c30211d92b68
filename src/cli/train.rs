//! `sentinel train`: train a payload model, cross-validate, gate, register.

use std::io::Write;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use sentinel_models::corpus_files;
use sentinel_models::evaluate::GateConfig;
use sentinel_models::ml::{NgramHasher, TrainConfig, TrainProgress};
use sentinel_models::registry::Registry;
use sentinel_models::trainer::{
    default_samples_with_seed, train, Stage, TrainPlan, DEFAULT_RULE_OVERRIDE, DEFAULT_SEED,
};
use sentinel_schema::ThreatClass;

use super::DataDir;
use crate::models_open::describe_stage;

/// Arguments of `sentinel train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataDir,
    /// Labelled corpora to add: CSV, JSONL, line files as FILE:CLASS, or
    /// directories (mgm/nuclei layout). Example: ../shared/data/httpparams/payload_train.csv
    #[arg(long = "corpus", value_name = "SPEC")]
    corpora: Vec<String>,
    /// A dataset of the data directory to add (NAME or NAME@VERSION).
    #[arg(long)]
    dataset: Option<String>,
    /// Add the analyst feedback of the data directory's feedback store
    /// (`sentinel feedback add`): its labels win over corpus labels of the
    /// same payload, and the model must agree with every one (gate `feedback`).
    #[arg(long)]
    feedback: bool,
    /// How many times a feedback sample counts in training.
    #[arg(long, default_value_t = 25)]
    feedback_weight: usize,
    /// Leave out the generated corpus (train on --corpus/--dataset only).
    #[arg(long)]
    no_generated: bool,
    /// Cross-validation folds (1: a single stratified 80/20 hold-out).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the generated corpus, the folds and the training order.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Passes over the data.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Gate: minimum macro precision.
    #[arg(long, default_value_t = GateConfig::default().min_precision)]
    min_precision: f32,
    /// Gate: minimum macro recall.
    #[arg(long, default_value_t = GateConfig::default().min_recall)]
    min_recall: f32,
    /// Gate: maximum attack-vs-benign false-positive rate.
    #[arg(long, default_value_t = GateConfig::default().max_fpr)]
    max_fpr: f32,
    /// Gate: minimum macro F1.
    #[arg(long, default_value_t = GateConfig::default().min_f1)]
    min_f1: f32,
    /// After registering, promote: 100 makes it active, less starts a canary
    /// at that percent of client keys. Refused if gating failed.
    #[arg(long, value_name = "PERCENT")]
    promote: Option<f32>,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn bar(quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr_with_hz(8));
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Runs the command.
pub fn run(a: TrainArgs) -> anyhow::Result<i32> {
    let mut samples: Vec<(String, ThreatClass)> = Vec::new();
    let mut sources = Vec::new();
    if !a.no_generated {
        let generated = default_samples_with_seed(a.seed);
        sources.push(format!(
            "generated:{} ({} samples)",
            a.seed,
            generated.len()
        ));
        samples.extend(generated);
    }
    for spec in &a.corpora {
        let s = corpus_files::load(spec).with_context(|| format!("cannot load corpus {spec}"))?;
        anyhow::ensure!(!s.is_empty(), "corpus {spec} holds no labelled samples");
        sources.push(format!("{spec} ({} samples)", s.len()));
        samples.extend(s);
    }
    let feedback = if a.feedback {
        let store = sentinel_models::learning::FeedbackStore::open(&a.data.data_dir);
        let f = sentinel_models::learning::feedback_samples(&store.load()?);
        sources.push(format!(
            "feedback {} ({} labelled payloads, weight {})",
            store.path().display(),
            f.len(),
            a.feedback_weight
        ));
        f
    } else {
        Vec::new()
    };
    let mut dataset_version = None;
    if let Some(spec) = &a.dataset {
        let (version, s) = crate::cli::dataset::training_samples(&a.data.data_dir, spec)?;
        sources.push(format!("dataset {spec} = {version} ({} samples)", s.len()));
        samples.extend(s);
        dataset_version = Some(version);
    }
    anyhow::ensure!(
        !samples.is_empty() || !feedback.is_empty(),
        "nothing to train on"
    );
    let registry = Registry::open(&a.data.data_dir)?;
    let parent = registry.state()?.active;
    let plan = TrainPlan {
        samples,
        folds: a.folds.max(1),
        seed: a.seed,
        config: TrainConfig {
            seed: a.seed,
            epochs: a.epochs.max(1),
            ..TrainConfig::default()
        },
        hasher: NgramHasher::default(),
        gate: GateConfig {
            min_precision: a.min_precision,
            min_recall: a.min_recall,
            max_fpr: a.max_fpr,
            min_f1: a.min_f1,
        },
        rule_override: DEFAULT_RULE_OVERRIDE,
        dataset_version: dataset_version.or_else(|| {
            Some(if a.no_generated {
                "files".into()
            } else {
                "generated+files".into()
            })
        }),
        parent,
        feedback,
        feedback_weight: a.feedback_weight.max(1),
    };
    if !a.quiet {
        eprintln!("sentinel: training on {} samples from:", plan.samples.len());
        for s in &sources {
            eprintln!("  {s}");
        }
    }
    let pb = bar(a.quiet);
    let report = train(&plan, |s| {
        match &s {
            Stage::Featurize(TrainProgress::Featurize { done, total }) => {
                pb.set_length(*total as u64);
                pb.set_position(*done as u64);
            }
            Stage::Fit(TrainProgress::Epoch { epoch, epochs, .. }) => {
                pb.set_length(*epochs as u64);
                pb.set_position(*epoch as u64);
            }
            _ => pb.set_position(0),
        }
        pb.set_message(describe_stage(&s));
    });
    pb.finish_and_clear();
    let mut meta = report.meta.clone();
    meta.created_at_ms = now_ms();
    let meta = registry.register(&report.artifact, meta)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({
                "version": meta.version,
                "sha256": meta.sha256,
                "metrics": report.metrics,
                "gate_failures": report.gate_failures,
                "featurize_secs": report.featurize_time.as_secs_f64(),
                "final_fit_secs": report.final_fit_time.as_secs_f64(),
            }),
        )?;
        writeln!(out)?;
    } else {
        let how = if plan.folds > 1 {
            format!("{}-fold cross-validation", plan.folds)
        } else {
            "stratified 20 % hold-out".into()
        };
        writeln!(
            out,
            "Metrics of the hybrid ({how}, {} samples):",
            report.metrics.samples
        )?;
        crate::summary::write_metrics(&mut out, &report.metrics)?;
        writeln!(
            out,
            "featurized in {:.1} s; final fit in {:.1} s",
            report.featurize_time.as_secs_f64(),
            report.final_fit_time.as_secs_f64()
        )?;
        if report.gate_failures.is_empty() {
            writeln!(out, "gate: passed")?;
        } else {
            writeln!(out, "gate: FAILED ({})", report.gate_failures.join(", "))?;
        }
        writeln!(out, "registered {} (sha256 {})", meta.version, meta.sha256)?;
    }
    if let Some(pct) = a.promote {
        match registry.promote(&meta.version, pct, false) {
            Ok(state) => {
                let what = match &state.canary {
                    Some(c) if c.version == meta.version => format!("canary at {}%", c.percent),
                    _ => "active".to_string(),
                };
                if a.json {
                    // Standard output stays one JSON document.
                    eprintln!("sentinel: promoted {}: {what}", meta.version);
                } else {
                    writeln!(out, "promoted {}: {what}", meta.version)?;
                }
            }
            Err(e) => {
                eprintln!("sentinel: not promoted: {e}");
                return Ok(2);
            }
        }
    }
    Ok(if report.gate_failures.is_empty() {
        0
    } else {
        3
    })
}

/// Wall time, ms since the Unix epoch (model creation stamps).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
