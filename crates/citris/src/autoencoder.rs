//! The first stage of CITRIS-NF: a deterministic autoencoder that compresses frames to
//! L latents. The second stage (the normalizing flow of [`crate::flow`]) then learns the
//! causal representation on these latents with the encoder frozen, which is much
//! cheaper than training CITRIS-VAE end to end on images.
//!
//! As in the reference (`models/ae/lightning_module.py`), Gaussian noise (σ = 0.05) is
//! added to the latents before decoding during training, and a tiny penalty on their
//! magnitude keeps them near the origin: without both, the encoder could shrink or
//! blow up its scale freely, and the flow would have to undo that.

use nn::batches::Batches;
use nn::train::{Loss, Objective};
use serde::{Deserialize, Serialize};
use tch::nn::Path;
use tch::{Device, Kind, Reduction, Tensor};

use crate::data::to_input;
use crate::error::check_non_negative;
use crate::nets::{Decoder, Encoder, NetConfig};
use crate::{Error, Result};

/// Residual blocks per resolution level of the autoencoder's decoder (the reference's
/// `num_blocks=2`; CITRIS-VAE uses 1).
const DECODER_BLOCKS: usize = 2;

/// The autoencoder's architecture and loss (stored in a run's config). The defaults are
/// the reference's `train_ae.py` ones for 64 × 64 RGB images.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoencoderConfig {
    pub net: NetConfig,
    /// Standard deviation of the noise added to the latents before decoding in
    /// training.
    pub noise_level: f64,
    /// Weight of the penalty mean(z²).
    pub regularizer_weight: f64,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        Self {
            net: NetConfig {
                image_size: 64,
                channels: 3,
                width: 64,
                latents: 32,
            },
            noise_level: 0.05,
            regularizer_weight: 1e-6,
        }
    }
}

impl AutoencoderConfig {
    /// Checks the values a user can set; the message names the option and its value.
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        check_non_negative(&[
            ("noise_level", self.noise_level),
            ("regularizer_weight", self.regularizer_weight),
        ])?;
        Ok(())
    }
}

/// The model; its weights live in the `VarStore` its path belongs to.
#[derive(Debug)]
pub struct Autoencoder {
    config: AutoencoderConfig,
    encoder: Encoder,
    decoder: Decoder,
    device: Device,
}

impl Autoencoder {
    pub fn new(p: Path, config: &AutoencoderConfig) -> Result<Self> {
        config.validate()?;
        let net = &config.net;
        Ok(Self {
            encoder: Encoder::new(&p / "encoder", net, net.latents)?,
            decoder: Decoder::new(&p / "decoder", net, DECODER_BLOCKS)?,
            config: config.clone(),
            device: p.device(),
        })
    }

    pub fn config(&self) -> &AutoencoderConfig {
        &self.config
    }

    /// Where the weights live.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Images [B, C, S, S] in [−1, 1] → latents [B, L]. `train` selects BatchNorm's
    /// batch statistics; use `false` to encode data for the flow or the evaluations.
    pub fn encode(&self, x: &Tensor, train: bool) -> Tensor {
        self.encoder.forward_t(x, train)
    }

    /// Latents [B, L] → images [B, C, S, S] in [−1, 1] (no noise is added here).
    pub fn decode(&self, z: &Tensor, train: bool) -> Tensor {
        self.decoder.forward_t(z, train)
    }

    /// The training loss of images `x` [B, C, S, S] in [−1, 1]:
    /// mse + regularizer_weight · z_reg, where `mse` is the squared error of the
    /// reconstruction from z + N(0, noise_level²) averaged over every value (batch,
    /// channels and pixels alike, PyTorch's `mse_loss` default, as the reference) and
    /// `z_reg` is mean(z²) over batch and latents. Both parts are logged unweighted.
    pub fn loss(&self, x: &Tensor) -> Loss {
        let z = self.encode(x, true);
        let noisy = &z + z.randn_like() * self.config.noise_level;
        let mse = self.decode(&noisy, true).mse_loss(x, Reduction::Mean);
        let z_reg = z.square().mean(Kind::Float);
        Loss {
            total: &mse + &z_reg * self.config.regularizer_weight,
            parts: vec![("mse", mse.detach()), ("z_reg", z_reg.detach())],
        }
    }
}

/// Trains an [`Autoencoder`] on single frames (e.g. all frames of a
/// [`Sequence`](crate::data::Sequence)): step k's batch is batch k of an epoch-wise
/// shuffle that depends only on (seed, k), so resumed runs see the same batches.
pub struct AutoencoderObjective<'a> {
    model: &'a Autoencoder,
    frames: &'a Tensor,
    batches: Batches,
}

impl<'a> AutoencoderObjective<'a> {
    /// `frames`: `u8` [N, C, S, S] of the model's shape (CPU or the model's device);
    /// batches of `batch` frames (at most N).
    pub fn new(
        model: &'a Autoencoder,
        frames: &'a Tensor,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        let net = &model.config().net;
        let expected = [net.channels, net.image_size, net.image_size];
        let shape = frames.size();
        if frames.kind() != Kind::Uint8 || shape.len() != 4 || shape[1..] != expected {
            return Err(Error::Invalid(format!(
                "training frames are {:?} {shape:?}, but the autoencoder takes u8 frames \
                 [N, {}, {}, {}]",
                frames.kind(),
                expected[0],
                expected[1],
                expected[2]
            )));
        }
        if shape[0] == 0 || batch == 0 {
            return Err(Error::Invalid(format!(
                "cannot draw batches of {batch} from {} frames",
                shape[0]
            )));
        }
        Ok(Self {
            model,
            frames,
            batches: Batches::new(shape[0] as usize, batch, seed),
        })
    }
}

impl Objective for AutoencoderObjective<'_> {
    fn loss(&mut self, step: usize) -> Loss {
        let index = self.batches.indices(step).to_device(self.frames.device());
        let x = to_input(&self.frames.index_select(0, &index), self.model.device());
        self.model.loss(&x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn::optim::{AdamW, AdamWConfig};
    use nn::train::update;
    use tch::nn::VarStore;

    /// 16 frames of a bright 10 × 10 square on black at positions on a 4 × 4 grid.
    fn squares() -> Tensor {
        let frames = Tensor::zeros([16, 3, 32, 32], (Kind::Uint8, Device::Cpu));
        for i in 0..16 {
            let (row, col) = (2 + 6 * (i / 4), 2 + 6 * (i % 4));
            let _ = frames
                .get(i)
                .narrow(1, row, 10)
                .narrow(2, col, 10)
                .fill_(255);
        }
        frames
    }

    fn tiny() -> AutoencoderConfig {
        AutoencoderConfig {
            net: NetConfig {
                image_size: 32,
                channels: 3,
                width: 8,
                latents: 4,
            },
            ..Default::default()
        }
    }

    /// Training must clearly beat the best constant prediction: the mean image, whose
    /// MSE is the per-pixel variance of the data (0.33 here; training reaches < 0.01 for
    /// every seed tried).
    #[test]
    fn learns_to_reconstruct_squares() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let model = Autoencoder::new(vs.root(), &tiny()).unwrap();
        let frames = squares();
        let mut objective = AutoencoderObjective::new(&model, &frames, 8, 1).unwrap();
        let adamw = AdamWConfig {
            weight_decay: 0.0,
            ..Default::default()
        };
        let mut optimizer = AdamW::new(&vs, adamw);
        for step in 0..150 {
            let loss = objective.loss(step);
            assert_eq!(loss.parts[0].0, "mse");
            update(&mut optimizer, &loss.total, 1.0, 5e-3);
        }
        let x = to_input(&frames, Device::Cpu);
        let baseline = x
            .var_dim(0, false, false)
            .mean(Kind::Float)
            .double_value(&[]);
        let reconstruction = model.decode(&model.encode(&x, false), false);
        let mse = reconstruction
            .mse_loss(&x, Reduction::Mean)
            .double_value(&[]);
        assert!(mse < 0.1 * baseline, "mse {mse} vs mean image {baseline}");
    }

    /// The loss by hand: with zero noise it is the plain reconstruction MSE plus the
    /// weighted mean square of the (deterministic) latents.
    #[test]
    fn loss_matches_its_definition() {
        let mut config = tiny();
        config.noise_level = 0.0;
        config.regularizer_weight = 0.5;
        let vs = VarStore::new(Device::Cpu);
        let model = Autoencoder::new(vs.root(), &config).unwrap();
        let x = to_input(&squares().narrow(0, 0, 2), Device::Cpu);
        let loss = model.loss(&x);
        let z = model.encode(&x, true);
        let rec = model.decode(&z, true);
        let mse = (rec - &x).square().mean(Kind::Float).double_value(&[]);
        let z_reg = z.square().mean(Kind::Float).double_value(&[]);
        assert!((loss.parts[0].1.double_value(&[]) - mse).abs() < 1e-6);
        assert!((loss.parts[1].1.double_value(&[]) - z_reg).abs() < 1e-6);
        let total = loss.total.double_value(&[]);
        assert!((total - (mse + 0.5 * z_reg)).abs() < 1e-6);
    }

    /// CITRIS' 64 × 64 networks (BatchNorm, residual decoder) behind the same interface.
    #[test]
    fn encodes_and_decodes_64_pixel_frames() {
        let mut config = tiny();
        config.net.image_size = 64;
        let vs = VarStore::new(Device::Cpu);
        let model = Autoencoder::new(vs.root(), &config).unwrap();
        let frames = Tensor::randint(256, [4, 3, 64, 64], (Kind::Uint8, Device::Cpu));
        let mut objective = AutoencoderObjective::new(&model, &frames, 2, 0).unwrap();
        assert!(objective.loss(0).total.double_value(&[]).is_finite());
        let z = model.encode(&to_input(&frames, Device::Cpu), false);
        assert_eq!(z.size(), vec![4, 4]);
        assert_eq!(model.decode(&z, false).size(), vec![4, 3, 64, 64]);
    }

    #[test]
    fn mismatched_frames_and_bad_options_are_errors() {
        let vs = VarStore::new(Device::Cpu);
        let model = Autoencoder::new(vs.root(), &tiny()).unwrap();
        let frames = Tensor::zeros([4, 3, 64, 64], (Kind::Uint8, Device::Cpu));
        let err = AutoencoderObjective::new(&model, &frames, 2, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("64") && err.contains("32"), "{err}");
        let mut config = tiny();
        config.noise_level = -0.1;
        let err = Autoencoder::new(vs.root(), &config)
            .unwrap_err()
            .to_string();
        assert!(err.contains("noise_level") && err.contains("-0.1"), "{err}");
    }
}
