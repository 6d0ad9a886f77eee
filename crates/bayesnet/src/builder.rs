//! A small builder for networks written in code: declare variables, then give each one a
//! table by naming its parents. Names are resolved at [`NetworkBuilder::build`], so
//! tables may be given in any order.

use crate::error::{Error, Result};
use crate::network::{Cpt, Network, VarId, Variable};

/// Collects variables and tables, then validates them all at once.
///
/// ```
/// use bayesnet::NetworkBuilder;
/// let mut b = NetworkBuilder::new("rain");
/// b.variable("rain", &["yes", "no"])?;
/// b.variable("wet", &["yes", "no"])?;
/// b.cpt("rain", &[], &[0.2, 0.8])?;
/// b.cpt("wet", &["rain"], &[0.9, 0.1, 0.1, 0.9])?;
/// let net = b.build()?;
/// assert_eq!(net.len(), 2);
/// # Ok::<(), bayesnet::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct NetworkBuilder {
    name: String,
    variables: Vec<Variable>,
    tables: Vec<Option<(Vec<String>, Vec<f64>)>>,
}

impl NetworkBuilder {
    /// Starts an empty network called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Declares a variable with its state labels; returns its id.
    pub fn variable<S: AsRef<str>>(&mut self, name: &str, states: &[S]) -> Result<VarId> {
        if self.variables.iter().any(|v| v.name == name) {
            return Err(Error::DuplicateVariable(name.to_string()));
        }
        self.variables.push(Variable {
            name: name.to_string(),
            states: states.iter().map(|s| s.as_ref().to_string()).collect(),
        });
        self.tables.push(None);
        Ok(VarId(self.variables.len() - 1))
    }

    /// Sets P(`child` | `parents`): row-major over the parents in the given order, the
    /// child's state fastest.
    pub fn cpt(&mut self, child: &str, parents: &[&str], table: &[f64]) -> Result<&mut Self> {
        let i = self
            .variables
            .iter()
            .position(|v| v.name == child)
            .ok_or_else(|| Error::UnknownVariable(child.to_string()))?;
        if self.tables[i].is_some() {
            return Err(Error::DuplicateCpt(child.to_string()));
        }
        let parents = parents.iter().map(|p| p.to_string()).collect();
        self.tables[i] = Some((parents, table.to_vec()));
        Ok(self)
    }

    /// Resolves parent names and validates the whole network.
    pub fn build(self) -> Result<Network> {
        let lookup = |name: &str| {
            self.variables
                .iter()
                .position(|v| v.name == name)
                .map(VarId)
                .ok_or_else(|| Error::UnknownVariable(name.to_string()))
        };
        let mut cpts = Vec::with_capacity(self.variables.len());
        for (var, table) in self.variables.iter().zip(&self.tables) {
            let (parents, table) = table
                .as_ref()
                .ok_or_else(|| Error::MissingCpt(var.name.clone()))?;
            let parents = parents
                .iter()
                .map(|p| lookup(p))
                .collect::<Result<Vec<_>>>()?;
            cpts.push(Cpt {
                parents,
                table: table.clone(),
            });
        }
        Network::new(self.name, self.variables, cpts)
    }
}
