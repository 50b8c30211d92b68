//! The canary judgement: promote a candidate once it has scored enough live
//! records without catching markedly fewer attacks than the active model.

use serde::{Deserialize, Serialize};

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
}

impl Default for CanaryPolicy {
    fn default() -> Self {
        CanaryPolicy {
            percent: 10.0,
            min_records: 1_000,
            max_flag_rate_drop: 0.2,
        }
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

/// Judges a canary from the traffic each version scored since it started.
pub fn judge_canary(
    policy: &CanaryPolicy,
    active: VersionStats,
    canary: VersionStats,
) -> CanaryDecision {
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
        };
        let s = |scored, flagged| VersionStats { scored, flagged };
        assert_eq!(
            judge_canary(&p, s(500, 100), s(99, 0)),
            CanaryDecision::Wait
        );
        assert_eq!(
            judge_canary(&p, s(500, 100), s(100, 15)),
            CanaryDecision::Promote
        );
        assert!(matches!(
            judge_canary(&p, s(500, 300), s(100, 10)),
            CanaryDecision::Rollback(_)
        ));
        // Nothing scored by the active model: nothing to compare against.
        assert_eq!(
            judge_canary(&p, s(0, 0), s(100, 0)),
            CanaryDecision::Promote
        );
    }
}
