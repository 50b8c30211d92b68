//! Rule generation: from offending payloads to ModSecurity / Coraza
//! `SecRule` candidates.
//!
//! A payload is generalized by the detection signature that caught it: the
//! rule's pattern is that signature's regex (a pattern for the attack
//! family, not the literal string), scoped to the variable the payload came
//! from (`ARGS:q`, `REQUEST_HEADERS:User-Agent`, ...), behind the
//! transformations that reproduce Sentinel's normalization inside the WAF.
//! When no signature has a regex, the normalized payload itself is escaped
//! into a literal pattern (narrow, lower confidence).

use serde::{Deserialize, Serialize};

use sentinel_models::signatures::by_id;
use sentinel_schema::{Finding, PayloadLocation, SimResult, ThreatClass, Verdict};

use crate::infer::stable_id;

/// ModSecurity transformations matching Sentinel's normalization pipeline.
pub const TRANSFORMATIONS: &[&str] = &[
    "none",
    "urlDecodeUni",
    "htmlEntityDecode",
    "jsDecode",
    "lowercase",
    "replaceComments",
    "removeNulls",
    "compressWhitespace",
];

/// A rule candidate, before the policy stage assigns id, version and status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleCandidate {
    /// Stable id: hash of class, variables, operator and pattern.
    pub rule_id: String,
    /// Target class.
    pub class: ThreatClass,
    /// ModSecurity variables.
    pub variables: Vec<String>,
    /// Operator (`rx`).
    pub operator: String,
    /// Operator argument.
    pub pattern: String,
    /// The signature that generalized the payload (`literal` when none).
    pub signature: String,
    /// Confidence that the rule blocks attacks and nothing else.
    pub confidence: f32,
    /// Evidence that produced it.
    pub evidence_id: String,
    /// Normalized sample payload.
    pub sample: String,
    /// Model version that scored the payload.
    pub model_version: String,
    /// Event time of the evidence.
    pub event_time_ms: i64,
    /// Ordering key of the evidence (source, partition, offset) for deterministic processing.
    pub order: (i64, String, i32, u64),
    /// Simulations that confirmed the payload.
    #[serde(default)]
    pub sim_ids: Vec<String>,
}

/// Characters allowed in a variable selector name (`ARGS:name`).
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b))
}

/// The ModSecurity variable that holds a payload.
pub fn variable_for(location: &PayloadLocation) -> String {
    match location {
        PayloadLocation::Query(n) | PayloadLocation::Form(n) | PayloadLocation::Multipart(n)
            if safe_name(n) =>
        {
            format!("ARGS:{n}")
        }
        PayloadLocation::Query(_)
        | PayloadLocation::Form(_)
        | PayloadLocation::Multipart(_)
        | PayloadLocation::Json(_) => "ARGS".into(),
        PayloadLocation::Xml(_) | PayloadLocation::Body => "REQUEST_BODY".into(),
        PayloadLocation::Header(n) if safe_name(n) => format!("REQUEST_HEADERS:{n}"),
        PayloadLocation::Header(_) => "REQUEST_HEADERS".into(),
        PayloadLocation::Cookie(n) if safe_name(n) => format!("REQUEST_COOKIES:{n}"),
        PayloadLocation::Cookie(_) => "REQUEST_COOKIES".into(),
        PayloadLocation::Path => "REQUEST_FILENAME".into(),
    }
}

/// Candidates for one finding: the strongest regex signature of its class,
/// or a literal pattern.
pub fn candidates_for(
    verdict: &Verdict,
    finding: &Finding,
    min_score: f32,
) -> Option<RuleCandidate> {
    let (class, score) = (finding.label, finding.score);
    if !class.is_attack() || class == ThreatClass::Csrf || score < min_score {
        return None;
    }
    let best = finding
        .signatures
        .iter()
        .filter_map(|id| by_id(id))
        .filter(|s| s.class == class)
        .filter_map(|s| s.pattern().map(|p| (s, p)))
        .max_by(|a, b| {
            a.0.weight
                .total_cmp(&b.0.weight)
                .then_with(|| b.0.id.cmp(a.0.id))
        });
    let (pattern, signature, confidence) = match best {
        Some((sig, p)) => (
            p.to_string(),
            sig.id.to_string(),
            sig.weight.min(score.max(sig.weight * 0.9)),
        ),
        None => {
            let lit: String = finding.normalized.chars().take(96).collect();
            if lit.trim().len() < 6 {
                return None;
            }
            (
                regex::escape(&lit),
                "literal".to_string(),
                (score * 0.85).min(0.85),
            )
        }
    };
    let variables = vec![variable_for(&finding.location)];
    let rule_id = stable_id(&[
        class.as_str().as_bytes(),
        variables.join("|").as_bytes(),
        b"rx",
        pattern.as_bytes(),
    ]);
    Some(RuleCandidate {
        rule_id,
        class,
        variables,
        operator: "rx".into(),
        pattern,
        signature,
        confidence: (confidence * 10_000.0).round() / 10_000.0,
        evidence_id: verdict.evidence_id.clone(),
        sample: finding.normalized.clone(),
        model_version: verdict.model_version.clone(),
        event_time_ms: verdict.event_time_ms,
        order: (
            verdict.event_time_ms,
            verdict.provenance.source.clone(),
            verdict.provenance.partition.unwrap_or(-1),
            verdict.provenance.offset,
        ),
        sim_ids: Vec::new(),
    })
}

/// Adjusts a candidate by the simulations of its payload: a confirmed
/// exploit halves the remaining doubt (and is cited in the provenance); a
/// twin that ran and was not exploited costs a fifth of the confidence;
/// failed simulations change nothing.
pub fn apply_simulations(c: &mut RuleCandidate, finding: &Finding, sims: &[SimResult]) {
    for s in sims
        .iter()
        .filter(|s| s.location == finding.location && s.class == finding.label)
    {
        if s.exploit {
            c.confidence = 1.0 - (1.0 - c.confidence) * 0.5;
            c.sim_ids.push(s.sim_id.clone());
        } else if s.error.is_none() {
            c.confidence *= 0.8;
        }
    }
    c.confidence = (c.confidence * 10_000.0).round() / 10_000.0;
}

/// Rule candidates for a verdict (one per offending payload, deduplicated by rule id).
pub fn candidates(verdict: &Verdict, min_score: f32) -> Vec<RuleCandidate> {
    candidates_with_sims(verdict, min_score, &[])
}

/// Rule candidates for a verdict whose payloads were simulated (`sims`).
pub fn candidates_with_sims(
    verdict: &Verdict,
    min_score: f32,
    sims: &[SimResult],
) -> Vec<RuleCandidate> {
    if verdict.decision == sentinel_schema::Decision::Benign {
        return Vec::new();
    }
    let mut out: Vec<RuleCandidate> = Vec::new();
    for f in &verdict.findings {
        if let Some(mut c) = candidates_for(verdict, f, min_score) {
            apply_simulations(&mut c, f, sims);
            if !out.iter().any(|o| o.rule_id == c.rule_id) {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables() {
        assert_eq!(
            variable_for(&PayloadLocation::Query("id".into())),
            "ARGS:id"
        );
        assert_eq!(variable_for(&PayloadLocation::Query("a b".into())), "ARGS");
        assert_eq!(
            variable_for(&PayloadLocation::Header("User-Agent".into())),
            "REQUEST_HEADERS:User-Agent"
        );
        assert_eq!(
            variable_for(&PayloadLocation::Cookie("sid".into())),
            "REQUEST_COOKIES:sid"
        );
        assert_eq!(variable_for(&PayloadLocation::Json("/a".into())), "ARGS");
        assert_eq!(variable_for(&PayloadLocation::Path), "REQUEST_FILENAME");
    }

    #[test]
    fn simulations_move_confidence() {
        let f = Finding {
            location: PayloadLocation::Query("q".into()),
            label: ThreatClass::Sqli,
            score: 0.9,
            signatures: vec![],
            normalized: "x".into(),
            raw: "x".into(),
        };
        let base = RuleCandidate {
            rule_id: "r".into(),
            class: ThreatClass::Sqli,
            variables: vec![],
            operator: "rx".into(),
            pattern: "x".into(),
            signature: "s".into(),
            confidence: 0.8,
            evidence_id: "e".into(),
            sample: "x".into(),
            model_version: "m".into(),
            event_time_ms: 0,
            order: (0, String::new(), -1, 0),
            sim_ids: vec![],
        };
        let sim = |exploit: bool, error: Option<&str>, loc: &str| SimResult {
            sim_id: "s1".into(),
            evidence_id: "e".into(),
            verdict_id: "v".into(),
            twin: "sql".into(),
            class: ThreatClass::Sqli,
            location: PayloadLocation::Query(loc.into()),
            contexts_tried: vec![],
            exploit,
            broken_context: None,
            score: if exploit { 1.0 } else { 0.0 },
            evidence: vec![],
            error: error.map(String::from),
            duration_us: 0,
            fuel_used: 0,
            schema_version: 1,
            provenance: Default::default(),
        };
        let mut c = base.clone();
        apply_simulations(&mut c, &f, &[sim(true, None, "q")]);
        assert_eq!((c.confidence, c.sim_ids.len()), (0.9, 1));
        let mut c = base.clone();
        apply_simulations(&mut c, &f, &[sim(false, None, "q")]);
        assert_eq!((c.confidence, c.sim_ids.len()), (0.64, 0));
        let mut c = base.clone();
        apply_simulations(
            &mut c,
            &f,
            &[sim(false, Some("timeout"), "q"), sim(true, None, "other")],
        );
        assert_eq!(c, base);
    }
}
