//! Inference: payload and behaviour scores combined into a verdict.

use serde::{Deserialize, Serialize};

use sentinel_models::anomaly::BehaviourScorer;
use sentinel_models::explain::{explain_behaviour, verdict_narrative};
use sentinel_models::features::behaviour::N as N_BEHAVIOUR;
use sentinel_models::signatures::SIGNATURES;
use sentinel_schema::{
    Decision, Finding, ThreatClass, Verdict, VerdictExplanation, SCHEMA_VERSION,
};

use crate::aggregate_window::{flood_score, AggregateDim, AggregateFigure, DimSet, FloodThreshold};
use crate::analyze::AnalyzedEvent;

/// How scores combine and where the decision thresholds are.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InferConfig {
    /// Weight of the payload score.
    pub payload_weight: f32,
    /// Weight of the behaviour score.
    pub behaviour_weight: f32,
    /// Combined score at or above which the verdict is `simulate`.
    pub simulate_threshold: f32,
    /// Combined score at or above which the verdict is `tag`.
    pub tag_threshold: f32,
    /// Anomaly (behaviour or profile) score at or above which the verdict
    /// is at least `tag` even without an attack payload (a scanner sending
    /// nothing a signature knows is still worth an analyst's look).
    pub anomaly_tag_threshold: f32,
    /// Which verdicts carry an explanation (Shapley values and a narrative).
    pub explain: ExplainMode,
    /// A network prefix (/24, /64) that sent at least this many requests in
    /// the window …
    pub flood_requests: u32,
    /// … from at least this many addresses is a distributed flood: its
    /// requests get an anomaly of 1 (0 disables).
    pub flood_clients: u32,
    /// Flood threshold of an autonomous system (needs the ASN enrichment
    /// table; disabled by default: an AS aggregates whole populations).
    pub asn_flood: FloodThreshold,
    /// Flood threshold of a User-Agent fingerprint (disabled by default:
    /// every popular browser version is one fingerprint).
    pub user_agent_flood: FloodThreshold,
    /// Flood threshold of a session: requests of one session from many
    /// addresses (disabled by default).
    pub session_flood: FloodThreshold,
}

/// Which verdicts are explained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplainMode {
    /// None (the default: explanations cost time and space).
    #[default]
    Off,
    /// Verdicts that are not benign.
    Alerts,
    /// Every verdict.
    All,
}

impl ExplainMode {
    /// True unless off.
    pub fn on(self) -> bool {
        self != ExplainMode::Off
    }
}

impl Default for InferConfig {
    fn default() -> Self {
        InferConfig {
            payload_weight: 0.6,
            behaviour_weight: 0.4,
            simulate_threshold: 0.75,
            tag_threshold: 0.5,
            anomaly_tag_threshold: 0.9,
            explain: ExplainMode::Off,
            flood_requests: 600,
            flood_clients: 20,
            asn_flood: FloodThreshold::default(),
            user_agent_flood: FloodThreshold::default(),
            session_flood: FloodThreshold::default(),
        }
    }
}

impl InferConfig {
    /// The flood threshold of `dim`.
    pub fn flood(&self, dim: AggregateDim) -> FloodThreshold {
        match dim {
            AggregateDim::Prefix => FloodThreshold {
                requests: self.flood_requests,
                clients: self.flood_clients,
            },
            AggregateDim::Asn => self.asn_flood,
            AggregateDim::UserAgent => self.user_agent_flood,
            AggregateDim::Session => self.session_flood,
        }
    }

    /// The aggregate dimensions with a flood threshold: the ones the graph maintains.
    pub fn aggregate_dims(&self) -> DimSet {
        DimSet::of(
            AggregateDim::ALL
                .into_iter()
                .filter(|d| self.flood(*d).enabled()),
        )
    }

    /// Checks weights and thresholds.
    pub fn validate(&self) -> Result<(), String> {
        let in01 = |v: f32| (0.0..=1.0).contains(&v);
        if !(in01(self.payload_weight) && in01(self.behaviour_weight)) {
            return Err("weights must be in [0, 1]".into());
        }
        if (self.payload_weight + self.behaviour_weight - 1.0).abs() > 1e-3 {
            return Err(format!(
                "payload_weight + behaviour_weight must be 1 (got {} + {})",
                self.payload_weight, self.behaviour_weight
            ));
        }
        if !(in01(self.tag_threshold)
            && in01(self.simulate_threshold)
            && self.tag_threshold <= self.simulate_threshold)
        {
            return Err("thresholds must satisfy 0 <= tag <= simulate <= 1".into());
        }
        if !in01(self.anomaly_tag_threshold) {
            return Err("anomaly_tag_threshold must be in [0, 1]".into());
        }
        Ok(())
    }
}

fn round4(v: f32) -> f32 {
    (v * 10_000.0).round() / 10_000.0
}

/// A deterministic id from parts (32 hex digits).
pub fn stable_id(parts: &[&[u8]]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let mut id = String::with_capacity(32);
    sentinel_schema::push_hex128(&mut id, h.digest128());
    id
}

/// The anomaly reason of a flooding aggregate key.
fn flood_reason(f: &AggregateFigure) -> String {
    let (r, c) = (f.requests, f.clients);
    match f.dim {
        AggregateDim::Prefix => format!(
            "distributed: {r} requests from {c} addresses of {} in the window",
            f.key.trim_start_matches("net:")
        ),
        AggregateDim::Asn => format!(
            "distributed: {r} requests from {c} clients of AS{} in the window",
            f.key.trim_start_matches("asn:")
        ),
        AggregateDim::UserAgent => format!(
            "distributed: {r} requests from {c} clients with one User-Agent ({}) in the window",
            f.key.trim_start_matches("ua:")
        ),
        AggregateDim::Session => format!(
            "shared session: {r} requests from {c} clients in session {} in the window",
            f.key.trim_start_matches("session:")
        ),
    }
}

/// Payload scores below this are not reported as findings or labels.
pub const FINDING_MIN: f32 = 0.2;

/// Builds the verdict of an analyzed event given its behaviour features.
///
/// `anomaly = max(behaviour_score, profile_score)` and
/// `score = payload_weight × payload_score + behaviour_weight × anomaly`;
/// the decision compares the score with the thresholds, and an anomaly at
/// or above `anomaly_tag_threshold` tags on its own. The label is the top
/// attack class when the decision is not `benign` and that class scored at
/// least [`FINDING_MIN`] (else `benign`: only behaviour raised the score).
pub fn verdict(
    ev: &AnalyzedEvent,
    behaviour: &[f32; N_BEHAVIOUR],
    scorer: &BehaviourScorer,
    cfg: &InferConfig,
) -> Verdict {
    verdict_scored(ev, behaviour, scorer.score(behaviour), scorer, cfg)
}

/// [`verdict`] with the behaviour already scored: `raw_behaviour_score` is
/// `scorer.score(behaviour)`, which a caller may take from a
/// [`sentinel_models::anomaly::BehaviourScoreMemo`].
pub fn verdict_scored(
    ev: &AnalyzedEvent,
    behaviour: &[f32; N_BEHAVIOUR],
    raw_behaviour_score: f32,
    scorer: &BehaviourScorer,
    cfg: &InferConfig,
) -> Verdict {
    let payload_score = round4(ev.attack_score());
    let behaviour_score = round4(raw_behaviour_score);
    let floods: Vec<&AggregateFigure> = ev
        .aggregates
        .iter()
        .filter(|f| flood_score(f, cfg.flood(f.dim)) >= 0.5)
        .collect();
    let flood = if floods.is_empty() { 0.0 } else { 1.0 };
    let anomaly = behaviour_score.max(ev.profile_score).max(flood);
    let score = round4(cfg.payload_weight * payload_score + cfg.behaviour_weight * anomaly);
    let decision = if score >= cfg.simulate_threshold {
        Decision::Simulate
    } else if score >= cfg.tag_threshold || anomaly >= cfg.anomaly_tag_threshold {
        Decision::Tag
    } else {
        Decision::Benign
    };
    let label = match decision {
        Decision::Benign => ThreatClass::Benign,
        _ => ev
            .scores
            .top_attack()
            .filter(|(_, s)| *s >= FINDING_MIN)
            .map(|(c, _)| c)
            .unwrap_or(ThreatClass::Benign),
    };
    let mut anomalies = scorer.reasons(behaviour, raw_behaviour_score);
    if ev.profile_score >= 0.5 {
        anomalies.extend(ev.profile_reasons.iter().cloned());
    }
    anomalies.extend(floods.into_iter().map(flood_reason));
    let findings = ev
        .findings
        .iter()
        .map(|f| {
            let (label, score) = f.top();
            Finding {
                location: f.location.clone(),
                label,
                score,
                signatures: f
                    .signatures
                    .iter()
                    .filter_map(|i| SIGNATURES.get(*i as usize).map(|s| s.id.to_string()))
                    .collect(),
                normalized: f.normalized.clone(),
                raw: f.raw.clone(),
            }
        })
        .collect();
    let mut v = Verdict {
        verdict_id: stable_id(&[ev.evidence_id.as_bytes(), ev.model_version.as_bytes()]),
        evidence_id: ev.evidence_id.clone(),
        event_time_ms: ev.event_time_ms,
        client_key: ev.client_key.clone(),
        decision,
        label,
        score,
        payload_score,
        behaviour_score,
        profile_score: ev.profile_score,
        anomalies,
        class_scores: ev.scores,
        findings,
        payload_count: ev.payload_count,
        late: ev.late,
        model_version: ev.model_version.clone(),
        schema_version: SCHEMA_VERSION,
        provenance: ev.provenance.clone(),
        explanation: None,
    };
    let wanted = match cfg.explain {
        ExplainMode::Off => false,
        ExplainMode::Alerts => v.decision != Decision::Benign,
        ExplainMode::All => true,
    };
    if wanted {
        v.explanation = Some(Box::new(explain_verdict(&v, ev, behaviour, scorer, cfg)));
    }
    v
}

/// The explanation of a verdict: the top finding's payload explanation
/// (computed by the analyze stage), exact Shapley values of the behaviour
/// score when it mattered, and the narrative.
pub fn explain_verdict(
    v: &Verdict,
    ev: &AnalyzedEvent,
    behaviour: &[f32; N_BEHAVIOUR],
    scorer: &BehaviourScorer,
    cfg: &InferConfig,
) -> VerdictExplanation {
    let payload = ev.payload_explanation.as_deref().cloned();
    let behaviour = (v.behaviour_score > 0.0).then(|| explain_behaviour(scorer, behaviour));
    let narrative = verdict_narrative(
        v,
        payload.as_ref(),
        behaviour.as_ref(),
        (cfg.payload_weight, cfg.behaviour_weight),
    );
    VerdictExplanation {
        narrative,
        payload,
        behaviour,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_models::features::behaviour::B;
    use sentinel_schema::ClassScores;

    fn ev(sqli: f32) -> AnalyzedEvent {
        AnalyzedEvent {
            scores: ClassScores {
                sqli,
                benign: 1.0 - sqli,
                ..Default::default()
            },
            model_version: "rules-v1".into(),
            ..AnalyzedEvent::for_test("e", "k", 1)
        }
    }

    const H: BehaviourScorer = BehaviourScorer::Heuristic;

    #[test]
    fn weights_and_thresholds() {
        let cfg = InferConfig::default();
        let quiet = [0.0; N_BEHAVIOUR];
        let v = verdict(&ev(1.0), &quiet, &H, &cfg);
        assert_eq!(
            (v.decision, v.label, v.score),
            (Decision::Tag, ThreatClass::Sqli, 0.6)
        );
        let mut scanner = [0.0; N_BEHAVIOUR];
        scanner[B::WindowRequests as usize] = 20.0;
        scanner[B::AttackRatio as usize] = 1.0;
        let v = verdict(&ev(1.0), &scanner, &H, &cfg);
        assert_eq!(v.decision, Decision::Simulate);
        let v = verdict(&ev(0.3), &quiet, &H, &cfg);
        assert_eq!(
            (v.decision, v.label),
            (Decision::Benign, ThreatClass::Benign)
        );
        assert_eq!(v.verdict_id, verdict(&ev(0.3), &quiet, &H, &cfg).verdict_id);
    }

    #[test]
    fn config_validation() {
        assert!(InferConfig::default().validate().is_ok());
        let bad = InferConfig {
            payload_weight: 0.9,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = InferConfig {
            tag_threshold: 0.9,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
