//! Causal representation learning from temporal intervened sequences: CITRIS-VAE and
//! CITRIS-NF (Lippe et al., ICML 2022) on libtorch, with the paper's evaluations.
//!
//! - [`data`]: the CITRIS file layout (ours from `causalgen data`, or CITRIS' own) as
//!   tensors: frame pairs with intervention targets, independent frames with their
//!   ground-truth causal factors, triplets.
//! - [`nets`]: image encoders and decoders (CITRIS' 64×64 pair, a small 32×32 pair).
//! - [`prior`]: the transition prior p(z^{t+1} | z^t, I^{t+1}) with the learned
//!   assignment ψ of latents to causal variables.
//! - [`classifier`]: the target classifier that predicts I^{t+1} from latent groups.
//! - [`vae`]: CITRIS-VAE and the β-VAE baseline.
//! - [`autoencoder`], [`flow`] and [`nf`]: the two stages of CITRIS-NF; [`oracle`]:
//!   the flow stage on rotated ground truth, to test identification without an encoder.
//! - [`representation`]: what evaluations need from any trained model;
//!   [`training`]: run directories, training and loading.
//! - [`eval`]: correlation metrics (R², Spearman; diag and sep), triplets, latent
//!   interventions.

pub mod autoencoder;
pub mod classifier;
pub mod data;
mod error;
pub mod eval;
pub mod flow;
pub mod nets;
pub mod nf;
pub mod oracle;
pub mod prior;
pub mod representation;
pub mod training;
pub mod vae;

pub use error::{Error, Result};
