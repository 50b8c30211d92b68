//! Behavioural anomaly score of a client window (the heuristic scorer; an
//! Isolation Forest can replace it behind the same inputs).

use crate::features::behaviour::{B, N};

/// One component of the behaviour score, for explanations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Component {
    /// Feature that drives it.
    pub feature: B,
    /// Its contribution in `[0, 1]`.
    pub score: f32,
}

fn ramp(x: f32, lo: f32, hi: f32) -> f32 {
    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// The components of the heuristic behaviour score.
///
/// * attack history: the share of the client's earlier requests in the
///   window that carried attack payloads (the strongest signal);
/// * rate: above 60 requests/minute, saturating at 600;
/// * errors: an error rate above 30 % over at least 5 requests (scanners
///   collect 404s and 500s);
/// * enumeration: more than 20 distinct paths in the window;
/// * UA rotation: more than 2 User-Agent fingerprints;
/// * upstream blocks: requests the WAF in front already blocked.
pub fn components(f: &[f32; N]) -> [Component; 6] {
    let n = f[B::WindowRequests as usize];
    let enough = ramp(n, 2.0, 6.0);
    [
        Component {
            feature: B::AttackRatio,
            score: f[B::AttackRatio as usize] * ramp(n, 1.0, 3.0) * 0.95,
        },
        Component {
            feature: B::RequestsPerMinute,
            score: ramp(f[B::RequestsPerMinute as usize], 60.0, 600.0) * enough * 0.8,
        },
        Component {
            feature: B::ErrorRate,
            score: ramp(f[B::ErrorRate as usize], 0.3, 0.9) * ramp(n, 4.0, 10.0) * 0.7,
        },
        Component {
            feature: B::DistinctPaths,
            score: ramp(f[B::DistinctPaths as usize], 20.0, 100.0) * 0.6,
        },
        Component {
            feature: B::UaDistinct,
            score: ramp(f[B::UaDistinct as usize], 2.0, 6.0) * 0.5,
        },
        Component {
            feature: B::BlockedRatio,
            score: f[B::BlockedRatio as usize] * enough * 0.8,
        },
    ]
}

/// The heuristic behaviour score: noisy-OR of [`components`].
pub fn heuristic_score(f: &[f32; N]) -> f32 {
    1.0 - components(f)
        .iter()
        .fold(1.0, |acc, c| acc * (1.0 - c.score))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_client_scores_zero_and_scanner_scores_high() {
        let mut f = [0.0; N];
        f[B::WindowRequests as usize] = 1.0;
        f[B::RequestsPerMinute as usize] = 1.0;
        f[B::UaDistinct as usize] = 1.0;
        assert_eq!(heuristic_score(&f), 0.0);
        f[B::WindowRequests as usize] = 50.0;
        f[B::RequestsPerMinute as usize] = 300.0;
        f[B::ErrorRate as usize] = 0.8;
        f[B::DistinctPaths as usize] = 45.0;
        f[B::AttackRatio as usize] = 0.6;
        assert!(heuristic_score(&f) > 0.8);
    }
}
