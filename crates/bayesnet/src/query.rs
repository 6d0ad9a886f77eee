//! The query front door: one call for P(targets | do(x), e) on any rung below
//! counterfactuals, choosing the algorithm by the shape of the question.

use std::sync::OnceLock;

use crate::elimination::{evidence_probability, joint_posterior, DEFAULT_TABLE_LIMIT};
use crate::error::Result;
use crate::junction_tree::JunctionTree;
use crate::network::{Assignment, Network, VarId};

/// Up to this many targets, pruned variable elimination per target beats calibrating a
/// whole junction tree; above it, the tree's two passes win.
const ELIMINATION_TARGETS: usize = 2;

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
        let targets: Vec<VarId> = if query.targets.is_empty() {
            net.ids().collect()
        } else {
            query.targets.clone()
        };
        if targets.len() <= ELIMINATION_TARGETS {
            let mut marginals = Vec::with_capacity(targets.len());
            let mut p_e = match targets.is_empty() {
                true => evidence_probability(net, &query.evidence, self.limit)?,
                false => 0.0,
            };
            for &t in &targets {
                let post = joint_posterior(net, &[t], &query.evidence, self.limit)?;
                p_e = post.evidence_probability;
                marginals.push((t, post.marginal(t)));
            }
            return Ok(Answer {
                evidence_probability: p_e,
                marginals,
            });
        }
        let calibrated = tree()?.calibrate(net, &query.evidence)?;
        Ok(Answer {
            evidence_probability: calibrated.evidence_probability(),
            marginals: targets
                .iter()
                .map(|&t| (t, calibrated.marginal(net, t)))
                .collect(),
        })
    }
}
