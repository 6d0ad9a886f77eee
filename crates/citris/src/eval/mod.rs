//! Evaluations of learned causal representations, as the CITRIS paper computes them.
//!
//! - [`correlation`]: R² and Spearman matrices between groups of latents and causal
//!   variables (diag, sep), and the β-VAE baseline's assignment by R².
//! - [`causal_encoder`]: a supervised CNN that reads the causal variables from frames,
//!   the judge of generated images.
//! - [`triplets`]: the triplet evaluation: combine the causal variables of two frames
//!   in latent space, decode, and score the result against the true third frame.
//! - [`latent_views`]: latent interventions on images (draws or traversals of one
//!   variable's latents) and the latent-response view of slider files.
//! - [`evaluate`]: everything `causalgen eval RUN` reports, written into `RUN/eval/`.

pub mod causal_encoder;
pub mod correlation;
pub mod evaluate;
mod factor;
mod heatmap;
pub mod latent_views;
mod probe;
mod rank;
pub mod triplets;
