//! The benign-corpus guard: every rule candidate is checked against benign
//! values before the policy sees it. A pattern that fires on any of them is
//! narrowed to the literal payload; a literal that still fires is rejected.
//!
//! The corpus is Sentinel's own generated benign values (hard negatives
//! included: prose with "select … from", O'Brien, code snippets, URLs,
//! JSON, base64, addresses) plus any benign files the operator adds,
//! normalized exactly as payloads are (which is what the rules'
//! transformations reproduce inside the WAF).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use regex::Regex;
use serde::{Deserialize, Serialize};

use sentinel_models::normalize::{normalize, Limits};

use crate::rulegen::RuleCandidate;

/// Guard settings (`[rule_guard]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleGuardConfig {
    /// Generated benign values to check against (seeded, deterministic).
    pub generated_values: usize,
    /// Seed of the generated values.
    pub seed: u64,
    /// Extra benign line files (one value per line).
    pub files: Vec<PathBuf>,
    /// Benign values a rule may fire on and still be kept.
    pub max_hits: usize,
}

impl Default for RuleGuardConfig {
    fn default() -> Self {
        RuleGuardConfig {
            generated_values: 20_000,
            seed: 0x5e_1e_c7,
            files: Vec::new(),
            max_hits: 0,
        }
    }
}

/// What the guard did to a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuardDecision {
    /// The pattern fires on no benign value.
    Kept,
    /// The family pattern fired on `hits` benign values (e.g. the first in
    /// `example`); the candidate now matches the literal payload.
    Narrowed {
        /// Benign values the family pattern fired on.
        hits: usize,
        /// One of them.
        example: String,
    },
    /// Even the literal fires on benign values (or cannot be built).
    Rejected {
        /// Why.
        reason: String,
    },
}

/// Normalized benign values.
#[derive(Debug)]
pub struct BenignCorpus {
    values: Vec<String>,
    /// The values joined by `\n`, for fast literal scans.
    joined: String,
}

impl BenignCorpus {
    /// Builds the corpus from configuration (generated values plus files).
    pub fn from_config(cfg: &RuleGuardConfig) -> std::io::Result<BenignCorpus> {
        let mut raw = sentinel_models::corpus::benign_values(cfg.seed, cfg.generated_values);
        for f in &cfg.files {
            let text = std::fs::read(f)?;
            raw.extend(
                String::from_utf8_lossy(&text)
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string),
            );
        }
        Ok(BenignCorpus::from_raw(raw))
    }

    /// Normalizes `raw` values into a corpus.
    pub fn from_raw(raw: Vec<String>) -> BenignCorpus {
        let limits = Limits::default();
        let mut values: Vec<String> = raw
            .iter()
            .map(|v| normalize(v.as_bytes(), true, &limits).text)
            .filter(|v| !v.is_empty())
            .collect();
        values.sort();
        values.dedup();
        let joined = values.join("\n");
        BenignCorpus { values, joined }
    }

    /// Number of distinct normalized values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Values `re` matches: (count, first example).
    pub fn hits(&self, re: &Regex) -> (usize, Option<&str>) {
        let mut n = 0;
        let mut first = None;
        for v in &self.values {
            if re.is_match(v) {
                n += 1;
                first.get_or_insert(v.as_str());
            }
        }
        (n, first)
    }

    /// Values containing `lit` (one scan of the joined corpus when `lit`
    /// has no line break).
    pub fn literal_hits(&self, lit: &str) -> usize {
        if lit.is_empty() {
            return self.values.len();
        }
        if lit.contains('\n') {
            return self.values.iter().filter(|v| v.contains(lit)).count();
        }
        let mut n = 0;
        let mut last_line_start = usize::MAX;
        for (i, _) in self.joined.match_indices(lit) {
            let line_start = self.joined[..i].rfind('\n').map_or(0, |p| p + 1);
            if line_start != last_line_start {
                n += 1;
                last_line_start = line_start;
            }
        }
        n
    }
}

/// The guard: the corpus and a cache of pattern verdicts (signature
/// patterns repeat across rules, so each is scanned once).
#[derive(Debug)]
pub struct RuleGuard {
    corpus: BenignCorpus,
    max_hits: usize,
    cache: Mutex<HashMap<String, (usize, Option<String>)>>,
    seen: Mutex<std::collections::HashSet<String>>,
}

impl RuleGuard {
    /// A guard over `corpus`.
    pub fn new(corpus: BenignCorpus, max_hits: usize) -> RuleGuard {
        RuleGuard {
            corpus,
            max_hits,
            cache: Mutex::new(HashMap::new()),
            seen: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Builds the guard from configuration.
    pub fn from_config(cfg: &RuleGuardConfig) -> std::io::Result<RuleGuard> {
        Ok(RuleGuard::new(
            BenignCorpus::from_config(cfg)?,
            cfg.max_hits,
        ))
    }

    /// The corpus.
    pub fn corpus(&self) -> &BenignCorpus {
        &self.corpus
    }

    fn pattern_hits(&self, pattern: &str) -> Result<(usize, Option<String>), String> {
        if let Ok(cache) = self.cache.lock() {
            if let Some(v) = cache.get(pattern) {
                return Ok(v.clone());
            }
        }
        let re = Regex::new(pattern).map_err(|e| format!("pattern does not compile: {e}"))?;
        let (n, ex) = self.corpus.hits(&re);
        let v = (n, ex.map(str::to_string));
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(pattern.to_string(), v.clone());
        }
        Ok(v)
    }

    /// Checks (and possibly narrows) a candidate.
    pub fn check(&self, c: &mut RuleCandidate) -> GuardDecision {
        let (hits, example) = match self.pattern_hits(&c.pattern) {
            Ok(v) => v,
            Err(reason) => return GuardDecision::Rejected { reason },
        };
        if hits <= self.max_hits {
            return GuardDecision::Kept;
        }
        if c.signature == "literal" {
            return GuardDecision::Rejected {
                reason: format!(
                    "the literal pattern fires on {hits} benign values (e.g. {:?})",
                    example.unwrap_or_default()
                ),
            };
        }
        // Narrow the family pattern to the literal payload.
        let lit: String = c.sample.chars().take(96).collect();
        if lit.trim().chars().count() < 6 {
            return GuardDecision::Rejected {
                reason: format!(
                    "the pattern fires on {hits} benign values and the payload is too short to match literally"
                ),
            };
        }
        let lit_hits = self.corpus.literal_hits(&lit);
        if lit_hits > self.max_hits {
            return GuardDecision::Rejected {
                reason: format!(
                    "the pattern fires on {hits} benign values and the literal payload on {lit_hits}"
                ),
            };
        }
        c.pattern = regex::escape(&lit);
        c.signature = format!("literal (narrowed from {})", c.signature);
        c.confidence = c.confidence.min(0.85);
        c.rule_id = crate::infer::stable_id(&[
            c.class.as_str().as_bytes(),
            c.variables.join("|").as_bytes(),
            b"rx",
            c.pattern.as_bytes(),
        ]);
        GuardDecision::Narrowed {
            hits,
            example: example.unwrap_or_default(),
        }
    }
}

/// Runs the guard over a batch of candidates (in their deterministic
/// order), auditing every narrowing and rejection; returns the candidates
/// that survive, re-sorted, and how many were rejected.
pub fn guard_batch(
    guard: &RuleGuard,
    batch: Vec<RuleCandidate>,
    audit: &dyn sentinel_schema::AuditHook,
) -> (Vec<RuleCandidate>, usize) {
    let mut kept = Vec::with_capacity(batch.len());
    let mut rejected = 0;
    for mut c in batch {
        let before = c.rule_id.clone();
        // Each candidate rule is decided (and audited) once; repeats of it
        // get the same decision silently.
        let first = guard
            .seen
            .lock()
            .map(|mut s| s.insert(before.clone()))
            .unwrap_or(true);
        let audit: &dyn sentinel_schema::AuditHook = if first {
            audit
        } else {
            &sentinel_schema::NoAudit
        };
        match guard.check(&mut c) {
            GuardDecision::Kept => kept.push(c),
            GuardDecision::Narrowed { hits, example } => {
                audit.audit(
                    "policy",
                    "rule.narrowed",
                    &c.rule_id,
                    serde_json::json!({"from_rule": before, "benign_hits": hits,
                        "benign_example": example, "evidence_id": c.evidence_id}),
                );
                kept.push(c);
            }
            GuardDecision::Rejected { reason } => {
                rejected += 1;
                audit.audit(
                    "policy",
                    "rule.rejected",
                    &c.rule_id,
                    serde_json::json!({"reason": reason, "pattern": c.pattern,
                        "evidence_id": c.evidence_id}),
                );
            }
        }
    }
    kept.sort_by(|a, b| {
        a.order
            .cmp(&b.order)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    (kept, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::ThreatClass;

    fn cand(pattern: &str, signature: &str, sample: &str) -> RuleCandidate {
        RuleCandidate {
            rule_id: "r".into(),
            class: ThreatClass::Sqli,
            variables: vec!["ARGS:q".into()],
            operator: "rx".into(),
            pattern: pattern.into(),
            signature: signature.into(),
            confidence: 0.95,
            evidence_id: "e".into(),
            sample: sample.into(),
            model_version: "m".into(),
            event_time_ms: 0,
            order: (0, String::new(), -1, 0),
            sim_ids: vec![],
        }
    }

    fn guard() -> RuleGuard {
        RuleGuard::new(
            BenignCorpus::from_raw(vec![
                "select a dish from the menu".into(),
                "O'Brien".into(),
                "red shoes".into(),
                "tea%20%26%20biscuits".into(),
            ]),
            0,
        )
    }

    #[test]
    fn clean_patterns_are_kept() {
        let g = guard();
        let mut c = cand(
            r"\bunion\s+select\b",
            "sqli.union_select",
            "1 union select 1",
        );
        assert_eq!(g.check(&mut c), GuardDecision::Kept);
        assert_eq!(c.pattern, r"\bunion\s+select\b");
    }

    #[test]
    fn noisy_patterns_are_narrowed_then_rejected() {
        let g = guard();
        let mut c = cand(
            r"\bselect\b.*\bfrom\b",
            "sqli.select_from",
            "1 and (select password from users)",
        );
        match g.check(&mut c) {
            GuardDecision::Narrowed { hits, example } => {
                assert_eq!(hits, 1);
                assert_eq!(example, "select a dish from the menu");
            }
            d => panic!("{d:?}"),
        }
        assert!(c.signature.starts_with("literal"));
        assert!(c.confidence <= 0.85);
        assert_ne!(c.rule_id, "r");
        assert!(Regex::new(&c.pattern)
            .unwrap()
            .is_match("1 and (select password from users)"));

        // Too short to narrow.
        let mut c = cand("o'", "sqli.quote", "o'");
        assert!(matches!(g.check(&mut c), GuardDecision::Rejected { .. }));
        // A literal that fires (the value is normalized: %26 is &).
        let mut c = cand(r"tea & biscuits", "literal", "tea & biscuits");
        assert!(matches!(g.check(&mut c), GuardDecision::Rejected { .. }));
        // Broken patterns are rejected, not trusted.
        let mut c = cand("(", "x", "whatever value");
        assert!(matches!(g.check(&mut c), GuardDecision::Rejected { .. }));
    }

    #[test]
    fn literal_hits_count_values_not_occurrences() {
        let c = BenignCorpus::from_raw(vec!["aa aa".into(), "b".into(), "xaa".into()]);
        assert_eq!(c.literal_hits("aa"), 2);
        assert_eq!(c.literal_hits("zz"), 0);
    }

    #[test]
    fn the_default_corpus_is_large_and_deterministic() {
        let cfg = RuleGuardConfig {
            generated_values: 2_000,
            ..RuleGuardConfig::default()
        };
        let a = BenignCorpus::from_config(&cfg).unwrap();
        let b = BenignCorpus::from_config(&cfg).unwrap();
        assert!(a.len() > 1_000);
        assert_eq!(a.values, b.values);
    }
}
