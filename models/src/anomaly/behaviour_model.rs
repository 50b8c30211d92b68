//! The behaviour anomaly model: an Isolation Forest over a client's window
//! features, calibrated on ordinary traffic, with the heuristic scorer as
//! the fallback.

use serde::{Deserialize, Serialize};

use super::iforest::{ForestConfig, IsolationForest};
use super::sessions::normal_vectors;
use crate::behaviour::heuristic_score;
use crate::features::behaviour::{B, N};

/// Seed of the default behaviour model's simulated traffic.
pub const DEFAULT_TRAFFIC_SEED: u64 = 0xB0_11A7;

/// Dimensions of the forest's input.
pub const FOREST_DIMS: usize = N + 2;

/// The forest's view of a window: heavy-tailed counts on a log scale, plus
/// the error and attack *counts* (a high error rate over one request is
/// ordinary, over a hundred it is not — an interaction axis-parallel
/// splits would otherwise need many levels to find).
pub fn forest_input(f: &[f32; N]) -> [f32; FOREST_DIMS] {
    let mut x = [0.0; FOREST_DIMS];
    x[..N].copy_from_slice(f);
    for b in [
        B::WindowRequests,
        B::RequestsPerMinute,
        B::DistinctPaths,
        B::DistinctParams,
        B::UaDistinct,
    ] {
        x[b as usize] = (1.0 + f[b as usize].max(0.0)).ln();
    }
    let n = f[B::WindowRequests as usize].max(0.0);
    x[N] = (1.0 + f[B::ErrorRate as usize] * n).ln();
    x[N + 1] = (1.0 + f[B::AttackRatio as usize] * (n - 1.0).max(0.0)).ln();
    x
}

/// Attack history: the share of the client's earlier requests in the
/// window that carried attack payloads, trusted once there are a few. It
/// is evidence rather than an anomaly (a forest trained on ordinary
/// traffic has barely seen it), so it joins the forest's score by noisy-OR.
pub fn attack_history(f: &[f32; N]) -> f32 {
    let n = f[B::WindowRequests as usize];
    let ramp = ((n - 1.0) / 2.0).clamp(0.0, 1.0);
    f[B::AttackRatio as usize] * ramp * 0.95
}

/// A fitted forest with its calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForestModel {
    /// The forest.
    pub forest: IsolationForest,
    /// Raw score at and below which a window is ordinary (anomaly 0): the
    /// `quantile` of the training scores.
    pub floor: f32,
    /// Raw score at which the anomaly reaches 1.
    pub ceiling: f32,
    /// Per input dimension, the training median and maximum (the tail check).
    pub marginals: Vec<(f32, f32)>,
    /// Per behaviour feature, the 99th percentile of ordinary windows (for explanations).
    pub p99: Vec<f32>,
    /// Per behaviour feature, the median of ordinary windows (the explanation baseline).
    pub median: Vec<f32>,
    /// Training windows.
    pub trained_on: usize,
    /// Where the training traffic came from (`simulated:<seed>` or a file list).
    pub source: String,
}

impl ForestModel {
    /// Fits a forest on ordinary windows; the anomaly ramps from the
    /// `quantile` of the training scores to `floor + span`.
    pub fn fit(
        windows: &[[f32; N]],
        config: &ForestConfig,
        quantile: f32,
        span: f32,
        source: impl Into<String>,
    ) -> Self {
        let data: Vec<f32> = windows.iter().flat_map(forest_input).collect();
        let forest = IsolationForest::fit(&data, FOREST_DIMS, config);
        let mut scores: Vec<f32> = windows
            .iter()
            .map(|w| forest.score(&forest_input(w)))
            .collect();
        scores.sort_by(f32::total_cmp);
        let floor = if scores.is_empty() {
            0.5
        } else {
            let i = ((scores.len() - 1) as f32 * quantile.clamp(0.0, 1.0)).round() as usize;
            scores[i]
        };
        let marginals = (0..FOREST_DIMS)
            .map(|d| {
                let mut col: Vec<f32> = data.iter().skip(d).step_by(FOREST_DIMS).copied().collect();
                col.sort_by(f32::total_cmp);
                let median = col.get(col.len() / 2).copied().unwrap_or(0.0);
                let max = col.last().copied().unwrap_or(0.0);
                (median, max)
            })
            .collect();
        let p99 = (0..N)
            .map(|d| {
                let mut col: Vec<f32> = windows.iter().map(|w| w[d]).collect();
                col.sort_by(f32::total_cmp);
                col.get((col.len().saturating_sub(1)) * 99 / 100)
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect();
        let median = (0..N)
            .map(|d| {
                let mut col: Vec<f32> = windows.iter().map(|w| w[d]).collect();
                col.sort_by(f32::total_cmp);
                col.get(col.len() / 2).copied().unwrap_or(0.0)
            })
            .collect();
        ForestModel {
            forest,
            floor,
            p99,
            median,
            ceiling: floor + span.max(1e-3),
            marginals,
            trained_on: windows.len(),
            source: source.into(),
        }
    }

    /// The forest's anomaly in `[0, 1]` for a window.
    pub fn anomaly(&self, f: &[f32; N]) -> f32 {
        let s = self.forest.score(&forest_input(f));
        ((s - self.floor) / (self.ceiling - self.floor)).clamp(0.0, 1.0)
    }

    /// The tail check: how far the most extreme input dimension lies
    /// beyond anything ordinary traffic showed, in units of that
    /// dimension's median-to-maximum spread, capped at 1. Isolation
    /// forests dilute an extreme value on one dimension among many
    /// ordinary ones (each level splits on it with probability 1/d); this
    /// catches it directly.
    pub fn tail(&self, f: &[f32; N]) -> f32 {
        let x = forest_input(f);
        x.iter()
            .zip(&self.marginals)
            .map(|(v, (median, max))| ((v - max) / (max - median).max(0.1)).clamp(0.0, 1.0))
            .fold(0.0, f32::max)
    }
}

/// Serializes a forest model (bincode), as the data directory stores it.
pub fn to_bytes(model: &ForestModel) -> Result<Vec<u8>, bincode::Error> {
    bincode::serialize(model)
}

/// Settings of the default behaviour model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourModelConfig {
    /// `iforest` or `heuristic`.
    pub method: BehaviourMethod,
    /// Forest hyper-parameters.
    pub forest: ForestConfig,
    /// Simulated ordinary clients the default forest learns from.
    pub simulated_clients: usize,
    /// Seed of the simulated traffic.
    pub traffic_seed: u64,
    /// Training-score quantile below which a window is ordinary.
    pub quantile: f32,
    /// Raw-score span from the floor to anomaly 1.
    pub span: f32,
}

impl Default for BehaviourModelConfig {
    fn default() -> Self {
        BehaviourModelConfig {
            method: BehaviourMethod::Iforest,
            forest: ForestConfig::default(),
            simulated_clients: 3000,
            traffic_seed: DEFAULT_TRAFFIC_SEED,
            quantile: 0.995,
            span: 0.12,
        }
    }
}

/// How window behaviour is scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BehaviourMethod {
    /// Isolation Forest plus attack history.
    #[default]
    Iforest,
    /// The hand-written heuristic only.
    Heuristic,
}

/// Scores a client's window.
#[derive(Clone, Debug)]
pub enum BehaviourScorer {
    /// The hand-written heuristic ([`heuristic_score`]).
    Heuristic,
    /// Forest anomaly ⊕ tail check ⊕ attack history (noisy-OR).
    Forest(std::sync::Arc<ForestModel>),
}

impl BehaviourScorer {
    /// The scorer `config` asks for, fitting the default forest on simulated traffic.
    pub fn from_config(config: &BehaviourModelConfig) -> Self {
        match config.method {
            BehaviourMethod::Heuristic => BehaviourScorer::Heuristic,
            BehaviourMethod::Iforest => {
                let windows = normal_vectors(config.traffic_seed, config.simulated_clients);
                BehaviourScorer::Forest(std::sync::Arc::new(ForestModel::fit(
                    &windows,
                    &config.forest,
                    config.quantile,
                    config.span,
                    format!("simulated:{}", config.traffic_seed),
                )))
            }
        }
    }

    /// A typical ordinary window: the explanation baseline (the training
    /// medians for the forest; a lone, quiet request for the heuristic).
    pub fn baseline(&self) -> [f32; N] {
        match self {
            BehaviourScorer::Forest(m) if m.median.len() == N => {
                let mut b = [0.0; N];
                b.copy_from_slice(&m.median);
                b
            }
            _ => {
                let mut b = [0.0; N];
                b[B::WindowRequests as usize] = 1.0;
                b[B::RequestsPerMinute as usize] = 1.0;
                b[B::DistinctPaths as usize] = 1.0;
                b[B::UaDistinct as usize] = 1.0;
                b
            }
        }
    }

    /// Name for verdicts and health output.
    pub fn name(&self) -> &'static str {
        match self {
            BehaviourScorer::Heuristic => "heuristic",
            BehaviourScorer::Forest(_) => "iforest",
        }
    }

    /// Why a window scores as it does, strongest first (empty when the
    /// score is below 0.5): features beyond what ordinary clients show,
    /// and the attack history. `score` is this scorer's [`score`](Self::score)
    /// of `f`, which the caller has already computed (the forest is the
    /// costliest part of a verdict; it is not walked twice).
    pub fn reasons(&self, f: &[f32; N], score: f32) -> Vec<String> {
        if score < 0.5 {
            return Vec::new();
        }
        let mut out: Vec<(f32, String)> = Vec::new();
        let history = attack_history(f);
        if history > 0.0 {
            out.push((
                history,
                format!(
                    "{:.0}% of the client's earlier requests in the window carried attacks",
                    100.0 * f[B::AttackRatio as usize]
                ),
            ));
        }
        match self {
            BehaviourScorer::Forest(m) => {
                for (d, spec) in crate::features::behaviour::SPECS.iter().enumerate() {
                    let (v, p) = (f[d], m.p99.get(d).copied().unwrap_or(f32::INFINITY));
                    if d != B::AttackRatio as usize && v > p && v > 0.0 {
                        let excess = (v - p) / p.abs().max(0.05);
                        out.push((
                            excess.min(10.0) / 10.0,
                            format!(
                                "{} {} (99% of ordinary clients ≤ {})",
                                spec.name,
                                fmt(v),
                                fmt(p)
                            ),
                        ));
                    }
                }
            }
            BehaviourScorer::Heuristic => {
                for c in crate::behaviour::components(f) {
                    if c.score >= 0.2 && c.feature != B::AttackRatio {
                        let spec = &crate::features::behaviour::SPECS[c.feature as usize];
                        out.push((
                            c.score,
                            format!("{} {}", spec.name, fmt(f[c.feature as usize])),
                        ));
                    }
                }
            }
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        out.into_iter().take(4).map(|(_, s)| s).collect()
    }

    /// Behaviour score of a window in `[0, 1]`.
    pub fn score(&self, f: &[f32; N]) -> f32 {
        match self {
            BehaviourScorer::Heuristic => heuristic_score(f),
            BehaviourScorer::Forest(m) => {
                1.0 - (1.0 - m.anomaly(f)) * (1.0 - m.tail(f)) * (1.0 - attack_history(f))
            }
        }
    }
}

fn fmt(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::sessions::{kind_vectors, ClientKind};
    use super::*;

    fn share_above(scorer: &BehaviourScorer, v: &[[f32; N]], t: f32) -> f32 {
        v.iter().filter(|f| scorer.score(f) >= t).count() as f32 / v.len().max(1) as f32
    }

    #[test]
    fn the_forest_flags_hostile_clients_and_spares_ordinary_ones() {
        let scorer = BehaviourScorer::from_config(&BehaviourModelConfig {
            simulated_clients: 1500,
            ..Default::default()
        });
        // Ordinary traffic the forest never saw (another seed).
        let normal = normal_vectors(99, 800);
        let fpr = share_above(&scorer, &normal, 0.5);
        assert!(fpr <= 0.01, "ordinary windows scoring ≥ 0.5: {fpr}");
        for kind in ClientKind::HOSTILE {
            let v = kind_vectors(kind, 5, 30, 10);
            let tpr = share_above(&scorer, &v, 0.5);
            assert!(tpr >= 0.7, "{kind:?}: {tpr}");
        }
    }
}
