//! CITRIS-VAE (Lippe et al. 2022, `models/citris_vae/lightning_module.py`) and the
//! β-VAE baseline, which share the encoder, the Gaussian posterior and the decoder.
//!
//! CITRIS-VAE encodes frames t and t+1 (in one batch, so BatchNorm sees both), decodes a
//! sample of z^{t+1} and minimises
//!
//! β_t1 · w(step) · KL(q(z^{t+1} | x^{t+1}) ‖ p(z^{t+1} | z^t, I^{t+1}))
//! + ‖x̂^{t+1} − x^{t+1}‖² + loss_model + β_classifier · loss_z,
//!
//! each term a mean over the batch, the squared error summed over channels and pixels.
//! The prior ([`crate::prior`]) is conditioned on the posterior mean of frame t, as in
//! the reference; the target classifier ([`crate::classifier`]) sees samples of both
//! frames and a Gumbel-softmax sample of the assignment ψ. w rises from 0.1 to 1 over
//! `kl_warmup` steps (a half cosine, the reference's `SineWarmupScheduler`).
//!
//! With the **flow prior** (`flow_prior`, the reference's `use_flow_prior`), a
//! normalizing flow f ([`crate::flow`], 4 blocks as CITRIS-NF's) sits between the
//! encoder's latents and the causal ones: the prior and the classifier see u = f(z), the
//! representation is f(posterior mean), and the KL becomes the one-sample estimate
//! log q(z^{t+1} | x^{t+1}) − log|det ∂f/∂z^{t+1}| − log p(f(z^{t+1}) | f(z^t), I^{t+1})
//! (the density of u under the posterior pushed through f, against the prior's). The
//! encoder then need not align its axes with the causal variables itself: the flow
//! can rotate and bend them into place.
//!
//! The β-VAE treats both frames of a pair as independent images: reconstruction plus
//! β_t1 · w(step) · KL(q(z | x) ‖ N(0, I)), with neither prior network nor classifier.

use nn::batches::Batches;
use nn::train::{Loss, Objective};
use serde::{Deserialize, Serialize};
use tch::nn::{Path, VarStore};
use tch::{Device, Kind, Tensor};

use crate::classifier::TargetClassifier;
use crate::data::{to_input, Sequence};
use crate::error::check_non_negative;
use crate::flow::{Flow, FlowConfig};
use crate::nets::{Decoder, Encoder, GaussianHead, NetConfig};
use crate::prior::{
    gaussian_kl, gaussian_log_prob, InterventionModel, PriorConfig, TransitionPrior,
};
use crate::representation::Representation;
use crate::{Error, Result};

/// Which model [`CitrisVae`] is.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VaeKind {
    /// CITRIS-VAE: transition prior and target classifier.
    Citris,
    /// The β-VAE baseline: standard normal prior on single frames.
    BetaVae,
}

/// The model's loss and architecture beyond the encoder/decoder pair (stored in a
/// run's config). Defaults are the reference's for CITRIS-VAE; the paper uses 32
/// latents for 64 × 64 images and 16 for Interventional Pong's 32 × 32 (set in
/// [`NetConfig::latents`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CitrisVaeConfig {
    pub kind: VaeKind,
    /// Weight of the KL term (the reference's β_t1; the β of the β-VAE).
    pub beta_t1: f64,
    /// Weight of the classifier's `loss_z` (CITRIS only).
    pub beta_classifier: f64,
    /// Steps over which the KL weight rises from 0.1·β_t1 to β_t1 (0: none).
    pub kl_warmup: usize,
    /// Residual blocks per resolution level of the 64 × 64 decoder.
    pub decoder_blocks: usize,
    /// Hidden units of the target classifier (the reference's 2 · c_hid).
    pub classifier_hidden: i64,
    pub prior: PriorConfig,
    /// CITRIS only: a normalizing flow between the encoder's latents and the prior's
    /// (see the module documentation); `None` for the closed-form Gaussian KL. Runs
    /// written before this option existed have none.
    #[serde(default)]
    pub flow_prior: Option<FlowConfig>,
}

impl Default for CitrisVaeConfig {
    fn default() -> Self {
        Self {
            kind: VaeKind::Citris,
            beta_t1: 1.0,
            beta_classifier: 2.0,
            kl_warmup: 0,
            decoder_blocks: 1,
            classifier_hidden: 64,
            prior: PriorConfig::default(),
            flow_prior: None,
        }
    }
}

impl CitrisVaeConfig {
    /// Checks the values a user can set; the message names the option and its value.
    pub fn validate(&self) -> Result<()> {
        check_non_negative(&[
            ("beta_t1", self.beta_t1),
            ("beta_classifier", self.beta_classifier),
        ])?;
        if self.classifier_hidden < 1 {
            return Err(Error::Invalid(format!(
                "classifier_hidden must be at least 1 (got {})",
                self.classifier_hidden
            )));
        }
        if let Some(flow) = &self.flow_prior {
            if self.kind == VaeKind::BetaVae {
                return Err(Error::Invalid(
                    "the flow prior belongs to CITRIS-VAE; the β-VAE has none".into(),
                ));
            }
            flow.validate()?;
        }
        if self.kind == VaeKind::BetaVae && self.prior.interventions != InterventionModel::Perfect {
            return Err(Error::Invalid(
                "imperfect interventions are an option of CITRIS-VAE's transition prior; \
                 the β-VAE has none"
                    .into(),
            ));
        }
        if self.kind == VaeKind::BetaVae && self.prior.assignment_init_margin != 0.0 {
            return Err(Error::Invalid(
                "assignment_init_margin starts CITRIS-VAE's assignment ψ; the β-VAE has none \
                 (its latents are assigned by R² after training)"
                    .into(),
            ));
        }
        self.prior.validate()
    }

    /// The KL weight's warm-up factor at `step`: 0.1 at step 0, rising as a half cosine
    /// to 1 at `kl_warmup`, 1 afterwards.
    pub fn kl_factor(&self, step: usize) -> f64 {
        if step >= self.kl_warmup {
            return 1.0;
        }
        let progress = step as f64 / self.kl_warmup as f64;
        0.1 + 0.9 * 0.5 * (1.0 - (std::f64::consts::PI * progress).cos())
    }
}

/// What CITRIS-VAE has beyond the β-VAE.
#[derive(Debug)]
struct CausalParts {
    prior: TransitionPrior,
    classifier: TargetClassifier,
    /// The flow prior's f, when configured.
    flow: Option<Flow>,
}

/// Frames whose posterior samples data-initialise a flow prior, as many as CITRIS-NF's
/// flow starts from.
const FLOW_INIT_FRAMES: i64 = 1024;

/// Name prefix of the encoder's output layer, whose rows are the posterior's
/// [mean, log-std].
const POSTERIOR_LAYER: &str = "encoder.output.";

/// How [`CitrisVae::start_from`] started a model: the weights it took, and the σ its
/// posterior starts at when only the mean came from the file.
#[derive(Debug)]
pub struct Start {
    pub transfer: nn::checkpoint::Transfer,
    pub posterior_std: Option<f64>,
}

/// CITRIS-VAE or the β-VAE baseline; the weights live in the `VarStore` of the path it
/// was built on, the target classifier's under `classifier` (the reference trains them
/// with their own learning rate).
#[derive(Debug)]
pub struct CitrisVae {
    config: CitrisVaeConfig,
    net: NetConfig,
    variables: usize,
    encoder: Encoder,
    head: GaussianHead,
    decoder: Decoder,
    /// `Some` for [`VaeKind::Citris`].
    causal: Option<CausalParts>,
    device: Device,
}

impl CitrisVae {
    /// The model for `net`'s images and latents and `variables` causal variables (the
    /// width of the intervention targets; unused by the β-VAE).
    pub fn new(p: Path, net: &NetConfig, variables: usize, cfg: &CitrisVaeConfig) -> Result<Self> {
        cfg.validate()?;
        let causal = match cfg.kind {
            VaeKind::Citris => Some(CausalParts {
                prior: TransitionPrior::new(&p / "prior", net.latents, variables, &cfg.prior)?,
                classifier: TargetClassifier::new(
                    &p / "classifier",
                    net.latents,
                    variables,
                    cfg.classifier_hidden,
                )?,
                flow: cfg
                    .flow_prior
                    .as_ref()
                    .map(|flow| Flow::new(&p / "flow", net.latents, flow))
                    .transpose()?,
            }),
            VaeKind::BetaVae => None,
        };
        Ok(Self {
            encoder: Encoder::new(&p / "encoder", net, 2 * net.latents)?,
            head: GaussianHead::new(&p / "head", net)?,
            decoder: Decoder::new(&p / "decoder", net, cfg.decoder_blocks)?,
            config: cfg.clone(),
            net: net.clone(),
            variables,
            causal,
            device: p.device(),
        })
    }

    pub fn config(&self) -> &CitrisVaeConfig {
        &self.config
    }

    pub fn net(&self) -> &NetConfig {
        &self.net
    }

    /// Where the weights live.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The transition prior (CITRIS only), e.g. for ψ's probabilities.
    pub fn prior(&self) -> Option<&TransitionPrior> {
        self.causal.as_ref().map(|c| &c.prior)
    }

    /// Each latent's group under argmax ψ (a variable index, or K for none); `None` for
    /// the β-VAE, which has no assignment.
    pub fn hard_assignment(&self) -> Option<Vec<usize>> {
        self.prior().map(TransitionPrior::hard_assignment)
    }

    /// Starts the model from the weight files `weights`, in order (see
    /// [`nn::checkpoint::load_matching`]). When they fill only the posterior's mean — an
    /// autoencoder's output layer, L rows of the VAE's 2L — the log-std half starts at
    /// `autoencoder_noise`, the σ the autoencoder trained with
    /// ([`Self::start_posterior_std`]).
    pub fn start_from(
        &self,
        vs: &mut VarStore,
        weights: &[std::path::PathBuf],
        autoencoder_noise: f64,
    ) -> Result<Start> {
        let transfer = nn::checkpoint::load_matching(weights, vs)?;
        let mean_only = transfer
            .first_half
            .iter()
            .any(|name| name.starts_with(POSTERIOR_LAYER));
        let posterior_std = match mean_only {
            true => {
                self.start_posterior_std(vs, autoencoder_noise)?;
                Some(autoencoder_noise)
            }
            false => None,
        };
        Ok(Start {
            transfer,
            posterior_std,
        })
    }

    /// Sets the log-std half of the encoder's output layer (weights 0) so that q(z | x)
    /// starts with standard deviation `std` for every image, as near as the head's
    /// squash allows. After `--init-from` has given the mean half an autoencoder's code,
    /// the VAE then starts where the autoencoder trained — its code plus small noise —
    /// instead of with a fresh head's random noise scales (up to e⁴ on the 32 × 32
    /// networks), which drown the code the decoder knows and which a deep flow prior
    /// amplifies until the KL term overflows.
    pub fn start_posterior_std(&self, vs: &VarStore, std: f64) -> Result<()> {
        let variables = vs.variables();
        let latents = self.net.latents;
        let raw = self.head.raw_log_std(std.ln(), latents, self.device);
        let layer = |name: &str| {
            variables
                .get(&format!("{POSTERIOR_LAYER}{name}"))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "the encoder has no output {name} to start at σ = {std}"
                    ))
                })
        };
        tch::no_grad(|| {
            let _ = layer("weight")?.narrow(0, latents, latents).zero_();
            layer("bias")?.narrow(0, latents, latents).copy_(&raw);
            Ok(())
        })
    }

    /// Posterior mean and log-std [B, L] of images [B, C, S, S] in [−1, 1].
    fn posterior(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        self.head.forward(&self.encoder.forward_t(x, train))
    }

    /// The flow prior's f, when the model has one.
    fn flow(&self) -> Option<&Flow> {
        self.causal.as_ref().and_then(|c| c.flow.as_ref())
    }

    /// The representation [B, L] of images [B, C, S, S] in [−1, 1], with inference-mode
    /// normalisation: posterior means, through the flow prior's f when there is one.
    pub fn encode(&self, x: &Tensor) -> Tensor {
        let mean = self.posterior(x, false).0;
        match self.flow() {
            Some(flow) => flow.forward(&mean).0,
            None => mean,
        }
    }

    /// Images [B, C, S, S] in [−1, 1] decoded from representations [B, L] (inference
    /// mode; through f⁻¹ first with the flow prior).
    pub fn decode(&self, z: &Tensor) -> Tensor {
        let z = match self.flow() {
            Some(flow) => flow.inverse(z),
            None => z.shallow_clone(),
        };
        self.decoder.forward_t(&z, false)
    }

    /// Data-initialises the flow prior's ActNorm layers (a no-op without a flow prior,
    /// or once initialised) on posterior samples of `frames` [N, C, S, S] `u8`,
    /// encoded in training mode in chunks of a training step's size (so BatchNorm sees
    /// what a step sees, and its running statistics move as a step would move them).
    /// The first training batch alone would do it otherwise: a few dozen codes, whose
    /// spread underestimates that of latents which rarely move, so that a later batch's
    /// outlier comes out of the first ActNorm up to e³ too far and a deep flow
    /// multiplies it (a 16-block flow prior: a KL of 10¹⁴ or an infinite gradient in
    /// the first 20 steps). CITRIS-NF's flow likewise starts from 1,024 encodings.
    pub fn initialise_flow_prior(&self, frames: &Tensor, chunk: i64) {
        let Some(flow) = self.flow().filter(|flow| !flow.is_initialised()) else {
            return;
        };
        tch::no_grad(|| {
            let samples: Vec<Tensor> = frames
                .split(chunk.max(2), 0)
                .iter()
                .map(|part| {
                    let (mean, log_std) = self.posterior(&to_input(part, self.device), true);
                    &mean + mean.randn_like() * log_std.exp()
                })
                .collect();
            let _ = flow.forward(&Tensor::cat(&samples, 0));
        });
    }

    /// ‖decode(z) − x‖² summed over channels and pixels, averaged over the batch.
    fn reconstruction_error(&self, z: &Tensor, x: &Tensor) -> Tensor {
        (self.decoder.forward_t(z, true) - x)
            .square()
            .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float)
            .mean(Kind::Float)
    }

    /// The training loss of frame pairs `x_t`, `x_t1` [B, C, S, S] in [−1, 1] with
    /// intervention targets `targets` [B, K] at training step `step` (for the KL
    /// warm-up). Parts, unweighted means over the batch: `kl`, `rec`, and for CITRIS
    /// `cls_model`, `cls_z` and ψ's diagnostics (`psi_entropy`, `psi_unassigned`, see
    /// [`TransitionPrior::assignment_diagnostics`]). Updates the classifier's running target marginals, so
    /// call it once per training step.
    pub fn loss(&self, x_t: &Tensor, x_t1: &Tensor, targets: &Tensor, step: usize) -> Loss {
        let b = x_t.size()[0];
        let (mean, log_std) = self.posterior(&Tensor::cat(&[x_t, x_t1], 0), true);
        let z = &mean + mean.randn_like() * log_std.exp();
        let kl_weight = self.config.beta_t1 * self.config.kl_factor(step);
        match &self.causal {
            Some(causal) => {
                let rec = self.reconstruction_error(&z.narrow(0, b, b), x_t1);
                let (kl, u) = match &causal.flow {
                    Some(flow) => flow_kl(causal, flow, &z, &mean, &log_std, targets),
                    None => {
                        let kl = causal.prior.kl(
                            &mean.narrow(0, 0, b),
                            &mean.narrow(0, b, b),
                            &log_std.narrow(0, b, b),
                            targets,
                        );
                        (kl, z)
                    }
                };
                let kl = kl.mean(Kind::Float);
                let (u_t, u_t1) = (u.narrow(0, 0, b), u.narrow(0, b, b));
                let assignment = causal.prior.sample_assignment(b);
                let (cls_model, cls_z) =
                    causal.classifier.losses(&u_t, &u_t1, targets, &assignment);
                let total =
                    &kl * kl_weight + &rec + &cls_model + &cls_z * self.config.beta_classifier;
                let mut parts = vec![
                    ("kl", kl.detach()),
                    ("rec", rec.detach()),
                    ("cls_model", cls_model.detach()),
                    ("cls_z", cls_z.detach()),
                ];
                parts.extend(causal.prior.assignment_diagnostics());
                Loss { total, parts }
            }
            None => {
                let zeros = mean.zeros_like();
                let kl = gaussian_kl(&mean, &log_std, &zeros, &zeros)
                    .sum_dim_intlist(-1, false, Kind::Float)
                    .mean(Kind::Float);
                let rec = self.reconstruction_error(&z, &Tensor::cat(&[x_t, x_t1], 0));
                Loss {
                    total: &kl * kl_weight + &rec,
                    parts: vec![("kl", kl.detach()), ("rec", rec.detach())],
                }
            }
        }
    }
}

/// The flow prior's one-sample KL estimate per pair [B] and the causal latents
/// u = f(z) [2B, L] of the samples `z` [2B, L] (frames t, then t+1) drawn from the
/// posterior (`mean`, `log_std`) [2B, L]:
/// log q(z^{t+1}) − log|det ∂f/∂z^{t+1}| − log p(u^{t+1} | u^t, I^{t+1}).
fn flow_kl(
    causal: &CausalParts,
    flow: &Flow,
    z: &Tensor,
    mean: &Tensor,
    log_std: &Tensor,
    targets: &Tensor,
) -> (Tensor, Tensor) {
    let b = targets.size()[0];
    let t1 = |x: &Tensor| x.narrow(0, b, b);
    let log_q =
        gaussian_log_prob(&t1(mean), &t1(log_std), &t1(z)).sum_dim_intlist(-1, false, Kind::Float);
    let (u, log_det) = flow.forward(z);
    let nll = causal.prior.nll(
        &u.narrow(0, 0, b).unsqueeze(1),
        &t1(&u).unsqueeze(1),
        targets,
    );
    (log_q - t1(&log_det) + nll, u)
}

impl Representation for CitrisVae {
    fn encode(&self, images: &Tensor) -> Tensor {
        CitrisVae::encode(self, images)
    }

    fn decode(&self, latents: &Tensor) -> Tensor {
        CitrisVae::decode(self, latents)
    }

    fn assignment(&self) -> Option<Vec<usize>> {
        self.hard_assignment()
    }

    fn device(&self) -> Device {
        self.device
    }
}

/// Trains a [`CitrisVae`] on the frame pairs of a [`Sequence`]: step k's batch is batch
/// k of an epoch-wise shuffle that depends only on (seed, k), so resumed runs see the
/// same batches.
pub struct CitrisObjective<'a> {
    model: &'a CitrisVae,
    sequence: &'a Sequence,
    batches: Batches,
}

impl<'a> CitrisObjective<'a> {
    /// Batches of `batch` pairs (at most all of them) from `sequence`, whose frames must
    /// have the model's shape and whose targets its number of variables.
    pub fn new(
        model: &'a CitrisVae,
        sequence: &'a Sequence,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        let net = model.net();
        let expected = [net.channels, net.image_size, net.image_size];
        let shape = sequence.frames.size();
        if sequence.frames.kind() != Kind::Uint8 || shape.len() != 4 || shape[1..] != expected {
            return Err(Error::Invalid(format!(
                "training frames are {:?} {shape:?}, but the model takes u8 frames \
                 [N, {}, {}, {}]",
                sequence.frames.kind(),
                expected[0],
                expected[1],
                expected[2]
            )));
        }
        let width = sequence.targets.size().get(1).copied().unwrap_or(0);
        if model.causal.is_some() && width != model.variables as i64 {
            return Err(Error::Invalid(format!(
                "the intervention targets have {width} columns but the model was built for \
                 {} causal variables",
                model.variables
            )));
        }
        if sequence.pairs() < 1 || batch == 0 {
            return Err(Error::Invalid(format!(
                "cannot draw batches of {batch} from {} frame pairs",
                sequence.pairs()
            )));
        }
        Ok(Self {
            model,
            sequence,
            batches: Batches::new(sequence.pairs() as usize, batch, seed),
        })
    }
}

impl CitrisObjective<'_> {
    /// Data-initialises the model's flow prior, if it has one, on the first
    /// [`FLOW_INIT_FRAMES`] frames of the sequence (see
    /// [`CitrisVae::initialise_flow_prior`]); call it before the first step of a new run.
    pub fn initialise_flow_prior(&self) {
        let frames = self.sequence.frames.size()[0].min(FLOW_INIT_FRAMES);
        self.model.initialise_flow_prior(
            &self.sequence.frames.narrow(0, 0, frames),
            2 * self.batches.batch() as i64,
        );
    }
}

impl Objective for CitrisObjective<'_> {
    fn loss(&mut self, step: usize) -> Loss {
        let index = self.batches.indices(step);
        let (x_t, x_t1, targets) = self.sequence.batch(&index, self.model.device());
        self.model.loss(&x_t, &x_t1, &targets, step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::to_input;
    use nn::optim::{AdamW, AdamWConfig};
    use nn::train::update;
    use tch::nn::VarStore;

    const K: usize = 3;

    fn net() -> NetConfig {
        NetConfig {
            image_size: 32,
            channels: 3,
            width: 8,
            latents: 8,
        }
    }

    fn model(vs: &VarStore, kind: VaeKind) -> CitrisVae {
        model_with(vs, kind, InterventionModel::Perfect)
    }

    fn model_with(vs: &VarStore, kind: VaeKind, interventions: InterventionModel) -> CitrisVae {
        let cfg = CitrisVaeConfig {
            kind,
            classifier_hidden: 16,
            prior: PriorConfig {
                interventions,
                ..Default::default()
            },
            ..Default::default()
        };
        CitrisVae::new(vs.root(), &net(), K, &cfg).unwrap()
    }

    /// 25 frames of a bright 8 × 8 square walking over a dark 32 × 32 image (its column
    /// advancing every frame, its row every fourth), with arbitrary targets.
    fn sequence() -> Sequence {
        let frames = Tensor::full([25, 3, 32, 32], 20, (Kind::Uint8, Device::Cpu));
        for i in 0..25 {
            let (row, col) = (4 * ((i / 4) % 6), (5 * i) % 24);
            let _ = frames.get(i).narrow(1, row, 8).narrow(2, col, 8).fill_(230);
        }
        let targets = Tensor::rand([24, K as i64], (Kind::Float, Device::Cpu))
            .gt(0.5)
            .to_kind(Kind::Float);
        Sequence {
            frames,
            targets,
            latents: None,
        }
    }

    /// With the log-std half set, every image's posterior has the requested standard
    /// deviation and the mean half is untouched.
    #[test]
    fn the_posterior_starts_at_a_given_noise_level() {
        let vs = VarStore::new(Device::Cpu);
        let vae = model(&vs, VaeKind::Citris);
        let images = Tensor::rand([4, 3, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let (mean_before, log_std_before) = vae.posterior(&images, false);
        assert!(f64::try_from(log_std_before.std(false)).unwrap() > 1e-3);
        vae.start_posterior_std(&vs, 0.05).unwrap();
        let (mean, log_std) = vae.posterior(&images, false);
        assert!(mean.allclose(&mean_before, 1e-6, 1e-6, false));
        let error = (log_std - 0.05f64.ln()).abs().max();
        assert!(f64::try_from(error).unwrap() < 1e-5);
    }

    #[test]
    fn loss_parts_are_finite_scalars_and_shapes_match() {
        tch::manual_seed(0);
        let data = sequence();
        let index = Tensor::arange(4, (Kind::Int64, Device::Cpu));
        let (x_t, x_t1, targets) = data.batch(&index, Device::Cpu);
        for (kind, names) in [
            (
                VaeKind::Citris,
                vec![
                    "kl",
                    "rec",
                    "cls_model",
                    "cls_z",
                    "psi_entropy",
                    "psi_unassigned",
                ],
            ),
            (VaeKind::BetaVae, vec!["kl", "rec"]),
        ] {
            let vs = VarStore::new(Device::Cpu);
            let model = model(&vs, kind);
            let loss = model.loss(&x_t, &x_t1, &targets, 0);
            let got: Vec<&str> = loss.parts.iter().map(|(n, _)| *n).collect();
            assert_eq!(got, names);
            for (name, value) in loss.parts.iter().chain([&("total", loss.total)]) {
                assert_eq!(value.size(), Vec::<i64>::new(), "{name} is a scalar");
                assert!(value.double_value(&[]).is_finite(), "{name} is finite");
            }
            let z = model.encode(&x_t);
            assert_eq!(z.size(), vec![4, 8]);
            assert_eq!(model.decode(&z).size(), vec![4, 3, 32, 32]);
            let assignment = model.hard_assignment();
            assert_eq!(assignment.is_some(), kind == VaeKind::Citris);
            assert!(assignment.is_none_or(|a| a.len() == 8 && a.iter().all(|&g| g <= K)));
        }
    }

    /// The total is the documented combination of the (unweighted) parts.
    #[test]
    fn total_weights_the_parts() {
        tch::manual_seed(1);
        let data = sequence();
        let (x_t, x_t1, targets) =
            data.batch(&Tensor::arange(3, (Kind::Int64, Device::Cpu)), Device::Cpu);
        let vs = VarStore::new(Device::Cpu);
        let cfg = CitrisVaeConfig {
            beta_t1: 3.0,
            beta_classifier: 5.0,
            kl_warmup: 10,
            classifier_hidden: 16,
            ..Default::default()
        };
        let model = CitrisVae::new(vs.root(), &net(), K, &cfg).unwrap();
        let loss = model.loss(&x_t, &x_t1, &targets, 5);
        let part = |i: usize| loss.parts[i].1.double_value(&[]);
        let expected = 3.0 * cfg.kl_factor(5) * part(0) + part(1) + part(2) + 5.0 * part(3);
        let total = loss.total.double_value(&[]);
        assert!(
            (total - expected).abs() < 1e-3 * expected.abs(),
            "{total} vs {expected}"
        );
    }

    #[test]
    fn kl_warmup_is_a_half_cosine_from_a_tenth() {
        let cfg = CitrisVaeConfig {
            kl_warmup: 100,
            ..Default::default()
        };
        assert!((cfg.kl_factor(0) - 0.1).abs() < 1e-12);
        assert!((cfg.kl_factor(50) - 0.55).abs() < 1e-12);
        assert_eq!(cfg.kl_factor(100), 1.0);
        assert_eq!(CitrisVaeConfig::default().kl_factor(0), 1.0);
    }

    /// The loss of a fixed batch of the walking square (same noise) before and after
    /// 30 AdamW steps on the whole sequence.
    fn loss_before_and_after_training(model: &CitrisVae, vs: &VarStore) -> (f64, f64) {
        let data = sequence();
        let index = Tensor::arange(8, (Kind::Int64, Device::Cpu));
        let (x_t, x_t1, targets) = data.batch(&index, Device::Cpu);
        let evaluate = || {
            tch::manual_seed(7);
            model.loss(&x_t, &x_t1, &targets, 0).total.double_value(&[])
        };
        let before = evaluate();
        let mut objective = CitrisObjective::new(model, &data, 8, 3).unwrap();
        let adamw = AdamWConfig {
            weight_decay: 0.0,
            ..Default::default()
        };
        let mut optimizer = AdamW::new(vs, adamw);
        for step in 0..30 {
            let loss = objective.loss(step);
            update(&mut optimizer, &loss.total, 100.0, 3e-3);
        }
        (before, evaluate())
    }

    /// 30 steps must cut the loss at least in half; the squared error starts near the
    /// image's energy.
    #[test]
    fn training_reduces_the_loss() {
        for (kind, interventions) in [
            (VaeKind::Citris, InterventionModel::Perfect),
            (VaeKind::Citris, InterventionModel::Imperfect),
            (VaeKind::BetaVae, InterventionModel::Perfect),
        ] {
            tch::manual_seed(2);
            let vs = VarStore::new(Device::Cpu);
            let model = model_with(&vs, kind, interventions);
            let (before, after) = loss_before_and_after_training(&model, &vs);
            assert!(
                after < 0.5 * before,
                "{kind:?}, {interventions:?}: {before} → {after}"
            );
        }
    }

    fn flow_prior_model(vs: &VarStore, blocks: usize, output_init_scale: f64) -> CitrisVae {
        let cfg = CitrisVaeConfig {
            classifier_hidden: 16,
            flow_prior: Some(FlowConfig {
                blocks,
                hidden_per_dim: 4,
                output_init_scale,
            }),
            ..Default::default()
        };
        CitrisVae::new(vs.root(), &net(), K, &cfg).unwrap()
    }

    /// With an elementwise affine flow u = a·z + c (one block, the autoregressive layer
    /// at the identity, so only ActNorm acts), the pushed-forward posterior is Gaussian
    /// again and the one-sample estimate must average to the closed-form KL against the
    /// prior in u space (frame t held at its mean). This checks the sign of the log-det.
    #[test]
    fn flow_kl_estimate_matches_the_closed_form_for_an_affine_flow() {
        tch::manual_seed(3);
        let vs = VarStore::new(Device::Cpu);
        let model = flow_prior_model(&vs, 1, 0.0);
        let causal = model.causal.as_ref().unwrap();
        let flow = causal.flow.as_ref().unwrap();
        let cpu = (Kind::Float, Device::Cpu);
        let l = net().latents;
        // Data initialisation of ActNorm on a skewed batch: a non-trivial a and c.
        let _ = flow.forward(&(Tensor::randn([64, l], cpu) * 2.5 + 1.0));
        tch::no_grad(|| {
            let mut logits = vs.variables()["prior.assignment_logits"].shallow_clone();
            logits.copy_(&(Tensor::randn([l, K as i64 + 1], cpu) * 2.0));
        });
        let n = 100_000;
        let mean_pair = Tensor::randn([2, l], cpu);
        let log_std_pair = Tensor::stack(
            &[
                Tensor::full([l], -30.0, cpu),
                Tensor::randn([l], cpu) * 0.3 - 0.7,
            ],
            0,
        );
        let target = Tensor::from_slice(&[1f32, 0., 1.]).view([1, K as i64]);
        // [2N, L]: N copies of frame t, then N of frame t+1.
        let repeat = |t: &Tensor| t.unsqueeze(1).expand([2, n, l], false).reshape([2 * n, l]);
        let (mean, log_std) = (repeat(&mean_pair), repeat(&log_std_pair));
        let z = &mean + mean.randn_like() * log_std.exp();
        let targets = target.expand([n, K as i64], false);
        let (estimate, u) = tch::no_grad(|| flow_kl(causal, flow, &z, &mean, &log_std, &targets));
        assert_eq!(u.size(), vec![2 * n, l]);
        let estimate = estimate.to_kind(Kind::Double);
        let mc = estimate.mean(Kind::Double).double_value(&[]);
        let standard_error = estimate.std(true).double_value(&[]) / (n as f64).sqrt();

        let (u_mean, _) = flow.forward(&mean_pair);
        let (u_plus, _) = flow.forward(&(&mean_pair + 1.0));
        let log_scale = (u_plus - &u_mean).abs().log();
        let exact = causal
            .prior
            .kl(
                &u_mean.narrow(0, 0, 1),
                &u_mean.narrow(0, 1, 1),
                &(log_std_pair.narrow(0, 1, 1) + log_scale.narrow(0, 1, 1)),
                &target,
            )
            .double_value(&[0]);
        assert!(
            (mc - exact).abs() < 4.0 * standard_error,
            "Monte Carlo {mc} ± {standard_error} vs closed form {exact}"
        );
    }

    /// The flow prior starts standardised over the whole initialisation sample, not a
    /// batch of it, and a second initialisation changes nothing.
    #[test]
    fn the_flow_prior_is_initialised_on_many_frames() {
        tch::manual_seed(5);
        let vs = VarStore::new(Device::Cpu);
        // One block whose autoregressive layer is the identity: only ActNorm acts.
        let model = flow_prior_model(&vs, 1, 0.0);
        // Posterior means spread 250–500 times wider than its noise (σ 0.02; ActNorm
        // standardises spreads up to e³), so that the samples the initialisation draws
        // are their means to ~10⁻³ of their spread, whatever other tests draw from
        // libtorch's global generator meanwhile.
        model.start_posterior_std(&vs, 0.02).unwrap();
        let latents = model.net().latents;
        tch::no_grad(|| {
            for name in ["weight", "bias"] {
                let layer = &vs.variables()[&format!("{POSTERIOR_LAYER}{name}")];
                let _ = layer.narrow(0, 0, latents).g_mul_scalar_(50.0);
            }
        });
        let data = sequence();
        let objective = CitrisObjective::new(&model, &data, 13, 0).unwrap();
        let flow = model.flow().unwrap();
        assert!(!flow.is_initialised());
        // One chunk of all 25 frames, as encoded here.
        objective.initialise_flow_prior();
        assert!(flow.is_initialised());
        let x = to_input(&data.frames, Device::Cpu);
        let (mean, _) = model.posterior(&x, true);
        let u = tch::no_grad(|| flow.forward(&mean).0);
        let worst = |t: Tensor| f64::try_from(t.abs().max()).unwrap();
        // Within 10⁻² (the noise moves them by ~10⁻³); a batch of 13 frames would leave
        // the whole sample ~0.2 off.
        assert!(worst(u.mean_dim(0, false, Kind::Float)) < 1e-2);
        assert!(worst(u.std_dim(0, true, false) - 1.0) < 1e-2);

        let weights = |vs: &VarStore| {
            let mut all: Vec<_> = vs.variables().into_iter().collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all.into_iter().map(|(_, t)| t.copy()).collect::<Vec<_>>()
        };
        let before = weights(&vs);
        let other = CitrisObjective::new(&model, &data, 2, 1).unwrap();
        other.initialise_flow_prior();
        for (a, b) in before.iter().zip(weights(&vs)) {
            assert!(a.equal(&b));
        }
    }

    /// With the flow prior the representation is f(posterior mean), decode inverts f,
    /// and training still reduces the loss.
    #[test]
    fn flow_prior_encodes_through_the_flow_and_trains() {
        tch::manual_seed(4);
        let vs = VarStore::new(Device::Cpu);
        let model = flow_prior_model(&vs, 2, 0.2);
        let (before, after) = loss_before_and_after_training(&model, &vs);
        assert!(after < 0.5 * before, "{before} → {after}");
        let flow = model.flow().unwrap();
        assert!(flow.is_initialised(), "the first loss initialises ActNorm");
        let x = to_input(&sequence().frames.narrow(0, 0, 4), Device::Cpu);
        let mean = model.posterior(&x, false).0;
        let u = model.encode(&x);
        assert!(u.allclose(&flow.forward(&mean).0, 1e-5, 1e-5, false));
        let direct = model.decoder.forward_t(&mean, false);
        assert!(model.decode(&u).allclose(&direct, 1e-4, 1e-4, false));
        let beta = CitrisVaeConfig {
            kind: VaeKind::BetaVae,
            flow_prior: Some(FlowConfig::default()),
            ..Default::default()
        };
        let err = beta.validate().unwrap_err().to_string();
        assert!(err.contains("flow prior"), "{err}");
    }

    #[test]
    fn objective_rejects_mismatched_data_and_bad_options() {
        let vs = VarStore::new(Device::Cpu);
        let model = model(&vs, VaeKind::Citris);
        let mut data = sequence();
        data.targets = data.targets.narrow(1, 0, 2);
        let err = CitrisObjective::new(&model, &data, 4, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("2 columns") && err.contains("3 causal"),
            "{err}"
        );
        let frames = to_input(&data.frames, Device::Cpu);
        let wrong = Sequence {
            frames,
            targets: sequence().targets,
            latents: None,
        };
        let err = CitrisObjective::new(&model, &wrong, 4, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("u8"), "{err}");
        let cfg = CitrisVaeConfig {
            beta_t1: -1.0,
            ..Default::default()
        };
        let err = CitrisVae::new(vs.root(), &net(), K, &cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("beta_t1") && err.contains("-1"), "{err}");
        let beta = CitrisVaeConfig {
            kind: VaeKind::BetaVae,
            prior: PriorConfig {
                interventions: InterventionModel::Imperfect,
                ..Default::default()
            },
            ..Default::default()
        };
        let err = beta.validate().unwrap_err().to_string();
        assert!(err.contains("imperfect") && err.contains("β-VAE"), "{err}");
        let beta = CitrisVaeConfig {
            kind: VaeKind::BetaVae,
            prior: PriorConfig {
                assignment_init_margin: 4.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let err = beta.validate().unwrap_err().to_string();
        assert!(
            err.contains("assignment_init_margin") && err.contains("β-VAE"),
            "{err}"
        );
    }
}
