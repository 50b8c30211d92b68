//! Temperature scaling (Guo et al., 2017): one scalar that makes softmax
//! probabilities honest on held-out data without changing the ranking.

use super::model::{softmax, K};

/// Negative log-likelihood of `labels` under `margins` at temperature `t`.
fn nll(margins: &[[f32; K]], labels: &[u8], t: f32) -> f64 {
    margins
        .iter()
        .zip(labels)
        .map(|(m, y)| -(softmax(m, t)[*y as usize].max(1e-12) as f64).ln())
        .sum::<f64>()
        / margins.len().max(1) as f64
}

/// The temperature in `[0.05, 20]` minimizing held-out NLL (golden-section
/// search on `ln t`; NLL is unimodal in `t`).
pub fn fit_temperature(margins: &[[f32; K]], labels: &[u8]) -> f32 {
    if margins.is_empty() {
        return 1.0;
    }
    let (mut a, mut b) = ((0.05f64).ln(), (20.0f64).ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let f = |x: f64| nll(margins, labels, x.exp() as f32);
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..40 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overconfident_margins_get_a_higher_temperature() {
        // Margins say 99.99 % but the label is right only 3 times in 4.
        let m = [[10.0, 0.0, 0.0, 0.0, 0.0, 0.0]; 4];
        let y = [0u8, 0, 0, 1];
        let t = fit_temperature(&m, &y);
        assert!(t > 2.0, "{t}");
        let p = softmax(&m[0], t)[0];
        assert!((p - 0.75).abs() < 0.05, "{p}");
    }
}
