//! Payload classifiers: the trait every model implements, and the rule classifier.

use sentinel_schema::{ClassScores, ThreatClass};

use crate::analysis::PayloadAnalysis;
use crate::signatures::SIGNATURES;

/// Scores one analyzed payload. Implementations must be deterministic:
/// the same analysis always gives the same scores.
pub trait PayloadClassifier: Send + Sync {
    /// Model version recorded in verdicts (e.g. `rules-v1`).
    fn version(&self) -> &str;

    /// Per-class scores in `[0, 1]`; `benign` is the probability of no attack.
    fn classify(&self, analysis: &PayloadAnalysis) -> ClassScores;

    /// The hybrid model behind this classifier, if it is one (explanations
    /// need its weights).
    fn as_hybrid(&self) -> Option<&crate::ml::HybridClassifier> {
        None
    }
}

/// The signature-based classifier: per class, the noisy-OR of the weights of
/// the matching signatures (independent evidence accumulates:
/// `1 - Π(1 - wᵢ)`); `benign = 1 - max(attack)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RuleClassifier;

/// Version label of the built-in rule classifier.
pub const RULES_VERSION: &str = "rules-v1";

impl PayloadClassifier for RuleClassifier {
    fn version(&self) -> &str {
        RULES_VERSION
    }

    fn classify(&self, analysis: &PayloadAnalysis) -> ClassScores {
        rule_scores(analysis)
    }
}

/// The rule classifier's scores (also used as a feature source by hybrid models).
pub fn rule_scores(analysis: &PayloadAnalysis) -> ClassScores {
    let mut miss = [1.0f32; 7];
    for i in analysis.hits.iter() {
        let s = &SIGNATURES[*i as usize];
        miss[s.class.index()] *= 1.0 - s.weight;
    }
    let mut scores = [0.0f32; 7];
    for class in ThreatClass::PAYLOAD_ATTACKS {
        scores[class.index()] = 1.0 - miss[class.index()];
    }
    apply_dominance(&mut scores);
    let max_attack = ThreatClass::PAYLOAD_ATTACKS
        .iter()
        .map(|c| scores[c.index()])
        .fold(0.0f32, f32::max);
    scores[ThreatClass::Benign.index()] = 1.0 - max_attack;
    ClassScores::from_array(scores)
}

/// Mechanism beats target: a file path inside an XML entity is XXE, inside
/// a shell command it is command injection; markup inside an XXE document is
/// XXE, not XSS. The target class is capped just below the mechanism.
fn apply_dominance(scores: &mut [f32; 7]) {
    let (xxe, cmdi) = (
        scores[ThreatClass::Xxe.index()],
        scores[ThreatClass::Cmdi.index()],
    );
    let path = ThreatClass::PathTraversal.index();
    let xss = ThreatClass::Xss.index();
    if xxe >= 0.8 {
        scores[path] = scores[path].min(xxe - 0.05);
        scores[xss] = scores[xss].min(xxe - 0.05);
    }
    if cmdi >= 0.8 {
        scores[path] = scores[path].min(cmdi - 0.05);
    }
}

/// The label of a score vector at a decision threshold: the top attack
/// class when its score reaches `threshold`, else `benign`.
pub fn label_of(scores: &ClassScores, threshold: f32) -> (ThreatClass, f32) {
    match scores.top_attack() {
        Some((class, s)) if s >= threshold => (class, s),
        _ => (ThreatClass::Benign, scores.max_attack()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;

    #[test]
    fn evidence_accumulates_and_benign_complements() {
        let mut an = Analyzer::default();
        let a = an.analyze_new(b"' union select 1,2 from information_schema.tables--", true);
        let s = RuleClassifier.classify(&a);
        assert!(s.sqli > 0.99);
        assert!((s.benign - (1.0 - s.sqli)).abs() < 1e-6);
        let b = an.analyze_new(b"hello world", true);
        let s = RuleClassifier.classify(&b);
        assert_eq!(s.benign, 1.0);
        assert_eq!(label_of(&s, 0.5).0, ThreatClass::Benign);
    }
}
