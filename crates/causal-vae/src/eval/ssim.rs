//! Image similarity: per-image mean squared error and SSIM (Wang et al. 2004), computed
//! with libtorch ops so that a batch of images is scored in one pass on any device.

use tch::{Kind, Tensor};

/// Side of the Gaussian SSIM window (the standard 11 × 11), shrunk for smaller images.
const WINDOW: i64 = 11;
/// Standard deviation of the Gaussian window, in pixels.
const SIGMA: f64 = 1.5;
/// Stabilisers of the luminance and contrast-structure terms for a dynamic range of 1.
const C1: f64 = 0.01 * 0.01;
const C2: f64 = 0.03 * 0.03;

/// Mean squared error per image of `x` and `y` ([B, C, H, W], same shape): [B].
pub fn mse(x: &Tensor, y: &Tensor) -> Tensor {
    (x - y)
        .square()
        .flatten(1, -1)
        .mean_dim(1, false, Kind::Float)
}

/// Structural similarity per image of `x` and `y` ([B, C, H, W] in [0, 1], same shape):
/// [B], 1 for identical images. Local means, variances and covariance come from an
/// 11 × 11 Gaussian window (σ = 1.5) applied to each channel separately over the
/// positions where it fits entirely (no padding, as in the reference implementation);
/// the SSIM map is averaged over positions and channels.
pub fn ssim(x: &Tensor, y: &Tensor) -> Tensor {
    let x = x.to_kind(Kind::Float);
    let y = y.to_kind(Kind::Float);
    let size = x.size();
    let channels = size[1];
    let side = WINDOW.min(size[2]).min(size[3]);
    let side = side - (1 - side % 2); // odd, so the window has a centre
    let window = gaussian_window(side, channels, x.device());
    let filter = |t: &Tensor| t.conv2d(&window, None::<Tensor>, [1, 1], [0, 0], [1, 1], channels);
    let mu_x = filter(&x);
    let mu_y = filter(&y);
    let var_x = filter(&x.square()) - mu_x.square();
    let var_y = filter(&y.square()) - mu_y.square();
    let cov = filter(&(&x * &y)) - &mu_x * &mu_y;
    let luminance = (&mu_x * &mu_y * 2.0 + C1) / (mu_x.square() + mu_y.square() + C1);
    let structure = (cov * 2.0 + C2) / (var_x + var_y + C2);
    (luminance * structure)
        .flatten(1, -1)
        .mean_dim(1, false, Kind::Float)
}

/// Normalised 2-D Gaussian window as a depthwise convolution weight [C, 1, side, side].
fn gaussian_window(side: i64, channels: i64, device: tch::Device) -> Tensor {
    let centre = (side / 2) as f64;
    let taps: Vec<f32> = (0..side)
        .map(|i| (-((i as f64 - centre).powi(2)) / (2.0 * SIGMA * SIGMA)).exp() as f32)
        .collect();
    let g = Tensor::from_slice(&taps).to_device(device);
    let g = &g / g.sum(Kind::Float);
    g.outer(&g)
        .view([1, 1, side, side])
        .repeat([channels, 1, 1, 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn scalar(t: &Tensor, i: i64) -> f64 {
        t.double_value(&[i])
    }

    #[test]
    fn ssim_of_an_image_with_itself_is_one_and_falls_with_noise() {
        tch::manual_seed(0);
        let x = Tensor::rand([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        let same = ssim(&x, &x);
        assert!((scalar(&same, 0) - 1.0).abs() < 1e-5 && (scalar(&same, 1) - 1.0).abs() < 1e-5);
        let mut last = 1.0;
        for amount in [0.02, 0.1, 0.3] {
            let noisy = (&x + x.randn_like() * amount).clamp(0.0, 1.0);
            let s = scalar(&ssim(&x, &noisy), 0);
            assert!(
                s < last && s > -1.0,
                "noise {amount}: ssim {s} after {last}"
            );
            last = s;
        }
        assert!(last < 0.75, "heavy noise leaves ssim {last}");
        // Symmetric, and MSE agrees with a direct computation.
        let noisy = (&x + 0.1).clamp(0.0, 1.0);
        let (a, b) = (ssim(&x, &noisy), ssim(&noisy, &x));
        assert!((scalar(&a, 0) - scalar(&b, 0)).abs() < 1e-6);
        let direct = (&x - &noisy)
            .square()
            .get(1)
            .mean(Kind::Float)
            .double_value(&[]);
        assert!((scalar(&mse(&x, &noisy), 1) - direct).abs() < 1e-7);
    }

    #[test]
    fn ssim_of_a_constant_shift_depends_only_on_luminance() {
        // A flat image against a flatter-by-0.1 one: variances and covariance vanish, so
        // SSIM is the luminance term (2 μx μy + C1) / (μx² + μy² + C1).
        let x = Tensor::full([1, 3, 16, 16], 0.5, (Kind::Float, Device::Cpu));
        let y = Tensor::full([1, 3, 16, 16], 0.4, (Kind::Float, Device::Cpu));
        let expected = (2.0 * 0.5 * 0.4 + C1) / (0.25 + 0.16 + C1);
        let got = scalar(&ssim(&x, &y), 0);
        // Float32 cancellation in E[x²] − μ² costs a few 1e-5 against C2.
        assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
    }
}
