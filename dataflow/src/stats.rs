//! Counters shared by the workers of a process (progress bars, summaries, metrics).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sentinel_models::learning::{ScoreHistogram, VersionStats};
use sentinel_operators::timely_ops::WindowGauges;
use sentinel_schema::{Decision, RuleStatus, ThreatClass};

/// Marks a stored drift value (the sign bit: PSI is never negative).
const DRIFT_SET: u64 = 1 << 63;

/// Live counters of a run.
#[derive(Debug, Default)]
pub struct Counters {
    /// Records read from sources (events and dead letters).
    pub records_in: AtomicU64,
    /// Input bytes consumed (compressed bytes for gzip files).
    pub bytes_in: AtomicU64,
    /// Verdicts produced.
    pub verdicts: AtomicU64,
    /// Evidence-ready records produced.
    pub evidence_ready: AtomicU64,
    /// Evidence packages fetched and verified.
    pub packages_verified: AtomicU64,
    /// Evidence packages rejected (unavailable, hash mismatch, bad signature).
    pub packages_rejected: AtomicU64,
    /// Source watermark (event time, ms) per worker.
    watermarks: Mutex<BTreeMap<usize, i64>>,
    /// Consumer lag per Kafka partition (from librdkafka statistics).
    lag: Mutex<BTreeMap<i32, i64>>,
    /// The Kafka source's state per worker.
    sources: Mutex<BTreeMap<usize, SourceStatus>>,
    /// The learner's dataset, when a learner runs.
    learning_dataset: Mutex<Option<crate::DatasetSummary>>,
    /// Rule candidates the benign-corpus guard rejected.
    pub rules_rejected: AtomicU64,
    /// Threat-twin simulations run.
    pub simulations: AtomicU64,
    /// Of those, confirmed exploits.
    pub exploits_confirmed: AtomicU64,
    /// Of those, failures (timeout, fuel, trap, refused by the panic button).
    pub simulation_failures: AtomicU64,
    /// Simulation outcomes served from the simulator's cache (running total).
    pub simulation_cache_hits: AtomicU64,
    /// Simulations actually run in the sandbox (running total).
    pub simulation_cache_misses: AtomicU64,
    /// Verdicts by decision and label.
    by_outcome: Mutex<BTreeMap<(Decision, ThreatClass), u64>>,
    /// Dead letters by reason.
    dead: Mutex<BTreeMap<String, u64>>,
    /// Rules by status.
    rules: Mutex<BTreeMap<RuleStatus, u64>>,
    /// Window gauges.
    pub window: Arc<WindowGauges>,
    /// The payload memos the run's analyzers share (one per process), with
    /// their hit counts.
    pub payload_memos: Arc<sentinel_operators::payload_memo::PayloadMemos>,
    /// What the learner reads: per-version counts and the score histogram
    /// (one lock per verdict for both).
    learning: Mutex<LearningStats>,
    /// The learner's last drift measurement (f64 bits, marked by `DRIFT_SET`).
    drift_psi: AtomicU64,
    /// Time each worker spends in the stateless stage (for dealing a
    /// file's records; see `dealing`).
    pub worker_clocks: crate::worker_clock::WorkerClocks,
}

/// What a worker's Kafka source holds and whether it reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStatus {
    /// Its partitions are paused (backpressure).
    pub paused: bool,
    /// Records released to the graph whose outputs are not yet acknowledged.
    pub downstream: usize,
    /// Records read whose offsets are not yet stored (released or held for the watermark).
    pub in_flight: usize,
    /// The source's capability (timestamp bucket).
    pub time: u64,
    /// The sinks' acknowledgement frontier, `None` once everything is acknowledged.
    pub acked: Option<u64>,
    /// Partitions assigned to the worker.
    pub partitions: usize,
    /// Offsets the broker's responses stepped over (compaction,
    /// transaction markers — or a broker fault).
    pub skipped: u64,
}

/// Verdict statistics the learner reads.
#[derive(Debug, Default)]
struct LearningStats {
    /// Per model version: records scored and flagged (canary judgement).
    by_model: BTreeMap<String, VersionStats>,
    /// Cumulative histogram of verdict payload scores (drift detection).
    scores: ScoreHistogram,
}

impl Counters {
    /// Counts a verdict.
    pub fn verdict(&self, decision: Decision, label: ThreatClass) {
        self.verdicts.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.by_outcome.lock() {
            *m.entry((decision, label)).or_default() += 1;
        }
    }

    /// Counts a verdict with the model version that scored it and its score.
    pub fn verdict_scored(&self, v: &sentinel_schema::Verdict) {
        self.verdict(v.decision, v.label);
        if let Ok(mut l) = self.learning.lock() {
            let e = match l.by_model.get_mut(v.model_version.as_str()) {
                Some(e) => e,
                None => l.by_model.entry(v.model_version.clone()).or_default(),
            };
            e.scored += 1;
            if v.decision != Decision::Benign {
                e.flagged += 1;
            }
            l.scores.add(v.payload_score);
        }
    }

    /// Records scored and flagged per model version, since the start.
    pub fn by_model(&self) -> BTreeMap<String, VersionStats> {
        self.learning
            .lock()
            .map(|l| l.by_model.clone())
            .unwrap_or_default()
    }

    /// Records the learner's latest drift measurement.
    pub fn set_drift_psi(&self, psi: f64) {
        self.drift_psi
            .store(psi.to_bits() | DRIFT_SET, Ordering::Relaxed);
    }

    /// The learner's latest drift measurement, if any.
    pub fn drift_psi(&self) -> Option<f64> {
        let bits = self.drift_psi.load(Ordering::Relaxed);
        (bits & DRIFT_SET != 0).then(|| f64::from_bits(bits & !DRIFT_SET))
    }

    /// The cumulative histogram of verdict payload scores.
    pub fn score_histogram(&self) -> ScoreHistogram {
        self.learning.lock().map(|l| l.scores).unwrap_or_default()
    }

    /// Counts a dead letter.
    pub fn dead_letter(&self, reason: &str) {
        if let Ok(mut m) = self.dead.lock() {
            *m.entry(reason.to_string()).or_default() += 1;
        }
    }

    /// Records a worker's source watermark (event time, ms).
    pub fn set_watermark(&self, worker: usize, event_time_ms: i64) {
        if let Ok(mut m) = self.watermarks.lock() {
            m.insert(worker, event_time_ms);
        }
    }

    /// The least source watermark of this process, if any source reported one.
    pub fn watermark_ms(&self) -> Option<i64> {
        self.watermarks
            .lock()
            .ok()
            .and_then(|m| m.values().min().copied())
    }

    /// Records a partition's consumer lag (messages behind the end).
    pub fn set_lag(&self, partition: i32, lag: i64) {
        if let Ok(mut m) = self.lag.lock() {
            m.insert(partition, lag);
        }
    }

    /// Records a worker's Kafka source state.
    pub fn set_source_status(&self, worker: usize, status: SourceStatus) {
        if let Ok(mut m) = self.sources.lock() {
            m.insert(worker, status);
        }
    }

    /// Records what the learner's dataset holds.
    pub fn set_learning_dataset(&self, summary: crate::DatasetSummary) {
        if let Ok(mut d) = self.learning_dataset.lock() {
            *d = Some(summary);
        }
    }

    /// What the learner's dataset holds, once the learner has built it.
    pub fn learning_dataset(&self) -> Option<crate::DatasetSummary> {
        self.learning_dataset.lock().ok().and_then(|d| d.clone())
    }

    /// The Kafka source state per worker of this process.
    pub fn source_status(&self) -> BTreeMap<usize, SourceStatus> {
        self.sources.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Consumer lag per partition.
    pub fn lag(&self) -> BTreeMap<i32, i64> {
        self.lag.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Counts a threat-twin simulation.
    pub fn simulation(&self, exploit: bool, failed: bool) {
        self.simulations.fetch_add(1, Ordering::Relaxed);
        if exploit {
            self.exploits_confirmed.fetch_add(1, Ordering::Relaxed);
        }
        if failed {
            self.simulation_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the simulator's cache totals (they only grow).
    pub fn simulation_cache(&self, hits: u64, misses: u64) {
        self.simulation_cache_hits
            .fetch_max(hits, Ordering::Relaxed);
        self.simulation_cache_misses
            .fetch_max(misses, Ordering::Relaxed);
    }

    /// Counts a rule by its policy status.
    pub fn rule(&self, status: RuleStatus) {
        if let Ok(mut m) = self.rules.lock() {
            *m.entry(status).or_default() += 1;
        }
    }

    /// Verdicts by (decision, label).
    pub fn outcomes(&self) -> BTreeMap<(Decision, ThreatClass), u64> {
        self.by_outcome
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Dead letters by reason.
    pub fn dead_letters(&self) -> BTreeMap<String, u64> {
        self.dead.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Total dead letters.
    pub fn dead_total(&self) -> u64 {
        self.dead_letters().values().sum()
    }

    /// Rules by status.
    pub fn rules(&self) -> BTreeMap<RuleStatus, u64> {
        self.rules.lock().map(|m| m.clone()).unwrap_or_default()
    }
}
