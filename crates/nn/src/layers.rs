//! Building blocks shared by the image models: strided convolution stacks that take a
//! square image down to 4 × 4 and back, residual blocks, masked linear layers and MLPs.
//!
//! Normalisation is GroupNorm: it has no running statistics, so a model behaves the same
//! in training and at inference and a batch of one is fine (queries decode single
//! images).

use tch::nn::{self, Module};
use tch::Tensor;

/// Groups of the GroupNorm layers (every channel count used is a multiple of 8).
const GROUPS: i64 = 8;

fn norm(p: nn::Path, channels: i64) -> nn::GroupNorm {
    nn::group_norm(p, GROUPS.min(channels), channels, Default::default())
}

/// Channel counts of a stack that halves `image_size` down to 4 × 4: `width` at the
/// first level, doubling per level up to `8 × width`. Panics (a programming error, the
/// configuration is validated before) unless `image_size` is 4 × a power of two ≥ 8.
pub fn level_channels(image_size: i64, width: i64) -> Vec<i64> {
    assert!(
        image_size >= 8 && image_size % 4 == 0 && ((image_size / 4) as u64).is_power_of_two(),
        "image size {image_size} is not 4 × a power of two"
    );
    let levels = ((image_size / 4) as u64).trailing_zeros();
    (0..levels).map(|l| (width << l).min(8 * width)).collect()
}

/// Conv 4 × 4, stride 2 → GroupNorm → SiLU: halves the resolution.
#[derive(Debug)]
pub struct DownBlock {
    conv: nn::Conv2D,
    norm: nn::GroupNorm,
}

impl DownBlock {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64) -> Self {
        let config = nn::ConvConfig {
            stride: 2,
            padding: 1,
            ..Default::default()
        };
        Self {
            conv: nn::conv2d(&p / "conv", c_in, c_out, 4, config),
            norm: norm(&p / "norm", c_out),
        }
    }
}

impl Module for DownBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.norm.forward(&self.conv.forward(x)).silu()
    }
}

/// Transposed conv 4 × 4, stride 2 → GroupNorm → SiLU: doubles the resolution.
#[derive(Debug)]
pub struct UpBlock {
    conv: nn::ConvTranspose2D,
    norm: nn::GroupNorm,
}

impl UpBlock {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64) -> Self {
        let config = nn::ConvTransposeConfig {
            stride: 2,
            padding: 1,
            ..Default::default()
        };
        Self {
            conv: nn::conv_transpose2d(&p / "conv", c_in, c_out, 4, config),
            norm: norm(&p / "norm", c_out),
        }
    }
}

impl Module for UpBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.norm.forward(&self.conv.forward(x)).silu()
    }
}

/// Pre-activation residual block: x + conv(SiLU(GN(conv(SiLU(GN(x)))))), 3 × 3 convs.
#[derive(Debug)]
pub struct ResBlock {
    norm1: nn::GroupNorm,
    conv1: nn::Conv2D,
    norm2: nn::GroupNorm,
    conv2: nn::Conv2D,
}

impl ResBlock {
    pub fn new(p: nn::Path, channels: i64) -> Self {
        let config = nn::ConvConfig {
            padding: 1,
            ..Default::default()
        };
        Self {
            norm1: norm(&p / "norm1", channels),
            conv1: nn::conv2d(&p / "conv1", channels, channels, 3, config),
            norm2: norm(&p / "norm2", channels),
            conv2: nn::conv2d(&p / "conv2", channels, channels, 3, config),
        }
    }
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.conv1.forward(&self.norm1.forward(x).silu());
        x + self.conv2.forward(&self.norm2.forward(&h).silu())
    }
}

/// Image [B, 3, S, S] in [0, 1] → features [B, 16·C]: down blocks to 4 × 4 and a
/// residual block there.
#[derive(Debug)]
pub struct ConvEncoder {
    blocks: Vec<DownBlock>,
    bottleneck: ResBlock,
    out_features: i64,
}

impl ConvEncoder {
    pub fn new(p: nn::Path, image_size: i64, width: i64) -> Self {
        let channels = level_channels(image_size, width);
        let mut c_in = 3;
        let blocks = channels
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let block = DownBlock::new(&p / format!("down{i}"), c_in, c);
                c_in = c;
                block
            })
            .collect();
        Self {
            blocks,
            bottleneck: ResBlock::new(&p / "res", c_in),
            out_features: c_in * 16,
        }
    }

    /// Width of the flattened output.
    pub fn out_features(&self) -> i64 {
        self.out_features
    }
}

impl Module for ConvEncoder {
    fn forward(&self, x: &Tensor) -> Tensor {
        // Centre the input: images arrive in [0, 1].
        let mut h = x * 2.0 - 1.0;
        for block in &self.blocks {
            h = block.forward(&h);
        }
        self.bottleneck.forward(&h).flatten(1, -1)
    }
}

/// Vector [B, D] → image logits [B, 3, S, S]: a linear map to 4 × 4, a residual block,
/// up blocks mirroring [`ConvEncoder`], and a 3 × 3 convolution to RGB.
#[derive(Debug)]
pub struct ConvDecoder {
    input: nn::Linear,
    bottleneck: ResBlock,
    blocks: Vec<UpBlock>,
    output: nn::Conv2D,
    base_channels: i64,
}

impl ConvDecoder {
    pub fn new(p: nn::Path, in_features: i64, image_size: i64, width: i64) -> Self {
        let channels = level_channels(image_size, width);
        let base_channels = *channels.last().expect("at least one level");
        let mut blocks = Vec::with_capacity(channels.len());
        let mut c_in = base_channels;
        for (i, &c) in channels.iter().rev().enumerate() {
            blocks.push(UpBlock::new(&p / format!("up{i}"), c_in, c));
            c_in = c;
        }
        let config = nn::ConvConfig {
            padding: 1,
            ..Default::default()
        };
        Self {
            input: nn::linear(
                &p / "input",
                in_features,
                base_channels * 16,
                Default::default(),
            ),
            bottleneck: ResBlock::new(&p / "res", base_channels),
            blocks,
            output: nn::conv2d(&p / "output", c_in, 3, 3, config),
            base_channels,
        }
    }
}

impl Module for ConvDecoder {
    fn forward(&self, z: &Tensor) -> Tensor {
        let batch = z.size()[0];
        let mut h = self
            .input
            .forward(z)
            .silu()
            .view([batch, self.base_channels, 4, 4]);
        h = self.bottleneck.forward(&h);
        for block in &self.blocks {
            h = block.forward(&h);
        }
        self.output.forward(&h)
    }
}

/// Linear layers with SiLU between them (none after the last).
pub fn mlp(p: nn::Path, dims: &[i64]) -> nn::Sequential {
    let mut seq = nn::seq();
    for (i, pair) in dims.windows(2).enumerate() {
        seq = seq.add(nn::linear(
            &p / format!("l{i}"),
            pair[0],
            pair[1],
            Default::default(),
        ));
        if i + 2 < dims.len() {
            seq = seq.add_fn(|x| x.silu());
        }
    }
    seq
}

/// A linear layer whose weight is multiplied by a fixed 0/1 mask [out, in], for
/// autoregressive (MADE-style) networks in normalizing flows: output i may only see
/// the inputs the mask allows.
#[derive(Debug)]
pub struct MaskedLinear {
    linear: nn::Linear,
    mask: Tensor,
}

impl MaskedLinear {
    /// `mask` has shape [out, in] and lives on the path's device.
    pub fn new(p: nn::Path, mask: &Tensor) -> Self {
        let (out, inp) = mask.size2().expect("mask must be 2-D [out, in]");
        Self {
            linear: nn::linear(&p, inp, out, Default::default()),
            mask: mask.to_device(p.device()).to_kind(tch::Kind::Float),
        }
    }
}

impl Module for MaskedLinear {
    fn forward(&self, x: &Tensor) -> Tensor {
        let weight = &self.linear.ws * &self.mask;
        x.linear(&weight, self.linear.bs.as_ref())
    }
}

/// Multiply-adds of one forward pass, per image, of the convolutions, transposed
/// convolutions and linear layers of the stacks above (normalisation, activations and
/// additions are not counted). A convolution costs c_in·c_out·k² per output pixel, a
/// transposed convolution c_in·c_out·k² per input pixel, a linear layer in·out. A
/// training step costs about 3 × 2 × these FLOPs per image (forward, and a backward
/// pass computing both input and weight gradients).
pub mod macs {
    use super::level_channels;

    fn conv(c_in: i64, c_out: i64, kernel: i64, out_side: i64) -> i64 {
        c_in * c_out * kernel * kernel * out_side * out_side
    }

    fn res_block(channels: i64, side: i64) -> i64 {
        2 * conv(channels, channels, 3, side)
    }

    /// [`ConvEncoder`](super::ConvEncoder)`::new(_, image_size, width)`.
    pub fn encoder(image_size: i64, width: i64) -> i64 {
        let (mut total, mut c_in, mut side) = (0, 3, image_size);
        for c in level_channels(image_size, width) {
            side /= 2;
            total += conv(c_in, c, 4, side);
            c_in = c;
        }
        total + res_block(c_in, side)
    }

    /// [`ConvDecoder`](super::ConvDecoder)`::new(_, in_features, image_size, width)`.
    pub fn decoder(in_features: i64, image_size: i64, width: i64) -> i64 {
        let channels = level_channels(image_size, width);
        let base = *channels.last().expect("at least one level");
        let mut total = mlp(&[in_features, base * 16]) + res_block(base, 4);
        let (mut c_in, mut side) = (base, 4);
        for &c in channels.iter().rev() {
            total += conv(c_in, c, 4, side); // transposed: per input pixel
            c_in = c;
            side *= 2;
        }
        total + conv(c_in, 3, 3, side)
    }

    /// [`mlp`](super::mlp)`(_, dims)`.
    pub fn mlp(dims: &[i64]) -> i64 {
        dims.windows(2).map(|pair| pair[0] * pair[1]).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn channel_schedule_follows_image_size() {
        assert_eq!(level_channels(64, 32), vec![32, 64, 128, 256]);
        assert_eq!(level_channels(128, 32), vec![32, 64, 128, 256, 256]);
        assert_eq!(level_channels(8, 16), vec![16]);
    }

    #[test]
    fn encoder_and_decoder_shapes_match_for_64_and_128() {
        let _generator = crate::test_support::exclusive_generator();
        for size in [64, 128] {
            let vs = nn::VarStore::new(Device::Cpu);
            let enc = ConvEncoder::new(vs.root() / "enc", size, 16);
            let dec = ConvDecoder::new(vs.root() / "dec", 10, size, 16);
            let x = Tensor::rand([2, 3, size, size], (Kind::Float, Device::Cpu));
            assert_eq!(enc.forward(&x).size(), vec![2, enc.out_features()]);
            let z = Tensor::randn([2, 10], (Kind::Float, Device::Cpu));
            assert_eq!(dec.forward(&z).size(), vec![2, 3, size, size]);
        }
    }

    #[test]
    fn masked_linear_ignores_masked_inputs() {
        let _generator = crate::test_support::exclusive_generator();
        let vs = nn::VarStore::new(Device::Cpu);
        // Output 0 sees nothing, output 1 sees input 0, output 2 sees inputs 0 and 1.
        let mask = Tensor::from_slice(&[0f32, 0., 0., 1., 0., 0., 1., 1., 0.]).view([3, 3]);
        let layer = MaskedLinear::new(vs.root() / "m", &mask);
        let x = Tensor::randn([4, 3], (Kind::Float, Device::Cpu));
        let base = layer.forward(&x);
        let changed = x.copy();
        let _ = changed.narrow(1, 2, 1).fill_(7.0);
        let diff = (layer.forward(&changed) - &base)
            .abs()
            .max()
            .double_value(&[]);
        assert_eq!(diff, 0.0, "input 2 is masked everywhere");
        let changed0 = x.copy();
        let _ = changed0.narrow(1, 0, 1).fill_(7.0);
        let d = (layer.forward(&changed0) - &base)
            .abs()
            .sum_dim_intlist(0, false, Kind::Float);
        assert_eq!(d.double_value(&[0]), 0.0);
        assert!(d.double_value(&[1]) > 0.0 && d.double_value(&[2]) > 0.0);
    }

    /// The counts by hand for 8 × 8 images, width 8: one level (3 → 8 channels).
    #[test]
    fn multiply_adds_by_hand() {
        // Encoder: conv 4×4 3→8 onto 4×4, then two 3×3 8→8 convs at 4×4.
        assert_eq!(macs::encoder(8, 8), 3 * 8 * 16 * 16 + 2 * (8 * 8 * 9 * 16));
        // Decoder from 5 inputs: linear 5→128, residual block, transposed conv 4×4
        // 8→8 from 4×4, conv 3×3 8→3 at 8×8.
        let expected = 5 * 128 + 2 * (8 * 8 * 9 * 16) + 8 * 8 * 16 * 16 + 8 * 3 * 9 * 64;
        assert_eq!(macs::decoder(5, 8, 8), expected);
        assert_eq!(macs::mlp(&[5, 8, 3]), 5 * 8 + 8 * 3);
    }

    #[test]
    fn mlp_has_the_requested_widths() {
        let _generator = crate::test_support::exclusive_generator();
        let vs = nn::VarStore::new(Device::Cpu);
        let net = mlp(vs.root() / "mlp", &[5, 8, 3]);
        let y = net.forward(&Tensor::zeros([7, 5], (Kind::Float, Device::Cpu)));
        assert_eq!(y.size(), vec![7, 3]);
    }
}
