//! The deep-learning layer shared by causalgen's models, on libtorch through `tch`.
//!
//! Models own their weights in a [`tch::nn::VarStore`] and take a [`tch::Device`]; this
//! crate supplies what every model needs around them:
//!
//! - [`device`]: `cpu` / `cuda[:N]` / `auto` selection (loading libtorch's CUDA library on
//!   demand), the thread count, and malloc settings for training loops;
//! - [`layers`]: convolutional encoder and decoder stacks, residual blocks, masked linear
//!   layers, MLPs, and their multiply-add counts;
//! - [`batches`]: shuffled mini-batches that depend only on (seed, step), so resumed
//!   runs are exact;
//! - [`optim`]: AdamW whose state is plain tensors (so it is checkpointed and resumed
//!   exactly) and the cosine learning-rate schedule with warm-up;
//! - [`train`]: the training loop (gradient clipping, progress bar with loss and ETA,
//!   metrics CSV, periodic atomic checkpoints, resume, stop on a non-finite loss);
//! - [`run_dir`]: the run directory, the unit of work (`config.toml`, weights,
//!   `metrics.csv`, samples), and [`checkpoint`]: weights and optimiser state in one
//!   safetensors file.

pub mod batches;
pub mod checkpoint;
pub mod device;
mod error;
pub mod layers;
pub mod metrics;
pub mod optim;
pub mod run_dir;
pub mod train;

pub use error::{NnError, Result};

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::{Mutex, MutexGuard};

    /// libtorch's random generator is global to the process: a test that re-seeds it and
    /// compares draws holds this lock, and so does every other test that draws, so none
    /// runs in between.
    pub(crate) fn exclusive_generator() -> MutexGuard<'static, ()> {
        static GENERATOR: Mutex<()> = Mutex::new(());
        GENERATOR
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
