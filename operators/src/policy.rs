//! Rule policy: de-duplication, ids, versions and the apply decision.
//!
//! Confidence ≥ `auto_apply` → `auto_applied` (action `block`);
//! ≥ `review` → `proposed` (action `challenge` once approved);
//! below → `log_only` (action `tag`). Equivalent rules (same class,
//! variables, operator and pattern) share one rule id and are emitted once.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use sentinel_schema::{
    RuleAction, RuleProvenance, RuleStatus, ThreatClass, WafRule, SCHEMA_VERSION,
};

use crate::rulegen::{RuleCandidate, TRANSFORMATIONS};

/// Policy thresholds and the ModSecurity id range.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Confidence at or above which rules are applied automatically.
    pub auto_apply: f32,
    /// Confidence at or above which rules are proposed for review.
    pub review: f32,
    /// First ModSecurity rule id to assign.
    pub id_range_start: u64,
    /// Last ModSecurity rule id to assign.
    pub id_range_end: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            auto_apply: 0.9,
            review: 0.7,
            id_range_start: 4_200_000,
            id_range_end: 4_299_999,
        }
    }
}

/// The status and action the policy gives a confidence.
pub fn decide(confidence: f32, cfg: &PolicyConfig) -> (RuleStatus, RuleAction) {
    if confidence >= cfg.auto_apply {
        (RuleStatus::AutoApplied, RuleAction::Block)
    } else if confidence >= cfg.review {
        (RuleStatus::Proposed, RuleAction::Challenge)
    } else {
        (RuleStatus::LogOnly, RuleAction::Tag)
    }
}

fn severity(class: ThreatClass) -> &'static str {
    match class {
        ThreatClass::Sqli | ThreatClass::Cmdi | ThreatClass::Xxe => "CRITICAL",
        ThreatClass::Xss | ThreatClass::PathTraversal => "ERROR",
        _ => "WARNING",
    }
}

/// Renders the `SecRule` text of a rule.
pub fn secrule_text(rule: &WafRule) -> String {
    let disruptive = match rule.action {
        RuleAction::Block => "deny,status:403".to_string(),
        RuleAction::Challenge => "redirect:/.sentinel/challenge".to_string(),
        RuleAction::Tag => "pass".to_string(),
    };
    let transformations: String = rule
        .transformations
        .iter()
        .map(|t| format!(",t:{t}"))
        .collect();
    // A double quote inside the operator argument is written as \x22 (same
    // regex, no quoting pitfalls in the config parser).
    let pattern = rule.pattern.replace('"', "\\x22");
    let msg = rule.msg.replace(['\'', '"', '\\'], "");
    format!(
        "SecRule {} \"@{} {}\" \"id:{},phase:2,{},log,msg:'{}',tag:'sentinel',tag:'sentinel/{}',severity:'{}',ver:'sentinel/{}'{}\"",
        rule.variables.join("|"),
        rule.operator,
        pattern,
        rule.modsec_id,
        disruptive,
        msg,
        rule.class.as_str(),
        rule.severity,
        rule.version,
        transformations,
    )
}

/// The rule registry of one run: emits each rule once and gives it a
/// ModSecurity id derived from its rule id (stable across runs and
/// restarts: `start + xxh3(rule_id) mod range`, probing upwards past ids
/// taken in this run; the gatekeeper resolves the rare collision between
/// runs the same way).
#[derive(Debug, Default)]
pub struct RuleRegistry {
    config: PolicyConfig,
    known: HashMap<String, u64>,
    used: std::collections::HashSet<u64>,
}

/// The preferred ModSecurity id of a rule id within `[start, end]`.
pub fn preferred_modsec_id(rule_id: &str, start: u64, end: u64) -> u64 {
    let span = end.saturating_sub(start) + 1;
    start + xxhash_rust::xxh3::xxh3_64(rule_id.as_bytes()) % span
}

/// The first id at or after `preferred` (wrapping within `[start, end]`)
/// that `taken` does not hold.
pub fn free_modsec_id(
    preferred: u64,
    start: u64,
    end: u64,
    taken: impl Fn(u64) -> bool,
) -> Option<u64> {
    let span = end.saturating_sub(start) + 1;
    (0..span)
        .map(|k| start + (preferred - start + k) % span)
        .find(|id| !taken(*id))
}

impl RuleRegistry {
    /// An empty registry.
    pub fn new(config: PolicyConfig) -> Self {
        RuleRegistry {
            config,
            known: HashMap::new(),
            used: std::collections::HashSet::new(),
        }
    }

    /// Processes candidates (already in deterministic order) and returns the new rules.
    pub fn admit(&mut self, candidates: impl IntoIterator<Item = RuleCandidate>) -> Vec<WafRule> {
        let mut out = Vec::new();
        for c in candidates {
            if self.known.contains_key(&c.rule_id) {
                continue;
            }
            let (start, end) = (self.config.id_range_start, self.config.id_range_end);
            let preferred = preferred_modsec_id(&c.rule_id, start, end);
            let Some(modsec_id) =
                free_modsec_id(preferred, start, end, |id| self.used.contains(&id))
            else {
                // The range is exhausted: nothing more can be numbered.
                continue;
            };
            self.used.insert(modsec_id);
            self.known.insert(c.rule_id.clone(), modsec_id);
            let (status, action) = decide(c.confidence, &self.config);
            let mut rule = WafRule {
                rule_id: c.rule_id,
                modsec_id,
                version: 1,
                class: c.class,
                status,
                action,
                confidence: c.confidence,
                variables: c.variables,
                transformations: TRANSFORMATIONS.iter().map(|t| t.to_string()).collect(),
                operator: c.operator,
                pattern: c.pattern,
                secrule: String::new(),
                msg: format!("Sentinel: {} ({})", c.class.as_str(), c.signature),
                severity: severity(c.class).into(),
                provenance: RuleProvenance {
                    evidence_ids: vec![c.evidence_id],
                    sim_ids: c.sim_ids,
                    samples: vec![c.sample],
                    model_version: c.model_version,
                },
                created_at_ms: c.event_time_ms,
                schema_version: SCHEMA_VERSION,
            };
            rule.secrule = secrule_text(&rule);
            out.push(rule);
        }
        out
    }

    /// Rules known so far.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// True when no rule is known.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, conf: f32) -> RuleCandidate {
        RuleCandidate {
            rule_id: id.into(),
            class: ThreatClass::Sqli,
            variables: vec!["ARGS:q".into()],
            operator: "rx".into(),
            pattern: r#"['"]\s*or"#.into(),
            signature: "sqli.x".into(),
            confidence: conf,
            evidence_id: "e".into(),
            sample: "' or 1=1".into(),
            model_version: "m".into(),
            event_time_ms: 0,
            order: (0, String::new(), -1, 0),
            sim_ids: vec![],
        }
    }

    #[test]
    fn policy_thresholds_and_dedup() {
        let mut r = RuleRegistry::new(PolicyConfig::default());
        let out = r.admit(vec![
            cand("a", 0.95),
            cand("a", 0.95),
            cand("b", 0.8),
            cand("c", 0.5),
        ]);
        assert_eq!(out.len(), 3);
        let id_a = preferred_modsec_id("a", 4_200_000, 4_299_999);
        assert_eq!(
            (out[0].status, out[0].action, out[0].modsec_id),
            (RuleStatus::AutoApplied, RuleAction::Block, id_a)
        );
        assert_eq!(out[1].status, RuleStatus::Proposed);
        assert_eq!(out[2].status, RuleStatus::LogOnly);
        assert!(out[0].secrule.starts_with(&format!(
            "SecRule ARGS:q \"@rx ['\\x22]\\s*or\" \"id:{id_a},phase:2,deny,status:403"
        )));
        assert!(r.admit(vec![cand("a", 0.99)]).is_empty());
        // Stable across registries (runs).
        let mut again = RuleRegistry::new(PolicyConfig::default());
        assert_eq!(again.admit(vec![cand("a", 0.95)])[0].modsec_id, id_a);
    }

    #[test]
    fn modsec_ids_probe_past_collisions_and_wrap() {
        assert_eq!(free_modsec_id(5, 1, 6, |id| id == 5), Some(6));
        assert_eq!(free_modsec_id(6, 1, 6, |id| id >= 5), Some(1));
        assert_eq!(free_modsec_id(3, 1, 6, |_| true), None);
        for id in ["x", "y", "z"] {
            let p = preferred_modsec_id(id, 10, 19);
            assert!((10..=19).contains(&p));
        }
        // A full range admits nothing more.
        let mut r = RuleRegistry::new(PolicyConfig {
            id_range_start: 1,
            id_range_end: 2,
            ..PolicyConfig::default()
        });
        assert_eq!(
            r.admit(vec![cand("a", 0.95), cand("b", 0.95), cand("c", 0.95)])
                .len(),
            2
        );
    }
}
