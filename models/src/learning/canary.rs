//! The canary judgement: promote a candidate once it has scored enough live
//! records without catching markedly fewer attacks than the active model,
//! and without contradicting the analysts' labels given meanwhile more
//! often than the active model does.

use sentinel_schema::ThreatClass;
use serde::{Deserialize, Serialize};

use crate::analysis::Analyzer;
use crate::classifier::{label_of, PayloadClassifier};

/// How a retrained candidate is rolled out (`[learning]` in the configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanaryPolicy {
    /// Percent of client keys routed to the candidate.
    pub percent: f32,
    /// Records the candidate must score before it is judged.
    pub min_records: u64,
    /// Roll back when the candidate's share of flagged records is this much
    /// (absolute) below the active model's: it would miss attacks.
    pub max_flag_rate_drop: f64,
    /// Analyst labels given during the canary (payloads neither model was
    /// trained on with that label) before they count: from this many on, a
    /// candidate that contradicts more of them than the active model does
    /// is rolled back, whatever its flag rate.
    pub min_labels: usize,
    /// Score at which a label counts as an attack (the pipeline's
    /// `tag_threshold`).
    pub label_threshold: f32,
}

impl Default for CanaryPolicy {
    fn default() -> Self {
        CanaryPolicy {
            percent: 10.0,
            min_records: 1_000,
            max_flag_rate_drop: 0.2,
            min_labels: 5,
            label_threshold: 0.5,
        }
    }
}

/// How two models fare on the labels analysts gave during a canary: a
/// model contradicts a label when it calls an attack benign or a benign
/// payload an attack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelCheck {
    /// Labels checked.
    pub labels: usize,
    /// Of those, contradicted by the active model.
    pub active_wrong: usize,
    /// Of those, contradicted by the candidate.
    pub canary_wrong: usize,
}

/// How many of `labels` `model` contradicts (benign against attack, at
/// `threshold`).
pub fn contradicted(
    model: &dyn PayloadClassifier,
    labels: &[(String, ThreatClass)],
    threshold: f32,
) -> usize {
    let mut analyzer = Analyzer::default();
    labels
        .iter()
        .filter(|(payload, label)| {
            let a = analyzer.analyze_new(payload.as_bytes(), true);
            let (predicted, _) = label_of(&model.classify(&a), threshold);
            (predicted == ThreatClass::Benign) != (*label == ThreatClass::Benign)
        })
        .count()
}

/// Checks both models against the labels given during the canary.
pub fn check_labels(
    active: &dyn PayloadClassifier,
    canary: &dyn PayloadClassifier,
    labels: &[(String, ThreatClass)],
    threshold: f32,
) -> LabelCheck {
    LabelCheck {
        labels: labels.len(),
        active_wrong: contradicted(active, labels, threshold),
        canary_wrong: contradicted(canary, labels, threshold),
    }
}

/// What one model version did on live traffic during the canary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionStats {
    /// Records scored.
    pub scored: u64,
    /// Of those, tagged or sent to simulation.
    pub flagged: u64,
}

impl VersionStats {
    /// Share of records flagged.
    pub fn flag_rate(&self) -> f64 {
        if self.scored == 0 {
            0.0
        } else {
            self.flagged as f64 / self.scored as f64
        }
    }
}

/// The outcome of a canary check.
#[derive(Clone, Debug, PartialEq)]
pub enum CanaryDecision {
    /// Not enough records yet.
    Wait,
    /// Make the candidate the active model.
    Promote,
    /// Cancel the canary, with the reason.
    Rollback(String),
}

/// Judges a canary from the traffic each version scored since it started
/// and, when analysts gave enough labels meanwhile, from those labels.
pub fn judge_canary(
    policy: &CanaryPolicy,
    active: VersionStats,
    canary: VersionStats,
    labels: LabelCheck,
) -> CanaryDecision {
    // Ground truth first: it needs no traffic volume to be right.
    if labels.labels >= policy.min_labels.max(1) && labels.canary_wrong > labels.active_wrong {
        return CanaryDecision::Rollback(format!(
            "of {} labels given during the canary the candidate contradicts {}, the active model {}",
            labels.labels, labels.canary_wrong, labels.active_wrong
        ));
    }
    if canary.scored < policy.min_records.max(1) {
        return CanaryDecision::Wait;
    }
    let drop = active.flag_rate() - canary.flag_rate();
    if active.scored > 0 && drop > policy.max_flag_rate_drop {
        return CanaryDecision::Rollback(format!(
            "the candidate flags {:.1}% of its records, the active model {:.1}% (drop above {:.1} points)",
            100.0 * canary.flag_rate(),
            100.0 * active.flag_rate(),
            100.0 * policy.max_flag_rate_drop
        ));
    }
    CanaryDecision::Promote
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_promotes_or_rolls_back() {
        let p = CanaryPolicy {
            percent: 50.0,
            min_records: 100,
            max_flag_rate_drop: 0.2,
            ..CanaryPolicy::default()
        };
        let s = |scored, flagged| VersionStats { scored, flagged };
        let none = LabelCheck::default();
        assert_eq!(
            judge_canary(&p, s(500, 100), s(99, 0), none),
            CanaryDecision::Wait
        );
        assert_eq!(
            judge_canary(&p, s(500, 100), s(100, 15), none),
            CanaryDecision::Promote
        );
        assert!(matches!(
            judge_canary(&p, s(500, 300), s(100, 10), none),
            CanaryDecision::Rollback(_)
        ));
        // Nothing scored by the active model: nothing to compare against.
        assert_eq!(
            judge_canary(&p, s(0, 0), s(100, 0), none),
            CanaryDecision::Promote
        );
    }

    #[test]
    fn labels_given_during_the_canary_can_roll_it_back_early() {
        let p = CanaryPolicy {
            min_records: 100,
            min_labels: 3,
            ..CanaryPolicy::default()
        };
        let s = |scored, flagged| VersionStats { scored, flagged };
        let check = |labels, active_wrong, canary_wrong| LabelCheck {
            labels,
            active_wrong,
            canary_wrong,
        };
        // Worse on the labels: rolled back before any record was scored.
        assert!(matches!(
            judge_canary(&p, s(0, 0), s(0, 0), check(3, 0, 1)),
            CanaryDecision::Rollback(r) if r.contains("contradicts 1")
        ));
        // Too few labels, or no worse: the traffic decides.
        assert_eq!(
            judge_canary(&p, s(0, 0), s(0, 0), check(2, 0, 2)),
            CanaryDecision::Wait
        );
        assert_eq!(
            judge_canary(&p, s(500, 100), s(100, 15), check(4, 3, 3)),
            CanaryDecision::Promote
        );
    }

    #[test]
    fn contradictions_are_counted_benign_against_attack() {
        use crate::classifier::RuleClassifier;
        let labels = vec![
            (
                "' union select password from users--".to_string(),
                ThreatClass::Sqli,
            ),
            ("<script>alert(1)</script>".to_string(), ThreatClass::Sqli),
            ("hello world".to_string(), ThreatClass::Benign),
            (
                "' union select password from users--".to_string(),
                ThreatClass::Benign,
            ),
        ];
        // The class of an attack does not matter, benign against attack does.
        assert_eq!(contradicted(&RuleClassifier, &labels, 0.5), 1);
        let c = check_labels(&RuleClassifier, &RuleClassifier, &labels[..3], 0.5);
        assert_eq!(
            c,
            LabelCheck {
                labels: 3,
                active_wrong: 0,
                canary_wrong: 0
            }
        );
    }
}
