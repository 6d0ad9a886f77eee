//! The normalizing flow of CITRIS-NF (Lippe et al. 2022): an invertible map from the
//! frozen autoencoder's latents x to the causal latents z = f(x), trained by maximum
//! likelihood under the transition prior, log p(x) = log p(z) + log |det ∂f/∂x|.
//!
//! As in the reference (`models/shared/flow_layers.py`, `AutoregNormalizingFlow` with
//! its CITRIS-NF defaults), the flow is a stack of blocks, each
//!
//! 1. **ActNorm**: y = (x + b) ⊙ exp(s), data-initialised so that the first batch it
//!    sees comes out with zero mean and unit standard deviation per dimension; s is
//!    clamped to [−3, 3] in the forward value (the gradient passes straight through);
//! 2. **LU-decomposed invertible linear map** y = x W with W = P L U (P a fixed
//!    permutation, L unit lower-triangular, U upper-triangular with diagonal
//!    sign · exp(log |d|), signs fixed), initialised from a random orthogonal matrix so
//!    that it starts volume-preserving; the reference leaves it out of the first block,
//!    and so do we;
//! 3. **affine autoregressive layer** y_i = (x_i + t_i(x_{<i})) · exp(s_i(x_{<i})) whose
//!    conditioner is a MADE-style network of three masked linear layers with
//!    `hidden_per_dim` units per dimension and SiLU between them. s is bounded by tanh
//!    with a learned bound 3 · tanh(e^c / 3) per dimension, so no layer can blow up
//!    early in training, and the output layer starts small (first dimension: zero) so
//!    that the layer starts close to the identity.
//!
//! Every part has an analytic log-determinant, so [`Flow::forward`] returns it per
//! sample, and an exact inverse, which [`Flow::inverse`] uses to decode edited causal
//! latents (the autoregressive layer needs one pass per dimension for that).
//!
//! Sign convention: `forward` returns +log |det ∂f/∂x|, so the negative log-likelihood
//! of x is `nll(z) − logdet` (the reference accumulates the negative of this quantity
//! and adds it).

use std::cell::Cell;

use nn::layers::MaskedLinear;
use serde::{Deserialize, Serialize};
use tch::nn::{Module, Path};
use tch::{Device, Kind, Tensor};

use crate::{Error, Result};

/// Bound on |s| of ActNorm (the reference's `hard_limit`): a scale of e³ is plenty to
/// standardise any latent, and a larger one would only come from a degenerate batch.
const ACTNORM_LIMIT: f64 = 3.0;

/// Upper limit of the autoregressive layer's learned bound on |s|.
const COUPLING_LIMIT: f64 = 3.0;

/// Architecture of the flow (stored in a CITRIS-NF run's config). The defaults are the
/// reference's CITRIS-NF ones.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Number of [ActNorm → invertible linear → autoregressive] blocks.
    pub blocks: usize,
    /// Hidden units per latent dimension in the autoregressive conditioners.
    pub hidden_per_dim: i64,
    /// Factor on the initial weights of the conditioners' output layers; small values
    /// start every autoregressive layer close to the identity (0 starts it exactly
    /// there).
    pub output_init_scale: f64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            blocks: 4,
            hidden_per_dim: 16,
            output_init_scale: 0.2,
        }
    }
}

impl FlowConfig {
    /// Checks the values a user can set; the message names the option and its value.
    pub fn validate(&self) -> Result<()> {
        if self.blocks == 0 {
            return Err(Error::Invalid(
                "flow blocks must be at least 1 (got 0)".into(),
            ));
        }
        if self.hidden_per_dim < 1 {
            return Err(Error::Invalid(format!(
                "flow hidden_per_dim must be at least 1 (got {})",
                self.hidden_per_dim
            )));
        }
        if !self.output_init_scale.is_finite() || self.output_init_scale < 0.0 {
            return Err(Error::Invalid(format!(
                "flow output_init_scale must be a finite number ≥ 0 (got {})",
                self.output_init_scale
            )));
        }
        Ok(())
    }
}

/// The flow x (autoencoder latents) ↔ z (causal latents); its weights live in the
/// `VarStore` its path belongs to.
///
/// Data initialisation happens on the first call of [`Flow::forward`] with at least two
/// rows: each ActNorm layer sets itself from the activations it sees in that pass. Run
/// it on a training batch first (a training loop does so by itself). Whether a layer is
/// initialised is stored as a (non-trainable) variable, so weights loaded from a
/// checkpoint are never re-initialised.
#[derive(Debug)]
pub struct Flow {
    blocks: Vec<Block>,
}

#[derive(Debug)]
struct Block {
    norm: ActNorm,
    mix: Option<LuLinear>,
    coupling: AffineAutoregressive,
}

impl Flow {
    /// A flow on vectors of `dims` latents.
    pub fn new(p: Path, dims: i64, cfg: &FlowConfig) -> Result<Self> {
        cfg.validate()?;
        if dims < 1 {
            return Err(Error::Invalid(format!(
                "the flow needs at least one latent dimension (got {dims})"
            )));
        }
        let blocks = (0..cfg.blocks)
            .map(|i| {
                let p = &p / format!("block{i}");
                Block {
                    norm: ActNorm::new(&p / "actnorm", dims),
                    mix: (i > 0).then(|| LuLinear::new(&p / "mix", dims)),
                    coupling: AffineAutoregressive::new(&p / "autoregressive", dims, cfg),
                }
            })
            .collect();
        Ok(Self { blocks })
    }

    /// x [B, D] → (z [B, D], log |det ∂z/∂x| [B]): the direction used in training.
    /// The first call data-initialises the ActNorm layers (see [`Flow`]).
    pub fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let mut logdet = Tensor::zeros([x.size()[0]], (x.kind(), x.device()));
        let mut y = x.shallow_clone();
        for block in &self.blocks {
            let (h, ld) = block.norm.forward(&y);
            logdet += ld;
            y = h;
            if let Some(mix) = &block.mix {
                let (h, ld) = mix.forward(&y);
                logdet += ld;
                y = h;
            }
            let (h, ld) = block.coupling.forward(&y);
            logdet += ld;
            y = h;
        }
        (y, logdet)
    }

    /// z [B, D] → x [B, D], the exact inverse of [`Flow::forward`] (which it does not
    /// initialise anything for).
    pub fn inverse(&self, z: &Tensor) -> Tensor {
        let mut x = z.shallow_clone();
        for block in self.blocks.iter().rev() {
            x = block.coupling.inverse(&x);
            if let Some(mix) = &block.mix {
                x = mix.inverse(&x);
            }
            x = block.norm.inverse(&x);
        }
        x
    }

    /// Whether every ActNorm layer has been data-initialised (or loaded so).
    pub fn is_initialised(&self) -> bool {
        self.blocks.iter().all(|b| b.norm.is_initialised())
    }
}

/// Activation normalisation with data-dependent initialisation.
#[derive(Debug)]
struct ActNorm {
    bias: Tensor,
    log_scale: Tensor,
    /// 1 once initialised: a variable, so that it is saved and loaded with the weights.
    initialised: Tensor,
    /// Caches a 1 read from `initialised`, sparing a device synchronisation per call
    /// (the flag never goes back to 0 by itself).
    known_initialised: Cell<bool>,
}

impl ActNorm {
    fn new(p: Path, dims: i64) -> Self {
        Self {
            bias: p.zeros("bias", &[dims]),
            log_scale: p.zeros("log_scale", &[dims]),
            initialised: p.add(
                "initialised",
                Tensor::zeros([1], (p.kind(), p.device())),
                false,
            ),
            known_initialised: Cell::new(false),
        }
    }

    fn is_initialised(&self) -> bool {
        if !self.known_initialised.get() && self.initialised.double_value(&[0]) != 0.0 {
            self.known_initialised.set(true);
        }
        self.known_initialised.get()
    }

    /// Sets b = −mean(x), s = −log std(x) (unbiased, per dimension) unless already
    /// initialised. A batch of one row has no standard deviation and leaves the layer
    /// as it is; a (near-)constant dimension gets the largest scale the limit allows.
    fn initialise(&self, x: &Tensor) {
        if self.is_initialised() || x.size()[0] < 2 {
            return;
        }
        tch::no_grad(|| {
            let std = x.std_dim(0, true, false).clamp_min((-ACTNORM_LIMIT).exp());
            self.bias
                .shallow_clone()
                .copy_(&-x.mean_dim(0, false, x.kind()));
            self.log_scale.shallow_clone().copy_(&-std.log());
            let _ = self.initialised.shallow_clone().fill_(1.0);
        });
        self.known_initialised.set(true);
    }

    /// s clamped to [−limit, limit] in value, with the identity as its gradient.
    fn limited_log_scale(&self) -> Tensor {
        let s = &self.log_scale;
        s + (s.clamp(-ACTNORM_LIMIT, ACTNORM_LIMIT) - s).detach()
    }

    /// Returns y and the log-determinant (a scalar: the same for every sample).
    fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        self.initialise(x);
        let s = self.limited_log_scale();
        ((x + &self.bias) * s.exp(), s.sum(s.kind()))
    }

    fn inverse(&self, y: &Tensor) -> Tensor {
        y * (-self.limited_log_scale()).exp() - &self.bias
    }
}

/// y = x W with W = P L U (the invertible 1 × 1 convolution of Glow, for vectors).
#[derive(Debug)]
struct LuLinear {
    /// Fixed permutation P.
    perm: Tensor,
    /// Fixed signs of U's diagonal.
    sign: Tensor,
    /// L's strictly lower part (the rest of the variable is ignored).
    lower: Tensor,
    /// U's strictly upper part (the rest of the variable is ignored).
    upper: Tensor,
    /// log |diag U|.
    log_diag: Tensor,
}

impl LuLinear {
    /// Starts from the LU decomposition of a random orthogonal matrix (computed in f64
    /// on the CPU, so it does not depend on the device).
    fn new(p: Path, dims: i64) -> Self {
        let cpu = (Kind::Double, Device::Cpu);
        let (q, _) = Tensor::linalg_qr(&Tensor::randn([dims, dims], cpu), "reduced");
        let (perm, lower, upper) = Tensor::linalg_lu(&q, true);
        let diag = upper.diagonal(0, 0, 1);
        let fixed =
            |name: &str, t: &Tensor| p.add(name, t.to_kind(p.kind()).to_device(p.device()), false);
        Self {
            perm: fixed("perm", &perm),
            sign: fixed("sign", &diag.sign()),
            lower: p.var_copy("lower", &lower.tril(-1)),
            upper: p.var_copy("upper", &upper.triu(1)),
            log_diag: p.var_copy("log_diag", &diag.abs().log()),
        }
    }

    /// (unit lower L, upper U).
    fn factors(&self) -> (Tensor, Tensor) {
        let dims = self.log_diag.size()[0];
        let eye = Tensor::eye(dims, (self.lower.kind(), self.lower.device()));
        let diag = (&self.sign * self.log_diag.exp()).diag_embed(0, -2, -1);
        (self.lower.tril(-1) + eye, self.upper.triu(1) + diag)
    }

    fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let (lower, upper) = self.factors();
        let weight = self.perm.matmul(&lower).matmul(&upper);
        (x.matmul(&weight), self.log_diag.sum(self.log_diag.kind()))
    }

    /// Solves x P L U = y by two triangular solves and a permutation.
    fn inverse(&self, y: &Tensor) -> Tensor {
        let (lower, upper) = self.factors();
        let a = upper.linalg_solve_triangular(y, true, false, false);
        let b = lower.linalg_solve_triangular(&a, false, false, true);
        b.matmul(&self.perm.tr())
    }
}

/// How a conditioner layer's weights start.
#[derive(Clone, Copy)]
enum LayerInit {
    /// Kaiming-uniform for a following SiLU, over the inputs the mask leaves visible.
    Hidden,
    /// Kaiming-uniform for a linear output times `scale`, the first dimension's block
    /// and the bias zero: the layer starts close to the identity.
    Output { scale: f64 },
}

/// Affine autoregressive layer y_i = (x_i + t_i) · exp(s_i), (t_i, s_i) from x_{<i}.
#[derive(Debug)]
struct AffineAutoregressive {
    layers: [MaskedLinear; 3],
    /// c of the bound 3 · tanh(e^c / 3) on |s|, per dimension.
    scaling: Tensor,
    dims: i64,
}

impl AffineAutoregressive {
    fn new(p: Path, dims: i64, cfg: &FlowConfig) -> Self {
        let hidden = cfg.hidden_per_dim;
        let output = LayerInit::Output {
            scale: cfg.output_init_scale,
        };
        Self {
            layers: [
                autoregressive_linear(&p / "l0", dims, (1, hidden), false, LayerInit::Hidden),
                autoregressive_linear(&p / "l1", dims, (hidden, hidden), true, LayerInit::Hidden),
                autoregressive_linear(&p / "l2", dims, (hidden, 2), true, output),
            ],
            scaling: p.zeros("scaling", &[dims]),
            dims,
        }
    }

    /// (t, s), each [B, D]; column i depends only on x's columns < i.
    fn conditioner(&self, x: &Tensor) -> (Tensor, Tensor) {
        let [l0, l1, l2] = &self.layers;
        let h = l1.forward(&l0.forward(x).silu()).silu();
        let out = l2.forward(&h).view([-1, self.dims, 2]);
        let bound = (self.scaling.exp() / COUPLING_LIMIT).tanh() * COUPLING_LIMIT;
        let s = (out.select(2, 1) / bound.clamp_min(1.0)).tanh() * bound;
        (out.select(2, 0), s)
    }

    fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let (t, s) = self.conditioner(x);
        let logdet = s.sum_dim_intlist(1, false, s.kind());
        ((x + t) * s.exp(), logdet)
    }

    /// After pass k, columns ≤ k are exact (column k's parameters only read columns
    /// < k), so `dims` passes invert the layer exactly.
    fn inverse(&self, y: &Tensor) -> Tensor {
        let mut x = y.shallow_clone();
        for _ in 0..self.dims {
            let (t, s) = self.conditioner(&x);
            x = y * (-s).exp() - t;
        }
        x
    }
}

/// A masked linear layer from `per_dim.0` to `per_dim.1` units per latent dimension in
/// which dimension i's outputs see the inputs of dimensions < i (`diagonal`: ≤ i).
fn autoregressive_linear(
    p: Path,
    dims: i64,
    per_dim: (i64, i64),
    diagonal: bool,
    init: LayerInit,
) -> MaskedLinear {
    let (inp, out) = per_dim;
    let visible = |row: i64, col: i64| {
        let (out_dim, in_dim) = (row / out, col / inp);
        in_dim < out_dim || (diagonal && in_dim == out_dim)
    };
    let values: Vec<f32> = (0..dims * out)
        .flat_map(|row| (0..dims * inp).map(move |col| f32::from(u8::from(visible(row, col)))))
        .collect();
    let mask = Tensor::from_slice(&values)
        .view([dims * out, dims * inp])
        .to_device(p.device());
    let layer = MaskedLinear::new(p.clone(), &mask);

    let (gain_sq, scale) = match init {
        LayerInit::Hidden => (2.0, 1.0),
        LayerInit::Output { scale } => (1.0, scale),
    };
    let mut weight = p.get("weight").expect("nn::linear makes a weight");
    let fan_in = mask.sum_dim_intlist(1, true, weight.kind()).clamp_min(1.0);
    let bound = (fan_in.reciprocal() * (3.0 * gain_sq)).sqrt() * scale;
    let values = (weight.rand_like() * 2.0 - 1.0) * bound * mask.to_kind(weight.kind());
    if let LayerInit::Output { .. } = init {
        let _ = values.narrow(0, 0, out).zero_();
        let mut bias = p.get("bias").expect("nn::linear makes a bias");
        tch::no_grad(|| {
            let _ = bias.zero_();
        });
    }
    tch::no_grad(|| weight.copy_(&values));
    layer
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;

    const DIMS: i64 = 6;

    /// A flow in f64 with every trainable variable moved away from its (near-identity)
    /// start, so that each layer really transforms its input.
    fn random_flow(vs: &mut VarStore, blocks: usize) -> Flow {
        vs.set_kind(Kind::Double);
        let cfg = FlowConfig {
            blocks,
            hidden_per_dim: 4,
            ..Default::default()
        };
        let flow = Flow::new(vs.root() / "flow", DIMS, &cfg).unwrap();
        tch::no_grad(|| {
            for mut v in vs.trainable_variables() {
                let noise = v.randn_like() * 0.3;
                v += noise;
            }
        });
        flow
    }

    fn batch(rows: i64) -> Tensor {
        Tensor::randn([rows, DIMS], (Kind::Double, Device::Cpu)) * 2.0 + 0.5
    }

    /// Central finite differences of f at each row of x: [B, out, D].
    fn numerical_jacobian(f: impl Fn(&Tensor) -> Tensor, x: &Tensor) -> Tensor {
        let h = 1e-6;
        let columns: Vec<Tensor> = (0..x.size()[1])
            .map(|j| {
                let step = Tensor::zeros_like(x);
                let _ = step.narrow(1, j, 1).fill_(h);
                (f(&(x + &step)) - f(&(x - &step))) / (2.0 * h)
            })
            .collect();
        Tensor::stack(&columns, 2)
    }

    fn max_abs(t: &Tensor) -> f64 {
        t.abs().max().double_value(&[])
    }

    #[test]
    fn inverse_undoes_forward() {
        tch::manual_seed(0);
        let mut vs = VarStore::new(Device::Cpu);
        let flow = random_flow(&mut vs, 4);
        let _ = flow.forward(&batch(32)); // data init
        let x = batch(16);
        let (z, _) = flow.forward(&x);
        assert!(
            max_abs(&(&z - &x)) > 0.1,
            "the flow must not be the identity"
        );
        let err = max_abs(&(flow.inverse(&z) - &x));
        assert!(err < 1e-5, "round trip error {err}");

        // Single precision, from the untouched start, meets the bar too.
        let vs32 = VarStore::new(Device::Cpu);
        let flow32 = Flow::new(vs32.root(), DIMS, &FlowConfig::default()).unwrap();
        let x32 = batch(64).to_kind(Kind::Float);
        let (z32, _) = flow32.forward(&x32);
        let err = max_abs(&(flow32.inverse(&z32) - &x32));
        assert!(err < 1e-5, "f32 round trip error {err}");
    }

    #[test]
    fn logdet_matches_the_numerical_jacobian() {
        tch::manual_seed(1);
        let mut vs = VarStore::new(Device::Cpu);
        let flow = random_flow(&mut vs, 4);
        let _ = flow.forward(&batch(32));
        let x = batch(5);
        let (_, logdet) = flow.forward(&x);
        let jacobian = numerical_jacobian(|x| flow.forward(x).0, &x);
        let (_, expected) = Tensor::linalg_slogdet(&jacobian);
        let err = max_abs(&(&logdet - &expected));
        assert!(err < 1e-6, "logdet {logdet:?} vs numerical {expected:?}");
        assert!(
            max_abs(&logdet) > 0.1,
            "a volume-preserving flow proves little"
        );
    }

    #[test]
    fn autoregressive_layer_is_triangular() {
        tch::manual_seed(2);
        let mut vs = VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let layer = AffineAutoregressive::new(vs.root(), DIMS, &FlowConfig::default());
        tch::no_grad(|| {
            for mut v in vs.trainable_variables() {
                let noise = v.randn_like();
                v += noise;
            }
        });
        let x = batch(4);
        // t_i and s_i read only x_{<i}: their Jacobians are strictly lower-triangular.
        for part in 0..2 {
            let jac = numerical_jacobian(
                |x| {
                    let (t, s) = layer.conditioner(x);
                    [t, s][part].shallow_clone()
                },
                &x,
            );
            assert_eq!(max_abs(&jac.triu(0)), 0.0, "part {part} reads x_{{≥i}}");
            assert!(max_abs(&jac.tril(-1)) > 1e-3, "part {part} reads nothing");
        }
        // Hence y_i depends on x_{≤i} only, with ∂y_i/∂x_i = exp(s_i).
        let jac = numerical_jacobian(|x| layer.forward(x).0, &x);
        assert_eq!(max_abs(&jac.triu(1)), 0.0);
        let (_, s) = layer.conditioner(&x);
        let diag_err = max_abs(&(jac.diagonal(0, 1, 2) - s.exp()));
        assert!(diag_err < 1e-6, "diagonal off by {diag_err}");
    }

    #[test]
    fn actnorm_standardises_its_first_batch_only() {
        tch::manual_seed(3);
        let vs = VarStore::new(Device::Cpu);
        let norm = ActNorm::new(vs.root(), 3);
        let x = Tensor::randn([50, 3], (Kind::Float, Device::Cpu))
            * Tensor::from_slice(&[0.5f32, 2.0, 7.0])
            + Tensor::from_slice(&[1.0f32, -3.0, 10.0]);
        assert!(!norm.is_initialised());
        let (y, logdet) = norm.forward(&x);
        assert!(norm.is_initialised());
        assert!(max_abs(&y.mean_dim(0, false, y.kind())) < 1e-5);
        assert!(max_abs(&(y.std_dim(0, true, false) - 1.0)) < 1e-5);
        let expected = -x.std_dim(0, true, false).log().sum(Kind::Float);
        assert!(max_abs(&(logdet - expected)) < 1e-5);
        // A second, different batch leaves the layer as it is.
        let bias = norm.bias.copy();
        let _ = norm.forward(&(x * 3.0));
        assert!(norm.bias.equal(&bias));
    }

    #[test]
    fn loaded_weights_are_not_reinitialised() {
        tch::manual_seed(4);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flow.safetensors");
        let vs = VarStore::new(Device::Cpu);
        let flow = Flow::new(vs.root(), DIMS, &FlowConfig::default()).unwrap();
        let init = Tensor::randn([40, DIMS], (Kind::Float, Device::Cpu)) * 3.0 + 1.0;
        let _ = flow.forward(&init);
        assert!(flow.is_initialised());
        nn::checkpoint::save_weights(&path, &vs).unwrap();

        // Another batch with other statistics: a fresh flow would initialise on it...
        let other = Tensor::randn([40, DIMS], (Kind::Float, Device::Cpu)) * 0.5 - 2.0;
        let (z, _) = flow.forward(&other);
        let fresh_vs = VarStore::new(Device::Cpu);
        let fresh = Flow::new(fresh_vs.root(), DIMS, &FlowConfig::default()).unwrap();
        assert!(max_abs(&(fresh.forward(&other).0 - &z)) > 0.1);

        // ...but a loaded one keeps the saved initialisation.
        let mut loaded_vs = VarStore::new(Device::Cpu);
        let loaded = Flow::new(loaded_vs.root(), DIMS, &FlowConfig::default()).unwrap();
        nn::checkpoint::load_weights(&path, &mut loaded_vs).unwrap();
        assert!(loaded.is_initialised());
        let (loaded_z, _) = loaded.forward(&other);
        assert!(max_abs(&(loaded_z - z)) < 1e-6);
        let names = ["block0.actnorm.bias", "block3.actnorm.log_scale"];
        let (saved, now) = (vs.variables(), loaded_vs.variables());
        for name in names {
            assert!(saved[name].equal(&now[name]), "{name} changed");
        }
    }

    #[test]
    fn lu_layer_starts_orthogonal_and_first_block_has_none() {
        tch::manual_seed(5);
        let vs = VarStore::new(Device::Cpu);
        let mix = LuLinear::new(vs.root() / "mix", DIMS);
        let eye = Tensor::eye(DIMS, (Kind::Float, Device::Cpu));
        let (y, logdet) = mix.forward(&eye); // the rows of W
        assert!(max_abs(&(y.matmul(&y.tr()) - &eye)) < 1e-5);
        assert!(logdet.double_value(&[]).abs() < 1e-5);

        let flow_vs = VarStore::new(Device::Cpu);
        let _ = Flow::new(flow_vs.root(), DIMS, &FlowConfig::default()).unwrap();
        let names: Vec<String> = flow_vs.variables().into_keys().collect();
        assert!(names.iter().any(|n| n.starts_with("block1.mix.")));
        assert!(!names.iter().any(|n| n.starts_with("block0.mix.")));
    }

    #[test]
    fn config_defaults_and_validation() {
        let cfg = FlowConfig::default();
        assert_eq!((cfg.blocks, cfg.hidden_per_dim), (4, 16));
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<FlowConfig>(&json).unwrap(), cfg);
        let vs = VarStore::new(Device::Cpu);
        let bad = FlowConfig {
            hidden_per_dim: 0,
            ..cfg.clone()
        };
        let err = Flow::new(vs.root(), DIMS, &bad).unwrap_err().to_string();
        assert!(err.contains("hidden_per_dim"), "{err}");
        let err = Flow::new(vs.root(), 0, &cfg).unwrap_err().to_string();
        assert!(err.contains("latent dimension"), "{err}");
    }
}
