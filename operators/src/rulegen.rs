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
use sentinel_schema::{Finding, PayloadLocation, ThreatClass, Verdict};

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
    })
}

/// Rule candidates for a verdict (one per offending payload, deduplicated by rule id).
pub fn candidates(verdict: &Verdict, min_score: f32) -> Vec<RuleCandidate> {
    if verdict.decision == sentinel_schema::Decision::Benign {
        return Vec::new();
    }
    let mut out: Vec<RuleCandidate> = Vec::new();
    for f in &verdict.findings {
        if let Some(c) = candidates_for(verdict, f, min_score) {
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
}
