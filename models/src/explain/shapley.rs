//! Exact Shapley values: the closed form for linear functions and exact
//! enumeration over subsets for small feature sets.

/// Shapley values of the linear function `f(x) = Σ wᵢ xᵢ + b` at `x`
/// relative to the baseline input `r`: `φᵢ = wᵢ (xᵢ − rᵢ)`. Exact: for a
/// linear function the marginal contribution of a feature is the same in
/// every coalition. They sum to `f(x) − f(r)` (efficiency).
pub fn linear(w: &[f32], x: &[f32], r: &[f32]) -> Vec<f32> {
    w.iter()
        .zip(x)
        .zip(r)
        .map(|((w, x), r)| w * (x - r))
        .collect()
}

/// Exact Shapley values of a set function over `n ≤ 16` players by
/// enumerating all `2ⁿ` coalitions: `v(mask)` is the value with the players
/// in `mask` present. `φᵢ = Σ_{S ∌ i} |S|! (n−|S|−1)! / n! · (v(S ∪ {i}) − v(S))`.
pub fn exact(n: usize, mut v: impl FnMut(u32) -> f64) -> Vec<f64> {
    assert!(
        n <= 16,
        "exact Shapley enumeration is for small player sets"
    );
    let size = 1usize << n;
    let values: Vec<f64> = (0..size as u32).map(&mut v).collect();
    // weight[k] = k! (n-k-1)! / n!
    let mut fact = vec![1.0f64; n + 1];
    for i in 1..=n {
        fact[i] = fact[i - 1] * i as f64;
    }
    let weight: Vec<f64> = (0..n)
        .map(|k| fact[k] * fact[n - k - 1] / fact[n])
        .collect();
    let mut phi = vec![0.0; n];
    for (mask, value) in values.iter().enumerate() {
        let k = (mask as u32).count_ones() as usize;
        for (i, p) in phi.iter_mut().enumerate() {
            let bit = 1usize << i;
            if mask & bit == 0 {
                *p += weight[k] * (values[mask | bit] - value);
            }
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn linear_closed_form_equals_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..20 {
            let n = 8;
            let w: Vec<f32> = (0..n).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let x: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..3.0)).collect();
            let r: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b = rng.gen_range(-1.0..1.0f32);
            let f = |mask: u32| -> f64 {
                (b + (0..n)
                    .map(|i| w[i] * if mask & (1 << i) != 0 { x[i] } else { r[i] })
                    .sum::<f32>()) as f64
            };
            let brute = exact(n, f);
            let closed = linear(&w, &x, &r);
            for (a, c) in brute.iter().zip(&closed) {
                assert!((a - *c as f64).abs() < 1e-4, "{brute:?} vs {closed:?}");
            }
            let total: f64 = brute.iter().sum();
            assert!((total - (f((1 << n) - 1) - f(0))).abs() < 1e-4);
        }
    }

    #[test]
    fn exact_values_of_a_game_with_interactions() {
        // Glove game: player 0 has a left glove, players 1 and 2 right gloves;
        // a pair is worth 1. Known values: (2/3, 1/6, 1/6).
        let v = |m: u32| -> f64 {
            let left = m & 1;
            let right = (m >> 1 & 1) + (m >> 2 & 1);
            left.min(right) as f64
        };
        let phi = exact(3, v);
        assert!((phi[0] - 2.0 / 3.0).abs() < 1e-12);
        assert!((phi[1] - 1.0 / 6.0).abs() < 1e-12);
        assert!((phi[2] - 1.0 / 6.0).abs() < 1e-12);
    }
}
