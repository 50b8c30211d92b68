//! Behaviour explanations: exact Shapley values of the behaviour score over
//! the nine window features (2⁹ coalitions; absent features take their
//! baseline value — the median ordinary window).

use sentinel_schema::{BehaviourExplanation, Contribution, ContributionKind};

use super::shapley;
use crate::anomaly::BehaviourScorer;
use crate::features::behaviour::{N, SPECS};

/// Explains `scorer`'s score of window `f`.
pub fn explain_behaviour(scorer: &BehaviourScorer, f: &[f32; N]) -> BehaviourExplanation {
    let base = scorer.baseline();
    let v = |mask: u32| -> f64 {
        let mut x = base;
        for (i, xi) in x.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *xi = f[i];
            }
        }
        scorer.score(&x) as f64
    };
    let phi = shapley::exact(N, v);
    let mut contributions: Vec<Contribution> = phi
        .iter()
        .enumerate()
        .map(|(i, p)| Contribution {
            kind: ContributionKind::Behaviour,
            name: SPECS[i].name.to_string(),
            value: f[i],
            baseline: base[i],
            phi: *p as f32,
            spans: Vec::new(),
        })
        .collect();
    contributions.sort_by(|a, b| {
        b.phi
            .abs()
            .total_cmp(&a.phi.abs())
            .then_with(|| a.name.cmp(&b.name))
    });
    BehaviourExplanation {
        scorer: scorer.name().to_string(),
        score: scorer.score(f),
        baseline: scorer.score(&base),
        contributions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::behaviour::B;

    #[test]
    fn efficient_and_blames_the_right_features() {
        let mut f = [0.0; N];
        f[B::WindowRequests as usize] = 40.0;
        f[B::RequestsPerMinute as usize] = 400.0;
        f[B::ErrorRate as usize] = 0.9;
        f[B::DistinctPaths as usize] = 38.0;
        f[B::UaDistinct as usize] = 1.0;
        for scorer in [
            BehaviourScorer::Heuristic,
            BehaviourScorer::from_config(&crate::anomaly::BehaviourModelConfig {
                simulated_clients: 400,
                ..Default::default()
            }),
        ] {
            let e = explain_behaviour(&scorer, &f);
            let sum: f32 = e.contributions.iter().map(|c| c.phi).sum();
            assert!(
                (sum - (e.score - e.baseline)).abs() < 1e-4,
                "{sum} vs {}",
                e.score - e.baseline
            );
            // Features equal to their baseline get nothing (dummy property).
            for c in &e.contributions {
                if c.value == c.baseline {
                    assert!(c.phi.abs() < 1e-6, "{c:?}");
                }
            }
            let top: Vec<&str> = e
                .contributions
                .iter()
                .take(3)
                .map(|c| c.name.as_str())
                .collect();
            assert!(
                top.iter().any(|n| [
                    "error_rate",
                    "requests_per_minute",
                    "distinct_paths",
                    "window_requests"
                ]
                .contains(n)),
                "{top:?}"
            );
        }
    }
}
