//! Evaluations of learned causal representations, as the CITRIS paper computes them.

pub mod correlation;
