//! The learner of `sentinel run` (`[learning] enabled = true`): takes analyst
//! feedback from `events.feedback` into the feedback store, trains a
//! candidate when enough labels arrived or the live scores drifted, gates
//! and registers it, rolls it out as a canary, and promotes or rolls it back
//! from what it did on live traffic — while the pipeline keeps running (the
//! registry watch swaps the models in). Runs on process 0 of a cluster only.

mod intake;
mod state;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use sentinel_dataflow::{Counters, FeedbackDataset};
use sentinel_models::classifier::PayloadClassifier;
use sentinel_models::learning::{
    check_labels, judge_canary, psi, CanaryDecision, FeedbackStore, LabelCheck, LearningConfig,
    ScoreHistogram, VersionStats,
};
use sentinel_models::registry::Registry;
use sentinel_schema::AuditHook;

pub use intake::FeedbackIntake;
pub use state::LearnerState;

/// Everything the learner thread needs.
pub struct Learner {
    /// The data directory (registry, feedback store, learner state).
    pub data_dir: PathBuf,
    /// The policy.
    pub config: LearningConfig,
    /// The pipeline's counters (per-version stats, score histogram).
    pub counters: Arc<Counters>,
    /// Where decisions are recorded.
    pub audit: Arc<dyn AuditHook>,
    /// Feedback from Kafka, when configured.
    pub intake: Option<FeedbackIntake>,
    /// Set when the service stops.
    pub stop: Arc<AtomicBool>,
}

/// The learner's differential dataset and how much of the store it holds.
struct Dataset {
    set: FeedbackDataset,
    /// Store records entered.
    loaded: usize,
    /// Model versions loaded to check the canary against fresh labels.
    classifiers: std::collections::BTreeMap<String, Arc<dyn PayloadClassifier>>,
}

impl Dataset {
    /// A registered version as a classifier, loaded once.
    fn classifier(
        &mut self,
        registry: &Registry,
        version: &str,
    ) -> anyhow::Result<Arc<dyn PayloadClassifier>> {
        if let Some(c) = self.classifiers.get(version) {
            return Ok(c.clone());
        }
        let c = sentinel_models::serving::load_version(registry, version)
            .with_context(|| format!("loading {version} to check the canary"))?;
        // Versions of finished canaries are not needed again.
        if self.classifiers.len() >= 4 {
            self.classifiers.clear();
        }
        self.classifiers.insert(version.to_string(), c.clone());
        Ok(c)
    }
}

/// Drift tracking over the cumulative score histogram.
#[derive(Default)]
struct Drift {
    /// Model version the reference belongs to.
    version: Option<String>,
    /// Snapshot where the reference window started.
    start: ScoreHistogram,
    reference: Option<ScoreHistogram>,
    /// Snapshot where the current live window started.
    live_start: ScoreHistogram,
    last_psi: Option<f64>,
}

impl Drift {
    /// Feeds the current cumulative histogram; returns the PSI of the last
    /// complete live window against the reference of `active`.
    fn update(&mut self, active: &str, now: ScoreHistogram, window: u64) -> Option<f64> {
        if self.version.as_deref() != Some(active) {
            *self = Drift {
                version: Some(active.to_string()),
                start: now,
                ..Drift::default()
            };
        }
        let window = window.max(1);
        match self.reference {
            None => {
                if now.since(&self.start).total() >= window {
                    self.reference = Some(now.since(&self.start));
                    self.live_start = now;
                }
            }
            Some(reference) => {
                let live = now.since(&self.live_start);
                if live.total() >= window {
                    self.last_psi = psi(&reference, &live);
                    self.live_start = now;
                }
            }
        }
        self.last_psi
    }
}

impl Learner {
    /// Starts the learner thread.
    pub fn spawn(self) -> anyhow::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("learner".into())
            .spawn(move || self.run())
            .context("cannot start the learner")
    }

    fn run(mut self) {
        let mut drift = Drift::default();
        let mut dataset: Option<Dataset> = None;
        let interval = Duration::from_millis(self.config.check_ms.max(50));
        while !self.stop.load(Ordering::Relaxed) {
            if let Err(e) = self.tick(&mut drift, &mut dataset) {
                eprintln!("sentinel: learner: {e:#}");
            }
            std::thread::sleep(interval);
        }
    }

    /// One round: intake, canary judgement or retraining trigger.
    fn tick(&mut self, drift: &mut Drift, dataset: &mut Option<Dataset>) -> anyhow::Result<()> {
        let store = FeedbackStore::open(&self.data_dir);
        if let Some(intake) = self.intake.as_mut() {
            let n = intake.drain(&store, self.counters.as_ref())?;
            if n > 0 {
                eprintln!("sentinel: learner: {n} new feedback records");
            }
        }
        // The store (appended by the intake and by `sentinel feedback add`)
        // feeds the differential dataset with what it has not seen yet.
        let stored = store.load()?;
        let data = match dataset {
            Some(d) if d.loaded <= stored.len() => d,
            _ => {
                let trained = LearnerState::load(&self.data_dir)?.trained;
                let corpus = sentinel_models::trainer::default_samples_with_seed(self.config.seed);
                dataset.insert(Dataset {
                    set: FeedbackDataset::new(&corpus, &trained),
                    loaded: 0,
                    classifiers: Default::default(),
                })
            }
        };
        if data.loaded < stored.len() {
            data.set.add(&stored[data.loaded..]);
            data.loaded = stored.len();
            data.set.settle();
        }
        self.counters.set_learning_dataset(data.set.summary());
        let registry = Registry::open(&self.data_dir)?;
        let reg = registry.state()?;
        let active = reg
            .active
            .clone()
            .unwrap_or_else(|| sentinel_models::classifier::RULES_VERSION.into());
        let mut st = LearnerState::load(&self.data_dir)?;
        let by_model = self.counters.by_model();
        let psi = drift.update(
            &active,
            self.counters.score_histogram(),
            self.config.retrain.drift_window,
        );
        if let Some(p) = psi {
            self.counters.set_drift_psi(p.max(0.0));
        }

        // A canary of ours is running: judge it.
        if let Some(c) = st.canary.clone() {
            let still_ours = reg
                .canary
                .as_ref()
                .is_some_and(|rc| rc.version == c.version);
            if !still_ours {
                // Someone promoted or cancelled it meanwhile.
                st.canary = None;
                st.save(&self.data_dir)?;
                return Ok(());
            }
            let since = |v: &str, start: &VersionStats| {
                let now = by_model.get(v).copied().unwrap_or_default();
                VersionStats {
                    scored: now.scored.saturating_sub(start.scored),
                    flagged: now.flagged.saturating_sub(start.flagged),
                }
            };
            let a = since(&c.active, &c.active_start);
            let k = since(&c.version, &c.canary_start);
            // Ground truth neither model was trained on: the labels given
            // since the candidate was trained.
            let fresh = data.set.pending_labels();
            let labels = if fresh.is_empty() {
                LabelCheck::default()
            } else {
                let active_model = data.classifier(&registry, &c.active)?;
                let canary_model = data.classifier(&registry, &c.version)?;
                check_labels(
                    active_model.as_ref(),
                    canary_model.as_ref(),
                    &fresh,
                    self.config.canary.label_threshold,
                )
            };
            match judge_canary(&self.config.canary, a, k, labels) {
                CanaryDecision::Wait => {}
                CanaryDecision::Promote => {
                    registry.promote(&c.version, 100.0, false)?;
                    eprintln!(
                        "sentinel: learner: promoted {} after its canary ({} records, {:.1}% flagged; active {:.1}%)",
                        c.version,
                        k.scored,
                        100.0 * k.flag_rate(),
                        100.0 * a.flag_rate()
                    );
                    self.audit.audit(
                        "learner",
                        "model.promoted",
                        &c.version,
                        serde_json::json!({"canary_records": k.scored, "canary_flagged": k.flagged,
                            "active_records": a.scored, "active_flagged": a.flagged, "previous": c.active,
                            "labels_checked": labels.labels, "labels_contradicted_by_canary": labels.canary_wrong,
                            "labels_contradicted_by_active": labels.active_wrong}),
                    );
                    st.canary = None;
                    st.save(&self.data_dir)?;
                }
                CanaryDecision::Rollback(why) => {
                    registry.rollback()?;
                    eprintln!("sentinel: learner: rolled back canary {}: {why}", c.version);
                    self.audit.audit(
                        "learner",
                        "model.canary_rolled_back",
                        &c.version,
                        serde_json::json!({"reason": why, "labels_checked": labels.labels,
                            "labels_contradicted_by_canary": labels.canary_wrong,
                            "labels_contradicted_by_active": labels.active_wrong}),
                    );
                    st.canary = None;
                    st.save(&self.data_dir)?;
                }
            }
            return Ok(());
        }
        if reg.canary.is_some() {
            // A canary started by someone else: do not interfere.
            return Ok(());
        }

        let Some(reason) = self.config.retrain.should_retrain(data.set.pending(), psi) else {
            return Ok(());
        };
        let labels = data.set.labels();
        let summary = data.set.summary();
        eprintln!(
            "sentinel: learner: training a candidate ({reason}; {} labelled payloads, {} corpus samples kept, {} overridden by analysts)",
            labels.len(),
            summary.corpus_kept,
            summary.corpus_overridden
        );
        let trained = crate::serve::jobs::train_with_feedback(
            &self.data_dir,
            data.set.corpus(),
            &labels,
            self.config.feedback_weight,
            self.config.seed,
        )?;
        st.trained_labels = labels.len();
        st.trained = labels.clone();
        data.set.set_trained(&labels);
        data.set.settle();
        self.counters.set_learning_dataset(data.set.summary());
        self.audit.audit(
            "learner",
            "model.trained",
            &trained.version,
            serde_json::json!({"reason": reason.to_string(), "labels": labels.len(),
                "corpus_overridden": summary.corpus_overridden,
                "gate_failures": trained.gate_failures, "metrics": trained.metrics}),
        );
        if !trained.gate_failures.is_empty() {
            eprintln!(
                "sentinel: learner: candidate {} failed its gate ({}); the active model stays",
                trained.version,
                trained.gate_failures.join(", ")
            );
            st.save(&self.data_dir)?;
            return Ok(());
        }
        if trained.version == active {
            st.save(&self.data_dir)?;
            return Ok(());
        }
        registry.promote(&trained.version, self.config.canary.percent, false)?;
        eprintln!(
            "sentinel: learner: candidate {} is the canary for {}% of clients",
            trained.version, self.config.canary.percent
        );
        self.audit.audit(
            "learner",
            "model.canary_started",
            &trained.version,
            serde_json::json!({"percent": self.config.canary.percent, "active": active}),
        );
        st.canary = Some(state::CanaryRun {
            version: trained.version.clone(),
            active_start: by_model.get(&active).copied().unwrap_or_default(),
            canary_start: by_model.get(&trained.version).copied().unwrap_or_default(),
            active,
        });
        st.save(&self.data_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::{Feedback, FeedbackKind, ThreatClass};

    fn label(payload: &str, kind: FeedbackKind, label: ThreatClass, analyst: &str) -> Feedback {
        Feedback {
            evidence_id: format!("e-{payload}"),
            kind,
            label,
            payload: Some(payload.into()),
            analyst: analyst.into(),
            note: None,
            time_ms: 1,
        }
    }

    /// Analyst A reports three searches as false positives; the learner
    /// trains a candidate that passes its gate and starts a canary. Before
    /// the canary has scored any traffic, analyst B labels the same three
    /// searches as command injection: the candidate contradicts all three
    /// fresh labels, the active model none, and the canary is rolled back.
    #[test]
    fn labels_given_during_a_canary_roll_a_worse_candidate_back() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(dir.path()).unwrap();
        sentinel_models::serving::ensure_default_model(&registry, |_| {}).unwrap();
        let active = registry.state().unwrap().active.unwrap();
        let mut config = LearningConfig {
            enabled: true,
            ..LearningConfig::default()
        };
        config.retrain.after_labels = 3;
        config.canary.min_records = 1_000_000; // traffic alone would never decide
        config.canary.min_labels = 3;
        let mut learner = Learner {
            data_dir: dir.path().to_path_buf(),
            config,
            counters: Arc::new(Counters::default()),
            audit: Arc::new(sentinel_schema::NoAudit),
            intake: None,
            stop: Arc::new(AtomicBool::new(false)),
        };
        let searches = [
            "ls -la tips and tricks",
            "ls -la explained for beginners",
            "ls -la output columns",
        ];
        let store = FeedbackStore::open(dir.path());
        let reports: Vec<Feedback> = searches
            .iter()
            .map(|p| label(p, FeedbackKind::FalsePositive, ThreatClass::Benign, "a"))
            .collect();
        store.append(&reports).unwrap();
        let (mut drift, mut dataset) = (Drift::default(), None);
        learner.tick(&mut drift, &mut dataset).unwrap();
        let canary = registry.state().unwrap().canary.expect("a canary started");
        assert_ne!(canary.version, active);
        // Nothing new: the canary waits for traffic.
        learner.tick(&mut drift, &mut dataset).unwrap();
        assert!(registry.state().unwrap().canary.is_some());

        let overruled: Vec<Feedback> = searches
            .iter()
            .map(|p| label(p, FeedbackKind::Label, ThreatClass::Cmdi, "b"))
            .collect();
        store.append(&overruled).unwrap();
        learner.tick(&mut drift, &mut dataset).unwrap();
        let state = registry.state().unwrap();
        assert!(state.canary.is_none(), "{state:?}");
        assert_eq!(state.active.as_deref(), Some(active.as_str()));
        assert!(LearnerState::load(dir.path()).unwrap().canary.is_none());
    }

    fn hist(low: u64, high: u64) -> ScoreHistogram {
        let mut h = ScoreHistogram::default();
        h.0[0] = low;
        h.0[9] = high;
        h
    }

    #[test]
    fn drift_compares_the_last_window_with_the_first_of_the_model() {
        let mut d = Drift::default();
        // Reference window: 90 % low scores.
        assert_eq!(d.update("m1", hist(0, 0), 100), None);
        assert_eq!(d.update("m1", hist(90, 10), 100), None);
        // The same mix again: no drift.
        let same = d.update("m1", hist(180, 20), 100).unwrap();
        assert!(same.abs() < 1e-9, "{same}");
        // Then mostly high scores: drift.
        let shifted = d.update("m1", hist(200, 100), 100).unwrap();
        assert!(shifted > 0.25, "{shifted}");
        // A new model starts a new reference.
        assert_eq!(d.update("m2", hist(200, 100), 100), None);
    }
}
