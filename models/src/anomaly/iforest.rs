//! Isolation Forest (Liu, Ting & Zhou, 2008): anomalies are the points that
//! random axis-parallel splits isolate in few steps.
//!
//! Deterministic for a seed, serializable, and allocation-free at scoring
//! time. Splits are drawn only on features that vary within a node (a
//! feature constant in the sample cannot separate anything).

use std::sync::LazyLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Euler–Mascheroni constant.
const EULER: f64 = 0.577_215_664_901_532_9;

/// Average path length of an unsuccessful search in a binary search tree
/// of `n` points: the normalizer `c(n)` of the paper.
pub fn average_path_length(n: usize) -> f32 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            (2.0 * ((n - 1.0).ln() + EULER) - 2.0 * (n - 1.0) / n) as f32
        }
    }
}

/// Leaf sizes whose [`average_path_length`] is looked up instead of
/// computed: every leaf of a forest with ψ up to this size (256 by default).
const LEAF_TABLE_SIZES: usize = 4096;

/// [`average_path_length`] of `0..LEAF_TABLE_SIZES`, computed once by the
/// same function, so a lookup gives the very same `f32`. Scoring computed
/// it at every leaf it reached — one `ln` per tree per point, about a third
/// of the forest's scoring time.
static LEAF_PATH_LENGTHS: LazyLock<Vec<f32>> =
    LazyLock::new(|| (0..LEAF_TABLE_SIZES).map(average_path_length).collect());

/// Forest hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestConfig {
    /// Trees.
    pub trees: usize,
    /// Points sampled (without replacement) per tree: ψ.
    pub sample_size: usize,
    /// Seed of sampling and splits.
    pub seed: u64,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            trees: 100,
            sample_size: 256,
            seed: 0x150_F0E5,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
enum Node {
    Split {
        feature: u16,
        threshold: f32,
        left: u32,
        right: u32,
    },
    Leaf {
        size: u32,
    },
}

/// One isolation tree, nodes in a flat vector (root first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// The path length of `x`, walking the tree as stored (the reference
    /// the flat walk is tested against); `leaf_lengths` is
    /// [`LEAF_PATH_LENGTHS`] or a part of it.
    #[cfg(test)]
    fn path_length(&self, x: &[f32], leaf_lengths: &[f32]) -> f32 {
        let mut i = 0usize;
        let mut depth = 0.0f32;
        loop {
            match self.nodes[i] {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    let v = x.get(feature as usize).copied().unwrap_or(0.0);
                    i = if v < threshold { left } else { right } as usize;
                    depth += 1.0;
                }
                Node::Leaf { size } => {
                    return depth + leaf_path_length(size as usize, leaf_lengths)
                }
            }
        }
    }
}

/// A fitted Isolation Forest over `dims`-dimensional points.
///
/// Stored as its trees ([`StoredForest`], the format models are saved in);
/// scored through a flat copy of them ([`FlatForest`]) built when the
/// forest is fitted or loaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "StoredForest", into = "StoredForest")]
pub struct IsolationForest {
    stored: StoredForest,
    flat: FlatForest,
}

/// The forest as models store it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredForest {
    trees: Vec<Tree>,
    dims: usize,
    psi: usize,
    c_psi: f32,
}

impl PartialEq for IsolationForest {
    fn eq(&self, other: &Self) -> bool {
        // The flat copy follows from the trees.
        self.stored == other.stored
    }
}

impl From<StoredForest> for IsolationForest {
    fn from(stored: StoredForest) -> Self {
        let flat = FlatForest::new(&stored.trees);
        IsolationForest { stored, flat }
    }
}

impl From<IsolationForest> for StoredForest {
    fn from(f: IsolationForest) -> Self {
        f.stored
    }
}

/// One node of the flat forest. A leaf points at itself with a threshold
/// no value is below (NaN), so a walk can take a fixed number of steps.
#[derive(Clone, Copy, Debug)]
struct FlatNode {
    feature: u32,
    threshold: f32,
    left: u32,
    right: u32,
    /// For a leaf: its depth plus `c(size)`, the path length of a point
    /// that ends there (the same `f32` the tree walk adds up).
    path_length: f32,
}

/// Every tree's nodes in one vector, walked four trees at a time for a
/// fixed number of steps: the four walks' loads are independent, and no
/// step branches on whether a leaf was reached.
#[derive(Clone, Debug, Default)]
struct FlatForest {
    nodes: Vec<FlatNode>,
    roots: Vec<u32>,
    /// Steps that bring every walk to its leaf (the deepest leaf's depth).
    steps: usize,
}

impl FlatForest {
    fn new(trees: &[Tree]) -> Self {
        let mut flat = FlatForest::default();
        for tree in trees {
            let base = flat.nodes.len();
            flat.roots.push(base as u32);
            // Each node's depth: parents come before their children.
            let mut depths = vec![0usize; tree.nodes.len()];
            for (i, node) in tree.nodes.iter().enumerate() {
                let at = (base + i) as u32;
                flat.nodes.push(match *node {
                    Node::Split {
                        feature,
                        threshold,
                        left,
                        right,
                    } => {
                        let child_depth = depths[i] + 1;
                        for child in [left, right] {
                            if let Some(d) = depths.get_mut(child as usize) {
                                *d = child_depth;
                            }
                        }
                        FlatNode {
                            feature: u32::from(feature),
                            threshold,
                            left: base as u32 + left,
                            right: base as u32 + right,
                            path_length: 0.0,
                        }
                    }
                    Node::Leaf { size } => {
                        flat.steps = flat.steps.max(depths[i]);
                        // The tree walk adds 1.0 per split, a small
                        // integer held exactly: the same `f32` as this.
                        let depth = depths[i] as f32;
                        FlatNode {
                            feature: 0,
                            threshold: f32::NAN,
                            left: at,
                            right: at,
                            path_length: depth
                                + leaf_path_length(size as usize, &LEAF_PATH_LENGTHS),
                        }
                    }
                });
            }
        }
        flat
    }

    /// One step from node `i` towards `x`'s leaf.
    #[inline(always)]
    fn step(&self, i: u32, x: &[f32]) -> u32 {
        let n = &self.nodes[i as usize];
        let v = x.get(n.feature as usize).copied().unwrap_or(0.0);
        if v < n.threshold {
            n.left
        } else {
            n.right
        }
    }

    /// The sum of `x`'s path lengths over the trees, added in tree order.
    fn path_length_sum(&self, x: &[f32]) -> f32 {
        let mut sum = 0.0f32;
        let mut groups = self.roots.chunks_exact(4);
        for g in &mut groups {
            let mut at = [g[0], g[1], g[2], g[3]];
            for _ in 0..self.steps {
                for i in &mut at {
                    *i = self.step(*i, x);
                }
            }
            for i in at {
                sum += self.nodes[i as usize].path_length;
            }
        }
        for &root in groups.remainder() {
            let mut i = root;
            for _ in 0..self.steps {
                i = self.step(i, x);
            }
            sum += self.nodes[i as usize].path_length;
        }
        sum
    }
}

/// `c(size)` from the table when it holds it.
fn leaf_path_length(size: usize, leaf_lengths: &[f32]) -> f32 {
    match leaf_lengths.get(size) {
        Some(&l) => l,
        None => average_path_length(size),
    }
}

struct Grower<'a> {
    data: &'a [f32],
    dims: usize,
    max_depth: usize,
    rng: ChaCha8Rng,
    nodes: Vec<Node>,
    varying: Vec<(usize, f32, f32)>,
}

impl Grower<'_> {
    fn grow(&mut self, rows: &mut [usize], depth: usize) -> u32 {
        let at = self.nodes.len();
        self.nodes.push(Node::Leaf {
            size: rows.len() as u32,
        });
        if depth >= self.max_depth || rows.len() <= 1 {
            return at as u32;
        }
        self.varying.clear();
        for f in 0..self.dims {
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for r in rows.iter() {
                let v = self.data[r * self.dims + f];
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if hi > lo {
                self.varying.push((f, lo, hi));
            }
        }
        if self.varying.is_empty() {
            return at as u32;
        }
        let (feature, lo, hi) = self.varying[self.rng.gen_range(0..self.varying.len())];
        let threshold = lo + (hi - lo) * self.rng.gen_range(f32::EPSILON..1.0);
        let threshold = if threshold > lo { threshold } else { hi };
        let mut split = 0;
        for i in 0..rows.len() {
            if self.data[rows[i] * self.dims + feature] < threshold {
                rows.swap(i, split);
                split += 1;
            }
        }
        let (l, r) = rows.split_at_mut(split);
        let left = self.grow(l, depth + 1);
        let right = self.grow(r, depth + 1);
        self.nodes[at] = Node::Split {
            feature: feature as u16,
            threshold,
            left,
            right,
        };
        at as u32
    }
}

impl IsolationForest {
    /// Fits a forest on `data`, row-major with `dims` columns.
    pub fn fit(data: &[f32], dims: usize, config: &ForestConfig) -> Self {
        let n = data.len().checked_div(dims).unwrap_or(0);
        let psi = config.sample_size.min(n).max(1);
        let max_depth = (psi as f32).log2().ceil().max(1.0) as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut trees = Vec::with_capacity(config.trees);
        let mut pool: Vec<usize> = (0..n).collect();
        for _ in 0..config.trees {
            // Partial Fisher–Yates: the first `psi` entries are the sample.
            for i in 0..psi.min(n) {
                let j = rng.gen_range(i..n);
                pool.swap(i, j);
            }
            let mut rows: Vec<usize> = pool[..psi.min(n)].to_vec();
            let mut g = Grower {
                data,
                dims,
                max_depth,
                rng: ChaCha8Rng::seed_from_u64(rng.gen()),
                nodes: Vec::new(),
                varying: Vec::with_capacity(dims),
            };
            g.grow(&mut rows, 0);
            trees.push(Tree { nodes: g.nodes });
        }
        IsolationForest::from(StoredForest {
            trees,
            dims,
            psi,
            c_psi: average_path_length(psi),
        })
    }

    /// Dimensions of the points.
    pub fn dims(&self) -> usize {
        self.stored.dims
    }

    /// Trees.
    pub fn trees(&self) -> usize {
        self.stored.trees.len()
    }

    /// Mean path length of `x` over the trees: E[h(x)].
    pub fn mean_path_length(&self, x: &[f32]) -> f32 {
        if self.stored.trees.is_empty() {
            return 0.0;
        }
        self.flat.path_length_sum(x) / self.stored.trees.len() as f32
    }

    /// [`Self::mean_path_length`] by walking the stored trees one by one
    /// (what the flat walk must equal, bit for bit).
    #[cfg(test)]
    fn mean_path_length_by_trees(&self, x: &[f32], leaf_lengths: &[f32]) -> f32 {
        self.stored
            .trees
            .iter()
            .map(|t| t.path_length(x, leaf_lengths))
            .sum::<f32>()
            / self.stored.trees.len() as f32
    }

    /// The anomaly score `s(x) = 2^(−E[h(x)] / c(ψ))` in `(0, 1]`:
    /// about 0.5 or less for ordinary points, approaching 1 for points
    /// isolated at once.
    pub fn score(&self, x: &[f32]) -> f32 {
        if self.stored.c_psi <= 0.0 {
            return 0.5;
        }
        2f32.powf(-self.mean_path_length(x) / self.stored.c_psi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * 2).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn normalizer_matches_the_paper() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) ≈ 10.24
        assert!((average_path_length(256) - 10.24).abs() < 0.01);
    }

    #[test]
    fn leaf_lengths_are_the_normalizer_bit_for_bit() {
        for n in 0..LEAF_TABLE_SIZES {
            assert_eq!(
                LEAF_PATH_LENGTHS[n].to_bits(),
                average_path_length(n).to_bits(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn the_flat_walk_and_the_table_change_no_score() {
        // The flat walk against the trees walked one by one, with the
        // table and with every leaf's length computed (an empty table):
        // the same bits, for forests of every shape.
        for (n, trees, sample_size, seed) in [
            (3000, 100, 256, 3u64),
            (50, 7, 256, 4),
            (1, 5, 256, 5),
            (5000, 6, 4096, 6),
        ] {
            let data = cluster(n, seed);
            let f = IsolationForest::fit(
                &data,
                2,
                &ForestConfig {
                    trees,
                    sample_size,
                    seed,
                },
            );
            for x in [
                [0.25f32, -0.5],
                [0.0, 0.0],
                [6.0, -5.0],
                [-0.9, 0.99],
                [f32::NAN, 1.0],
            ] {
                let flat = f.mean_path_length(&x).to_bits();
                assert_eq!(
                    flat,
                    f.mean_path_length_by_trees(&x, &LEAF_PATH_LENGTHS)
                        .to_bits()
                );
                assert_eq!(flat, f.mean_path_length_by_trees(&x, &[]).to_bits());
            }
            // A point shorter than the forest's dimensions reads 0.0.
            assert_eq!(
                f.mean_path_length(&[0.5]).to_bits(),
                f.mean_path_length_by_trees(&[0.5], &[]).to_bits()
            );
        }
    }

    proptest::proptest! {
        /// The flat walk equals the trees' on arbitrary points and forests.
        #[test]
        fn the_flat_walk_equals_the_trees(
            seed in 0u64..1000,
            n in 1usize..400,
            trees in 1usize..12,
            points in proptest::collection::vec((-3.0f32..3.0, -3.0f32..3.0), 1..8),
        ) {
            let data = cluster(n, seed);
            let f = IsolationForest::fit(&data, 2, &ForestConfig { trees, sample_size: 64, seed });
            for (a, b) in points {
                proptest::prop_assert_eq!(
                    f.mean_path_length(&[a, b]).to_bits(),
                    f.mean_path_length_by_trees(&[a, b], &[]).to_bits()
                );
            }
        }
    }

    #[test]
    fn the_stored_format_is_the_trees() {
        let data = cluster(300, 9);
        let f = IsolationForest::fit(
            &data,
            2,
            &ForestConfig {
                trees: 3,
                ..Default::default()
            },
        );
        // Exactly what the forest serialized as before it had a flat copy.
        let bytes = bincode::serialize(&f).unwrap();
        assert_eq!(bytes, bincode::serialize(&f.stored).unwrap());
        let back: IsolationForest = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back.flat.nodes.len(), f.flat.nodes.len());
        assert_eq!(
            back.score(&[0.3, 0.3]).to_bits(),
            f.score(&[0.3, 0.3]).to_bits()
        );
    }

    #[test]
    fn outliers_score_higher_than_inliers() {
        let data = cluster(2000, 1);
        let f = IsolationForest::fit(&data, 2, &ForestConfig::default());
        let inlier = f.score(&[0.0, 0.1]);
        let outlier = f.score(&[6.0, -5.0]);
        assert!(inlier < 0.5, "inlier {inlier}");
        assert!(
            outlier > 0.6 && outlier > inlier + 0.15,
            "outlier {outlier}"
        );
    }

    #[test]
    fn deterministic_for_a_seed_and_serializable() {
        let data = cluster(500, 2);
        let a = IsolationForest::fit(&data, 2, &ForestConfig::default());
        let b = IsolationForest::fit(&data, 2, &ForestConfig::default());
        assert_eq!(a, b);
        let bytes = bincode::serialize(&a).unwrap();
        let c: IsolationForest = bincode::deserialize(&bytes).unwrap();
        assert_eq!(a.score(&[3.0, 3.0]), c.score(&[3.0, 3.0]));
    }

    #[test]
    fn constant_features_never_split() {
        // The second column is constant: every split is on the first.
        let data: Vec<f32> = (0..300).flat_map(|i| [i as f32, 5.0]).collect();
        let f = IsolationForest::fit(
            &data,
            2,
            &ForestConfig {
                trees: 10,
                ..Default::default()
            },
        );
        for t in &f.stored.trees {
            for n in &t.nodes {
                if let Node::Split { feature, .. } = n {
                    assert_eq!(*feature, 0);
                }
            }
        }
    }
}
