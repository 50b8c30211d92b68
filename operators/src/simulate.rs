//! The `simulate` stage: verdicts of `simulate` replay their offending
//! payloads in threat twins (WebAssembly sandboxes) and become
//! [`SimResult`] records; confirmed exploits raise the confidence of the
//! rules generated from them (see [`crate::rulegen::candidates_with_sims`]).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use sentinel_sandbox::guests::twin_name;
use sentinel_sandbox::{GuestModule, Sandbox, Simulation};
use sentinel_schema::{Decision, Finding, SimResult, Verdict, SCHEMA_VERSION};

use crate::infer::stable_id;

/// Simulation settings (`[simulate]` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulateConfig {
    /// Run simulations at all.
    pub enabled: bool,
    /// At most this many payloads per verdict (the strongest first).
    pub max_per_verdict: usize,
    /// Only payloads scoring at least this as their class.
    pub min_payload_score: f32,
    /// Record wall time per result (`duration_us`); off in replays, whose
    /// outputs must be byte-identical from run to run (fuel, which is
    /// deterministic, is always recorded).
    pub record_timing: bool,
}

impl Default for SimulateConfig {
    fn default() -> Self {
        SimulateConfig {
            enabled: true,
            max_per_verdict: 4,
            min_payload_score: 0.5,
            record_timing: false,
        }
    }
}

/// A sandbox with the twin guest loaded, shared by every worker, and the
/// outcomes it has already computed.
pub struct Simulator {
    /// The host.
    pub sandbox: Sandbox,
    /// The twin module (built-in, or a user module with the same ABI).
    pub module: GuestModule,
    /// Deterministic outcomes by SHA-256 of (class, payload): see
    /// `[sandbox] result_cache_entries`. A cryptographic hash, so that no
    /// crafted payload can pass for another and borrow its outcome.
    cache: Option<Mutex<lru::LruCache<[u8; 32], Simulation>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("module", &self.module.name())
            .field("cache", &self.cache.is_some())
            .finish()
    }
}

/// Reuse of simulation outcomes since the simulator started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimCacheStats {
    /// Outcomes served from the cache.
    pub hits: u64,
    /// Simulations run (and kept when deterministic).
    pub misses: u64,
}

impl Simulator {
    /// A simulator running `module` in `sandbox`, with the result cache the
    /// sandbox's configuration asks for.
    pub fn new(sandbox: Sandbox, module: GuestModule) -> Arc<Simulator> {
        let cache = NonZeroUsize::new(sandbox.config().result_cache_entries)
            .map(|n| Mutex::new(lru::LruCache::new(n)));
        Arc::new(Simulator {
            sandbox,
            module,
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// The twin name reported for `class` (`sql`, `xss`, ... for the
    /// built-in guest; the module's name for user modules).
    pub fn twin_for(&self, class: &str) -> Option<String> {
        if self.module.name() == "twins" {
            twin_name(class).map(str::to_string)
        } else {
            twin_name(class).map(|_| self.module.name().to_string())
        }
    }

    /// Runs `payload` as `class`, or returns the outcome of an earlier run
    /// of the same input (with the lookup's own duration). While the panic
    /// button is pressed nothing is served from the cache either.
    pub fn simulate(&self, class: &str, payload: &[u8]) -> Simulation {
        let Some(cache) = &self.cache else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return self.sandbox.simulate(&self.module, class, payload);
        };
        let t0 = Instant::now();
        let mut h = Sha256::new();
        h.update((class.len() as u64).to_le_bytes());
        h.update(class.as_bytes());
        h.update(payload);
        let key: [u8; 32] = h.finalize().into();
        if self.sandbox.armed() {
            let cached = cache.lock().ok().and_then(|mut c| c.get(&key).cloned());
            if let Some(mut sim) = cached {
                self.hits.fetch_add(1, Ordering::Relaxed);
                sim.duration = t0.elapsed();
                return sim;
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let sim = self.sandbox.simulate(&self.module, class, payload);
        let keep = match &sim.report {
            Ok(_) => true,
            Err(e) => e.is_deterministic(),
        };
        if keep {
            if let Ok(mut c) = cache.lock() {
                c.put(key, sim.clone());
            }
        }
        sim
    }

    /// How often outcomes were reused.
    pub fn cache_stats(&self) -> SimCacheStats {
        SimCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// The findings of a verdict that go to simulation, strongest first.
pub fn simulation_targets<'v>(v: &'v Verdict, cfg: &SimulateConfig) -> Vec<&'v Finding> {
    if !cfg.enabled || v.decision != Decision::Simulate {
        return Vec::new();
    }
    let mut targets: Vec<&Finding> = v
        .findings
        .iter()
        .filter(|f| {
            f.label.is_attack()
                && f.score >= cfg.min_payload_score
                && !f.raw.is_empty()
                && twin_name(f.label.as_str()).is_some()
        })
        .collect();
    // Findings are already best-first; keep that order, cut to the budget.
    targets.truncate(cfg.max_per_verdict);
    targets
}

/// The exploit score of a simulation: 1 for a confirmed exploit, 0 when the
/// twin ran and nothing broke, 0 for failures (reported in `error`).
pub fn exploit_score(sim: &Simulation) -> f32 {
    match &sim.report {
        Ok(r) if r.exploit => 1.0,
        _ => 0.0,
    }
}

/// The deterministic id of a simulation.
pub fn sim_id(verdict_id: &str, f: &Finding, twin: &str) -> String {
    let loc = serde_json::to_vec(&f.location).unwrap_or_default();
    stable_id(&[verdict_id.as_bytes(), &loc, twin.as_bytes()])
}

/// Builds the record of one simulation.
pub fn sim_result(
    v: &Verdict,
    f: &Finding,
    twin: &str,
    sim: &Simulation,
    cfg: &SimulateConfig,
) -> SimResult {
    let (exploit, broken, contexts, evidence, error) = match &sim.report {
        Ok(r) => (
            r.exploit,
            r.context.clone().filter(|_| r.exploit),
            r.contexts.clone(),
            r.evidence.clone(),
            None,
        ),
        Err(e) => (false, None, Vec::new(), Vec::new(), Some(e.to_string())),
    };
    SimResult {
        sim_id: sim_id(&v.verdict_id, f, twin),
        evidence_id: v.evidence_id.clone(),
        verdict_id: v.verdict_id.clone(),
        twin: twin.to_string(),
        class: f.label,
        location: f.location.clone(),
        contexts_tried: contexts,
        exploit,
        broken_context: broken,
        score: exploit_score(sim),
        evidence,
        error,
        duration_us: if cfg.record_timing {
            sim.duration.as_micros() as u64
        } else {
            0
        },
        fuel_used: sim.fuel_used,
        schema_version: SCHEMA_VERSION,
        provenance: v.provenance.clone(),
    }
}

/// Runs the simulations a verdict asks for.
pub fn simulate_verdict(sim: &Simulator, v: &Verdict, cfg: &SimulateConfig) -> Vec<SimResult> {
    simulation_targets(v, cfg)
        .into_iter()
        .filter_map(|f| {
            let twin = sim.twin_for(f.label.as_str())?;
            let run = sim.simulate(f.label.as_str(), f.raw.as_bytes());
            Some(sim_result(v, f, &twin, &run, cfg))
        })
        .collect()
}

/// A verdict on its way to the worker that runs its twins, with the raw
/// values of its findings: a verdict never serializes them, and between
/// processes the exchange does.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SimJob {
    verdict: Verdict,
    raws: Vec<String>,
}

impl SimJob {
    /// Wraps `v`, taking its findings' raw values along.
    pub fn new(mut v: Verdict) -> Self {
        let raws = v
            .findings
            .iter_mut()
            .map(|f| std::mem::take(&mut f.raw))
            .collect();
        SimJob { verdict: v, raws }
    }

    /// The verdict, its findings' raw values back in place.
    pub fn into_verdict(self) -> Verdict {
        let SimJob { mut verdict, raws } = self;
        for (f, raw) in verdict.findings.iter_mut().zip(raws) {
            f.raw = raw;
        }
        verdict
    }

    /// The verdict's evidence id.
    pub fn evidence_id(&self) -> &str {
        &self.verdict.evidence_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::{PayloadLocation, Provenance, ThreatClass};

    fn verdict(decision: Decision, findings: Vec<Finding>) -> Verdict {
        let mut v: Verdict = serde_json::from_value(serde_json::json!({
            "verdict_id": "v1", "evidence_id": "e1", "event_time_ms": 0, "client_key": "c",
            "decision": "simulate", "label": "sqli", "score": 0.9, "payload_score": 0.9,
            "behaviour_score": 0.0, "findings": [], "model_version": "m",
            "class_scores": sentinel_schema::ClassScores::default(), "payload_count": 1,
            "schema_version": SCHEMA_VERSION,
            "provenance": Provenance { source: "s".into(), partition: None, offset: 0 },
        }))
        .unwrap();
        v.decision = decision;
        v.findings = findings;
        v
    }

    fn finding(label: ThreatClass, score: f32, raw: &str) -> Finding {
        Finding {
            location: PayloadLocation::Query("q".into()),
            label,
            score,
            signatures: vec![],
            normalized: raw.to_lowercase(),
            raw: raw.into(),
        }
    }

    #[test]
    fn only_simulate_verdicts_with_twin_classes_are_simulated() {
        let cfg = SimulateConfig::default();
        let f = vec![
            finding(ThreatClass::Sqli, 0.9, "1' or '1'='1"),
            finding(ThreatClass::Csrf, 0.9, "x"),
            finding(ThreatClass::Xss, 0.3, "<b>"),
            finding(ThreatClass::Xss, 0.8, ""),
        ];
        let v = verdict(Decision::Simulate, f.clone());
        let t = simulation_targets(&v, &cfg);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].label, ThreatClass::Sqli);
        assert!(simulation_targets(&verdict(Decision::Tag, f.clone()), &cfg).is_empty());
        let off = SimulateConfig {
            enabled: false,
            ..cfg
        };
        assert!(simulation_targets(&v, &off).is_empty());
        let many = verdict(
            Decision::Simulate,
            (0..10)
                .map(|_| finding(ThreatClass::Sqli, 0.9, "1 or 1=1"))
                .collect(),
        );
        assert_eq!(simulation_targets(&many, &cfg).len(), 4);
    }

    #[test]
    fn records_are_deterministic_without_timing() {
        let v = verdict(Decision::Simulate, vec![]);
        let f = finding(ThreatClass::Sqli, 0.9, "1' or '1'='1");
        let run = |us: u64| Simulation {
            report: Ok(sentinel_sandbox::GuestReport {
                exploit: true,
                context: Some("string".into()),
                contexts: vec!["string".into(), "numeric".into()],
                evidence: vec!["tautology".into()],
            }),
            duration: std::time::Duration::from_micros(us),
            fuel_used: 1234,
        };
        let cfg = SimulateConfig::default();
        let a = sim_result(&v, &f, "sql", &run(10), &cfg);
        let b = sim_result(&v, &f, "sql", &run(99), &cfg);
        assert_eq!(a, b);
        assert!(a.exploit && a.score == 1.0 && a.duration_us == 0 && a.fuel_used == 1234);
        assert_eq!(a.broken_context.as_deref(), Some("string"));
        let timed = SimulateConfig {
            record_timing: true,
            ..cfg
        };
        assert_eq!(sim_result(&v, &f, "sql", &run(99), &timed).duration_us, 99);
        let failed = Simulation {
            report: Err(sentinel_sandbox::SimFailure::OutOfFuel(5)),
            duration: Default::default(),
            fuel_used: 5,
        };
        let r = sim_result(&v, &f, "sql", &failed, &cfg);
        assert!(!r.exploit && r.error.is_some() && r.score == 0.0);
    }

    #[test]
    fn a_sim_job_keeps_the_raw_values_through_serialization() {
        let v = verdict(
            Decision::Simulate,
            vec![
                finding(ThreatClass::Sqli, 0.9, "1' OR '1'='1"),
                finding(ThreatClass::Xss, 0.8, "<script>alert(1)</script>"),
            ],
        );
        // The verdict alone loses them (its records never carry raw data).
        let alone: Verdict = serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert!(alone.findings.iter().all(|f| f.raw.is_empty()));
        let job = SimJob::new(v.clone());
        assert_eq!(job.evidence_id(), "e1");
        // As the exchange between processes carries it.
        let bytes = bincode::serialize(&crate::timely_ops::Wire(job)).unwrap();
        let back: crate::timely_ops::Wire<SimJob> = bincode::deserialize(&bytes).unwrap();
        let back = back.into_inner().into_verdict();
        let raws: Vec<&str> = back.findings.iter().map(|f| f.raw.as_str()).collect();
        assert_eq!(raws, ["1' OR '1'='1", "<script>alert(1)</script>"]);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&v).unwrap()
        );
    }
}
