//! Temporal intervened sequences (TRIS), the data CITRIS learns from: a process evolves
//! step by step, some causal variables are intervened on at each step (and we record
//! which), and every state is rendered to an image.
//!
//! Each generator implements [`TemporalProcess`]; [`dataset`] turns any of them into the
//! CITRIS file layout (splits, independent frames, triplets, manifest).

pub mod boxes;
pub mod causal3d;
pub mod dataset;
pub mod pong;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What kind of value a causal variable takes; evaluation treats each kind differently
/// (R² on continuous values, circular distance on angles, accuracy on categories).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VariableKind {
    /// A real value in `[min, max]`.
    Continuous { min: f32, max: f32 },
    /// An angle in radians, `[0, 2π)` or as documented by the generator, wrapping around.
    Angle { min: f32, max: f32 },
    /// One of `classes` categories, stored as 0.0, 1.0, ...
    Categorical { classes: usize },
}

/// A causal variable: an intervention target, made of one or more raw latent dimensions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CausalVariable {
    pub name: String,
    #[serde(flatten)]
    pub kind: VariableKind,
    /// Entries of the state that belong to this variable: columns of `raw_latents`, or
    /// internal entries after them (causal3d's shape index).
    pub latents: Vec<usize>,
}

/// A seeded stochastic process with interventions, rendered to images.
///
/// The state starts with the raw latents (one row of `raw_latents`, as many values as
/// [`TemporalProcess::latent_names`]); a process may keep internal entries after them
/// (causal3d's shape index, which CITRIS stores in `shape_latents` instead).
/// Implementations must be pure functions of their inputs and the random stream, so
/// that a seed fixes the whole data set.
pub trait TemporalProcess: Sync {
    /// Short name used in file names and the manifest: `causal3d`, `pong`, `boxes`.
    fn name(&self) -> &str;

    /// `[height, width, channels]` of a rendered frame.
    fn frame_shape(&self) -> [usize; 3];

    /// The causal variables, in the column order of `interventions`.
    fn variables(&self) -> Vec<CausalVariable>;

    /// Names of the raw latent dimensions, in the column order of `raw_latents`.
    fn latent_names(&self) -> Vec<String>;

    /// A state drawn from the process's initial distribution; also used for the i.i.d.
    /// frames of the `*_indep` splits.
    fn sample_state(&self, rng: &mut ChaCha8Rng) -> Vec<f32>;

    /// One time step from `state`: the next state and, per causal variable, whether it
    /// was intervened on during this step.
    fn step(&self, state: &[f32], rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<bool>);

    /// Renders `state` into `frame` (`height * width * channels` bytes, row-major).
    fn render(&self, state: &[f32], frame: &mut [u8]);

    /// The state that takes causal variable `k` from `b` where `mask[k]`, else from `a`:
    /// the third image of a triplet.
    fn mix(&self, a: &[f32], b: &[f32], mask: &[bool]) -> Vec<f32> {
        let mut out = a.to_vec();
        for (var, &take) in self.variables().iter().zip(mask) {
            if take {
                for &d in &var.latents {
                    out[d] = b[d];
                }
            }
        }
        out
    }

    /// Per causal variable, whether the process ever intervenes on it (pong's scores and
    /// boxes' in-box x never are). Triplet masks only mix these, as CITRIS does.
    fn intervenable(&self) -> Vec<bool> {
        vec![true; self.variables().len()]
    }

    /// Extra per-frame integer labels written as `shape_latents` (causal3d's shape and
    /// material); empty for processes without them.
    fn shape_latents(&self, _state: &[f32]) -> Vec<u8> {
        Vec::new()
    }
}
