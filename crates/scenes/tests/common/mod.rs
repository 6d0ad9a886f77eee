//! Statistics helpers shared by the generators' tests: trajectories, moments, and
//! binomial and uniformity checks with 5-standard-error bounds.

#![allow(dead_code)] // each test binary uses its own subset

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use scenes::tris::TemporalProcess;

/// `n` steps of `process` from a sampled initial state: (state, next state, mask).
pub fn trajectory(
    process: &dyn TemporalProcess,
    seed: u64,
    n: usize,
) -> Vec<(Vec<f32>, Vec<f32>, Vec<bool>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = process.sample_state(&mut rng);
    (0..n)
        .map(|_| {
            let (next, mask) = process.step(&state, &mut rng);
            let prev = std::mem::replace(&mut state, next.clone());
            (prev, next, mask)
        })
        .collect()
}

/// Sample mean and standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// `count` successes out of `n` are within 5 standard errors of probability `p`.
pub fn assert_binomial(count: usize, n: usize, p: f64, what: &str) {
    let se = (p * (1.0 - p) / n as f64).sqrt();
    let frac = count as f64 / n as f64;
    assert!(
        (frac - p).abs() < 5.0 * se,
        "{what}: {frac:.4} vs expected {p:.4} (n = {n})"
    );
}

/// `xs` lie in [lo, hi] and fill 8 equal bins evenly (each bin a binomial check).
pub fn assert_uniform(xs: &[f64], lo: f64, hi: f64, what: &str) {
    assert!(xs.len() > 1000, "{what}: only {} samples", xs.len());
    let mut bins = [0usize; 8];
    for &x in xs {
        assert!(
            x >= lo - 1e-5 && x <= hi + 1e-5,
            "{what}: {x} outside [{lo}, {hi}]"
        );
        bins[(((x - lo) / (hi - lo)) * 8.0).floor().clamp(0.0, 7.0) as usize] += 1;
    }
    for (i, &c) in bins.iter().enumerate() {
        assert_binomial(c, xs.len(), 1.0 / 8.0, &format!("{what} bin {i}"));
    }
}
