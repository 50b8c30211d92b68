//! A memo of behaviour scores by window feature vector.
//!
//! Walking the Isolation Forest is the costliest step of a verdict after
//! the payload analysis (about a sixth of the analyzing worker's
//! instructions on the CSIC stream), and the window features it walks
//! repeat: they are counts and shares over a client's window (a client's
//! first request always has one request, one path, no errors), so many
//! clients present the same vector. The memo keeps the scores of recent
//! vectors, exactly: a vector hits only when every feature has the same bit
//! pattern, and the score of a vector depends on nothing else, so a hit
//! gives the score the walk would have given.
//!
//! One memo belongs to one scorer: it is owned by whatever holds that
//! scorer (the behaviour operator of a worker, the bench's loop), and is
//! not shared between threads.

use crate::features::behaviour::N;

use super::BehaviourScorer;

/// Entries of a memo (a power of two): direct-mapped, so a vector's slot
/// is its hash's low bits and a new vector replaces the old one there.
pub const SCORE_MEMO_SLOTS: usize = 1024;

/// A direct-mapped memo of [`BehaviourScorer::score`] by the exact bits of
/// the feature vector.
#[derive(Debug, Clone)]
pub struct BehaviourScoreMemo {
    slots: Vec<Option<([u32; N], f32)>>,
    hits: u64,
    misses: u64,
}

impl Default for BehaviourScoreMemo {
    fn default() -> Self {
        BehaviourScoreMemo {
            slots: vec![None; SCORE_MEMO_SLOTS],
            hits: 0,
            misses: 0,
        }
    }
}

impl BehaviourScoreMemo {
    /// `scorer`'s score of `f`, from the memo when `f` was scored recently.
    /// The hand-written heuristic is cheaper than a lookup and is not kept.
    pub fn score(&mut self, scorer: &BehaviourScorer, f: &[f32; N]) -> f32 {
        if matches!(scorer, BehaviourScorer::Heuristic) {
            return scorer.score(f);
        }
        let bits = f.map(f32::to_bits);
        let slot = (hash(&bits) as usize) & (SCORE_MEMO_SLOTS - 1);
        if let Some((kept, score)) = &self.slots[slot] {
            if *kept == bits {
                self.hits += 1;
                return *score;
            }
        }
        self.misses += 1;
        let score = scorer.score(f);
        self.slots[slot] = Some((bits, score));
        score
    }

    /// `(hits, misses)` so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

/// A 64-bit mix of the vector's bits (FxHash-style: multiply-rotate per word).
fn hash(bits: &[u32; N]) -> u64 {
    bits.iter().fold(0u64, |h, &w| {
        (h.rotate_left(5) ^ u64::from(w)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
    })
}

#[cfg(test)]
mod tests {
    use super::super::sessions::{kind_vectors, ClientKind};
    use super::*;
    use crate::anomaly::BehaviourModelConfig;
    use proptest::prelude::*;

    /// The default forest, fitted once for all the tests.
    fn forest() -> &'static BehaviourScorer {
        static FOREST: std::sync::OnceLock<BehaviourScorer> = std::sync::OnceLock::new();
        FOREST.get_or_init(|| BehaviourScorer::from_config(&BehaviourModelConfig::default()))
    }

    #[test]
    fn repeated_vectors_hit_and_score_as_the_walk() {
        let scorer = forest();
        let mut memo = BehaviourScoreMemo::default();
        let vectors: Vec<[f32; N]> = [ClientKind::Browser, ClientKind::Scanner]
            .into_iter()
            .flat_map(|k| kind_vectors(k, 7, 20, 0).into_iter().take(100))
            .collect();
        for round in 0..2 {
            for v in &vectors {
                assert_eq!(
                    memo.score(scorer, v).to_bits(),
                    scorer.score(v).to_bits(),
                    "round {round}: {v:?}"
                );
            }
        }
        let (hits, misses) = memo.stats();
        assert_eq!(hits + misses, 2 * vectors.len() as u64);
        // 200 vectors in 1,024 slots: a few share a slot and miss again.
        assert!(
            hits >= vectors.len() as u64 * 3 / 4,
            "the second round hits: {hits} hits, {misses} misses"
        );
    }

    #[test]
    fn the_heuristic_is_not_kept() {
        let mut memo = BehaviourScoreMemo::default();
        let v = [1.0; N];
        assert_eq!(
            memo.score(&BehaviourScorer::Heuristic, &v),
            BehaviourScorer::Heuristic.score(&v)
        );
        assert_eq!(memo.stats(), (0, 0));
    }

    proptest! {
        /// Whatever the vectors and however they collide in the slots, the
        /// memo gives the scorer's own score, bit for bit.
        #[test]
        fn memo_scores_are_the_scorer_s(
            picks in proptest::collection::vec(0usize..40, 1..300),
            pool in proptest::collection::vec(proptest::array::uniform9(prop_oneof![
                Just(0.0f32), Just(-0.0f32), Just(1.0f32), 0.0f32..200.0
            ]), 40),
        ) {
            let scorer = forest();
            let mut memo = BehaviourScoreMemo::default();
            for i in picks {
                let v = &pool[i];
                prop_assert_eq!(memo.score(scorer, v).to_bits(), scorer.score(v).to_bits());
            }
        }
    }
}
