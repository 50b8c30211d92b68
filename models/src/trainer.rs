//! Training runs: assemble a corpus, cross-validate, gate, fit the final
//! model, describe it. Also the default model, trained from the generators
//! alone so the product works on a fresh machine.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use sentinel_schema::{ModelMeta, ThreatClass};

use crate::classifier::label_of;
use crate::corpus::{generate, CorpusSize};
use crate::evaluate::{evaluate, GateConfig, Metrics};
use crate::features::payload;
use crate::ml::{
    combine, LinearModel, ModelArtifact, NgramHasher, Scratch, TrainConfig, TrainProgress, Trainer,
    TrainingSet, ML_CLASSES,
};

/// Seed of the default corpus and model.
pub const DEFAULT_SEED: u64 = 20_261_126;

/// Rule-override threshold of the hybrid (signature weight from which a rule wins).
pub const DEFAULT_RULE_OVERRIDE: f32 = 0.9;

/// What a training run does.
#[derive(Clone, Debug)]
pub struct TrainPlan {
    /// Labelled samples.
    pub samples: Vec<(String, ThreatClass)>,
    /// Cross-validation folds (0 or 1: a single stratified 80/20 hold-out).
    pub folds: usize,
    /// Seed of splits and training.
    pub seed: u64,
    /// Hyper-parameters.
    pub config: TrainConfig,
    /// The hasher.
    pub hasher: NgramHasher,
    /// Gating thresholds.
    pub gate: GateConfig,
    /// Rule-override threshold.
    pub rule_override: f32,
    /// Dataset version the samples come from, when any.
    pub dataset_version: Option<String>,
    /// Model this one derives from.
    pub parent: Option<String>,
    /// Analyst-labelled samples (feedback). Their label wins over a corpus
    /// sample with the same payload; each is fitted `feedback_weight` times
    /// per epoch; the final model must classify every one of them as
    /// labelled, or the gate fails (`feedback`).
    pub feedback: Vec<(String, ThreatClass)>,
    /// How many times a feedback sample counts (1: like any other sample).
    pub feedback_weight: usize,
}

/// Stages reported while training.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// Featurizing.
    Featurize(TrainProgress),
    /// Cross-validation fold `fold` of `folds` started.
    Fold {
        /// 1-based fold.
        fold: usize,
        /// Folds in all.
        folds: usize,
    },
    /// An epoch of the current fit.
    Fit(TrainProgress),
    /// Fitting the final model on everything.
    Final,
}

/// What a training run produced.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Cross-validated (or held-out) metrics of the hybrid.
    pub metrics: Metrics,
    /// Gating thresholds failed (empty: passed).
    pub gate_failures: Vec<&'static str>,
    /// The final artifact.
    pub artifact: ModelArtifact,
    /// Its metadata (version and SHA-256 are set by the registry).
    pub meta: ModelMeta,
    /// Time to featurize.
    pub featurize_time: Duration,
    /// Time of one fit on all samples.
    pub final_fit_time: Duration,
}

/// Stratified fold assignment: each class shuffled and dealt round-robin.
pub fn stratified_folds(labels: &[u8], folds: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xF01D);
    let mut out = vec![0usize; labels.len()];
    let max = labels.iter().copied().max().unwrap_or(0) as usize;
    for c in 0..=max {
        let mut idx: Vec<usize> = (0..labels.len())
            .filter(|i| labels[*i] as usize == c)
            .collect();
        idx.shuffle(&mut rng);
        for (j, i) in idx.into_iter().enumerate() {
            out[i] = j % folds.max(1);
        }
    }
    out
}

/// Hybrid predictions of `model` for the samples at `indices`.
fn predict(
    model: &LinearModel,
    set: &TrainingSet,
    indices: &[usize],
    rule_override: f32,
) -> Vec<(ThreatClass, f32)> {
    let mut s = Scratch::default();
    indices
        .iter()
        .map(|&i| {
            s.sparse = set.counts[i].clone();
            model.hasher.tfidf(&mut s.sparse, &model.idf);
            for (j, x) in set.dense[i].iter().enumerate() {
                s.dense[j] = ((crate::ml::model_log_scale(*x) - model.dense_mean[j])
                    / model.dense_std[j])
                    .clamp(-5.0, 5.0);
            }
            let mut m = [0.0; 6];
            model.margins_of(&s, &mut m);
            let ml = LinearModel::scores(&model.softmax(&m));
            let scores = combine(ml, &set.rules[i], &set.dense[i], rule_override);
            let (label, _) = label_of(&scores, 0.5);
            (label, scores.max_attack())
        })
        .collect()
}

/// One label per distinct payload (see [`crate::dataset::clean`]): exact
/// duplicates would sit in several cross-validation folds at once and
/// inflate the figures.
pub fn dedupe(
    samples: &[(String, ThreatClass)],
) -> (Vec<(String, ThreatClass)>, crate::dataset::CleanReport) {
    let as_samples: Vec<crate::dataset::Sample> = samples
        .iter()
        .map(|(p, c)| crate::dataset::Sample {
            payload: p.clone(),
            label: *c,
            origin: crate::dataset::Origin::Manual,
            note: None,
        })
        .collect();
    crate::dataset::clean(&as_samples)
}

/// The corpus without the payloads analysts labelled, then the feedback
/// (deduplicated, the latest label of a payload wins), and the index of the
/// first feedback sample in the result.
fn with_feedback(
    corpus: &[(String, ThreatClass)],
    feedback: &[(String, ThreatClass)],
) -> (Vec<(String, ThreatClass)>, usize) {
    let mut latest: BTreeMap<&str, ThreatClass> = BTreeMap::new();
    for (p, c) in feedback {
        latest.insert(p.as_str(), *c);
    }
    let mut out: Vec<(String, ThreatClass)> = corpus
        .iter()
        .filter(|(p, _)| !latest.contains_key(p.as_str()))
        .cloned()
        .collect();
    let first = out.len();
    let mut seen = std::collections::BTreeSet::new();
    for (p, _) in feedback {
        if seen.insert(p.as_str()) {
            out.push((p.clone(), latest[p.as_str()]));
        }
    }
    (out, first)
}

/// Runs a training plan (samples are deduplicated first, see [`dedupe`]).
pub fn train(plan: &TrainPlan, mut stage: impl FnMut(Stage)) -> TrainReport {
    let t0 = Instant::now();
    let (corpus, cleaning) = dedupe(&plan.samples);
    let (samples, first_feedback) = with_feedback(&corpus, &plan.feedback);
    let weight = plan.feedback_weight.max(1);
    // Feedback samples are repeated in every fitting set.
    let weighted = |idx: Vec<usize>| -> Vec<usize> {
        let mut out = idx.clone();
        for i in idx {
            if i >= first_feedback {
                out.extend(std::iter::repeat_n(i, weight - 1));
            }
        }
        out
    };
    let set = TrainingSet::build(
        samples.iter().map(|(t, c)| (t.as_str(), *c)),
        plan.hasher,
        |p| stage(Stage::Featurize(p)),
    );
    let featurize_time = t0.elapsed();
    let trainer = Trainer {
        config: plan.config,
    };
    let n = set.len();
    let folds = plan.folds.max(1);
    let assignment = stratified_folds(&set.labels, if folds == 1 { 5 } else { folds }, plan.seed);
    let mut truth = Vec::new();
    let mut predicted = Vec::new();
    let mut scores = Vec::new();
    let rounds = if folds == 1 { 1 } else { folds };
    for f in 0..rounds {
        stage(Stage::Fold {
            fold: f + 1,
            folds: rounds,
        });
        let train_idx: Vec<usize> = weighted((0..n).filter(|i| assignment[*i] != f).collect());
        let test_idx: Vec<usize> = (0..n).filter(|i| assignment[*i] == f).collect();
        let model = trainer.fit(&set, &train_idx, |p| stage(Stage::Fit(p)));
        for (i, (label, score)) in
            test_idx
                .iter()
                .zip(predict(&model, &set, &test_idx, plan.rule_override))
        {
            truth.push(ML_CLASSES[set.labels[*i] as usize]);
            predicted.push(label);
            scores.push(score);
        }
    }
    let metrics = evaluate(&truth, &predicted, &scores);
    let mut gate_failures = plan.gate.failures(&metrics);
    stage(Stage::Final);
    let t1 = Instant::now();
    let all: Vec<usize> = weighted((0..n).collect());
    let model = trainer.fit(&set, &all, |p| stage(Stage::Fit(p)));
    let final_fit_time = t1.elapsed();
    // Feedback regression: the final model must agree with every analyst label.
    let fb_idx: Vec<usize> = (first_feedback..n).collect();
    let fb_wrong = fb_idx
        .iter()
        .zip(predict(&model, &set, &fb_idx, plan.rule_override))
        .filter(|(i, (label, _))| ML_CLASSES[set.labels[**i] as usize] != *label)
        .count();
    if fb_wrong > 0 {
        gate_failures.push("feedback");
    }
    let artifact = ModelArtifact {
        kind: "hybrid-logreg".into(),
        feature_schema: payload::VERSION.into(),
        rule_override: plan.rule_override,
        model,
    };
    let mut m = BTreeMap::new();
    m.insert("samples".into(), n as f64);
    m.insert("duplicates_dropped".into(), cleaning.duplicates as f64);
    m.insert("conflicts_dropped".into(), cleaning.dropped as f64);
    m.insert("macro_precision".into(), metrics.macro_precision as f64);
    m.insert("macro_recall".into(), metrics.macro_recall as f64);
    m.insert("macro_f1".into(), metrics.macro_f1 as f64);
    m.insert("accuracy".into(), metrics.accuracy as f64);
    m.insert("attack_tpr".into(), metrics.attack_tpr as f64);
    m.insert("attack_fpr".into(), metrics.attack_fpr as f64);
    for c in &metrics.per_class {
        m.insert(format!("precision_{}", c.class), c.precision as f64);
        m.insert(format!("recall_{}", c.class), c.recall as f64);
        m.insert(format!("f1_{}", c.class), c.f1 as f64);
    }
    for p in &metrics.sweep {
        m.insert(format!("tpr_at_fpr_{}", p.max_fpr), p.tpr as f64);
    }
    m.insert(
        "gate_passed".into(),
        if gate_failures.is_empty() { 1.0 } else { 0.0 },
    );
    for f in &gate_failures {
        m.insert(format!("gate_fail_{f}"), 1.0);
    }
    m.insert("cv_folds".into(), rounds as f64);
    if !fb_idx.is_empty() {
        m.insert("feedback_samples".into(), fb_idx.len() as f64);
        m.insert("feedback_misclassified".into(), fb_wrong as f64);
    }
    let meta = ModelMeta {
        version: String::new(),
        kind: "hybrid-logreg".into(),
        sha256: String::new(),
        dataset_version: plan.dataset_version.clone(),
        feature_schema: payload::VERSION.into(),
        metrics: m,
        parent: plan.parent.clone(),
        created_at_ms: 0,
        seed: Some(plan.seed),
    };
    TrainReport {
        metrics,
        gate_failures,
        artifact,
        meta,
        featurize_time,
        final_fit_time,
    }
}

/// The default corpus: generated only, reproducible.
pub fn default_samples() -> Vec<(String, ThreatClass)> {
    default_samples_with_seed(DEFAULT_SEED)
}

/// The generated corpus of the default size for `seed`.
pub fn default_samples_with_seed(seed: u64) -> Vec<(String, ThreatClass)> {
    generate(seed, CorpusSize::default())
        .into_iter()
        .map(|s| (s.text, s.class))
        .collect()
}

/// The plan of the default model (generated corpus, held-out evaluation).
pub fn default_plan() -> TrainPlan {
    TrainPlan {
        samples: default_samples(),
        folds: 1,
        seed: DEFAULT_SEED,
        config: TrainConfig {
            seed: DEFAULT_SEED,
            ..TrainConfig::default()
        },
        hasher: NgramHasher::default(),
        gate: GateConfig::default(),
        rule_override: DEFAULT_RULE_OVERRIDE,
        dataset_version: Some("generated".into()),
        parent: None,
        feedback: Vec::new(),
        feedback_weight: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_labels_replace_corpus_labels_and_follow_the_corpus() {
        let corpus = vec![
            ("a".to_string(), ThreatClass::Sqli),
            ("b".to_string(), ThreatClass::Benign),
            ("c".to_string(), ThreatClass::Cmdi),
        ];
        let feedback = vec![
            ("c".to_string(), ThreatClass::Xss),
            ("d".to_string(), ThreatClass::Benign),
            ("c".to_string(), ThreatClass::Benign), // the latest label wins
        ];
        let (out, first) = with_feedback(&corpus, &feedback);
        assert_eq!(first, 2);
        assert_eq!(
            out,
            vec![
                ("a".to_string(), ThreatClass::Sqli),
                ("b".to_string(), ThreatClass::Benign),
                ("c".to_string(), ThreatClass::Benign),
                ("d".to_string(), ThreatClass::Benign),
            ]
        );
        assert_eq!(with_feedback(&corpus, &[]), (corpus.clone(), 3));
    }

    #[test]
    fn folds_are_stratified() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 4) as u8).collect();
        let f = stratified_folds(&labels, 5, 1);
        for fold in 0..5 {
            for c in 0..4u8 {
                let n = (0..1000)
                    .filter(|i| f[*i] == fold && labels[*i] == c)
                    .count();
                assert_eq!(n, 50);
            }
        }
    }

    #[test]
    fn a_model_trained_on_scrambled_labels_is_refused() {
        let corpus = generate(
            5,
            CorpusSize {
                per_attack_class: 120,
                benign: 400,
            },
        );
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut labels: Vec<ThreatClass> = corpus.iter().map(|s| s.class).collect();
        labels.shuffle(&mut rng);
        let plan = TrainPlan {
            samples: corpus
                .iter()
                .zip(labels)
                .map(|(s, c)| (s.text.clone(), c))
                .collect(),
            folds: 3,
            seed: 1,
            config: TrainConfig {
                epochs: 3,
                ..TrainConfig::default()
            },
            hasher: NgramHasher {
                bits: 12,
                ..Default::default()
            },
            gate: GateConfig::default(),
            rule_override: 1.1, // no rule rescue: judge the model alone
            dataset_version: None,
            parent: None,
            feedback: Vec::new(),
            feedback_weight: 1,
        };
        let report = train(&plan, |_| {});
        assert!(!report.gate_failures.is_empty(), "{:?}", report.metrics);
        assert_eq!(report.meta.metrics["gate_passed"], 0.0);
    }

    #[test]
    fn a_good_model_passes_the_gate() {
        let corpus = generate(
            6,
            CorpusSize {
                per_attack_class: 200,
                benign: 800,
            },
        );
        let plan = TrainPlan {
            samples: corpus.into_iter().map(|s| (s.text, s.class)).collect(),
            folds: 3,
            seed: 1,
            config: TrainConfig {
                epochs: 3,
                ..TrainConfig::default()
            },
            hasher: NgramHasher {
                bits: 14,
                ..Default::default()
            },
            gate: GateConfig::default(),
            rule_override: DEFAULT_RULE_OVERRIDE,
            dataset_version: None,
            parent: None,
            feedback: Vec::new(),
            feedback_weight: 1,
        };
        let distinct = dedupe(&plan.samples).0.len();
        assert!(distinct < 1800 && distinct > 1500, "{distinct}");
        let report = train(&plan, |_| {});
        assert!(report.gate_failures.is_empty(), "{:?}", report.metrics);
        // Every distinct sample is evaluated exactly once across the folds.
        assert_eq!(report.metrics.samples, distinct);
        assert_eq!(
            report.meta.metrics["duplicates_dropped"] as usize,
            1800 - distinct
        );
    }
}
