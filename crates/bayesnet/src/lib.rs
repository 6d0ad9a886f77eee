//! # bayesnet
//!
//! Discrete causal Bayesian networks with exact answers on all three rungs of Pearl's
//! ladder: conditioning P(Y | e), intervening P(Y | do(x), e), and counterfactuals
//! P(Y_x | e); plus MPE/MAP, seeded sampling (with the exogenous noise of the canonical
//! structural model exposed for replay), soft (virtual) evidence, CPT learning, and
//! BIF/JSON files.
//!
//! The crate has no neural-network dependency: it compiles in seconds and is useful on
//! its own, and the rest of causalgen builds on it.

pub mod builder;
pub mod counterfactual;
pub mod elimination;
pub mod error;
pub mod examples;
pub mod factor;
pub mod intervention;
pub mod io;
pub mod junction_tree;
pub mod learning;
pub mod mpe;
pub mod network;
pub mod order;
pub mod query;
pub mod sampling;
pub mod virtual_evidence;

pub use builder::NetworkBuilder;
pub use counterfactual::{
    counterfactual, IndependentRows, MonotoneCoupling, NoiseModel, TwinNetwork,
};
pub use error::{Error, Result};
pub use factor::{Factor, Marginal};
pub use io::{
    network_from_json, network_to_json, parse_bif, parse_dataset, read_bif, read_dataset,
    read_network, samples_to_csv, write_bif, write_bif_file, write_network, write_samples_csv,
    Dataset, NetworkFormat,
};
pub use junction_tree::{Calibrated, JunctionTree};
pub use learning::{learn_parameters, Prior};
pub use mpe::{map, mpe, Explanation};
pub use network::{Assignment, Cpt, Network, VarId, Variable};
pub use query::{Answer, Engine, Query};
pub use virtual_evidence::with_likelihoods;
