//! Most probable explanations. MPE maximises over every unobserved variable with
//! max-product elimination and a traceback; MAP over a chosen subset first sums the
//! other variables out (a constrained elimination order: sums and maxes do not commute)
//! and then maximises.

use crate::elimination::check_size;
use crate::error::{Error, Result};
use crate::factor::{Factor, Marginal};
use crate::network::{Assignment, Network, VarId};
use crate::order::InteractionGraph;

/// A most probable assignment and its joint probability with the evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// States of the maximised variables (all unobserved ones for MPE).
    pub assignment: Assignment,
    /// P(assignment, e): the joint, not divided by P(e).
    pub probability: f64,
}

/// The most probable joint state of all unobserved variables given `evidence`.
pub fn mpe(net: &Network, evidence: &Assignment, limit: f64) -> Result<Explanation> {
    let all: Vec<VarId> = net.ids().collect();
    let free: Vec<VarId> = all
        .iter()
        .copied()
        .filter(|v| !evidence.contains_key(v))
        .collect();
    max_product(net, &all, &[], &free, evidence, limit)
}

/// The most probable joint state of `variables` given `evidence`, every other unobserved
/// variable summed out.
pub fn map(
    net: &Network,
    variables: &[VarId],
    evidence: &Assignment,
    limit: f64,
) -> Result<Explanation> {
    if let Some(v) = variables.iter().find(|v| evidence.contains_key(v)) {
        return Err(Error::InvalidQuery(format!(
            "`{}` is observed, so it cannot also be a MAP variable",
            net.variable(*v).name
        )));
    }
    let mut maximise = variables.to_vec();
    maximise.sort_unstable();
    maximise.dedup();
    // Barren variables outside the MAP set sum to one: keep ancestors only.
    let relevant = net.ancestral_mask(maximise.iter().copied().chain(evidence.keys().copied()));
    let family: Vec<VarId> = net.ids().filter(|v| relevant[v.0]).collect();
    let sum_out: Vec<VarId> = family
        .iter()
        .copied()
        .filter(|v| !evidence.contains_key(v) && !maximise.contains(v))
        .collect();
    max_product(net, &family, &sum_out, &maximise, evidence, limit)
}

/// One maximised variable: its best state for every entry of the max-marginal it left.
struct TraceStep {
    var: VarId,
    scope: Vec<VarId>,
    cards: Vec<usize>,
    argmax: Vec<u32>,
}

/// Eliminates `sum_out` by sums, then `maximise` by maxes with argmax tables, over the
/// CPTs of `family`; traces the maximising states back.
fn max_product(
    net: &Network,
    family: &[VarId],
    sum_out: &[VarId],
    maximise: &[VarId],
    evidence: &Assignment,
    limit: f64,
) -> Result<Explanation> {
    let mut constant = 1.0;
    let mut pool: Vec<Factor> = Vec::new();
    for &v in family {
        let f = net.cpt_factor(v).reduce(evidence);
        if f.vars().is_empty() {
            constant *= f.values()[0];
        } else {
            pool.push(f);
        }
    }
    let mut vars: Vec<VarId> = sum_out.iter().chain(maximise).copied().collect();
    vars.sort_unstable();
    let mut graph =
        InteractionGraph::new(vars.clone(), vars.iter().map(|&v| net.card(v)).collect());
    for f in &pool {
        graph.add_clique(f.vars());
    }
    let plan = graph.plan(sum_out, maximise);
    check_size(net, &plan.cliques, plan.max_size, limit)?;

    let mut trace: Vec<TraceStep> = Vec::new();
    for &v in &plan.order {
        let (bucket, rest): (Vec<Factor>, Vec<Factor>) =
            pool.into_iter().partition(|f| f.contains(v));
        pool = rest;
        let refs: Vec<&Factor> = bucket.iter().collect();
        if maximise.contains(&v) {
            let (reduced, arg) = Factor::combine_argmax(&refs, v, net.card(v));
            trace.push(TraceStep {
                var: v,
                scope: reduced.vars().to_vec(),
                cards: reduced.cards().to_vec(),
                argmax: arg,
            });
            pool.push(reduced);
        } else {
            pool.push(Factor::combine(&refs, &[v], Marginal::Sum));
        }
    }
    let probability = constant * pool.iter().map(|f| f.values()[0]).product::<f64>();
    if probability <= 0.0 {
        return Err(Error::ImpossibleEvidence(net.describe(evidence)));
    }
    let mut assignment = Assignment::new();
    for step in trace.iter().rev() {
        let index = step
            .scope
            .iter()
            .zip(&step.cards)
            .fold(0, |acc, (u, &c)| acc * c + assignment[u]);
        assignment.insert(step.var, step.argmax[index] as usize);
    }
    Ok(Explanation {
        assignment,
        probability,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;
    use crate::elimination::DEFAULT_TABLE_LIMIT;

    /// MAP over one variable can disagree with that variable's value in the MPE: the
    /// textbook reason MAP needs its own algorithm.
    #[test]
    fn map_differs_from_mpe_projection() {
        let mut b = NetworkBuilder::new("map");
        b.variable("a", &["0", "1"]).unwrap();
        b.variable("b", &["0", "1", "2"]).unwrap();
        b.cpt("a", &[], &[0.4, 0.6]).unwrap();
        // a=0 makes b certain; a=1 spreads b out.
        b.cpt("b", &["a"], &[1.0, 0.0, 0.0, 0.3, 0.35, 0.35])
            .unwrap();
        let net = b.build().unwrap();
        let a = net.var("a").unwrap();
        let e = Assignment::new();
        let best = mpe(&net, &e, DEFAULT_TABLE_LIMIT).unwrap();
        assert_eq!(best.assignment[&a], 0);
        assert!((best.probability - 0.4).abs() < 1e-15);
        let m = map(&net, &[a], &e, DEFAULT_TABLE_LIMIT).unwrap();
        assert_eq!(m.assignment[&a], 1);
        assert!((m.probability - 0.6).abs() < 1e-15);
    }
}
