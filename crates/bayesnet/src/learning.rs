//! Learning CPTs from complete data for a known structure: count each variable's family
//! configurations, add the prior's pseudo-counts, normalise each row.
//!
//! The estimates match pgmpy's `MaximumLikelihoodEstimator` and `BayesianEstimator`:
//!
//! * MLE: `P(x_k | pa_j) = N_jk / N_j`. A parent configuration never seen in the data has
//!   no estimate; like pgmpy (which fills all-zero count columns with ones before
//!   normalising), we give such a row the uniform distribution, so the result is always a
//!   valid network.
//! * Dirichlet(a): `(N_jk + a) / (N_j + r a)`, the same pseudo-count `a` in every cell
//!   (a = 1 is the K2 prior).
//! * BDeu(ESS): Dirichlet with `a = ESS / (q r)`, where `r` is the variable's number of
//!   states and `q` the number of its parent configurations (1 for a root), so that every
//!   family carries the same equivalent sample size.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::io::Dataset;
use crate::network::{Cpt, Network};

/// The prior added to the counts before normalising.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prior {
    /// Maximum likelihood: no pseudo-counts (unseen parent configurations become uniform).
    None,
    /// The same pseudo-count in every table cell.
    Dirichlet(f64),
    /// Bayesian Dirichlet equivalent uniform with this equivalent sample size.
    BDeu(f64),
}

impl Prior {
    /// Pseudo-count per cell for a variable with `card` states and `rows` parent
    /// configurations.
    fn alpha(self, card: usize, rows: usize) -> f64 {
        match self {
            Prior::None => 0.0,
            Prior::Dirichlet(a) => a,
            Prior::BDeu(ess) => ess / (rows as f64 * card as f64),
        }
    }

    /// Rejects negative or non-finite parameters, which would give negative or NaN
    /// probabilities.
    fn check(self) -> Result<()> {
        let (value, what) = match self {
            Prior::None => return Ok(()),
            Prior::Dirichlet(a) => (a, "the pseudo-count"),
            Prior::BDeu(ess) => (ess, "the equivalent sample size"),
        };
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidPrior {
                given: self.to_string(),
                reason: format!("{what} must be a finite number >= 0"),
            })
        }
    }
}

impl fmt::Display for Prior {
    /// The same spelling [`Prior::from_str`] accepts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prior::None => write!(f, "mle"),
            Prior::Dirichlet(a) => write!(f, "dirichlet:{a}"),
            Prior::BDeu(ess) => write!(f, "bdeu:{ess}"),
        }
    }
}

impl FromStr for Prior {
    type Err = Error;

    /// Parses `mle`, `dirichlet:A` or `bdeu:ESS` (case-insensitive), as a command line
    /// would give them.
    fn from_str(s: &str) -> Result<Self> {
        let given = s.trim();
        let bad = |reason: String| Error::InvalidPrior {
            given: given.to_string(),
            reason,
        };
        let (kind, arg) = match given.split_once(':') {
            Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
            None => (given.to_ascii_lowercase(), None),
        };
        let number = |what: &str| -> Result<f64> {
            let arg = arg.ok_or_else(|| bad(format!("`{kind}` needs {what}, e.g. `{kind}:1`")))?;
            match arg.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => Err(bad(format!(
                    "{what} must be a finite number >= 0, not `{arg}`"
                ))),
            }
        };
        match kind.as_str() {
            "mle" | "none" => match arg {
                None => Ok(Prior::None),
                Some(_) => Err(bad("`mle` takes no parameter".into())),
            },
            "dirichlet" => Ok(Prior::Dirichlet(number("a pseudo-count")?)),
            "bdeu" => Ok(Prior::BDeu(number("an equivalent sample size")?)),
            _ => Err(bad("expected `mle`, `dirichlet:A` or `bdeu:ESS`".into())),
        }
    }
}

/// Learns every CPT of `structure` from `data` under `prior`. The result has the same
/// name, variables, states and parents (in the same order) as `structure`; its tables are
/// ignored. `data` must have been read against a network with the same variables.
pub fn learn_parameters(structure: &Network, data: &Dataset, prior: Prior) -> Result<Network> {
    prior.check()?;
    let cards: Vec<usize> = structure.ids().map(|v| structure.card(v)).collect();
    if data.cards() != cards.as_slice() {
        return Err(Error::Data {
            path: "dataset".into(),
            message: format!(
                "the data set was checked against a network with {} variables of cardinalities {:?}, \
                 but `{}` has {} variables of cardinalities {:?}",
                data.cards().len(),
                data.cards(),
                structure.name(),
                cards.len(),
                cards
            ),
        });
    }
    let (name, variables, mut cpts) = structure.to_parts();
    for v in structure.ids() {
        cpts[v.index()] = Cpt {
            parents: structure.parents(v).to_vec(),
            table: learn_table(structure, data, v, prior),
        };
    }
    Network::new(name, variables, cpts)
}

/// Counts, adds pseudo-counts and normalises the table of one variable.
fn learn_table(net: &Network, data: &Dataset, v: crate::VarId, prior: Prior) -> Vec<f64> {
    let card = net.card(v);
    let parents = net.parents(v);
    let rows: usize = parents.iter().map(|&p| net.card(p)).product();
    let mut counts = vec![0u64; rows * card];
    for row in data.rows() {
        counts[net.row_index(v, row) * card + row[v.index()]] += 1;
    }
    let alpha = prior.alpha(card, rows);
    let mut table = vec![0.0; rows * card];
    for (out, counts) in table.chunks_mut(card).zip(counts.chunks(card)) {
        let total: u64 = counts.iter().sum();
        let denom = total as f64 + alpha * card as f64;
        if denom > 0.0 {
            for (p, &n) in out.iter_mut().zip(counts) {
                *p = (n as f64 + alpha) / denom;
            }
        } else {
            out.fill(1.0 / card as f64);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;

    /// a -> c <- b, binary; tables are placeholders.
    fn structure() -> Network {
        let mut b = NetworkBuilder::new("s");
        b.variable("a", &["0", "1"]).unwrap();
        b.variable("b", &["0", "1"]).unwrap();
        b.variable("c", &["0", "1"]).unwrap();
        b.cpt("a", &[], &[0.5, 0.5]).unwrap();
        b.cpt("b", &[], &[0.5, 0.5]).unwrap();
        b.cpt("c", &["a", "b"], &[0.5; 8]).unwrap();
        b.build().unwrap()
    }

    /// pgmpy's docstring example: A = [0, 0, 1], B = [0, 1, 0], C = [1, 1, 0].
    fn pgmpy_data(net: &Network) -> Dataset {
        Dataset::new(net, vec![vec![0, 0, 1], vec![0, 1, 1], vec![1, 0, 0]]).unwrap()
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn mle_is_relative_frequency_and_unseen_rows_are_uniform() {
        let net = structure();
        let learned = learn_parameters(&net, &pgmpy_data(&net), Prior::None).unwrap();
        let a = learned.var("a").unwrap();
        let c = learned.var("c").unwrap();
        assert!(close(&learned.cpt(a).table, &[2.0 / 3.0, 1.0 / 3.0]));
        // Rows (a, b): (0,0) -> c=1; (0,1) -> c=1; (1,0) -> c=0; (1,1) unseen.
        assert!(close(
            &learned.cpt(c).table,
            &[0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.5, 0.5]
        ));
        assert_eq!(learned.parents(c), net.parents(c));
    }

    #[test]
    fn bdeu_matches_pgmpy_formula() {
        let net = structure();
        let learned = learn_parameters(&net, &pgmpy_data(&net), Prior::BDeu(5.0)).unwrap();
        // Root a: alpha = 5 / (1 * 2) = 2.5; (2 + 2.5) / (3 + 5), (1 + 2.5) / 8.
        assert!(close(
            &learned.cpt(learned.var("a").unwrap()).table,
            &[4.5 / 8.0, 3.5 / 8.0]
        ));
        // c: alpha = 5 / (4 * 2) = 0.625; a row with one count: (1 + .625) / (1 + 1.25).
        let hi = 1.625 / 2.25;
        let lo = 0.625 / 2.25;
        let want = [lo, hi, lo, hi, hi, lo, 0.5, 0.5];
        assert!(close(&learned.cpt(learned.var("c").unwrap()).table, &want));
    }

    #[test]
    fn dirichlet_adds_the_same_count_everywhere() {
        let net = structure();
        let learned = learn_parameters(&net, &pgmpy_data(&net), Prior::Dirichlet(1.0)).unwrap();
        assert!(close(
            &learned.cpt(learned.var("a").unwrap()).table,
            &[3.0 / 5.0, 2.0 / 5.0]
        ));
        let c = &learned.cpt(learned.var("c").unwrap()).table;
        assert!(close(&c[..2], &[1.0 / 3.0, 2.0 / 3.0]));
    }

    #[test]
    fn prior_parsing() {
        assert_eq!("mle".parse::<Prior>().unwrap(), Prior::None);
        assert_eq!(" BDeu:10 ".parse::<Prior>().unwrap(), Prior::BDeu(10.0));
        assert_eq!(
            "dirichlet:0.5".parse::<Prior>().unwrap(),
            Prior::Dirichlet(0.5)
        );
        for p in [Prior::None, Prior::Dirichlet(0.5), Prior::BDeu(10.0)] {
            assert_eq!(p.to_string().parse::<Prior>().unwrap(), p);
        }
        let e = "bdeu".parse::<Prior>().unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid prior `bdeu`: `bdeu` needs an equivalent sample size, e.g. `bdeu:1`"
        );
        let e = "dirichlet:-1".parse::<Prior>().unwrap_err().to_string();
        assert!(e.contains("finite number >= 0, not `-1`"), "{e}");
        let e = "laplace".parse::<Prior>().unwrap_err().to_string();
        assert!(
            e.contains("expected `mle`, `dirichlet:A` or `bdeu:ESS`"),
            "{e}"
        );
        let e = "mle:3".parse::<Prior>().unwrap_err().to_string();
        assert!(e.contains("no parameter"), "{e}");
        let net = structure();
        let e = learn_parameters(&net, &pgmpy_data(&net), Prior::BDeu(f64::NAN)).unwrap_err();
        assert!(matches!(e, Error::InvalidPrior { .. }), "{e}");
    }

    #[test]
    fn data_for_another_network_is_refused() {
        let net = structure();
        let mut b = NetworkBuilder::new("other");
        b.variable("x", &["0", "1", "2"]).unwrap();
        b.cpt("x", &[], &[0.2, 0.3, 0.5]).unwrap();
        let other = b.build().unwrap();
        let data = Dataset::new(&other, vec![vec![2]]).unwrap();
        let e = learn_parameters(&net, &data, Prior::None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cardinalities"), "{e}");
    }
}
