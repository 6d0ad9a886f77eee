//! # bayesnet
//!
//! Discrete causal Bayesian networks with exact answers on all three rungs of Pearl's
//! ladder: conditioning P(Y | e), intervening P(Y | do(x), e), and counterfactuals
//! P(Y_x | e); plus MPE/MAP, seeded sampling, CPT learning, and BIF/JSON files.
//!
//! The crate has no neural-network dependency: it compiles in seconds and is useful on
//! its own, and the rest of causalgen builds on it.

pub mod builder;
pub mod counterfactual;
pub mod elimination;
pub mod error;
pub mod factor;
pub mod intervention;
pub mod junction_tree;
pub mod network;
pub mod mpe;
pub mod order;
pub mod query;
pub mod sampling;

pub use builder::NetworkBuilder;
pub use counterfactual::{counterfactual, IndependentRows, MonotoneCoupling, NoiseModel, TwinNetwork};
pub use error::{Error, Result};
pub use factor::{Factor, Marginal};
pub use junction_tree::{Calibrated, JunctionTree};
pub use mpe::{map, mpe, Explanation};
pub use network::{Assignment, Cpt, Network, VarId, Variable};
pub use query::{Answer, Engine, Query};
