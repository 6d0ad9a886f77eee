//! The image encoder and decoder of CITRIS (Lippe et al. 2022), shared by CITRIS-VAE and
//! the autoencoder of CITRIS-NF, and the Gaussian head that turns an encoder's output
//! into a posterior.
//!
//! Two architectures, chosen by the image size as the reference chooses them:
//!
//! - 64 × 64 (CITRIS' own pair): the encoder halves the resolution four times with
//!   3 × 3 strided convolutions at a constant width, each followed by a 3 × 3
//!   convolution, with BatchNorm and SiLU, then maps the 4 × 4 features through an MLP
//!   with LayerNorm. The decoder mirrors it with bilinear upsampling and pre-activation
//!   residual blocks, and ends in 1 × 1 convolutions and tanh (images live in [−1, 1]).
//! - 32 × 32 (the Interventional Pong pair): a plain stack of (transposed) convolutions
//!   with SiLU and no normalisation.
//!
//! Both add a learned embedding of the pixel coordinates to some feature maps (see
//! [`Position`]): objects' positions are causal variables in these data sets, and
//! convolutions alone are translation-equivariant, so they would have to infer absolute
//! position from the image border.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::{Error, Result};

/// Shape of the images and sizes of an encoder/decoder pair (stored in a run's config).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Side of the square images: 64 (CITRIS' networks) or 32 (the simple pair).
    pub image_size: i64,
    /// Colour channels of the images (3 for RGB).
    pub channels: i64,
    /// Hidden channels `c_hid` (the reference uses 32 for CITRIS-VAE, 64 for the
    /// autoencoder).
    pub width: i64,
    /// Dimension of the latent space the decoder reads.
    pub latents: i64,
}

impl NetConfig {
    /// Checks the values a user can set; the message names the offending value.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.image_size, 32 | 64) {
            return Err(Error::Invalid(format!(
                "image size {} is not supported: CITRIS' networks take 64 × 64 images and \
                 the simple pair 32 × 32",
                self.image_size
            )));
        }
        for (name, value) in [
            ("channels", self.channels),
            ("width", self.width),
            ("latents", self.latents),
        ] {
            if value < 1 {
                return Err(Error::Invalid(format!(
                    "{name} must be at least 1 (got {value})"
                )));
            }
        }
        Ok(())
    }

    /// Whether this is the 32 × 32 pair.
    fn is_simple(&self) -> bool {
        self.image_size == 32
    }
}

/// Adds a learned linear embedding of the pixel coordinates, each in [−1, 1] (row,
/// column), to every pixel of a feature map: CITRIS' `PositionLayer`.
#[derive(Debug)]
struct Position {
    embed: nn::Linear,
}

impl Position {
    fn new(p: nn::Path, channels: i64) -> Self {
        Self {
            embed: nn::linear(p, 2, channels, Default::default()),
        }
    }
}

impl Module for Position {
    fn forward(&self, x: &Tensor) -> Tensor {
        let (h, w) = (x.size()[2], x.size()[3]);
        let options = (x.kind(), x.device());
        let rows = Tensor::linspace(-1.0, 1.0, h, options);
        let cols = Tensor::linspace(-1.0, 1.0, w, options);
        let grid = Tensor::stack(&Tensor::meshgrid_indexing(&[rows, cols], "ij"), -1);
        // [H, W, 2] → [H, W, C] → [1, C, H, W]
        x + self.embed.forward(&grid).permute([2, 0, 1]).unsqueeze(0)
    }
}

/// BatchNorm initialised as PyTorch does (unit gain; tch's default draws it uniformly).
fn batch_norm(p: nn::Path, channels: i64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        ws_init: nn::Init::Const(1.0),
        ..Default::default()
    };
    nn::batch_norm2d(p, channels, config)
}

/// A 3 × 3 convolution with padding 1 (size-preserving unless strided).
fn conv3(p: nn::Path, c_in: i64, c_out: i64, stride: i64, bias: bool) -> nn::Conv2D {
    let config = nn::ConvConfig {
        stride,
        padding: 1,
        bias,
        ..Default::default()
    };
    nn::conv2d(p, c_in, c_out, 3, config)
}

/// A 3 × 3 transposed convolution that doubles the resolution exactly.
fn up_conv3(p: nn::Path, c_in: i64, c_out: i64) -> nn::ConvTranspose2D {
    let config = nn::ConvTransposeConfig {
        stride: 2,
        padding: 1,
        output_padding: 1,
        ..Default::default()
    };
    nn::conv_transpose2d(p, c_in, c_out, 3, config)
}

/// Halvings from `image_size` down to 4 × 4.
fn levels(image_size: i64) -> i64 {
    i64::from((image_size / 4).trailing_zeros())
}

fn check_positive(name: &str, value: i64) -> Result<()> {
    match value >= 1 {
        true => Ok(()),
        false => Err(Error::Invalid(format!(
            "{name} must be at least 1 (got {value})"
        ))),
    }
}

/// Image [B, C, S, S] in [−1, 1] → features [B, outputs].
#[derive(Debug)]
pub struct Encoder {
    net: nn::SequentialT,
}

impl Encoder {
    /// The encoder for `cfg`'s images with `outputs` features: 2L (mean and log-std,
    /// see [`GaussianHead`]) for a VAE, L for the autoencoder.
    pub fn new(p: nn::Path, cfg: &NetConfig, outputs: i64) -> Result<Self> {
        cfg.validate()?;
        check_positive("encoder outputs", outputs)?;
        let net = match cfg.is_simple() {
            true => simple_encoder(p, cfg, outputs),
            false => citris_encoder(p, cfg, outputs),
        };
        Ok(Self { net })
    }

    /// `train` selects BatchNorm's batch statistics (and updates its running ones);
    /// with `false` the output of an image does not depend on the rest of the batch.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.net.forward_t(x, train)
    }
}

/// CITRIS' encoder: per level conv 3×3/2 (→ position embedding at the first) → BN →
/// SiLU → conv 3×3 → BN → SiLU, then Linear(16c → 4c) → LayerNorm → SiLU → Linear.
/// The convolutions have no bias: BatchNorm's shift replaces it.
fn citris_encoder(p: nn::Path, cfg: &NetConfig, outputs: i64) -> nn::SequentialT {
    let c = cfg.width;
    let mut net = nn::seq_t();
    for level in 0..levels(cfg.image_size) {
        let q = &p / format!("down{level}");
        let c_in = if level == 0 { cfg.channels } else { c };
        net = net.add(conv3(&q / "conv1", c_in, c, 2, false));
        if level == 0 {
            net = net.add(Position::new(&q / "position", c));
        }
        net = net
            .add(batch_norm(&q / "norm1", c))
            .add_fn(Tensor::silu)
            .add(conv3(&q / "conv2", c, c, 1, false))
            .add(batch_norm(&q / "norm2", c))
            .add_fn(Tensor::silu);
    }
    net.add_fn(|x| x.flatten(1, -1))
        .add(nn::linear(&p / "hidden", 16 * c, 4 * c, Default::default()))
        .add(nn::layer_norm(&p / "norm", vec![4 * c], Default::default()))
        .add_fn(Tensor::silu)
        .add(nn::linear(
            &p / "output",
            4 * c,
            outputs,
            Default::default(),
        ))
}

/// The 32 × 32 encoder: conv 3×3/2 (c) → position → conv (c) → conv/2 (2c) → conv (2c)
/// → conv/2 (2c), SiLU after each, then Linear(32c → 4c) → SiLU → Linear.
fn simple_encoder(p: nn::Path, cfg: &NetConfig, outputs: i64) -> nn::SequentialT {
    let c = cfg.width;
    nn::seq_t()
        .add(conv3(&p / "conv1", cfg.channels, c, 2, true))
        .add(Position::new(&p / "position", c))
        .add_fn(Tensor::silu)
        .add(conv3(&p / "conv2", c, c, 1, true))
        .add_fn(Tensor::silu)
        .add(conv3(&p / "conv3", c, 2 * c, 2, true))
        .add_fn(Tensor::silu)
        .add(conv3(&p / "conv4", 2 * c, 2 * c, 1, true))
        .add_fn(Tensor::silu)
        .add(conv3(&p / "conv5", 2 * c, 2 * c, 2, true))
        .add_fn(Tensor::silu)
        .add_fn(|x| x.flatten(1, -1))
        .add(nn::linear(&p / "hidden", 32 * c, 4 * c, Default::default()))
        .add_fn(Tensor::silu)
        .add(nn::linear(
            &p / "output",
            4 * c,
            outputs,
            Default::default(),
        ))
}

/// Pre-activation residual block with a position embedding between its convolutions:
/// x + conv(SiLU(BN(pos(conv(SiLU(BN(x))))))).
#[derive(Debug)]
struct ResidualBlock {
    branch: nn::SequentialT,
}

impl ResidualBlock {
    fn new(p: nn::Path, c: i64) -> Self {
        let branch = nn::seq_t()
            .add(batch_norm(&p / "norm1", c))
            .add_fn(Tensor::silu)
            .add(conv3(&p / "conv1", c, c, 1, true))
            .add(Position::new(&p / "position", c))
            .add(batch_norm(&p / "norm2", c))
            .add_fn(Tensor::silu)
            .add(conv3(&p / "conv2", c, c, 1, true));
        Self { branch }
    }
}

impl ModuleT for ResidualBlock {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x + self.branch.forward_t(x, train)
    }
}

/// Latents [B, L] → image [B, C, S, S] in [−1, 1].
#[derive(Debug)]
pub struct Decoder {
    net: nn::SequentialT,
}

impl Decoder {
    /// The decoder for `cfg`'s images from `cfg.latents` latents, with
    /// `residual_blocks` residual blocks per resolution level (the reference uses 1 for
    /// CITRIS-VAE and 2 for the autoencoder); the 32 × 32 decoder has none and ignores
    /// it.
    pub fn new(p: nn::Path, cfg: &NetConfig, residual_blocks: usize) -> Result<Self> {
        cfg.validate()?;
        let net = match cfg.is_simple() {
            true => simple_decoder(p, cfg),
            false => citris_decoder(p, cfg, residual_blocks),
        };
        Ok(Self { net })
    }

    /// `train` as in [`Encoder::forward_t`].
    pub fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        self.net.forward_t(z, train)
    }
}

/// CITRIS' decoder: Linear(L → 4c) → LayerNorm → SiLU → Linear(4c → 16c) → 4 × 4 maps,
/// per level bilinear ×2 upsampling and residual blocks, then BN → SiLU → conv 1×1 →
/// position → BN → SiLU → conv 1×1 to the colour channels → tanh.
fn citris_decoder(p: nn::Path, cfg: &NetConfig, residual_blocks: usize) -> nn::SequentialT {
    let c = cfg.width;
    let mut net = nn::seq_t()
        .add(nn::linear(
            &p / "hidden",
            cfg.latents,
            4 * c,
            Default::default(),
        ))
        .add(nn::layer_norm(&p / "norm", vec![4 * c], Default::default()))
        .add_fn(Tensor::silu)
        .add(nn::linear(&p / "expand", 4 * c, 16 * c, Default::default()))
        .add_fn(move |x| x.view([-1, c, 4, 4]));
    for level in 0..levels(cfg.image_size) {
        net = net.add_fn(|x| {
            let size = x.size();
            x.upsample_bilinear2d([2 * size[2], 2 * size[3]], true, None::<f64>, None::<f64>)
        });
        for block in 0..residual_blocks {
            net = net.add(ResidualBlock::new(&p / format!("up{level}_res{block}"), c));
        }
    }
    let one_by_one = |q: nn::Path, c_out: i64| nn::conv2d(q, c, c_out, 1, Default::default());
    net.add(batch_norm(&p / "head_norm1", c))
        .add_fn(Tensor::silu)
        .add(one_by_one(&p / "head_conv1", c))
        .add(Position::new(&p / "head_position", c))
        .add(batch_norm(&p / "head_norm2", c))
        .add_fn(Tensor::silu)
        .add(one_by_one(&p / "output", cfg.channels))
        .add_fn(Tensor::tanh)
}

/// The 32 × 32 decoder: Linear(L → 4c) → SiLU → Linear(4c → 32c) → SiLU → 2c maps of
/// 4 × 4, then transposed conv ×2 (2c) → position → conv (2c) → position → transposed
/// conv ×2 (c) → position → conv (c) → position (SiLU after each position embedding)
/// → transposed conv ×2 to the colour channels → tanh.
fn simple_decoder(p: nn::Path, cfg: &NetConfig) -> nn::SequentialT {
    let c = cfg.width;
    let position = |name: &str, channels: i64| Position::new(&p / name, channels);
    nn::seq_t()
        .add(nn::linear(
            &p / "hidden",
            cfg.latents,
            4 * c,
            Default::default(),
        ))
        .add_fn(Tensor::silu)
        .add(nn::linear(&p / "expand", 4 * c, 32 * c, Default::default()))
        .add_fn(Tensor::silu)
        .add_fn(move |x| x.view([-1, 2 * c, 4, 4]))
        .add(up_conv3(&p / "up1", 2 * c, 2 * c))
        .add(position("position1", 2 * c))
        .add_fn(Tensor::silu)
        .add(conv3(&p / "conv1", 2 * c, 2 * c, 1, true))
        .add(position("position2", 2 * c))
        .add_fn(Tensor::silu)
        .add(up_conv3(&p / "up2", 2 * c, c))
        .add(position("position3", c))
        .add_fn(Tensor::silu)
        .add(conv3(&p / "conv2", c, c, 1, true))
        .add(position("position4", c))
        .add_fn(Tensor::silu)
        .add(up_conv3(&p / "output", c, cfg.channels))
        .add_fn(Tensor::tanh)
}

/// Splits a VAE encoder's output [B, 2L] into the mean and the log standard deviation
/// of q(z | x), each [B, L]. The log-std is squashed to tanh(x / s) · s: it stays in
/// (−s, s), so an early large prediction cannot make exp(log-std) overflow or vanish,
/// while small values pass almost unchanged. As in the reference, the 64 × 64 networks
/// learn s per latent (s = softplus(ρ), ρ starting at 0, so s starts at ln 2) and the
/// 32 × 32 pair fixes s = 4.
#[derive(Debug)]
pub struct GaussianHead {
    scale: Scale,
}

#[derive(Debug)]
enum Scale {
    /// ρ [L]; s = softplus(ρ).
    Learned(Tensor),
    Fixed(f64),
}

impl GaussianHead {
    pub fn new(p: nn::Path, cfg: &NetConfig) -> Result<Self> {
        cfg.validate()?;
        let scale = match cfg.is_simple() {
            true => Scale::Fixed(4.0),
            false => Scale::Learned(p.zeros("scale", &[cfg.latents])),
        };
        Ok(Self { scale })
    }

    /// The raw log-std outputs [L] that the squash maps to `log_std` (as near as its
    /// bound s allows: at most 0.95 s away from 0), for a head that must start at a
    /// known noise level.
    pub fn raw_log_std(&self, log_std: f64, latents: i64, device: Device) -> Tensor {
        let s = match &self.scale {
            Scale::Learned(rho) => rho.detach().softplus(),
            Scale::Fixed(s) => Tensor::full([latents], *s, (Kind::Float, device)),
        };
        let target = (&s * 0.95).clamp_max(log_std.abs()) * log_std.signum();
        (target / &s).atanh() * s
    }

    /// (mean, log-std) of `stats` [B, 2L].
    pub fn forward(&self, stats: &Tensor) -> (Tensor, Tensor) {
        let halves = stats.chunk(2, -1);
        let raw = &halves[1];
        let log_std = match &self.scale {
            Scale::Learned(rho) => {
                let s = rho.softplus();
                (raw / &s).tanh() * s
            }
            Scale::Fixed(s) => (raw / *s).tanh() * *s,
        };
        (halves[0].shallow_clone(), log_std)
    }
}

/// Trainable parameters of a model (BatchNorm's running statistics are not).
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn config(image_size: i64) -> NetConfig {
        NetConfig {
            image_size,
            channels: 3,
            width: 8,
            latents: 4,
        }
    }

    fn images(batch: i64, size: i64) -> Tensor {
        Tensor::rand([batch, 3, size, size], (Kind::Float, Device::Cpu)) * 2.0 - 1.0
    }

    #[test]
    fn shapes_for_64_and_32() {
        for size in [64, 32] {
            let vs = nn::VarStore::new(Device::Cpu);
            let cfg = config(size);
            let enc = Encoder::new(vs.root() / "enc", &cfg, 8).unwrap();
            let dec = Decoder::new(vs.root() / "dec", &cfg, 2).unwrap();
            let features = enc.forward_t(&images(2, size), true);
            assert_eq!(features.size(), vec![2, 8], "encoder at {size}");
            let z = features.narrow(1, 0, 4);
            assert_eq!(dec.forward_t(&z, true).size(), vec![2, 3, size, size]);
        }
    }

    /// Far-out latents saturate tanh; the output must still be within [−1, 1].
    #[test]
    fn decoded_images_stay_in_range() {
        for size in [64, 32] {
            let vs = nn::VarStore::new(Device::Cpu);
            let dec = Decoder::new(vs.root(), &config(size), 1).unwrap();
            let z = Tensor::randn([2, 4], (Kind::Float, Device::Cpu)) * 100.0;
            let x = dec.forward_t(&z, false);
            assert!(x.abs().max().double_value(&[]) <= 1.0);
        }
    }

    /// At inference an image's encoding is reproducible and independent of the rest of
    /// the batch (BatchNorm's running statistics); in training it depends on the batch.
    #[test]
    fn inference_is_deterministic_and_per_image() {
        let vs = nn::VarStore::new(Device::Cpu);
        let enc = Encoder::new(vs.root(), &config(64), 8).unwrap();
        let x = images(3, 64);
        let a = enc.forward_t(&x, false);
        assert!(a.equal(&enc.forward_t(&x, false)));
        let alone = enc.forward_t(&x.narrow(0, 0, 1), false);
        assert!(alone.allclose(&a.narrow(0, 0, 1), 1e-5, 1e-5, false));
        let train_alone = enc.forward_t(&x.narrow(0, 0, 2), true);
        let train_all = enc.forward_t(&x, true);
        let diff = (train_alone - train_all.narrow(0, 0, 2)).abs().max();
        assert!(diff.double_value(&[]) > 1e-4, "batch statistics unused");
    }

    #[test]
    fn gradient_reaches_the_first_convolution() {
        for (size, first) in [(64, "enc.down0.conv1.weight"), (32, "enc.conv1.weight")] {
            let vs = nn::VarStore::new(Device::Cpu);
            let cfg = config(size);
            let enc = Encoder::new(vs.root() / "enc", &cfg, 4).unwrap();
            let dec = Decoder::new(vs.root() / "dec", &cfg, 1).unwrap();
            let x = images(2, size);
            let loss = dec
                .forward_t(&enc.forward_t(&x, true), true)
                .mse_loss(&x, tch::Reduction::Mean);
            loss.backward();
            let weight = &vs.variables()[first];
            assert!(weight.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
        }
    }

    #[test]
    fn invalid_configs_name_the_value() {
        let vs = nn::VarStore::new(Device::Cpu);
        let message = |r: Result<Encoder>| r.unwrap_err().to_string();
        let err = message(Encoder::new(vs.root(), &config(48), 8));
        assert!(err.contains("48"), "{err}");
        let mut cfg = config(64);
        cfg.width = 0;
        let err = message(Encoder::new(vs.root(), &cfg, 8));
        assert!(err.contains("width") && err.contains('0'), "{err}");
        let err = message(Encoder::new(vs.root(), &config(64), -3));
        assert!(err.contains("-3"), "{err}");
        let err = Decoder::new(vs.root(), &config(16), 1).unwrap_err();
        assert!(err.to_string().contains("16"));
    }

    #[test]
    fn config_rejects_unknown_fields() {
        let json = r#"{"image_size":64,"channels":3,"width":8,"latents":4,"depth":2}"#;
        assert!(serde_json::from_str::<NetConfig>(json).is_err());
    }

    /// On a zero feature map the position embedding is the map itself: at row 0,
    /// column W−1 the coordinates are (−1, 1), so the value is b − w₀ + w₁.
    #[test]
    fn position_embedding_by_hand() {
        let vs = nn::VarStore::new(Device::Cpu);
        let layer = Position::new(vs.root(), 2);
        let out = layer.forward(&Tensor::zeros([1, 2, 3, 5], (Kind::Float, Device::Cpu)));
        let (w, b) = (&layer.embed.ws, layer.embed.bs.as_ref().unwrap());
        for ch in 0..2 {
            let expected =
                b.double_value(&[ch]) - w.double_value(&[ch, 0]) + w.double_value(&[ch, 1]);
            assert!((out.double_value(&[0, ch, 0, 4]) - expected).abs() < 1e-6);
            // The centre pixel (row 1 of 3, column 2 of 5) sits at (0, 0).
            assert!((out.double_value(&[0, ch, 1, 2]) - b.double_value(&[ch])).abs() < 1e-6);
        }
    }

    #[test]
    fn gaussian_head_squashes_the_log_std() {
        let stats = Tensor::from_slice(&[0.5f32, -1.0, 1.0, 100.0]).view([1, 4]);
        let mut cfg = config(64);
        cfg.latents = 2;
        for (size, s) in [(64, std::f64::consts::LN_2), (32, 4.0)] {
            cfg.image_size = size;
            let vs = nn::VarStore::new(Device::Cpu);
            let head = GaussianHead::new(vs.root(), &cfg).unwrap();
            let (mean, log_std) = head.forward(&stats);
            assert_eq!(Vec::<f32>::try_from(mean.view([-1])).unwrap(), [0.5, -1.0]);
            let expected = (1.0 / s).tanh() * s;
            assert!((log_std.double_value(&[0, 0]) - expected).abs() < 1e-6);
            assert!(
                (log_std.double_value(&[0, 1]) - s).abs() < 1e-5,
                "saturates at s"
            );
        }
    }

    /// The raw output for a log-std comes back through the squash: exactly where the
    /// bound allows it (32 × 32: s = 4), at 0.95 s where it does not (64 × 64: s = ln 2).
    #[test]
    fn raw_log_std_inverts_the_squash_within_its_bound() {
        let mut cfg = config(64);
        cfg.latents = 3;
        let log_std = 0.05f64.ln();
        for (size, expected) in [(32, log_std), (64, -0.95 * std::f64::consts::LN_2)] {
            cfg.image_size = size;
            let vs = nn::VarStore::new(Device::Cpu);
            let head = GaussianHead::new(vs.root(), &cfg).unwrap();
            let raw = head.raw_log_std(log_std, 3, Device::Cpu);
            let stats = Tensor::cat(&[raw.zeros_like(), raw], 0).view([1, 6]);
            let (_, squashed) = head.forward(&stats);
            for l in 0..3 {
                let got = squashed.double_value(&[0, l]);
                assert!((got - expected).abs() < 1e-5, "{size}: {got} vs {expected}");
            }
        }
    }

    /// Counted by hand for width 8, 3 channels, 4 outputs at 64 × 64.
    #[test]
    fn encoder_parameters_by_hand() {
        let vs = nn::VarStore::new(Device::Cpu);
        Encoder::new(vs.root(), &config(64), 4).unwrap();
        let first = 3 * 8 * 9 + (2 * 8 + 8) + 16 + 8 * 8 * 9 + 16; // convs, position, BNs
        let other = 8 * 8 * 9 + 16 + 8 * 8 * 9 + 16;
        let mlp = (128 * 32 + 32) + 2 * 32 + (32 * 4 + 4);
        assert_eq!(parameter_count(&vs), first + 3 * other + mlp);
    }
}
