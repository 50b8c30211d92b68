//! Serving: the models in use (active and canary), the prediction cache,
//! the circuit breaker that falls back to the rules, latency histograms,
//! and the default-model bootstrap.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lru::LruCache;
use serde::Serialize;

use sentinel_schema::{ClassScores, ModelMeta, ThreatClass};

use crate::analysis::Analyzer;
use crate::classifier::{label_of, PayloadClassifier, RuleClassifier, RULES_VERSION};
use crate::ml::HybridClassifier;
use crate::registry::{route, Registry, RegistryError};
use crate::trainer::{default_plan, train, Stage};

/// The models a process serves: the active one and, during a rollout, a canary.
#[derive(Clone)]
pub struct ModelSet {
    /// The active model.
    pub active: Arc<dyn PayloadClassifier>,
    /// The canary and the percent of client keys routed to it.
    pub canary: Option<(Arc<dyn PayloadClassifier>, f32)>,
}

impl std::fmt::Debug for ModelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSet")
            .field("active", &self.active.version())
            .field(
                "canary",
                &self
                    .canary
                    .as_ref()
                    .map(|(c, p)| (c.version().to_string(), *p)),
            )
            .finish()
    }
}

impl ModelSet {
    /// Only the rule classifier.
    pub fn rules() -> Self {
        ModelSet {
            active: Arc::new(RuleClassifier),
            canary: None,
        }
    }

    /// One model for everyone.
    pub fn single(c: Arc<dyn PayloadClassifier>) -> Self {
        ModelSet {
            active: c,
            canary: None,
        }
    }

    /// The model a client key is served by (deterministic canary routing),
    /// and its index (0 active, 1 canary).
    pub fn for_client(&self, client_key: &str) -> (&Arc<dyn PayloadClassifier>, u8) {
        match &self.canary {
            Some((c, pct)) => {
                if route(client_key, "a", Some(("c", *pct))) == "c" {
                    (c, 1)
                } else {
                    (&self.active, 0)
                }
            }
            None => (&self.active, 0),
        }
    }
}

/// Loads a registered version as a classifier (`rules-v1` is built in).
pub fn load_version(
    registry: &Registry,
    version: &str,
) -> Result<Arc<dyn PayloadClassifier>, RegistryError> {
    if version == RULES_VERSION {
        return Ok(Arc::new(RuleClassifier));
    }
    let artifact = registry.load(version)?;
    Ok(Arc::new(HybridClassifier::new(artifact, version)))
}

/// Loads the active model and the canary of a registry.
pub fn load_models(registry: &Registry) -> Result<ModelSet, RegistryError> {
    let state = registry.state()?;
    let active = load_version(registry, state.active.as_deref().unwrap_or(RULES_VERSION))?;
    let canary = match &state.canary {
        Some(c) => Some((load_version(registry, &c.version)?, c.percent)),
        None => None,
    };
    Ok(ModelSet { active, canary })
}

/// Makes sure a fresh data directory has a model: when the registry holds
/// no version at all, trains the default model from the generators alone
/// (reproducibly: the same binary always produces the same artifact),
/// registers it and makes it active. Returns the metadata of what it trained.
pub fn ensure_default_model(
    registry: &Registry,
    stage: impl FnMut(Stage),
) -> Result<Option<ModelMeta>, RegistryError> {
    if !registry.state()?.versions.is_empty() {
        return Ok(None);
    }
    // Another process may be bootstrapping the same directory: decide under the lock.
    let tx = registry.transaction()?;
    if !tx.state()?.versions.is_empty() {
        return Ok(None);
    }
    let report = train(&default_plan(), stage);
    let mut meta = report.meta;
    meta.created_at_ms = 0;
    let meta = tx.register(&report.artifact, meta)?;
    tx.promote(&meta.version, 100.0, true)?;
    Ok(Some(meta))
}

/// Opens the registry of `data_dir`, bootstrapping the default model if
/// needed, and loads the models to serve.
pub fn open_models(data_dir: &Path, stage: impl FnMut(Stage)) -> Result<ModelSet, RegistryError> {
    let registry = Registry::open(data_dir)?;
    ensure_default_model(&registry, stage)?;
    load_models(&registry)
}

/// A prediction for one payload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The label at the decision threshold.
    pub label: ThreatClass,
    /// Probability that the payload is an attack.
    pub score: f32,
    /// Per-class scores.
    pub class_scores: ClassScores,
    /// Matching signature ids.
    pub signatures: Vec<&'static str>,
    /// The model that produced it.
    pub model_version: String,
    /// True when served from the cache.
    pub cached: bool,
    /// True when the breaker had the rules answer instead of the model.
    pub degraded: bool,
}

/// A least-recently-used prediction cache with a time to live.
pub struct PredictionCache {
    entries: LruCache<(u128, u8), (Instant, Prediction)>,
    ttl: Duration,
    hits: u64,
    misses: u64,
    expired: u64,
}

impl PredictionCache {
    /// A cache of `capacity` entries living `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        PredictionCache {
            entries: LruCache::new(NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN)),
            ttl,
            hits: 0,
            misses: 0,
            expired: 0,
        }
    }

    fn key(payload: &[u8], context: u8) -> (u128, u8) {
        (xxhash_rust::xxh3::xxh3_128(payload), context)
    }

    /// A fresh cached prediction.
    pub fn get(&mut self, payload: &[u8], context: u8, now: Instant) -> Option<Prediction> {
        let k = Self::key(payload, context);
        match self.entries.get(&k) {
            Some((at, p)) if now.duration_since(*at) < self.ttl => {
                self.hits += 1;
                let mut p = p.clone();
                p.cached = true;
                Some(p)
            }
            Some(_) => {
                self.entries.pop(&k);
                self.expired += 1;
                self.misses += 1;
                None
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Stores a prediction.
    pub fn put(&mut self, payload: &[u8], context: u8, now: Instant, p: Prediction) {
        self.entries.put(Self::key(payload, context), (now, p));
    }

    /// Drops everything (after a model change).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// `(hits, misses, expired)`.
    pub fn stats(&self) -> (u64, u64, u64) {
        (self.hits, self.misses, self.expired)
    }
}

/// Breaker states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// The model serves.
    Closed,
    /// The rules serve until the cool-down ends.
    Open,
    /// One trial call decides whether to close again.
    HalfOpen,
}

/// Trips to the rule classifier when at least `failure_ratio` of the last
/// `window` calls failed (errors or over the latency budget), with at least
/// `min_calls` calls seen; after `cooldown` one trial call decides.
#[derive(Debug)]
pub struct CircuitBreaker {
    window: Vec<bool>,
    next: usize,
    filled: usize,
    min_calls: usize,
    failure_ratio: f32,
    cooldown: Duration,
    state: BreakerState,
    opened_at: Option<Instant>,
    trips: u64,
}

impl CircuitBreaker {
    /// A breaker over the last `window` calls.
    pub fn new(window: usize, min_calls: usize, failure_ratio: f32, cooldown: Duration) -> Self {
        CircuitBreaker {
            window: vec![false; window.max(1)],
            next: 0,
            filled: 0,
            min_calls,
            failure_ratio,
            cooldown,
            state: BreakerState::Closed,
            opened_at: None,
            trips: 0,
        }
    }

    /// Whether the model may be called now (moves Open → HalfOpen after the cool-down).
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed | BreakerState::HalfOpen => true,
            BreakerState::Open => {
                if self
                    .opened_at
                    .is_some_and(|t| now.duration_since(t) >= self.cooldown)
                {
                    self.state = BreakerState::HalfOpen;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Records the outcome of a model call.
    pub fn record(&mut self, ok: bool, now: Instant) {
        match self.state {
            BreakerState::HalfOpen => {
                if ok {
                    self.state = BreakerState::Closed;
                    self.window.iter_mut().for_each(|w| *w = false);
                    self.filled = 0;
                } else {
                    self.state = BreakerState::Open;
                    self.opened_at = Some(now);
                    self.trips += 1;
                }
            }
            BreakerState::Closed => {
                self.window[self.next] = !ok;
                self.next = (self.next + 1) % self.window.len();
                self.filled = (self.filled + 1).min(self.window.len());
                let failures = self.window[..self.filled].iter().filter(|f| **f).count();
                if self.filled >= self.min_calls
                    && failures as f32 >= self.failure_ratio * self.filled as f32
                {
                    self.state = BreakerState::Open;
                    self.opened_at = Some(now);
                    self.trips += 1;
                }
            }
            BreakerState::Open => {}
        }
    }

    /// The state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Times it has tripped.
    pub fn trips(&self) -> u64 {
        self.trips
    }
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Maximum.
    pub max_us: u64,
}

/// A latency histogram (1 µs to 60 s, 3 significant digits).
#[derive(Debug)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        // Valid bounds and precision: construction cannot fail.
        LatencyHistogram(
            Histogram::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|e| panic!("histogram bounds: {e}")),
        )
    }
}

impl LatencyHistogram {
    /// Records a duration.
    pub fn record(&mut self, d: Duration) {
        let _ = self.0.record((d.as_micros() as u64).clamp(1, 60_000_000));
    }

    /// Percentiles.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.0.len(),
            p50_us: self.0.value_at_quantile(0.5),
            p99_us: self.0.value_at_quantile(0.99),
            max_us: self.0.max(),
        }
    }
}

/// Breaker and cache settings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServingConfig {
    /// Cached predictions.
    pub cache_entries: usize,
    /// Cache time to live, seconds.
    pub cache_ttl_secs: u64,
    /// A model call slower than this counts as a failure, microseconds.
    pub latency_budget_us: u64,
    /// Breaker window (calls).
    pub breaker_window: usize,
    /// Calls needed before the breaker may trip.
    pub breaker_min_calls: usize,
    /// Failure share that trips the breaker.
    pub breaker_failure_ratio: f32,
    /// Time the breaker stays open, seconds.
    pub breaker_cooldown_secs: u64,
}

impl Default for ServingConfig {
    fn default() -> Self {
        ServingConfig {
            cache_entries: 10_000,
            cache_ttl_secs: 3600,
            latency_budget_us: 50_000,
            breaker_window: 100,
            breaker_min_calls: 20,
            breaker_failure_ratio: 0.2,
            breaker_cooldown_secs: 30,
        }
    }
}

struct EngineState {
    analyzer: Analyzer,
    cache: PredictionCache,
    breaker: CircuitBreaker,
    latency: LatencyHistogram,
    models: ModelSet,
}

/// The single-payload prediction engine behind `classify` and the API:
/// cache → model (active or canary by client key) behind the breaker,
/// with the rule classifier as the fallback.
pub struct ServingEngine {
    state: Mutex<EngineState>,
    config: ServingConfig,
}

/// Counters of a serving engine.
#[derive(Clone, Debug, Serialize)]
pub struct EngineHealth {
    /// Active model.
    pub active: String,
    /// Canary model and percent.
    pub canary: Option<(String, f32)>,
    /// Breaker state.
    pub breaker: BreakerState,
    /// Breaker trips.
    pub breaker_trips: u64,
    /// Cache hits, misses, expirations.
    pub cache: (u64, u64, u64),
    /// Model latency.
    pub latency: LatencySummary,
}

impl ServingEngine {
    /// An engine serving `models`.
    pub fn new(models: ModelSet, config: ServingConfig) -> Self {
        ServingEngine {
            state: Mutex::new(EngineState {
                analyzer: Analyzer::default(),
                cache: PredictionCache::new(
                    config.cache_entries,
                    Duration::from_secs(config.cache_ttl_secs),
                ),
                breaker: CircuitBreaker::new(
                    config.breaker_window,
                    config.breaker_min_calls,
                    config.breaker_failure_ratio,
                    Duration::from_secs(config.breaker_cooldown_secs),
                ),
                latency: LatencyHistogram::default(),
                models,
            }),
            config,
        }
    }

    /// Swaps the models (promotion, rollback); clears the cache.
    pub fn set_models(&self, models: ModelSet) {
        if let Ok(mut s) = self.state.lock() {
            s.models = models;
            s.cache.clear();
        }
    }

    /// Predicts one payload for a client (`form`: `+` means space).
    pub fn predict(&self, payload: &[u8], form: bool, client_key: &str) -> Prediction {
        let Ok(mut guard) = self.state.lock() else {
            return Prediction {
                label: ThreatClass::Benign,
                score: 0.0,
                class_scores: ClassScores::default(),
                signatures: Vec::new(),
                model_version: "unavailable".into(),
                cached: false,
                degraded: true,
            };
        };
        let s = &mut *guard;
        let now = Instant::now();
        let (model, idx) = s.models.for_client(client_key);
        let model = model.clone();
        let context = idx << 1 | u8::from(form);
        if let Some(p) = s.cache.get(payload, context, now) {
            return p;
        }
        let a = s.analyzer.analyze_new(payload, form);
        let allowed = s.breaker.allow(now);
        let (scores, version, degraded) = if allowed {
            let t = Instant::now();
            let scores = model.classify(&a);
            let took = t.elapsed();
            s.latency.record(took);
            let ok = scores.to_array().iter().all(|v| v.is_finite())
                && took.as_micros() as u64 <= self.config.latency_budget_us;
            s.breaker.record(ok, Instant::now());
            if ok {
                (scores, model.version().to_string(), false)
            } else {
                (RuleClassifier.classify(&a), RULES_VERSION.to_string(), true)
            }
        } else {
            (RuleClassifier.classify(&a), RULES_VERSION.to_string(), true)
        };
        let scores = scores.rounded();
        let (label, score) = label_of(&scores, 0.5);
        let p = Prediction {
            label,
            score: (score * 10_000.0).round() / 10_000.0,
            class_scores: scores,
            signatures: a.signature_ids().collect(),
            model_version: version,
            cached: false,
            degraded,
        };
        if !degraded {
            s.cache.put(payload, context, now, p.clone());
        }
        p
    }

    /// Counters for health endpoints and metrics.
    pub fn health(&self) -> Option<EngineHealth> {
        let s = self.state.lock().ok()?;
        Some(EngineHealth {
            active: s.models.active.version().to_string(),
            canary: s
                .models
                .canary
                .as_ref()
                .map(|(c, p)| (c.version().to_string(), *p)),
            breaker: s.breaker.state(),
            breaker_trips: s.breaker.trips(),
            cache: s.cache.stats(),
            latency: s.latency.summary(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_ttl_and_lru() {
        let mut c = PredictionCache::new(2, Duration::from_millis(50));
        let p = Prediction {
            label: ThreatClass::Benign,
            score: 0.0,
            class_scores: ClassScores::default(),
            signatures: vec![],
            model_version: "m".into(),
            cached: false,
            degraded: false,
        };
        let t0 = Instant::now();
        c.put(b"a", 0, t0, p.clone());
        assert!(c.get(b"a", 0, t0).unwrap().cached);
        assert!(c.get(b"a", 1, t0).is_none(), "context is part of the key");
        assert!(
            c.get(b"a", 0, t0 + Duration::from_millis(60)).is_none(),
            "expired"
        );
        c.put(b"x", 0, t0, p.clone());
        c.put(b"y", 0, t0, p.clone());
        c.put(b"z", 0, t0, p);
        assert!(c.get(b"x", 0, t0).is_none(), "evicted");
        assert_eq!(c.stats().2, 1);
    }

    #[test]
    fn breaker_transitions() {
        let mut b = CircuitBreaker::new(10, 5, 0.2, Duration::from_millis(30));
        let t = Instant::now();
        for _ in 0..4 {
            b.record(true, t);
        }
        b.record(false, t); // 1 of 5 = 20 % → trips
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow(t));
        let later = t + Duration::from_millis(40);
        assert!(b.allow(later));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.record(false, later);
        assert_eq!(b.state(), BreakerState::Open);
        let later2 = later + Duration::from_millis(40);
        assert!(b.allow(later2));
        b.record(true, later2);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.trips(), 2);
    }

    /// A model that is too slow: the breaker degrades to the rules.
    struct Slow;
    impl PayloadClassifier for Slow {
        fn version(&self) -> &str {
            "slow-v1"
        }
        fn classify(&self, _a: &crate::PayloadAnalysis) -> ClassScores {
            std::thread::sleep(Duration::from_millis(3));
            ClassScores {
                benign: 1.0,
                ..Default::default()
            }
        }
    }

    #[test]
    fn slow_model_degrades_to_rules() {
        let cfg = ServingConfig {
            latency_budget_us: 1000,
            breaker_min_calls: 5,
            ..ServingConfig::default()
        };
        let e = ServingEngine::new(ModelSet::single(Arc::new(Slow)), cfg);
        for i in 0..10 {
            let p = e.predict(format!("1' or '1'='1 {i}").as_bytes(), true, "k");
            assert_eq!(p.label, ThreatClass::Sqli, "the fallback still detects");
            assert!(p.degraded);
        }
        assert_eq!(e.health().unwrap().breaker, BreakerState::Open);
    }
}
