//! Counterfactuals, P(Y_x | e): "had X been x, given that we observed e".
//!
//! A discrete CPT does not pin down a structural causal model: many functions
//! v = f(parents, U) with exogenous noise U reproduce the same table but disagree about
//! counterfactuals. We therefore make the noise model explicit and pluggable
//! ([`NoiseModel`]) and answer with a *twin network*: the factual world, plus a copy of
//! every variable downstream of the intervention that shares its exogenous noise with
//! its factual twin. Variables not downstream of the intervention are the same in both
//! worlds, so they are not copied. Abduction (conditioning the noise on e), action (the
//! copy of X is fixed to x) and prediction (the copies' posterior) then happen in one
//! exact inference on the twin network.
//!
//! Because each node's noise is shared by exactly two copies, a noise model is fully
//! described by the joint law it induces on (v, v*) given the two parent
//! configurations; summing the noise out leaves the copy with an ordinary CPT,
//! P(v* | v, pa, pa*), so the twin is a plain Bayesian network.

use crate::error::Result;
use crate::network::{fresh_name, Assignment, Cpt, Network, VarId, Variable};
use crate::query::{Answer, Engine, Query};

/// How one node's exogenous noise couples its factual value with its counterfactual one.
pub trait NoiseModel {
    /// A short name for messages and reports.
    fn name(&self) -> &'static str;

    /// Writes the joint law of (v, v*) into `joint` (row-major, v slowest: `k * k`
    /// entries) when the factual parents select the CPT row `p` and the counterfactual
    /// parents the row `q` (`same_row` when both parent configurations are equal). The
    /// rows are normalised; the joint must have marginals `p` and `q`.
    fn couple(&self, p: &[f64], q: &[f64], same_row: bool, joint: &mut [f64]);
}

/// The default, canonical model: one uniform U per node and v = F⁻¹(U | parents), the
/// inverse CDF of the node's CPT row (states in declaration order). The breakpoints of
/// all rows cut [0, 1) into finitely many cells, and U only matters through its cell, so
/// the model is an exact discrete SCM. Its counterfactuals are *monotone*: an
/// intervention that shifts a row's mass towards later states never moves a unit towards
/// earlier ones. (For binary variables this is the monotonicity assumption under which
/// probabilities of causation are identified.) The joint of (v, v*) is the overlap of
/// the factual and counterfactual CDF intervals.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotoneCoupling;

impl NoiseModel for MonotoneCoupling {
    fn name(&self) -> &'static str {
        "monotone (inverse-CDF) coupling"
    }

    fn couple(&self, p: &[f64], q: &[f64], _same_row: bool, joint: &mut [f64]) {
        let k = p.len();
        let mut lo_p = 0.0;
        for s in 0..k {
            let hi_p = lo_p + p[s];
            let mut lo_q = 0.0;
            for t in 0..k {
                let hi_q = lo_q + q[t];
                joint[s * k + t] = (hi_p.min(hi_q) - lo_p.max(lo_q)).max(0.0);
                lo_q = hi_q;
            }
            lo_p = hi_p;
        }
    }
}

/// An alternative model: every parent configuration has its own independent noise.
/// Where the counterfactual parents equal the factual ones the node keeps its value;
/// elsewhere it is redrawn from its CPT independently of the factual world.
#[derive(Clone, Copy, Debug, Default)]
pub struct IndependentRows;

impl NoiseModel for IndependentRows {
    fn name(&self) -> &'static str {
        "independent noise per parent configuration"
    }

    fn couple(&self, p: &[f64], q: &[f64], same_row: bool, joint: &mut [f64]) {
        let k = p.len();
        for s in 0..k {
            for t in 0..k {
                joint[s * k + t] = match same_row {
                    true => f64::from(u8::from(s == t)) * p[s],
                    false => p[s] * q[t],
                };
            }
        }
    }
}

/// The factual network plus counterfactual copies of the intervened variables and
/// everything downstream of them.
#[derive(Clone, Debug)]
pub struct TwinNetwork {
    /// Factual variables keep their ids; copies come after them.
    pub network: Network,
    /// For each factual variable, its counterfactual copy if it has one.
    pub counterpart: Vec<Option<VarId>>,
}

impl TwinNetwork {
    /// Builds the twin network for `do(intervention)` under `model`.
    pub fn new(net: &Network, intervention: &Assignment, model: &dyn NoiseModel) -> Result<Self> {
        let downstream = net.descendant_mask(intervention.keys().copied());
        let (name, mut variables, mut cpts) = net.to_parts();
        let mut counterpart = vec![None; net.len()];
        for &v in net.topological_order() {
            if !downstream[v.0] {
                continue;
            }
            let copy = VarId(variables.len());
            counterpart[v.0] = Some(copy);
            variables.push(Variable {
                name: unique_name(&variables, &net.variable(v).name),
                states: net.variable(v).states.clone(),
            });
            cpts.push(match intervention.get(&v) {
                Some(&x) => {
                    let mut table = vec![0.0; net.card(v)];
                    table[x] = 1.0;
                    Cpt {
                        parents: Vec::new(),
                        table,
                    }
                }
                None => copy_cpt(net, v, &counterpart, model),
            });
        }
        let network = Network::new(format!("{name} (twin)"), variables, cpts)?;
        Ok(Self {
            network,
            counterpart,
        })
    }
}

/// P(v* | pa(v), v, pa*(v) ∩ copies): the copy's table, from the model's coupling.
fn copy_cpt(net: &Network, v: VarId, counterpart: &[Option<VarId>], model: &dyn NoiseModel) -> Cpt {
    let k = net.card(v);
    let parents = net.parents(v);
    let copied: Vec<usize> = (0..parents.len())
        .filter(|&i| counterpart[parents[i].0].is_some())
        .collect();
    let mut cpt_parents = parents.to_vec();
    cpt_parents.push(v);
    cpt_parents.extend(
        copied
            .iter()
            .map(|&i| counterpart[parents[i].0].expect("copied parent")),
    );

    let cards: Vec<usize> = parents.iter().map(|&p| net.card(p)).collect();
    let rows: usize = cards.iter().product();
    let copied_rows: usize = copied.iter().map(|&i| cards[i]).product();
    let table = &net.cpt(v).table;
    let normalised = |row: usize| -> Vec<f64> {
        let r = &table[row * k..(row + 1) * k];
        let z: f64 = r.iter().sum();
        r.iter().map(|x| x / z).collect()
    };
    let mut out = vec![0.0; rows * k * copied_rows * k];
    let mut joint = vec![0.0; k * k];
    let mut states = vec![0; parents.len()];
    for row in 0..rows {
        decode(row, &cards, &mut states);
        let p = normalised(row);
        for crow in 0..copied_rows {
            // Counterfactual parent states: copies vary, shared parents stay factual.
            let mut cf_states = states.clone();
            let mut rem = crow;
            for &i in copied.iter().rev() {
                cf_states[i] = rem % cards[i];
                rem /= cards[i];
            }
            let qrow = cf_states
                .iter()
                .zip(&cards)
                .fold(0, |acc, (&s, &c)| acc * c + s);
            let q = normalised(qrow);
            model.couple(&p, &q, qrow == row, &mut joint);
            for s in 0..k {
                let base = ((row * k + s) * copied_rows + crow) * k;
                for t in 0..k {
                    // Where v = s is impossible the row never matters; use the plain CPT.
                    out[base + t] = match p[s] > 0.0 {
                        // Rounding can push a quotient a hair past 1.
                        true => (joint[s * k + t] / p[s]).min(1.0),
                        false => q[t],
                    };
                }
            }
        }
    }
    Cpt {
        parents: cpt_parents,
        table: out,
    }
}

fn decode(mut index: usize, cards: &[usize], states: &mut [usize]) {
    for i in (0..cards.len()).rev() {
        states[i] = index % cards[i];
        index /= cards[i];
    }
}

/// `base*`, or `base**`, ... if taken.
fn unique_name(variables: &[Variable], base: &str) -> String {
    fresh_name(variables, |n| format!("{base}{}", "*".repeat(n + 1)))
}

/// P(targets_x | e) under `model`: each target's distribution in the world where
/// `intervention` was forced, given the factual evidence. `evidence_probability` is the
/// factual P(e).
pub fn counterfactual(
    net: &Network,
    evidence: &Assignment,
    intervention: &Assignment,
    targets: &[VarId],
    model: &dyn NoiseModel,
) -> Result<Answer> {
    let twin = TwinNetwork::new(net, intervention, model)?;
    let targets: Vec<VarId> = match targets.is_empty() {
        true => net.ids().collect(),
        false => targets.to_vec(),
    };
    let asked: Vec<VarId> = targets
        .iter()
        .map(|&t| twin.counterpart[t.0].unwrap_or(t))
        .collect();
    let engine = Engine::new(twin.network);
    let answer = engine.answer(&Query {
        targets: asked,
        evidence: evidence.clone(),
        intervention: Assignment::new(),
    })?;
    Ok(Answer {
        evidence_probability: answer.evidence_probability,
        marginals: targets
            .into_iter()
            .zip(answer.marginals)
            .map(|(t, (_, m))| (t, m))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;

    fn treatment() -> Network {
        let mut b = NetworkBuilder::new("treatment");
        b.variable("x", &["0", "1"]).unwrap();
        b.variable("y", &["0", "1"]).unwrap();
        b.cpt("x", &[], &[0.5, 0.5]).unwrap();
        b.cpt("y", &["x"], &[0.8, 0.2, 0.3, 0.7]).unwrap();
        b.build().unwrap()
    }

    /// Hand computation: y = 1 iff U >= F(0 | x). Seeing x=1, y=1 puts U in [0.3, 1);
    /// had x been 0, y would be 1 iff U >= 0.8: probability 0.2 / 0.7.
    #[test]
    fn monotone_counterfactual_by_hand() {
        let net = treatment();
        let (x, y) = (net.var("x").unwrap(), net.var("y").unwrap());
        let e = net.assignment(&[("x", "1"), ("y", "1")]).unwrap();
        let d = net.assignment(&[("x", "0")]).unwrap();
        let a = counterfactual(&net, &e, &d, &[y, x], &MonotoneCoupling).unwrap();
        assert!((a.marginals[0].1[1] - 0.2 / 0.7).abs() < 1e-15);
        assert_eq!(a.marginals[1].1, vec![1.0, 0.0]);
        assert!((a.evidence_probability - 0.35).abs() < 1e-15);
        // Independent rows: the counterfactual y is a fresh draw from P(y | x=0).
        let b = counterfactual(&net, &e, &d, &[y], &IndependentRows).unwrap();
        assert!((b.marginals[0].1[1] - 0.2).abs() < 1e-15);
    }

    /// In a deterministic network the counterfactual is known exactly: y copies x.
    #[test]
    fn deterministic_network() {
        let mut b = NetworkBuilder::new("copy");
        b.variable("x", &["a", "b", "c"]).unwrap();
        b.variable("y", &["a", "b", "c"]).unwrap();
        b.cpt("x", &[], &[0.2, 0.3, 0.5]).unwrap();
        b.cpt("y", &["x"], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
            .unwrap();
        let net = b.build().unwrap();
        let y = net.var("y").unwrap();
        let e = net.assignment(&[("y", "b")]).unwrap();
        let d = net.assignment(&[("x", "c")]).unwrap();
        for model in [&MonotoneCoupling as &dyn NoiseModel, &IndependentRows] {
            let a = counterfactual(&net, &e, &d, &[y], model).unwrap();
            assert_eq!(a.marginals[0].1, vec![0.0, 0.0, 1.0], "{}", model.name());
        }
    }

    /// Evidence that says nothing about the target's noise: counterfactual = do().
    #[test]
    fn independent_evidence_gives_the_interventional_answer() {
        let mut b = NetworkBuilder::new("split");
        b.variable("x", &["0", "1"]).unwrap();
        b.variable("y", &["0", "1", "2"]).unwrap();
        b.variable("w", &["0", "1"]).unwrap();
        b.cpt("x", &[], &[0.4, 0.6]).unwrap();
        b.cpt("y", &["x"], &[0.2, 0.3, 0.5, 0.6, 0.3, 0.1]).unwrap();
        b.cpt("w", &[], &[0.9, 0.1]).unwrap();
        let net = b.build().unwrap();
        let y = net.var("y").unwrap();
        let e = net.assignment(&[("w", "1"), ("x", "1")]).unwrap();
        let d = net.assignment(&[("x", "0")]).unwrap();
        // Observing x (not y) leaves y's noise at its prior.
        let cf = counterfactual(&net, &e, &d, &[y], &MonotoneCoupling).unwrap();
        let expect = [0.2, 0.3, 0.5];
        for (a, b) in cf.marginals[0].1.iter().zip(expect) {
            assert!((a - b).abs() < 1e-15);
        }
    }
}
