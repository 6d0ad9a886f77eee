//! Spearman's rank correlation, as `scipy.stats.spearmanr` computes it (ties get the
//! mean of the ranks they span), which the CITRIS reference uses for its matrices.

use tch::{Device, Kind, Tensor};

/// Spearman's ρ of two equally long samples: Pearson's correlation of their ranks.
///
/// A constant sample has no ranking, so ρ is 0 then (the reference's convention for a
/// constant prediction; scipy would return NaN).
pub(crate) fn spearman(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "spearman needs paired samples");
    pearson(&ranks(x), &ranks(y))
}

/// The mean of Spearman's ρ over the columns of two [n, d] tensors (pairing column k of
/// `a` with column k of `b`): how the reference scores a variable with several
/// dimensions.
pub(crate) fn mean_column_spearman(a: &Tensor, b: &Tensor) -> f64 {
    let (_, d) = a.size2().expect("rank inputs are [n, d]");
    assert_eq!(a.size(), b.size(), "rank inputs must have the same shape");
    let column = |t: &Tensor, k: i64| -> Vec<f64> {
        let c = t
            .select(1, k)
            .to_kind(Kind::Double)
            .to_device(Device::Cpu)
            .contiguous();
        Vec::<f64>::try_from(&c).expect("a 1-D double tensor")
    };
    let total: f64 = (0..d).map(|k| spearman(&column(a, k), &column(b, k))).sum();
    total / d as f64
}

/// 1-based ranks; tied values share the mean of the ranks they occupy.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end.
        let mean = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mean;
        }
        start = end;
    }
    ranks
}

/// Pearson's correlation; 0 when either sample is constant.
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (da, db) = (a - mx, b - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotone_transforms_rank_perfectly() {
        let x: Vec<f64> = (0..50)
            .map(|i| (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.1)
            .collect();
        let up: Vec<f64> = x.iter().map(|v| v.powi(3) + v.exp()).collect();
        let down: Vec<f64> = x.iter().map(|v| -(2.0 * v).exp()).collect();
        assert!((spearman(&x, &up) - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &down) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn ties_take_mean_ranks_as_scipy_does() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) (scipy's documentation).
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]);
        assert!((rho - 0.820_782_681_668_123_3).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn constant_samples_score_zero() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]), 0.0);
    }

    #[test]
    fn columns_are_paired_and_averaged() {
        let a = Tensor::from_slice(&[1f32, 1., 2., 2., 3., 3., 4., 4.]).view([4, 2]);
        // Column 0 rises with a's column 0 (ρ = 1); column 1 has ranks [4, 2, 3, 1]
        // against [1, 2, 3, 4]: Σd² = 18, ρ = 1 − 6·18 / (4·15) = −0.8.
        let b = Tensor::from_slice(&[10f32, 4., 20., 2., 30., 3., 40., 1.]).view([4, 2]);
        let rho = mean_column_spearman(&a, &b);
        assert!((rho - (1.0 - 0.8) / 2.0).abs() < 1e-9, "{rho}");
    }
}
