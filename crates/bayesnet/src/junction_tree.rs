//! Junction trees: all posterior marginals in two message passes.
//!
//! The tree depends only on the graph, so it is built once per network and then
//! calibrated for any number of evidence sets. Calibration plugs the evidence in by
//! *reducing* every table (observed variables leave the clique scopes), so evidence makes
//! propagation cheaper instead of filling tables with zeros. Messages are normalised as
//! they travel up and the scale factors are kept in log space, which gives P(e) without
//! underflow on large networks.

use rand::Rng;
use rayon::prelude::*;

use crate::elimination::{check_size, find_root};
use crate::error::{Error, Result};
use crate::factor::{Factor, Marginal};
use crate::network::{Assignment, Network, VarId};
use crate::order::InteractionGraph;
use crate::sampling::draw;

/// A junction tree (a forest joined by empty separators) over a network's moral graph.
#[derive(Clone, Debug)]
pub struct JunctionTree {
    cliques: Vec<Vec<VarId>>,
    /// Parent clique in the rooted tree; `None` for the root.
    parent: Vec<Option<usize>>,
    /// Clique ∩ parent clique.
    separators: Vec<Vec<VarId>>,
    /// Cliques with every parent before its children (root first).
    preorder: Vec<usize>,
    /// CPTs (by child variable) multiplied into each clique.
    families: Vec<Vec<VarId>>,
    /// Smallest clique holding each variable.
    home: Vec<usize>,
    total_size: f64,
}

impl JunctionTree {
    /// Triangulates the moral graph with the best greedy order and connects the maximal
    /// cliques by a maximum-weight spanning tree (weights: shared variables), which has
    /// the running-intersection property. Refuses cliques above `limit` entries.
    pub fn new(net: &Network, limit: f64) -> Result<Self> {
        let nodes: Vec<VarId> = net.ids().collect();
        let mut graph =
            InteractionGraph::new(nodes.clone(), nodes.iter().map(|&v| net.card(v)).collect());
        for v in net.ids() {
            let mut family = net.parents(v).to_vec();
            family.push(v);
            graph.add_clique(&family);
        }
        let plan = graph.plan(&nodes, &[]);
        check_size(net, &plan.cliques, plan.max_size, limit)?;

        let mut cliques: Vec<Vec<VarId>> = plan.cliques;
        for c in &mut cliques {
            c.sort_unstable();
        }
        // Keep maximal cliques only; larger first so that subsets are found quickly.
        cliques.sort_by_key(|c| std::cmp::Reverse(c.len()));
        let mut maximal: Vec<Vec<VarId>> = Vec::new();
        for c in cliques {
            if !maximal.iter().any(|m| is_subset(&c, m)) {
                maximal.push(c);
            }
        }
        let cliques = maximal;
        let n = cliques.len();

        // Kruskal on all pairs, heaviest intersections first.
        let mut edges: Vec<(usize, usize, usize)> = Vec::new();
        for a in 0..n {
            for b in a + 1..n {
                edges.push((intersection(&cliques[a], &cliques[b]).len(), a, b));
            }
        }
        edges.sort_by(|x, y| y.0.cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
        let mut component: Vec<usize> = (0..n).collect();
        let mut adjacency: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (_, a, b) in edges {
            let (ra, rb) = (find_root(&mut component, a), find_root(&mut component, b));
            if ra != rb {
                component[ra] = rb;
                adjacency[a].push(b);
                adjacency[b].push(a);
            }
        }

        // Root at the largest clique, so that most messages flow into one big table.
        let size = |c: &Vec<VarId>| c.iter().map(|&v| net.card(v) as f64).product::<f64>();
        let root = (0..n)
            .max_by(|&a, &b| size(&cliques[a]).total_cmp(&size(&cliques[b])))
            .unwrap_or(0);
        let mut parent = vec![None; n];
        let mut preorder = Vec::with_capacity(n);
        let mut visited = vec![false; n];
        let mut stack = vec![root];
        visited[root] = true;
        while let Some(c) = stack.pop() {
            preorder.push(c);
            for &d in &adjacency[c] {
                if !visited[d] {
                    visited[d] = true;
                    parent[d] = Some(c);
                    stack.push(d);
                }
            }
        }
        let separators = (0..n)
            .map(|c| parent[c].map_or_else(Vec::new, |p| intersection(&cliques[c], &cliques[p])))
            .collect();

        let mut families = vec![Vec::new(); n];
        for v in net.ids() {
            let mut family = net.parents(v).to_vec();
            family.push(v);
            family.sort_unstable();
            let host = (0..n)
                .filter(|&c| is_subset(&family, &cliques[c]))
                .min_by(|&a, &b| size(&cliques[a]).total_cmp(&size(&cliques[b])))
                .expect("triangulation covers every family");
            families[host].push(v);
        }
        let home = net
            .ids()
            .map(|v| {
                (0..n)
                    .filter(|&c| cliques[c].binary_search(&v).is_ok())
                    .min_by(|&a, &b| size(&cliques[a]).total_cmp(&size(&cliques[b])))
                    .expect("every variable is in a clique")
            })
            .collect();
        let total_size = cliques.iter().map(size).sum();
        Ok(Self {
            cliques,
            parent,
            separators,
            preorder,
            families,
            home,
            total_size,
        })
    }

    /// Number of cliques.
    pub fn len(&self) -> usize {
        self.cliques.len()
    }

    /// True for the tree of an empty network.
    pub fn is_empty(&self) -> bool {
        self.cliques.is_empty()
    }

    /// Largest clique size in variables, minus one: an upper bound on the treewidth.
    pub fn width(&self) -> usize {
        self.cliques
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .saturating_sub(1)
    }

    /// Sum of clique state-space sizes: the memory (in entries) calibration needs.
    pub fn total_size(&self) -> f64 {
        self.total_size
    }

    /// Propagates `evidence` through the tree: afterwards every clique holds the
    /// posterior over its unobserved variables. Fails with
    /// [`Error::ImpossibleEvidence`] when P(e) = 0.
    pub fn calibrate(&self, net: &Network, evidence: &Assignment) -> Result<Calibrated<'_>> {
        let mut potentials: Vec<Factor> = (0..self.len())
            .into_par_iter()
            .map(|c| {
                let vars: Vec<VarId> = self.cliques[c]
                    .iter()
                    .copied()
                    .filter(|v| !evidence.contains_key(v))
                    .collect();
                let cards = vars.iter().map(|&v| net.card(v)).collect();
                let mut potential = Factor::ones(vars, cards);
                for &v in &self.families[c] {
                    potential.multiply_in(&net.cpt_factor(v).reduce(evidence));
                }
                potential
            })
            .collect();
        let impossible = || Error::ImpossibleEvidence(net.describe(evidence));
        let separator = |c: usize| -> Vec<VarId> {
            self.separators[c]
                .iter()
                .copied()
                .filter(|v| !evidence.contains_key(v))
                .collect()
        };

        // Collect: leaves to root, normalising each message.
        let mut log_scale = 0.0;
        let mut sent: Vec<Option<Factor>> = vec![None; self.len()];
        for &c in self.preorder.iter().rev() {
            let Some(p) = self.parent[c] else { continue };
            let mut message = potentials[c].project(&separator(c), Marginal::Sum);
            let z = message.normalize();
            if z <= 0.0 {
                return Err(impossible());
            }
            log_scale += z.ln();
            potentials[p].multiply_in(&message);
            sent[c] = Some(message);
        }
        let root = self.preorder.first().copied().unwrap_or(0);
        let root_total = potentials.get(root).map_or(1.0, Factor::total);
        let evidence_probability = root_total * log_scale.exp();
        if root_total <= 0.0 {
            return Err(impossible());
        }

        // Distribute: root to leaves, replacing each upward message by the parent's view.
        for &c in &self.preorder {
            let Some(p) = self.parent[c] else { continue };
            let mut update = potentials[p].project(&separator(c), Marginal::Sum);
            update.normalize();
            if let Some(old) = &sent[c] {
                update.divide_in(old);
            }
            potentials[c].multiply_in(&update);
        }
        Ok(Calibrated {
            tree: self,
            potentials,
            evidence: evidence.clone(),
            evidence_probability,
        })
    }
}

/// A junction tree after propagating one evidence set.
#[derive(Clone, Debug)]
pub struct Calibrated<'a> {
    tree: &'a JunctionTree,
    potentials: Vec<Factor>,
    evidence: Assignment,
    evidence_probability: f64,
}

impl Calibrated<'_> {
    /// P(e).
    pub fn evidence_probability(&self) -> f64 {
        self.evidence_probability
    }

    /// P(v | e); a point mass for observed variables.
    pub fn marginal(&self, net: &Network, v: VarId) -> Vec<f64> {
        if let Some(&s) = self.evidence.get(&v) {
            let mut delta = vec![0.0; net.card(v)];
            delta[s] = 1.0;
            return delta;
        }
        let mut m = self.potentials[self.tree.home[v.0]].project(&[v], Marginal::Sum);
        m.normalize();
        m.into_values()
    }

    /// One exact sample from P(· | e): the root clique is drawn from its posterior, then
    /// every other clique given what its separator already fixed.
    pub fn sample(&self, net: &Network, rng: &mut impl Rng) -> Vec<usize> {
        let mut drawn: Assignment = self.evidence.clone();
        let mut states = vec![0; net.len()];
        for &c in &self.tree.preorder {
            let slice = self.potentials[c].reduce(&drawn);
            let mut index = draw(slice.values(), rng);
            for (&v, &card) in slice.vars().iter().zip(slice.cards()).rev() {
                drawn.insert(v, index % card);
                index /= card;
            }
        }
        for (&v, &s) in &drawn {
            states[v.0] = s;
        }
        states
    }
}

fn is_subset(small: &[VarId], big: &[VarId]) -> bool {
    small.iter().all(|v| big.binary_search(v).is_ok())
}

fn intersection(a: &[VarId], b: &[VarId]) -> Vec<VarId> {
    a.iter()
        .copied()
        .filter(|v| b.binary_search(v).is_ok())
        .collect()
}
