//! The fight-scene causal VAE: the tutorial's discrete causal Bayesian network (actors,
//! types, hidden strength/attack/defense, action, reaction) tied to a conditional VAE
//! whose decoder draws the scene. The network answers every causal question exactly
//! (`bayesnet`); the VAE turns the answers into pictures and reads images back into
//! evidence.
//!
//! - [`schema`]: the six image variables and their one-hot encoding;
//! - [`data`]: fight-scene images with ground truth, rendered or loaded;
//! - [`grid`]: captioned PNG grids of decoded scenes;
//! - [`model`]: the semi-supervised conditional VAE with a label head q(y | x);
//! - [`training`]: run configuration, training and loading runs;
//! - [`query`]: condition, intervene and counterfactual queries as images plus exact
//!   posteriors;
//! - [`eval`]: measured fidelity (an independent label classifier, requested-value
//!   accuracy, distances to the exact distributions, true counterfactual error);
//! - [`report`]: `report.html` with inline SVG charts.

pub mod data;
mod error;
pub mod eval;
pub mod grid;
pub mod model;
pub mod query;
pub mod report;
pub mod schema;
pub mod training;

pub use error::{Error, Result};
pub use model::{CausalVae, Likelihood, ModelConfig};
pub use training::{test_data, train, DataConfig, RunConfig, TrainedModel};
