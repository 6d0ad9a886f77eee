//! Virtual (likelihood, soft) evidence: "a sensor reading says v = s with likelihood
//! L(s)" rather than "v = s".
//!
//! Why: a causal VAE reads its causal variables off images with a label head. On an
//! unlabeled image that head gives no state, only a likelihood vector over the states of
//! each variable. Counterfactual abduction on such an image ("what would this image look
//! like had X been x?") must condition on that soft reading, not on a guessed hard label.
//!
//! How: Pearl's method of virtual evidence. Each reading becomes a new binary child of
//! its variable, with P(seen | v = s) = L(s) / max L, observed as `seen`. Conditioning on
//! it multiplies the joint by L(v) (up to a constant), so P(v = s | ...) ∝ L(s) × prior,
//! with every exact engine of this crate (junction tree, elimination, MPE, twin
//! networks) working unchanged.
//!
//! The added children have no children of their own, so they change nothing about the
//! original variables while unobserved: every marginal, every do() query, and every
//! twin network over the original variables is the same (the twin network copies a
//! reading child only if it is downstream of the intervention, and that copy is
//! unobserved and childless, so it sums out). Observed, they only reweight the factual
//! world, which is exactly abduction from a soft observation.

use crate::error::{Error, Result};
use crate::network::{fresh_name, Assignment, Cpt, Network, VarId, Variable};

/// State of a reading child that the returned evidence observes.
pub const SEEN: &str = "seen";

/// The other state of a reading child; it carries the likelihood's shortfall from its
/// maximum and is never observed.
pub const UNSEEN: &str = "unseen";

/// The network extended by one reading child per `(variable, likelihood)` entry, and the
/// evidence that observes every child as [`SEEN`].
///
/// Conditioning the returned network on this evidence (merged with any hard evidence on
/// the original variables) is conditioning on the soft readings:
/// P(v = s | readings, e) ∝ L(s) × P(v = s, e), for every query this crate answers,
/// [`counterfactual`](crate::counterfactual::counterfactual) included.
///
/// Children are named `{variable}~obs` (then `{variable}~obs2`, `{variable}~obs3`, ...
/// if taken), with states [`SEEN`] and [`UNSEEN`], and come after the original variables
/// in entry order: entry `i` is `VarId(net.len() + i)`; original ids are unchanged. A
/// variable may appear in several entries (several independent readings multiply).
/// Only likelihood ratios matter: `L` and `c·L` give the same posteriors. The reported
/// evidence probability is P(e) × E[L(v) / max L | e] per reading, not the probability
/// of any image.
///
/// Each likelihood must have one entry per state of its variable, all finite and ≥ 0,
/// not all zero; errors name the variable.
pub fn with_likelihoods(
    net: &Network,
    likelihoods: &[(VarId, Vec<f64>)],
) -> Result<(Network, Assignment)> {
    let (name, mut variables, mut cpts) = net.to_parts();
    let mut evidence = Assignment::new();
    for (v, likelihood) in likelihoods {
        let table = reading_table(net, *v, likelihood)?;
        let base = &net.variable(*v).name;
        evidence.insert(VarId(variables.len()), 0);
        variables.push(Variable {
            name: fresh_name(&variables, |n| match n {
                0 => format!("{base}~obs"),
                n => format!("{base}~obs{}", n + 1),
            }),
            states: vec![SEEN.to_string(), UNSEEN.to_string()],
        });
        cpts.push(Cpt {
            parents: vec![*v],
            table,
        });
    }
    Ok((Network::new(name, variables, cpts)?, evidence))
}

/// P(reading | v): one row (seen, unseen) per state of `v`, seen = L(s) / max L.
fn reading_table(net: &Network, v: VarId, likelihood: &[f64]) -> Result<Vec<f64>> {
    let max = check_likelihood(net, v, likelihood)?;
    Ok(likelihood
        .iter()
        .flat_map(|&l| {
            let seen = l / max;
            [seen, 1.0 - seen]
        })
        .collect())
}

/// Checks one likelihood vector against its variable and returns its maximum (> 0).
fn check_likelihood(net: &Network, v: VarId, likelihood: &[f64]) -> Result<f64> {
    let var = net
        .variables()
        .get(v.0)
        .ok_or_else(|| Error::UnknownVariable(format!("#{}", v.0)))?;
    if likelihood.len() != var.card() {
        return Err(Error::LikelihoodLength {
            variable: var.name.clone(),
            expected: var.card(),
            found: likelihood.len(),
            states: var.states.join(", "),
        });
    }
    let invalid = |l: &f64| !(l.is_finite() && *l >= 0.0);
    if let Some(s) = likelihood.iter().position(invalid) {
        return Err(Error::InvalidLikelihood {
            variable: var.name.clone(),
            state: var.states[s].clone(),
            value: likelihood[s],
        });
    }
    let max = likelihood.iter().copied().fold(0.0, f64::max);
    if max == 0.0 {
        return Err(Error::ZeroLikelihood(var.name.clone()));
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;
    use crate::counterfactual::{counterfactual, MonotoneCoupling};
    use crate::query::{Answer, Engine, Query};

    /// x -> y with y ternary, plus an unrelated w.
    fn net() -> Network {
        let mut b = NetworkBuilder::new("soft");
        b.variable("x", &["0", "1"]).unwrap();
        b.variable("y", &["a", "b", "c"]).unwrap();
        b.variable("w", &["0", "1"]).unwrap();
        b.cpt("x", &[], &[0.4, 0.6]).unwrap();
        b.cpt("y", &["x"], &[0.2, 0.3, 0.5, 0.6, 0.3, 0.1]).unwrap();
        b.cpt("w", &["x"], &[0.9, 0.1, 0.5, 0.5]).unwrap();
        b.build().unwrap()
    }

    fn ask(net: &Network, evidence: &Assignment) -> Answer {
        let targets = (0..3).map(VarId).collect();
        Engine::new(net.clone())
            .answer(&Query {
                targets,
                evidence: evidence.clone(),
                ..Query::default()
            })
            .unwrap()
    }

    fn assert_close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    /// By hand: given w = 1, P(x) ∝ (0.4·0.1, 0.6·0.5) = (0.04, 0.30); a reading of y
    /// with L = (1, 2, 4) weighs x = 0 by 0.2 + 0.6 + 2.0 = 2.8 and x = 1 by
    /// 0.6 + 0.6 + 0.4 = 1.6.
    #[test]
    fn posterior_is_prior_times_likelihood() {
        let base = net();
        let y = base.var("y").unwrap();
        let (soft, mut evidence) = with_likelihoods(&base, &[(y, vec![1.0, 2.0, 4.0])]).unwrap();
        assert_eq!(soft.variable(VarId(3)).name, "y~obs");
        evidence.extend(base.assignment(&[("w", "1")]).unwrap());
        let answer = ask(&soft, &evidence);
        let (a, b) = (0.04 * 2.8, 0.30 * 1.6);
        assert_close(&answer.marginals[0].1, &[a / (a + b), b / (a + b)]);
        // y: prior given w=1 times L, normalised.
        let py = [
            0.04 * 0.2 + 0.30 * 0.6,
            0.04 * 0.3 + 0.30 * 0.3,
            0.04 * 0.5 + 0.30 * 0.1,
        ];
        let weighted: Vec<f64> = py.iter().zip([1.0, 2.0, 4.0]).map(|(p, l)| p * l).collect();
        let z: f64 = weighted.iter().sum();
        assert_close(
            &answer.marginals[1].1,
            &weighted.iter().map(|p| p / z).collect::<Vec<_>>(),
        );
        // P(e) is scaled by 1 / max L.
        assert!((answer.evidence_probability - z / 4.0).abs() < 1e-12);
    }

    #[test]
    fn one_hot_likelihood_is_hard_evidence() {
        let base = net();
        let y = base.var("y").unwrap();
        let (soft, evidence) = with_likelihoods(&base, &[(y, vec![0.0, 0.7, 0.0])]).unwrap();
        let hard = ask(&base, &base.assignment(&[("y", "b")]).unwrap());
        let answer = ask(&soft, &evidence);
        assert!((answer.evidence_probability - hard.evidence_probability).abs() < 1e-15);
        for ((_, m), (_, h)) in answer.marginals.iter().zip(&hard.marginals) {
            assert_close(m, h);
        }
    }

    #[test]
    fn uniform_likelihood_changes_nothing() {
        let base = net();
        let (x, y) = (base.var("x").unwrap(), base.var("y").unwrap());
        let readings = [(y, vec![0.3; 3]), (x, vec![2.0, 2.0])];
        let (soft, mut evidence) = with_likelihoods(&base, &readings).unwrap();
        let hard = base.assignment(&[("w", "0")]).unwrap();
        evidence.extend(hard.clone());
        let (plain, answer) = (ask(&base, &hard), ask(&soft, &evidence));
        assert!((answer.evidence_probability - plain.evidence_probability).abs() < 1e-15);
        for ((_, m), (_, p)) in answer.marginals.iter().zip(&plain.marginals) {
            assert_close(m, p);
        }
    }

    /// The hand counterfactual of `counterfactual.rs` with a soft reading of y:
    /// y = 1 iff U ≥ F(0 | x). Seeing x = 1 and L(y) = (1, 3) weighs U by 1/3 on
    /// [0, 0.3) and 1 on [0.3, 1): total 0.8. Had x been 0, y = 1 iff U ≥ 0.8: 0.2 / 0.8.
    #[test]
    fn soft_readings_drive_counterfactual_abduction() {
        let mut b = NetworkBuilder::new("treatment");
        b.variable("x", &["0", "1"]).unwrap();
        b.variable("y", &["0", "1"]).unwrap();
        b.cpt("x", &[], &[0.5, 0.5]).unwrap();
        b.cpt("y", &["x"], &[0.8, 0.2, 0.3, 0.7]).unwrap();
        let base = b.build().unwrap();
        let (x, y) = (base.var("x").unwrap(), base.var("y").unwrap());
        let d = base.assignment(&[("x", "0")]).unwrap();
        let cf = |l: Vec<f64>| {
            let (soft, mut e) = with_likelihoods(&base, &[(y, l)]).unwrap();
            e.extend(base.assignment(&[("x", "1")]).unwrap());
            counterfactual(&soft, &e, &d, &[y, x], &MonotoneCoupling).unwrap()
        };
        let answer = cf(vec![1.0, 3.0]);
        assert!((answer.marginals[0].1[1] - 0.25).abs() < 1e-15);
        assert_eq!(answer.marginals[1].1, vec![1.0, 0.0]);
        // A one-hot reading is the hard observation y = 1: 0.2 / 0.7.
        assert!((cf(vec![0.0, 5.0]).marginals[0].1[1] - 0.2 / 0.7).abs() < 1e-15);
    }

    #[test]
    fn reading_names_never_collide() {
        let mut b = NetworkBuilder::new("taken");
        b.variable("y", &["0", "1"]).unwrap();
        b.variable("y~obs", &["0", "1"]).unwrap();
        b.cpt("y", &[], &[0.5, 0.5]).unwrap();
        b.cpt("y~obs", &[], &[0.5, 0.5]).unwrap();
        let base = b.build().unwrap();
        let y = VarId(0);
        let readings = [(y, vec![1.0, 2.0]), (y, vec![3.0, 1.0])];
        let (soft, evidence) = with_likelihoods(&base, &readings).unwrap();
        let names: Vec<&str> = soft.variables().iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["y", "y~obs", "y~obs2", "y~obs3"]);
        assert_eq!(soft.parents(VarId(3)), [y]);
        assert_eq!(
            evidence,
            [(VarId(2), 0), (VarId(3), 0)].into_iter().collect()
        );
        // Two readings multiply: L = (3, 2).
        let answer = ask(&soft, &evidence);
        assert_close(&answer.marginals[0].1, &[0.6, 0.4]);
    }

    #[test]
    fn invalid_likelihoods_name_the_variable() {
        let base = net();
        let y = base.var("y").unwrap();
        let error = |l: Vec<f64>| with_likelihoods(&base, &[(y, l)]).unwrap_err();
        let cases = [
            (
                vec![1.0, 2.0],
                "likelihood of `y` has 2 entries, expected 3 (one per state: a, b, c)",
            ),
            (
                vec![1.0, -0.5, 2.0],
                "likelihood of `y`, state `b`: -0.5 is not a finite number >= 0",
            ),
            (
                vec![1.0, 2.0, f64::NAN],
                "likelihood of `y`, state `c`: NaN is not a finite number >= 0",
            ),
            (
                vec![f64::INFINITY, 2.0, 1.0],
                "likelihood of `y`, state `a`: inf is not a finite number >= 0",
            ),
            (
                vec![0.0; 3],
                "likelihood of `y` is zero for every state, so the observation is impossible",
            ),
        ];
        for (likelihood, message) in cases {
            assert_eq!(error(likelihood).to_string(), message);
        }
        assert!(matches!(error(vec![0.0; 3]), Error::ZeroLikelihood(v) if v == "y"));
        let unknown = with_likelihoods(&base, &[(VarId(9), vec![1.0])]).unwrap_err();
        assert!(matches!(unknown, Error::UnknownVariable(v) if v == "#9"));
    }
}
