//! Evaluations of learned causal representations, as the CITRIS paper computes them.
//!
//! - [`correlation`]: R² and Spearman matrices between groups of latents and causal
//!   variables (diag, sep), and the β-VAE baseline's assignment by R².

pub mod correlation;
pub mod evaluate;
mod factor;
mod heatmap;
mod probe;
mod rank;
