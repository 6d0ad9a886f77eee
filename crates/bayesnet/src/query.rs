//! The query front door: one call for P(targets | do(x), e) on any rung below
//! counterfactuals, choosing the algorithm by the shape of the question.

use std::sync::OnceLock;

use crate::elimination::{evidence_probability, PosteriorPlan, DEFAULT_TABLE_LIMIT};
use crate::error::{Error, Result};
use crate::junction_tree::JunctionTree;
use crate::network::{Assignment, Network, VarId};

/// Up to this many targets, pruned variable elimination per target is used without
/// building a junction tree at all.
const ELIMINATION_TARGETS: usize = 2;

/// Junction trees up to this many entries calibrate in milliseconds: for them, planning
/// one elimination per target would cost more than it could save.
const SMALL_TREE: f64 = 1e6;

/// Share of a large tree's size that per-target elimination may spend (counted in table
/// entries) before the planner falls back to calibrating the tree. Elimination kernels
/// touch each entry a few more times than the tree's, hence a share below one. With
/// little evidence on a network like munin1, most targets keep only a small relevant
/// part and elimination wins by orders of magnitude.
const ELIMINATION_SHARE: f64 = 0.25;

/// What to ask: marginals of `targets` (all variables when empty) given `evidence`
/// in the world where `intervention` was forced.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub targets: Vec<VarId>,
    pub evidence: Assignment,
    pub intervention: Assignment,
}

/// Posterior marginals with the probability of the evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// P(e) in the (possibly intervened) network.
    pub evidence_probability: f64,
    /// One distribution per target, in the order asked.
    pub marginals: Vec<(VarId, Vec<f64>)>,
}

/// A network with its junction tree built on first use and kept for later queries.
#[derive(Debug)]
pub struct Engine {
    net: Network,
    tree: OnceLock<JunctionTree>,
    limit: f64,
}

impl Engine {
    /// Wraps a network; nothing is computed until the first query.
    pub fn new(net: Network) -> Self {
        Self {
            net,
            tree: OnceLock::new(),
            limit: DEFAULT_TABLE_LIMIT,
        }
    }

    /// Changes the largest table (in entries) inference may allocate.
    pub fn with_table_limit(mut self, limit: f64) -> Self {
        self.limit = limit;
        self
    }

    /// The network queried.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The junction tree of the (unintervened) network, built once.
    pub fn junction_tree(&self) -> Result<&JunctionTree> {
        if let Some(tree) = self.tree.get() {
            return Ok(tree);
        }
        let tree = JunctionTree::new(&self.net, self.limit)?;
        Ok(self.tree.get_or_init(|| tree))
    }

    /// Answers a query exactly. Interventions are applied by graph surgery first.
    pub fn answer(&self, query: &Query) -> Result<Answer> {
        if query.intervention.is_empty() {
            return self.answer_observational(&self.net, query, || self.junction_tree());
        }
        let cut = self.net.intervene(&query.intervention)?;
        let mut tree = None;
        self.answer_observational(&cut, query, || {
            Ok(&*tree.insert(JunctionTree::new(&cut, self.limit)?))
        })
    }

    fn answer_observational<'t>(
        &self,
        net: &Network,
        query: &Query,
        tree: impl FnOnce() -> Result<&'t JunctionTree>,
    ) -> Result<Answer> {
        let evidence = &query.evidence;
        let targets: Vec<VarId> = if query.targets.is_empty() {
            net.ids().collect()
        } else {
            query.targets.clone()
        };
        if targets.is_empty() {
            return Ok(Answer {
                evidence_probability: evidence_probability(net, evidence, self.limit)?,
                marginals: Vec::new(),
            });
        }
        // Few targets: elimination only. Many: the tree, unless it is large and the
        // per-target plans turn out cheap.
        let tree = match targets.len() <= ELIMINATION_TARGETS {
            true => None,
            false => Some(tree()?),
        };
        let budget = match tree {
            None => f64::INFINITY,
            Some(tree) if tree.total_size() <= SMALL_TREE => {
                return calibrated_answer(net, tree, &targets, evidence);
            }
            Some(tree) => tree.total_size() * ELIMINATION_SHARE,
        };
        match (self.plan_per_target(net, &targets, evidence, budget)?, tree) {
            (Some(plans), _) => {
                let mut marginals = Vec::with_capacity(targets.len());
                let mut p_e = 0.0;
                for (plan, &t) in plans.into_iter().zip(&targets) {
                    let post = plan.run(net)?;
                    p_e = post.evidence_probability;
                    marginals.push((t, post.marginal(t)));
                }
                Ok(Answer {
                    evidence_probability: p_e,
                    marginals,
                })
            }
            (None, Some(tree)) => calibrated_answer(net, tree, &targets, evidence),
            (None, None) => unreachable!("without a tree the budget is unlimited"),
        }
    }

    /// Pruned elimination plans, one per target, or `None` once their total cost passes
    /// a finite `budget` (then one junction-tree calibration is cheaper). With an infinite
    /// budget it always plans, or fails on a table above the limit.
    fn plan_per_target(
        &self,
        net: &Network,
        targets: &[VarId],
        evidence: &Assignment,
        budget: f64,
    ) -> Result<Option<Vec<PosteriorPlan>>> {
        let mut plans = Vec::with_capacity(targets.len());
        let mut spent = 0.0;
        for &t in targets {
            let plan = match PosteriorPlan::new(net, &[t], evidence, self.limit.min(budget)) {
                Err(Error::TooLarge { .. }) if budget.is_finite() => return Ok(None),
                other => other?,
            };
            spent += plan.cost();
            if spent > budget {
                return Ok(None);
            }
            plans.push(plan);
        }
        Ok(Some(plans))
    }
}

/// All `targets`' marginals from one calibration of `tree`.
fn calibrated_answer(
    net: &Network,
    tree: &JunctionTree,
    targets: &[VarId],
    evidence: &Assignment,
) -> Result<Answer> {
    let calibrated = tree.calibrate(net, evidence)?;
    Ok(Answer {
        evidence_probability: calibrated.evidence_probability(),
        marginals: targets
            .iter()
            .map(|&t| (t, calibrated.marginal(net, t)))
            .collect(),
    })
}
