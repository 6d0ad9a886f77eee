//! Elimination orders. The cost of exact inference is set by the largest table an order
//! creates, so we run three greedy heuristics (weighted min-fill, min-fill, min-weight)
//! and keep whichever order has the smallest total table size. Greedy ordering is cheap
//! next to the inference it plans.

use crate::network::VarId;

/// An undirected interaction graph over variables, with their cardinalities.
#[derive(Clone, Debug)]
pub struct InteractionGraph {
    nodes: Vec<VarId>,
    cards: Vec<f64>,
    adjacency: Vec<Vec<u64>>,
}

/// Which greedy score picks the next variable to eliminate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heuristic {
    /// Sum over added fill edges of the product of their endpoints' cardinalities.
    WeightedMinFill,
    /// Number of added fill edges.
    MinFill,
    /// State-space size of the variable's neighbourhood.
    MinWeight,
}

/// An elimination order with the cliques it induces.
#[derive(Clone, Debug)]
pub struct EliminationPlan {
    /// Variables in elimination order.
    pub order: Vec<VarId>,
    /// For each eliminated variable, itself plus its neighbours at elimination time.
    pub cliques: Vec<Vec<VarId>>,
    /// Total state-space size of all cliques: the work and memory the order implies.
    pub total_size: f64,
    /// Largest clique state-space size.
    pub max_size: f64,
}

impl EliminationPlan {
    /// Treewidth of the triangulation: largest clique size minus one (in variables).
    pub fn width(&self) -> usize {
        self.cliques
            .iter()
            .map(|c| c.len())
            .max()
            .unwrap_or(1)
            .saturating_sub(1)
    }
}

impl InteractionGraph {
    /// A graph over `nodes` (with cardinalities) and no edges.
    pub fn new(nodes: Vec<VarId>, cards: Vec<usize>) -> Self {
        let words = nodes.len().div_ceil(64);
        let n = nodes.len();
        Self {
            nodes,
            cards: cards.into_iter().map(|c| c as f64).collect(),
            adjacency: vec![vec![0; words]; n],
        }
    }

    /// Position of `v` in the graph, if present.
    fn position(&self, v: VarId) -> Option<usize> {
        self.nodes.iter().position(|&u| u == v)
    }

    /// Connects every pair in `scope` (a factor's variables); variables outside the graph
    /// are ignored.
    pub fn add_clique(&mut self, scope: &[VarId]) {
        let idx: Vec<usize> = scope.iter().filter_map(|&v| self.position(v)).collect();
        for &a in &idx {
            for &b in &idx {
                if a != b {
                    set_bit(&mut self.adjacency[a], b);
                }
            }
        }
    }

    /// Plans the elimination of every node in `eliminate`, then every node in `later`
    /// (constrained orders: MAP sums out the other variables before maximising its own),
    /// keeping the best of the heuristics. Nodes in neither list stay.
    pub fn plan(&self, eliminate: &[VarId], later: &[VarId]) -> EliminationPlan {
        [
            Heuristic::WeightedMinFill,
            Heuristic::MinFill,
            Heuristic::MinWeight,
        ]
        .into_iter()
        .map(|h| self.greedy(eliminate, later, h))
        .min_by(|a, b| a.total_size.total_cmp(&b.total_size))
        .expect("three heuristics")
    }

    /// One greedy pass: eliminates `eliminate` (any order), then `later` (for MAP).
    pub fn greedy(
        &self,
        eliminate: &[VarId],
        later: &[VarId],
        heuristic: Heuristic,
    ) -> EliminationPlan {
        let mut adj = self.adjacency.clone();
        let n = self.nodes.len();
        let mut alive = vec![true; n];
        let phases: [Vec<usize>; 2] = [
            eliminate.iter().filter_map(|&v| self.position(v)).collect(),
            later.iter().filter_map(|&v| self.position(v)).collect(),
        ];
        let mut plan = EliminationPlan {
            order: Vec::new(),
            cliques: Vec::new(),
            total_size: 0.0,
            max_size: 0.0,
        };
        for phase in phases {
            let mut pending = phase;
            let mut scores: Vec<f64> = pending
                .iter()
                .map(|&v| self.score(&adj, &alive, v, heuristic))
                .collect();
            while !pending.is_empty() {
                let best = (0..pending.len())
                    .min_by(|&a, &b| {
                        scores[a].total_cmp(&scores[b]).then_with(|| {
                            self.weight(&adj, &alive, pending[a])
                                .total_cmp(&self.weight(&adj, &alive, pending[b]))
                        })
                    })
                    .expect("non-empty");
                let v = pending.swap_remove(best);
                scores.swap_remove(best);
                let neighbours: Vec<usize> = neighbours(&adj[v], &alive, v).collect();
                let size =
                    self.cards[v] * neighbours.iter().map(|&u| self.cards[u]).product::<f64>();
                plan.total_size += size;
                plan.max_size = plan.max_size.max(size);
                let mut clique = vec![self.nodes[v]];
                clique.extend(neighbours.iter().map(|&u| self.nodes[u]));
                plan.cliques.push(clique);
                plan.order.push(self.nodes[v]);
                for &a in &neighbours {
                    for &b in &neighbours {
                        if a != b {
                            set_bit(&mut adj[a], b);
                        }
                    }
                }
                alive[v] = false;
                // Only scores of nodes within two steps of `v` can change.
                let mut touched = vec![false; n];
                for &a in &neighbours {
                    touched[a] = true;
                    for b in neighbours_of(&adj[a], &alive) {
                        touched[b] = true;
                    }
                }
                for (i, &u) in pending.iter().enumerate() {
                    if touched[u] {
                        scores[i] = self.score(&adj, &alive, u, heuristic);
                    }
                }
            }
        }
        plan
    }

    fn weight(&self, adj: &[Vec<u64>], alive: &[bool], v: usize) -> f64 {
        self.cards[v]
            * neighbours(&adj[v], alive, v)
                .map(|u| self.cards[u])
                .product::<f64>()
    }

    fn score(&self, adj: &[Vec<u64>], alive: &[bool], v: usize, heuristic: Heuristic) -> f64 {
        if heuristic == Heuristic::MinWeight {
            return self.weight(adj, alive, v);
        }
        let nb: Vec<usize> = neighbours(&adj[v], alive, v).collect();
        let mut fill = 0.0;
        for (i, &a) in nb.iter().enumerate() {
            for &b in &nb[i + 1..] {
                if !has_bit(&adj[a], b) {
                    fill += match heuristic {
                        Heuristic::WeightedMinFill => self.cards[a] * self.cards[b],
                        _ => 1.0,
                    };
                }
            }
        }
        fill
    }
}

fn set_bit(words: &mut [u64], i: usize) {
    words[i / 64] |= 1 << (i % 64);
}

fn has_bit(words: &[u64], i: usize) -> bool {
    words[i / 64] & (1 << (i % 64)) != 0
}

fn neighbours_of<'a>(words: &'a [u64], alive: &'a [bool]) -> impl Iterator<Item = usize> + 'a {
    words.iter().enumerate().flat_map(move |(w, &bits)| {
        let mut bits = bits;
        std::iter::from_fn(move || {
            while bits != 0 {
                let t = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let i = w * 64 + t;
                if alive[i] {
                    return Some(i);
                }
            }
            None
        })
    })
}

fn neighbours<'a>(
    words: &'a [u64],
    alive: &'a [bool],
    v: usize,
) -> impl Iterator<Item = usize> + 'a {
    neighbours_of(words, alive).filter(move |&u| u != v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_has_width_one() {
        let nodes: Vec<VarId> = (0..6).map(VarId).collect();
        let mut g = InteractionGraph::new(nodes.clone(), vec![2; 6]);
        for w in nodes.windows(2) {
            g.add_clique(w);
        }
        let plan = g.plan(&nodes, &[]);
        assert_eq!(plan.width(), 1);
        assert_eq!(plan.order.len(), 6);
    }

    #[test]
    fn later_variables_go_last() {
        let nodes: Vec<VarId> = (0..4).map(VarId).collect();
        let mut g = InteractionGraph::new(nodes.clone(), vec![2; 4]);
        g.add_clique(&nodes);
        let plan = g.plan(&nodes[..2], &nodes[2..]);
        assert!(plan.order[2..].iter().all(|v| v.0 >= 2));
    }
}
