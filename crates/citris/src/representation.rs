//! What the evaluations and latent queries need from a trained model, whichever it is
//! (CITRIS-VAE, CITRIS-NF, the β-VAE baseline): images to causal latents and back, and
//! which latents belong to which causal variable.

use tch::{Device, Tensor};

use crate::data::to_input;

/// A learned causal representation.
pub trait Representation {
    /// Latents [B, L] of images [B, C, H, W] in [−1, 1] (inference mode).
    fn encode(&self, images: &Tensor) -> Tensor;

    /// Images [B, C, H, W] in [−1, 1] from latents [B, L] (inference mode).
    fn decode(&self, latents: &Tensor) -> Tensor;

    /// Per latent, its causal variable (0..K) or K for "none", when the model learns
    /// one (CITRIS); `None` for models without (the β-VAE, assigned by R² instead).
    fn assignment(&self) -> Option<Vec<usize>>;

    /// Where the weights live.
    fn device(&self) -> Device;
}

/// Frames (`u8` [N, C, H, W], CPU) encoded in batches of `batch`, without gradients;
/// latents [N, L] on the CPU.
pub fn encode_frames(model: &dyn Representation, frames: &Tensor, batch: i64) -> Tensor {
    let n = frames.size()[0];
    let parts: Vec<Tensor> = tch::no_grad(|| {
        (0..n)
            .step_by(batch.max(1) as usize)
            .map(|start| {
                let len = batch.min(n - start);
                let x = to_input(&frames.narrow(0, start, len), model.device());
                model.encode(&x).to_device(Device::Cpu)
            })
            .collect()
    });
    Tensor::cat(&parts, 0)
}

/// Latents [N, L] decoded in batches of `batch`, without gradients; images [N, C, H,
/// W] in [−1, 1] on the CPU.
pub fn decode_latents(model: &dyn Representation, latents: &Tensor, batch: i64) -> Tensor {
    let n = latents.size()[0];
    let parts: Vec<Tensor> = tch::no_grad(|| {
        (0..n)
            .step_by(batch.max(1) as usize)
            .map(|start| {
                let len = batch.min(n - start);
                let z = latents.narrow(0, start, len).to_device(model.device());
                model.decode(&z).to_device(Device::Cpu)
            })
            .collect()
    });
    Tensor::cat(&parts, 0)
}
