//! The network itself: variables with named states, a DAG, and one conditional
//! probability table (CPT) per variable. Construction validates everything once, so every
//! query can assume a well-formed acyclic network.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::error::{Error, Result};
use crate::factor::Factor;

/// Index of a variable inside its [`Network`]; cheap to copy and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VarId(pub usize);

impl VarId {
    /// Position of the variable in [`Network::variables`].
    pub fn index(self) -> usize {
        self.0
    }
}

/// A discrete variable and the labels of its states, in declaration order.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    pub states: Vec<String>,
}

impl Variable {
    /// Number of states.
    pub fn card(&self) -> usize {
        self.states.len()
    }
}

/// P(child | parents), stored row-major: parents in their declared order (first parent
/// slowest), the child's state fastest. One row per parent configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Cpt {
    pub parents: Vec<VarId>,
    pub table: Vec<f64>,
}

/// How far a CPT row may sum away from 1 and still be accepted. Real BIF files carry rows
/// like `0.3333, 0.3333, 0.3333`; anything further off is a typo we must not guess around.
pub const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// Rows further than this from 1 are divided by their sum. The threshold sits above
/// rounding noise so that renormalising is idempotent and files round-trip bit-exactly.
const RENORMALISE_ABOVE: f64 = 1e-12;

/// A validated discrete Bayesian network.
#[derive(Clone, Debug)]
pub struct Network {
    name: String,
    variables: Vec<Variable>,
    cpts: Vec<Cpt>,
    children: Vec<Vec<VarId>>,
    topological: Vec<VarId>,
    index: HashMap<String, VarId>,
    notes: Vec<String>,
}

/// A set of variables fixed to states: evidence, an intervention, or an MPE answer.
pub type Assignment = BTreeMap<VarId, usize>;

impl Network {
    /// Validates and builds a network. `cpts[i]` belongs to `variables[i]`.
    ///
    /// Rejects duplicate names, wrong table sizes, probabilities outside [0, 1], rows that
    /// do not sum to 1 within [`ROW_SUM_TOLERANCE`], and cycles (the error spells the cycle
    /// out). Rows that are off by less than the tolerance are renormalised, as pgmpy and
    /// pyAgrum do (so answers agree with them, and P(∅) = 1), and reported in
    /// [`Network::notes`].
    pub fn new(name: impl Into<String>, variables: Vec<Variable>, cpts: Vec<Cpt>) -> Result<Self> {
        let mut index = HashMap::with_capacity(variables.len());
        for (i, var) in variables.iter().enumerate() {
            if var.states.is_empty() {
                return Err(Error::NoStates(var.name.clone()));
            }
            for (j, s) in var.states.iter().enumerate() {
                if var.states[..j].contains(s) {
                    return Err(Error::DuplicateState {
                        variable: var.name.clone(),
                        state: s.clone(),
                    });
                }
            }
            if index.insert(var.name.clone(), VarId(i)).is_some() {
                return Err(Error::DuplicateVariable(var.name.clone()));
            }
        }
        if cpts.len() != variables.len() {
            let missing = variables
                .get(cpts.len())
                .map(|v| v.name.clone())
                .unwrap_or_default();
            return Err(Error::MissingCpt(missing));
        }
        let mut children = vec![Vec::new(); variables.len()];
        for (i, cpt) in cpts.iter().enumerate() {
            for (j, &p) in cpt.parents.iter().enumerate() {
                if p.0 >= variables.len() {
                    return Err(Error::UnknownVariable(format!("#{}", p.0)));
                }
                if cpt.parents[..j].contains(&p) {
                    return Err(Error::DuplicateParent {
                        variable: variables[i].name.clone(),
                        parent: variables[p.0].name.clone(),
                    });
                }
                children[p.0].push(VarId(i));
            }
        }
        let topological = topological_order(&variables, &cpts, &children)?;
        let mut net = Network {
            name: name.into(),
            variables,
            cpts,
            children,
            topological,
            index,
            notes: Vec::new(),
        };
        net.check_tables()?;
        Ok(net)
    }

    fn check_tables(&mut self) -> Result<()> {
        let mut notes = Vec::new();
        for v in (0..self.len()).map(VarId) {
            // (rows off from 1, largest deviation, its row) for one note per table.
            let mut off = (0, 0.0_f64, String::new());
            let card = self.card(v);
            let cpt = &self.cpts[v.0];
            let rows: usize = cpt.parents.iter().map(|&p| self.card(p)).product();
            if cpt.table.len() != rows * card {
                let shape = cpt
                    .parents
                    .iter()
                    .chain(std::iter::once(&v))
                    .map(|&p| format!("{}:{}", self.variables[p.0].name, self.card(p)))
                    .collect::<Vec<_>>()
                    .join(" x ");
                return Err(Error::CptSize {
                    variable: self.variables[v.0].name.clone(),
                    expected: rows * card,
                    found: cpt.table.len(),
                    shape,
                });
            }
            let mut renormalise = Vec::new();
            for (r, row) in cpt.table.chunks(card).enumerate() {
                if let Some(&bad) = row.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                    return Err(Error::InvalidProbability {
                        variable: self.variables[v.0].name.clone(),
                        row: self.row_label(v, r),
                        value: bad,
                    });
                }
                let sum: f64 = row.iter().sum();
                if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
                    return Err(Error::RowSum {
                        variable: self.variables[v.0].name.clone(),
                        row: self.row_label(v, r),
                        sum,
                        tolerance: ROW_SUM_TOLERANCE,
                    });
                }
                if (sum - 1.0).abs() > RENORMALISE_ABOVE {
                    renormalise.push((r, sum));
                }
                if (sum - 1.0).abs() > 1e-9 {
                    off.0 += 1;
                    if (sum - 1.0).abs() > off.1 {
                        off = (
                            off.0,
                            (sum - 1.0).abs(),
                            format!("{} sums to {sum}", self.row_label(v, r)),
                        );
                    }
                }
            }
            let table = &mut self.cpts[v.0].table;
            for (r, sum) in renormalise {
                table[r * card..(r + 1) * card]
                    .iter_mut()
                    .for_each(|p| *p /= sum);
            }
            if off.0 > 0 {
                notes.push(format!(
                    "table of `{}`: {} row(s) do not sum exactly to 1 (worst: {}); accepted within tolerance {ROW_SUM_TOLERANCE} and renormalised",
                    self.variables[v.0].name, off.0, off.2
                ));
            }
        }
        self.notes = notes;
        Ok(())
    }

    /// The network's name (BIF `network` block).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All variables, indexed by [`VarId`].
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.variables.len()
    }

    /// True for a network without variables.
    pub fn is_empty(&self) -> bool {
        self.variables.is_empty()
    }

    /// Iterator over all variable ids.
    pub fn ids(&self) -> impl Iterator<Item = VarId> + '_ {
        (0..self.variables.len()).map(VarId)
    }

    /// The variable behind an id.
    pub fn variable(&self, v: VarId) -> &Variable {
        &self.variables[v.0]
    }

    /// Number of states of `v`.
    pub fn card(&self, v: VarId) -> usize {
        self.variables[v.0].states.len()
    }

    /// Looks a variable up by name.
    pub fn var(&self, name: &str) -> Result<VarId> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }

    /// Looks a state of `v` up by its label.
    pub fn state(&self, v: VarId, label: &str) -> Result<usize> {
        let var = &self.variables[v.0];
        var.states
            .iter()
            .position(|s| s == label)
            .ok_or_else(|| Error::UnknownState {
                variable: var.name.clone(),
                state: label.to_string(),
                states: var.states.join(", "),
            })
    }

    /// Builds an [`Assignment`] from `(variable, state)` labels, rejecting unknown names and
    /// a variable given twice with different states.
    pub fn assignment<S: AsRef<str>>(&self, pairs: &[(S, S)]) -> Result<Assignment> {
        let mut out = Assignment::new();
        for (name, label) in pairs {
            let v = self.var(name.as_ref())?;
            let s = self.state(v, label.as_ref())?;
            if let Some(&prev) = out.get(&v) {
                if prev != s {
                    return Err(Error::ConflictingAssignment {
                        variable: name.as_ref().to_string(),
                        first: self.variables[v.0].states[prev].clone(),
                        second: label.as_ref().to_string(),
                    });
                }
            }
            out.insert(v, s);
        }
        Ok(out)
    }

    /// Renders an assignment as `A=a, B=b` for messages.
    pub fn describe(&self, assignment: &Assignment) -> String {
        assignment
            .iter()
            .map(|(&v, &s)| {
                format!(
                    "{}={}",
                    self.variables[v.0].name, self.variables[v.0].states[s]
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The CPT of `v`.
    pub fn cpt(&self, v: VarId) -> &Cpt {
        &self.cpts[v.0]
    }

    /// Parents of `v` in CPT order.
    pub fn parents(&self, v: VarId) -> &[VarId] {
        &self.cpts[v.0].parents
    }

    /// Children of `v`.
    pub fn children(&self, v: VarId) -> &[VarId] {
        &self.children[v.0]
    }

    /// A topological order (parents before children), stable with respect to declaration
    /// order.
    pub fn topological_order(&self) -> &[VarId] {
        &self.topological
    }

    /// Rows accepted with a small deviation from 1, one message per row.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The CPT of `v` as a factor over `parents ++ [v]`.
    pub fn cpt_factor(&self, v: VarId) -> Factor {
        let cpt = &self.cpts[v.0];
        let mut vars = cpt.parents.clone();
        vars.push(v);
        let cards = vars.iter().map(|&u| self.card(u)).collect();
        Factor::new(vars, cards, cpt.table.clone())
    }

    /// Human-readable label of row `row` of `v`'s CPT, e.g. `(yes, no)` or `table`.
    pub fn row_label(&self, v: VarId, row: usize) -> String {
        let parents = &self.cpts[v.0].parents;
        if parents.is_empty() {
            return "table".to_string();
        }
        let mut rem = row;
        let mut labels = vec![String::new(); parents.len()];
        for (i, &p) in parents.iter().enumerate().rev() {
            let c = self.card(p);
            labels[i] = self.variables[p.0].states[rem % c].clone();
            rem /= c;
        }
        format!("({})", labels.join(", "))
    }

    /// Index of the CPT row of `v` that the parents' states in `states` (indexed by
    /// `VarId`) select.
    pub fn row_index(&self, v: VarId, states: &[usize]) -> usize {
        self.parents(v)
            .iter()
            .fold(0, |acc, &p| acc * self.card(p) + states[p.0])
    }

    /// P(v | parents) for the parents' states in `states` (indexed by `VarId`).
    pub fn row(&self, v: VarId, states: &[usize]) -> &[f64] {
        let k = self.card(v);
        let r = self.row_index(v, states);
        &self.cpts[v.0].table[r * k..(r + 1) * k]
    }

    /// Probability of a full assignment (one state per variable): the product of CPT entries.
    pub fn joint_probability(&self, states: &[usize]) -> f64 {
        self.ids()
            .map(|v| self.row(v, states)[states[v.0]])
            .product()
    }

    /// Ancestors of `seeds`, the seeds included, as a membership mask.
    pub fn ancestral_mask(&self, seeds: impl IntoIterator<Item = VarId>) -> Vec<bool> {
        let mut mask = vec![false; self.len()];
        let mut stack: Vec<VarId> = seeds.into_iter().collect();
        while let Some(v) = stack.pop() {
            if !std::mem::replace(&mut mask[v.0], true) {
                stack.extend(self.parents(v).iter().copied());
            }
        }
        mask
    }

    /// Descendants of `seeds`, the seeds included, as a membership mask.
    pub fn descendant_mask(&self, seeds: impl IntoIterator<Item = VarId>) -> Vec<bool> {
        let mut mask = vec![false; self.len()];
        let mut stack: Vec<VarId> = seeds.into_iter().collect();
        while let Some(v) = stack.pop() {
            if !std::mem::replace(&mut mask[v.0], true) {
                stack.extend(self.children(v).iter().copied());
            }
        }
        mask
    }

    /// Returns the parts of this network, for transformations that rebuild it
    /// (interventions, twin networks, learning).
    pub fn to_parts(&self) -> (String, Vec<Variable>, Vec<Cpt>) {
        (self.name.clone(), self.variables.clone(), self.cpts.clone())
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network `{}` ({} variables)", self.name, self.len())
    }
}

/// The first name `candidate(0)`, `candidate(1)`, ... that no variable in `variables` has.
/// Transformations that add variables (twin copies, observation children) use it so that
/// an added variable never collides with one the user declared.
pub(crate) fn fresh_name(variables: &[Variable], candidate: impl Fn(usize) -> String) -> String {
    let mut n = 0;
    loop {
        let name = candidate(n);
        if variables.iter().all(|v| v.name != name) {
            return name;
        }
        n += 1;
    }
}

/// Kahn's algorithm, preferring the lowest declaration index among ready nodes so the
/// order is deterministic. On failure, walks parent links inside the leftover nodes to
/// name one concrete cycle.
fn topological_order(
    variables: &[Variable],
    cpts: &[Cpt],
    children: &[Vec<VarId>],
) -> Result<Vec<VarId>> {
    let n = variables.len();
    let mut indegree: Vec<usize> = cpts.iter().map(|c| c.parents.len()).collect();
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
        .filter(|&i| indegree[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(VarId(i));
        for &c in &children[i] {
            indegree[c.0] -= 1;
            if indegree[c.0] == 0 {
                ready.push(std::cmp::Reverse(c.0));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every leftover node has a leftover parent, so following parents must revisit a node.
    let start = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
    let mut path = vec![start];
    let mut seen = vec![usize::MAX; n];
    seen[start] = 0;
    let mut cur = start;
    loop {
        let next = cpts[cur]
            .parents
            .iter()
            .map(|p| p.0)
            .find(|&p| indegree[p] > 0)
            .unwrap_or(start);
        if seen[next] != usize::MAX {
            // Parents were followed backwards; read in reverse, the arrows point causally.
            let cycle: Vec<&str> = std::iter::once(&next)
                .chain(path[seen[next]..].iter().rev())
                .map(|&i| variables[i].name.as_str())
                .collect();
            return Err(Error::Cycle(cycle.join(" -> ")));
        }
        seen[next] = path.len();
        path.push(next);
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;

    #[test]
    fn cycle_is_named_in_causal_direction() {
        let mut b = NetworkBuilder::new("cyc");
        b.variable("a", &["0", "1"]).unwrap();
        b.variable("b", &["0", "1"]).unwrap();
        b.variable("c", &["0", "1"]).unwrap();
        b.cpt("a", &["c"], &[0.5, 0.5, 0.5, 0.5]).unwrap();
        b.cpt("b", &["a"], &[0.5, 0.5, 0.5, 0.5]).unwrap();
        b.cpt("c", &["b"], &[0.5, 0.5, 0.5, 0.5]).unwrap();
        let err = b.build().unwrap_err().to_string();
        assert!(err.contains("not acyclic"), "{err}");
        // Some rotation of a -> b -> c -> a.
        let ok = ["a -> b -> c -> a", "b -> c -> a -> b", "c -> a -> b -> c"];
        assert!(ok.iter().any(|c| err.contains(c)), "{err}");
    }

    #[test]
    fn row_sum_errors_name_the_row() {
        let mut b = NetworkBuilder::new("bad");
        b.variable("a", &["x", "y"]).unwrap();
        b.variable("b", &["u", "v"]).unwrap();
        b.cpt("a", &[], &[0.5, 0.5]).unwrap();
        b.cpt("b", &["a"], &[0.5, 0.5, 0.6, 0.6]).unwrap();
        let err = b.build().unwrap_err().to_string();
        assert!(
            err.contains("`b`") && err.contains("(y)") && err.contains("1.2"),
            "{err}"
        );
    }

    #[test]
    fn near_one_rows_are_renormalised_and_noted() {
        let mut b = NetworkBuilder::new("near");
        b.variable("a", &["x", "y", "z"]).unwrap();
        b.cpt("a", &[], &[0.3333, 0.3333, 0.3333]).unwrap();
        let net = b.build().unwrap();
        assert_eq!(net.notes().len(), 1);
        assert!((net.cpt(VarId(0)).table[0] - 1.0 / 3.0).abs() < 1e-15);
    }
}
