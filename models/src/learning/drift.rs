//! Drift of the live score distribution: fixed-bin histograms of verdict
//! scores and their population stability index.

/// Bins of a score histogram (scores in `[0, 1]`).
pub const SCORE_BINS: usize = 10;

/// Counts of scores per bin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScoreHistogram(pub [u64; SCORE_BINS]);

impl ScoreHistogram {
    /// The bin of a score (out-of-range scores are clamped).
    pub fn bin(score: f32) -> usize {
        if score.is_nan() {
            return 0;
        }
        ((score.clamp(0.0, 1.0) * SCORE_BINS as f32) as usize).min(SCORE_BINS - 1)
    }

    /// Counts one score.
    pub fn add(&mut self, score: f32) {
        self.0[Self::bin(score)] += 1;
    }

    /// Scores counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The scores counted since `earlier` (a snapshot of the same cumulative histogram).
    pub fn since(&self, earlier: &ScoreHistogram) -> ScoreHistogram {
        let mut out = [0u64; SCORE_BINS];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.0[i].saturating_sub(earlier.0[i]);
        }
        ScoreHistogram(out)
    }
}

/// Population stability index of `live` against `reference`:
/// `Σ (lᵢ − rᵢ) · ln(lᵢ / rᵢ)` over bin shares, with empty bins smoothed
/// (half a count). 0 for identical distributions; above about 0.25 is
/// conventionally a significant shift. `None` when either is empty.
pub fn psi(reference: &ScoreHistogram, live: &ScoreHistogram) -> Option<f64> {
    let (rt, lt) = (reference.total(), live.total());
    if rt == 0 || lt == 0 {
        return None;
    }
    let share = |c: u64, t: u64| (c as f64).max(0.5) / (t as f64 + 0.5 * SCORE_BINS as f64);
    Some(
        (0..SCORE_BINS)
            .map(|i| {
                let (r, l) = (share(reference.0[i], rt), share(live.0[i], lt));
                (l - r) * (l / r).ln()
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identical_is_zero_and_a_shift_is_large() {
        let mut a = ScoreHistogram::default();
        let mut b = ScoreHistogram::default();
        for i in 0..1000 {
            a.add((i % 100) as f32 / 100.0);
            b.add(if i % 2 == 0 { 0.95 } else { 0.05 });
        }
        assert!(psi(&a, &a).unwrap().abs() < 1e-12);
        assert!(psi(&a, &b).unwrap() > 0.25);
        assert_eq!(psi(&a, &ScoreHistogram::default()), None);
        assert_eq!(ScoreHistogram::bin(1.0), SCORE_BINS - 1);
        assert_eq!(ScoreHistogram::bin(f32::NAN), 0);
    }

    proptest! {
        #[test]
        fn psi_is_finite_and_non_negative(
            a in proptest::array::uniform10(0u64..10_000),
            b in proptest::array::uniform10(0u64..10_000),
        ) {
            let (a, b) = (ScoreHistogram(a), ScoreHistogram(b));
            if let Some(v) = psi(&a, &b) {
                prop_assert!(v.is_finite() && v >= -1e-9, "{v}");
            }
        }
    }
}
