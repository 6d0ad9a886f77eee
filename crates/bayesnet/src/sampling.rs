//! Seeded sampling: ancestral (forward) sampling, sampling under do(), and exact
//! conditional sampling given evidence from a calibrated junction tree (no rejection, so
//! rare evidence costs nothing extra).
//!
//! Forward sampling is the canonical structural model of
//! [`MonotoneCoupling`](crate::counterfactual::MonotoneCoupling) run on fresh noise: one
//! uniform U per node, drawn in topological order, and v = F⁻¹(U | parents), the inverse
//! CDF of the node's CPT row with states in declaration order. [`draw_exogenous`] and
//! [`solve`] expose the two halves, so a caller (a causal VAE, say) can keep the noise of
//! a unit and replay it under an intervention: the same unit in another world, exactly
//! the model behind [`counterfactual`](crate::counterfactual::counterfactual).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::elimination::DEFAULT_TABLE_LIMIT;
use crate::error::Result;
use crate::junction_tree::JunctionTree;
use crate::network::{Assignment, Network};

/// One joint sample by ancestral sampling: states indexed by `VarId`.
///
/// By definition this is `solve(net, &draw_exogenous(net, rng), &Assignment::new())`, so
/// a caller that needs the noise behind a sample can draw it instead, with the same rng,
/// and get the same sample.
pub fn sample_forward(net: &Network, rng: &mut impl Rng) -> Vec<usize> {
    let noise = draw_exogenous(net, rng);
    solve(net, &noise, &Assignment::new())
}

/// The exogenous noise of one unit: one U(0, 1) per variable, indexed by `VarId`.
///
/// The values are drawn in topological order, one `f64` each, which is exactly how
/// [`sample_forward`] consumes `rng`: identically seeded generators give the noise of the
/// very sample that forward sampling would have returned. Intervened variables still get
/// (and consume) a value, so the stream does not depend on which intervention is later
/// passed to [`solve`].
pub fn draw_exogenous(net: &Network, rng: &mut impl Rng) -> Vec<f64> {
    let mut noise = vec![0.0; net.len()];
    for &v in net.topological_order() {
        noise[v.0] = rng.gen::<f64>();
    }
    noise
}

/// Solves the canonical structural model: the state of every variable (indexed by
/// `VarId`) for the exogenous `noise` (one value in [0, 1) per variable, as from
/// [`draw_exogenous`]) in the world where `intervention` was forced.
///
/// Intervened variables take their forced state and ignore their own noise (graph
/// surgery); every other variable is the inverse CDF of its CPT row at its noise, given
/// its parents' solved states. Solving the same noise with and without an intervention
/// gives a factual unit and its counterfactual twin.
///
/// # Panics
///
/// If `noise` does not have one value per variable, or `intervention` names a variable
/// or state the network does not have (assignments from [`Network::assignment`] never
/// do): these are programming errors, not data errors.
pub fn solve(net: &Network, noise: &[f64], intervention: &Assignment) -> Vec<usize> {
    assert_eq!(
        noise.len(),
        net.len(),
        "solve: one noise value per variable of {net}"
    );
    assert!(
        intervention
            .iter()
            .all(|(&v, &s)| v.0 < net.len() && s < net.card(v)),
        "solve: the intervention names a variable or state that {net} does not have"
    );
    let mut states = vec![0; net.len()];
    for &v in net.topological_order() {
        states[v.0] = match intervention.get(&v) {
            Some(&forced) => forced,
            None => inverse_cdf(net.row(v, &states), noise[v.0]),
        };
    }
    states
}

/// Draws an index with probability proportional to `weights`: [`inverse_cdf`] at one
/// uniform from `rng`.
pub fn draw(weights: &[f64], rng: &mut impl Rng) -> usize {
    inverse_cdf(weights, rng.gen::<f64>())
}

/// The index whose interval contains `u` when [0, 1) is cut into consecutive intervals
/// of lengths proportional to `weights`, in order: the inverse CDF at `u`.
///
/// This is the one mechanism behind [`draw`], [`sample_forward`], [`solve`] and the
/// junction tree's sampler, so that forward samples and replayed noise agree bit for
/// bit. Zero weights are never chosen for `u` in [0, 1); should rounding leave `u` past
/// the last interval, the last index with positive weight is returned.
pub fn inverse_cdf(weights: &[f64], u: f64) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = u * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    // Rounding left `u` a hair above the last weight: take the last state with mass.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// `n` samples from P(· | do(intervention), e), reproducible from `seed`.
pub fn sample(
    net: &Network,
    n: usize,
    evidence: &Assignment,
    intervention: &Assignment,
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cut;
    let net = if intervention.is_empty() {
        net
    } else {
        cut = net.intervene(intervention)?;
        &cut
    };
    if evidence.is_empty() {
        return Ok((0..n).map(|_| sample_forward(net, &mut rng)).collect());
    }
    let tree = JunctionTree::new(net, DEFAULT_TABLE_LIMIT)?;
    let calibrated = tree.calibrate(net, evidence)?;
    Ok((0..n).map(|_| calibrated.sample(net, &mut rng)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;

    fn chain() -> Network {
        let mut b = NetworkBuilder::new("chain");
        b.variable("a", &["0", "1"]).unwrap();
        b.variable("b", &["0", "1"]).unwrap();
        b.cpt("a", &[], &[0.3, 0.7]).unwrap();
        b.cpt("b", &["a"], &[0.9, 0.1, 0.2, 0.8]).unwrap();
        b.build().unwrap()
    }

    #[test]
    fn same_seed_same_samples() {
        let net = chain();
        let e = Assignment::new();
        let a = sample(&net, 50, &e, &e, 7).unwrap();
        assert_eq!(a, sample(&net, 50, &e, &e, 7).unwrap());
        assert_ne!(a, sample(&net, 50, &e, &e, 8).unwrap());
    }

    #[test]
    fn inverse_cdf_skips_zero_mass_and_falls_back_to_the_last_state_with_mass() {
        assert_eq!(inverse_cdf(&[0.0, 1.0], 0.0), 1);
        assert_eq!(inverse_cdf(&[0.3, 0.0, 0.7], 0.3), 2);
        assert_eq!(inverse_cdf(&[0.3, 0.0, 0.7], 0.2999), 0);
        // u past the end (rounding, or u = 1): the last state that has mass.
        assert_eq!(inverse_cdf(&[0.5, 0.5, 0.0], 1.0), 1);
        // Unnormalised weights are scaled, as in `draw`.
        assert_eq!(inverse_cdf(&[1.0, 3.0], 0.26), 1);
    }

    /// b = 1 iff U_b ≥ P(b = 0 | a): 0.9 for a = 0, 0.2 for a = 1. The same unit, with
    /// its noise replayed, factually and under two interventions.
    #[test]
    fn solve_replays_noise_under_interventions() {
        let net = chain();
        let noise = [0.5, 0.5];
        assert_eq!(solve(&net, &noise, &Assignment::new()), vec![1, 1]);
        let do_a0 = net.assignment(&[("a", "0")]).unwrap();
        assert_eq!(solve(&net, &noise, &do_a0), vec![0, 0]);
        let do_b0 = net.assignment(&[("b", "0")]).unwrap();
        assert_eq!(solve(&net, &noise, &do_b0), vec![1, 0]);
    }

    #[test]
    #[should_panic(expected = "one noise value per variable")]
    fn solve_rejects_short_noise() {
        solve(&chain(), &[0.5], &Assignment::new());
    }

    #[test]
    fn conditional_samples_match_the_posterior() {
        let net = chain();
        let e = net.assignment(&[("b", "1")]).unwrap();
        let draws = sample(&net, 20_000, &e, &Assignment::new(), 1).unwrap();
        assert!(draws.iter().all(|s| s[1] == 1));
        let freq = draws.iter().filter(|s| s[0] == 1).count() as f64 / draws.len() as f64;
        let exact = 0.7 * 0.8 / (0.7 * 0.8 + 0.3 * 0.1);
        assert!((freq - exact).abs() < 0.01, "{freq} vs {exact}");
    }
}
