//! Variable elimination for posteriors over a few variables.
//!
//! Before eliminating anything, the query is pruned: only ancestors of the targets and
//! the evidence matter (barren nodes sum to one), and after the evidence is plugged in
//! the remaining factors split into independent components. The targets' component is
//! eliminated down to the targets; every other component, being d-separated from the
//! targets by the evidence, only contributes a constant to P(e), so it is summed out on
//! its own small graph.

use crate::error::{Error, Result};
use crate::factor::{Factor, Marginal};
use crate::network::{Assignment, Network, VarId};
use crate::order::{EliminationPlan, InteractionGraph};

/// Largest table (in entries) inference will allocate before refusing with
/// [`Error::TooLarge`]: 2^30 entries are 8 GiB of `f64`.
pub const DEFAULT_TABLE_LIMIT: f64 = (1u64 << 30) as f64;

/// A normalised joint posterior over some variables, with the probability of the evidence.
#[derive(Clone, Debug)]
pub struct JointPosterior {
    /// P(targets | e) over the targets, in the order they were asked for.
    pub joint: Factor,
    /// P(e).
    pub evidence_probability: f64,
}

impl JointPosterior {
    /// Marginal of one target, from the joint.
    pub fn marginal(&self, v: VarId) -> Vec<f64> {
        self.joint.project(&[v], Marginal::Sum).into_values()
    }
}

/// One independent part of a pruned query: its factors and the order that eliminates
/// everything but `keep`.
#[derive(Debug)]
struct Part {
    factors: Vec<Factor>,
    keep: Vec<VarId>,
    plan: EliminationPlan,
}

impl Part {
    /// Plans the elimination of every variable of `factors` outside `keep` with the best
    /// greedy order, refusing tables above `limit` entries.
    fn new(net: &Network, factors: Vec<Factor>, keep: &[VarId], limit: f64) -> Result<Self> {
        let mut vars: Vec<VarId> = factors
            .iter()
            .flat_map(|f| f.vars().iter().copied())
            .collect();
        vars.sort_unstable();
        vars.dedup();
        let eliminate: Vec<VarId> = vars.iter().copied().filter(|v| !keep.contains(v)).collect();
        let mut graph =
            InteractionGraph::new(vars.clone(), vars.iter().map(|&v| net.card(v)).collect());
        for f in &factors {
            graph.add_clique(f.vars());
        }
        let mut plan = graph.plan(&eliminate, &[]);
        let keep: Vec<VarId> = keep.iter().copied().filter(|v| vars.contains(v)).collect();
        let kept_size: f64 = keep.iter().map(|&v| net.card(v) as f64).product();
        plan.cliques.push(keep.clone());
        plan.total_size += kept_size;
        plan.max_size = plan.max_size.max(kept_size);
        check_size(net, &plan.cliques, plan.max_size, limit)?;
        Ok(Self {
            factors,
            keep,
            plan,
        })
    }

    /// Runs the plan: one factor over `keep` (the variables of it that occur), in order.
    fn run(self) -> Factor {
        let mut pool = self.factors;
        for &v in &self.plan.order {
            let (bucket, rest): (Vec<Factor>, Vec<Factor>) =
                pool.into_iter().partition(|f| f.contains(v));
            pool = rest;
            let refs: Vec<&Factor> = bucket.iter().collect();
            pool.push(Factor::combine(&refs, &[v], Marginal::Sum));
        }
        let refs: Vec<&Factor> = pool.iter().collect();
        Factor::combine(&refs, &[], Marginal::Sum).project(&self.keep, Marginal::Sum)
    }
}

/// Refuses plans whose largest table exceeds `limit` entries, naming its scope.
pub(crate) fn check_size(
    net: &Network,
    cliques: &[Vec<VarId>],
    max_size: f64,
    limit: f64,
) -> Result<()> {
    if max_size <= limit {
        return Ok(());
    }
    let size = |c: &Vec<VarId>| c.iter().map(|&v| net.card(v) as f64).product::<f64>();
    let largest = cliques
        .iter()
        .max_by(|a, b| size(a).total_cmp(&size(b)))
        .map(|c| {
            c.iter()
                .map(|&v| net.variable(v).name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    Err(Error::TooLarge {
        entries: max_size as u128,
        limit: limit as u128,
        scope: largest,
    })
}

/// Reduced CPT factors of the ancestors of `targets` and the evidence, grouped into
/// connected components (variables linked through a shared factor). The first group
/// holds the targets' components; scalars (fully observed families) are folded into a
/// constant.
struct Pruned {
    target_part: Vec<Factor>,
    other_parts: Vec<Vec<Factor>>,
    constant: f64,
}

fn prune(net: &Network, targets: &[VarId], evidence: &Assignment) -> Pruned {
    let relevant = net.ancestral_mask(targets.iter().copied().chain(evidence.keys().copied()));
    let mut parent: Vec<usize> = (0..net.len()).collect();
    let mut constant = 1.0;
    let mut factors = Vec::new();
    for v in net.ids().filter(|v| relevant[v.0]) {
        let f = net.cpt_factor(v).reduce(evidence);
        if f.vars().is_empty() {
            constant *= f.values()[0];
            continue;
        }
        let first = find_root(&mut parent, f.vars()[0].0);
        for u in &f.vars()[1..] {
            let r = find_root(&mut parent, u.0);
            parent[r] = first;
        }
        factors.push(f);
    }
    let target_roots: Vec<usize> = targets
        .iter()
        .filter(|t| !evidence.contains_key(t))
        .map(|t| find_root(&mut parent, t.0))
        .collect();
    let mut target_part = Vec::new();
    let mut others: std::collections::BTreeMap<usize, Vec<Factor>> = Default::default();
    for f in factors {
        let root = find_root(&mut parent, f.vars()[0].0);
        if target_roots.contains(&root) {
            target_part.push(f);
        } else {
            others.entry(root).or_default().push(f);
        }
    }
    Pruned {
        target_part,
        other_parts: others.into_values().collect(),
        constant,
    }
}

/// Union-find lookup with path halving: the representative of `x`'s set.
pub(crate) fn find_root(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// A posterior query, pruned and planned but not yet computed: its [`cost`] says what
/// running it will take, so callers can choose between elimination and a junction tree.
///
/// [`cost`]: PosteriorPlan::cost
#[derive(Debug)]
pub struct PosteriorPlan {
    targets: Vec<VarId>,
    evidence: Assignment,
    constant: f64,
    target_part: Part,
    other_parts: Vec<Part>,
}

impl PosteriorPlan {
    /// Prunes the network for P(`targets` | `evidence`) and plans every part.
    pub fn new(
        net: &Network,
        targets: &[VarId],
        evidence: &Assignment,
        limit: f64,
    ) -> Result<Self> {
        let pruned = prune(net, targets, evidence);
        let free: Vec<VarId> = targets
            .iter()
            .copied()
            .filter(|t| !evidence.contains_key(t))
            .collect();
        Ok(Self {
            targets: targets.to_vec(),
            evidence: evidence.clone(),
            constant: pruned.constant,
            target_part: Part::new(net, pruned.target_part, &free, limit)?,
            other_parts: pruned
                .other_parts
                .into_iter()
                .map(|part| Part::new(net, part, &[], limit))
                .collect::<Result<_>>()?,
        })
    }

    /// Total entries of all tables the plan creates: its time and memory, up to a factor.
    pub fn cost(&self) -> f64 {
        self.target_part.plan.total_size
            + self
                .other_parts
                .iter()
                .map(|p| p.plan.total_size)
                .sum::<f64>()
    }

    /// P(targets, e) over the unobserved targets, and P(e).
    fn run_unnormalised(self) -> (Factor, f64) {
        let mut p_e = self.constant;
        for part in self.other_parts {
            p_e *= part.run().values()[0];
        }
        let joint = self.target_part.run();
        p_e *= joint.total();
        (joint, p_e)
    }

    /// Computes the posterior. Fails with [`Error::ImpossibleEvidence`] when P(e) = 0.
    pub fn run(self, net: &Network) -> Result<JointPosterior> {
        let (targets, evidence) = (self.targets.clone(), self.evidence.clone());
        let (mut joint, p_e) = self.run_unnormalised();
        joint.normalize();
        if p_e <= 0.0 {
            return Err(Error::ImpossibleEvidence(net.describe(&evidence)));
        }
        Ok(JointPosterior {
            joint: expand_to(net, joint, &targets, &evidence),
            evidence_probability: p_e,
        })
    }
}

/// P(e) by summing out the ancestral set of the evidence, component by component.
pub fn evidence_probability(net: &Network, evidence: &Assignment, limit: f64) -> Result<f64> {
    Ok(PosteriorPlan::new(net, &[], evidence, limit)?
        .run_unnormalised()
        .1)
}

/// Exact joint posterior P(targets | e) and P(e) by pruned variable elimination.
///
/// Observed targets get a point mass on their observed state. Fails with
/// [`Error::ImpossibleEvidence`] when P(e) = 0.
pub fn joint_posterior(
    net: &Network,
    targets: &[VarId],
    evidence: &Assignment,
    limit: f64,
) -> Result<JointPosterior> {
    PosteriorPlan::new(net, targets, evidence, limit)?.run(net)
}

/// Lays a joint over the unobserved targets out over all `targets` in order, observed
/// ones as point masses.
fn expand_to(net: &Network, joint: Factor, targets: &[VarId], evidence: &Assignment) -> Factor {
    let cards: Vec<usize> = targets.iter().map(|&v| net.card(v)).collect();
    let mut full = Factor::ones(targets.to_vec(), cards.clone());
    for (k, &t) in targets.iter().enumerate() {
        if let Some(&s) = evidence.get(&t) {
            let mut delta = vec![0.0; cards[k]];
            delta[s] = 1.0;
            full.multiply_in(&Factor::new(vec![t], vec![cards[k]], delta));
        }
    }
    if !joint.vars().is_empty() {
        full.multiply_in(&joint);
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;

    fn sprinkler() -> Network {
        let mut b = NetworkBuilder::new("sprinkler");
        for v in ["cloudy", "sprinkler", "rain", "wet"] {
            b.variable(v, &["t", "f"]).unwrap();
        }
        b.cpt("cloudy", &[], &[0.5, 0.5]).unwrap();
        b.cpt("sprinkler", &["cloudy"], &[0.1, 0.9, 0.5, 0.5])
            .unwrap();
        b.cpt("rain", &["cloudy"], &[0.8, 0.2, 0.2, 0.8]).unwrap();
        b.cpt(
            "wet",
            &["sprinkler", "rain"],
            &[0.99, 0.01, 0.9, 0.1, 0.9, 0.1, 0.0, 1.0],
        )
        .unwrap();
        b.build().unwrap()
    }

    #[test]
    fn textbook_sprinkler_posterior() {
        let net = sprinkler();
        let e = net.assignment(&[("wet", "t")]).unwrap();
        let rain = net.var("rain").unwrap();
        let post = joint_posterior(&net, &[rain], &e, DEFAULT_TABLE_LIMIT).unwrap();
        // Known result: P(rain=t | wet=t) = 0.7079, P(wet=t) = 0.6471.
        assert!((post.marginal(rain)[0] - 0.70793).abs() < 1e-4);
        assert!((post.evidence_probability - 0.6471).abs() < 1e-4);
    }

    #[test]
    fn impossible_evidence_is_an_error() {
        let net = sprinkler();
        let e = net
            .assignment(&[("sprinkler", "f"), ("rain", "f"), ("wet", "t")])
            .unwrap();
        let err = joint_posterior(&net, &[net.var("cloudy").unwrap()], &e, DEFAULT_TABLE_LIMIT)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("P(sprinkler=f, rain=f, wet=t) = 0"),
            "{err}"
        );
    }

    #[test]
    fn oversized_tables_are_refused() {
        let net = sprinkler();
        let e = Assignment::new();
        let all: Vec<VarId> = net.ids().collect();
        let err = joint_posterior(&net, &all, &e, 4.0).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    }
}
