//! The conditional VAE with a label head (Kingma et al.'s M2 model, semi-supervised):
//!
//! - q(y | x): a classifier head on the encoder trunk, one categorical per image
//!   variable; it reads the causal variables back from an image (abduction on
//!   unlabeled images) and is trained on every label that is present;
//! - q(z | x, y): diagonal Gaussian from the trunk's features and the one-hot labels;
//! - p(x | z, y): a convolutional decoder from [z, y]; z ~ N(0, I) carries the
//!   nuisance (positions, sizes, poses, background, light), y the causal content.
//!
//! Missing labels are marginalised by Monte Carlo: a straight-through Gumbel-softmax
//! sample from q(y_k | x) stands in for the label (one-hot forward, gradient through
//! the relaxation) and KL(q(y_k | x) ‖ p(y_k)) with the network's marginal p(y_k) is
//! added, which is the unlabeled ELBO Σ_y q(y|x) ELBO(x, y) + H(q) − CE(q, p) estimated
//! with one sample per variable.

use nn::layers::{mlp, ConvDecoder, ConvEncoder};
use serde::{Deserialize, Serialize};
use tch::nn::{Module, Path, Sequential};
use tch::{Device, Kind, Reduction, Tensor};

use crate::schema::LabelSchema;

/// Pixel likelihood p(x | z, y).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    /// Gaussian with fixed standard deviation `sigma` around the decoded mean.
    Gaussian,
    /// Independent Bernoulli per channel value (intensities in [0, 1] as targets).
    Bernoulli,
}

/// Architecture and loss weights (stored in a run's `config.toml`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Image side in pixels: 4 × a power of two (64 default, 128 supported).
    pub image_size: i64,
    /// Channels of the first convolution (doubling per level up to 8×).
    pub width: i64,
    /// Dimension of the continuous nuisance latent z.
    pub z_dim: i64,
    /// Width of the label head's and the posterior's hidden layer.
    pub hidden: i64,
    pub likelihood: Likelihood,
    /// Standard deviation of the Gaussian likelihood.
    pub sigma: f64,
    /// Weight of KL(q(z|x,y) ‖ N(0, I)).
    pub beta: f64,
    /// Steps over which the KL weight rises linearly from 0 to `beta` (0: none).
    pub kl_warmup: usize,
    /// Weight α of the label head's cross-entropy on labeled values.
    pub label_weight: f64,
    /// Weight of the label-consistency term: images decoded from z ~ N(0, I) and the
    /// labels of other batch images must be read back as those labels by the label head
    /// (a variational lower bound on the mutual information between y and the generated
    /// image, as in InfoGAN). It makes the decoder draw what it is asked to draw instead
    /// of leaving part of the content to z. 0 disables it (and its cost).
    #[serde(default)]
    pub consistency_weight: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            image_size: 64,
            width: 32,
            z_dim: 16,
            hidden: 256,
            likelihood: Likelihood::Gaussian,
            sigma: 0.1,
            beta: 1.0,
            kl_warmup: 0,
            label_weight: 100.0,
            consistency_weight: 100.0,
        }
    }
}

impl ModelConfig {
    /// Checks the values a user can set; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        let s = self.image_size;
        if s < 8 || s % 4 != 0 || !((s / 4) as u64).is_power_of_two() {
            return Err(format!(
                "image size {s} must be 4 × a power of two (e.g. 64 or 128)"
            ));
        }
        for (name, value) in [
            ("width", self.width),
            ("z_dim", self.z_dim),
            ("hidden", self.hidden),
        ] {
            if value < 1 {
                return Err(format!("{name} must be at least 1 (got {value})"));
            }
        }
        if self.width % 8 != 0 {
            return Err(format!(
                "width must be a multiple of 8 (got {})",
                self.width
            ));
        }
        for (name, value) in [
            ("sigma", self.sigma),
            ("beta", self.beta),
            ("label_weight", self.label_weight),
            ("consistency_weight", self.consistency_weight),
        ] {
            if !value.is_finite() || value < 0.0 || (name == "sigma" && value == 0.0) {
                return Err(format!("{name} must be a finite number > 0 (got {value})"));
            }
        }
        Ok(())
    }
}

/// Loss terms of one batch (all means over the batch, in nats per image).
pub struct LossTerms {
    /// The objective to minimise.
    pub total: Tensor,
    pub reconstruction: Tensor,
    pub kl_z: Tensor,
    pub kl_y: Tensor,
    pub cross_entropy: Tensor,
    /// Fraction of present labels the head predicts correctly.
    pub label_accuracy: Tensor,
    /// Cross-entropy of the head on images decoded from the prior (0 when disabled).
    pub consistency: Tensor,
}

/// The model; its weights live in the `VarStore` its path belongs to.
#[derive(Debug)]
pub struct CausalVae {
    config: ModelConfig,
    schema: LabelSchema,
    encoder: ConvEncoder,
    label_head: Sequential,
    posterior: Sequential,
    decoder: ConvDecoder,
    /// log p(y_k) per variable, from the network's marginals (fixed).
    log_priors: Vec<Tensor>,
    device: Device,
}

impl CausalVae {
    /// Builds the model under `p`. `priors[k]` is the network's marginal of image
    /// variable k (the prior of a missing label).
    pub fn new(p: &Path, config: &ModelConfig, schema: LabelSchema, priors: &[Vec<f64>]) -> Self {
        let encoder = ConvEncoder::new(p / "encoder", config.image_size, config.width);
        let features = encoder.out_features();
        let y = schema.width();
        let label_head = mlp(p / "label_head", &[features, config.hidden, y]);
        let posterior = mlp(
            p / "posterior",
            &[features + y, config.hidden, 2 * config.z_dim],
        );
        let decoder = ConvDecoder::new(
            p / "decoder",
            config.z_dim + y,
            config.image_size,
            config.width,
        );
        let log_priors = priors
            .iter()
            .map(|prior| {
                let logs: Vec<f32> = prior.iter().map(|&q| (q.max(1e-12)).ln() as f32).collect();
                Tensor::from_slice(&logs).to_device(p.device())
            })
            .collect();
        Self {
            config: config.clone(),
            schema,
            encoder,
            label_head,
            posterior,
            decoder,
            log_priors,
            device: p.device(),
        }
    }

    /// Where the weights live.
    pub fn device(&self) -> Device {
        self.device
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn schema(&self) -> &LabelSchema {
        &self.schema
    }

    /// Label-head logits [B, width] of images [B, 3, S, S] in [0, 1].
    pub fn label_logits(&self, x: &Tensor) -> Tensor {
        self.label_head.forward(&self.encoder.forward(x))
    }

    /// q(y_k | x) for each image variable k: probabilities [B, card_k].
    pub fn label_probabilities(&self, x: &Tensor) -> Vec<Tensor> {
        let logits = self.label_logits(x);
        (0..self.schema.len())
            .map(|k| self.block(&logits, k).softmax(1, Kind::Float))
            .collect()
    }

    /// The most probable label of each variable under q(y | x): [B, 6].
    pub fn predict_labels(&self, x: &Tensor) -> Tensor {
        let probs = self.label_probabilities(x);
        Tensor::stack(
            &probs.iter().map(|p| p.argmax(1, false)).collect::<Vec<_>>(),
            1,
        )
    }

    /// The mean and log-variance of q(z | x, y) for one-hot labels `y` [B, width].
    pub fn encode(&self, x: &Tensor, y: &Tensor) -> (Tensor, Tensor) {
        self.posterior_of(&self.encoder.forward(x), y)
    }

    /// Decoded images [B, 3, S, S] in [0, 1] (the likelihood's mean).
    pub fn decode(&self, z: &Tensor, y: &Tensor) -> Tensor {
        self.decoder.forward(&Tensor::cat(&[z, y], 1)).sigmoid()
    }

    /// The loss of a batch of images [B, 3, S, S] in [0, 1] with labels [B, 6] (−1 where
    /// missing); `kl_weight` scales KL(q(z) ‖ p(z)) (warm-up).
    pub fn loss(&self, x: &Tensor, labels: &Tensor, kl_weight: f64) -> LossTerms {
        let features = self.encoder.forward(x);
        let logits = self.label_head.forward(&features);
        let mut y_blocks = Vec::with_capacity(self.schema.len());
        let mut cross_entropy = Tensor::zeros([x.size()[0]], (Kind::Float, x.device()));
        let mut kl_y = cross_entropy.zeros_like();
        let mut correct = Tensor::from(0.0f64).to_device(x.device());
        let present_total = labels.ge(0).sum(Kind::Float).clamp_min(1.0);
        for k in 0..self.schema.len() {
            let block = self.block(&logits, k);
            let log_q = block.log_softmax(1, Kind::Float);
            let label = labels.select(1, k as i64);
            let present = label.ge(0).to_kind(Kind::Float);
            let safe = label.clamp_min(0);
            let log_q_label = log_q.gather(1, &safe.unsqueeze(1), false).squeeze_dim(1);
            cross_entropy -= &log_q_label * &present;
            correct += (log_q.argmax(1, false).eq_tensor(&safe).to_kind(Kind::Float) * &present)
                .sum(Kind::Float);
            let sampled = straight_through_gumbel(&block);
            let observed = self.schema.block_one_hot(&label, k);
            let present_col = present.unsqueeze(1);
            y_blocks.push(&observed + (1.0 - &present_col) * sampled);
            let kl = (log_q.exp() * (&log_q - &self.log_priors[k])).sum_dim_intlist(
                1,
                false,
                Kind::Float,
            );
            kl_y += kl * (1.0 - &present);
        }
        let y = Tensor::cat(&y_blocks, 1);
        let (mu, logvar) = self.posterior_of(&features, &y);
        let z = &mu + (&logvar * 0.5).exp() * mu.randn_like();
        let out = self.decoder.forward(&Tensor::cat(&[&z, &y], 1));
        let reconstruction = self.reconstruction_nats(&out, x);
        let kl_z = gaussian_kl(&mu, &logvar);
        let (consistency, surrogate) = match self.config.consistency_weight > 0.0 {
            true => self.consistency(&z, &y.detach()),
            false => {
                let zero = Tensor::zeros([], (Kind::Float, x.device()));
                (zero.shallow_clone(), zero)
            }
        };
        let total = (&reconstruction + &kl_z * (kl_weight * self.config.beta) + &kl_y)
            .mean(Kind::Float)
            + cross_entropy.mean(Kind::Float) * self.config.label_weight
            + surrogate * self.config.consistency_weight;
        LossTerms {
            total,
            reconstruction: reconstruction.mean(Kind::Float).detach(),
            kl_z: kl_z.mean(Kind::Float).detach(),
            kl_y: kl_y.mean(Kind::Float).detach(),
            cross_entropy: cross_entropy.mean(Kind::Float).detach(),
            label_accuracy: (correct / present_total).detach(),
            consistency,
        }
    }

    /// The label-consistency term: images decoded with the labels `y` [B, width] of the
    /// batch, shuffled across images, from z ~ N(0, I) (the pictures `condition` and
    /// `intervene` draw) and from the posterior samples `z` of other images (the
    /// pictures counterfactuals draw: z must not carry the causal content, or changing
    /// y would not change the picture). A quarter batch of each is enough for the
    /// gradient and keeps the cost down. Returns the head's mean cross-entropy on them
    /// (to log) and a surrogate whose gradient is that cross-entropy's gradient with
    /// respect to the decoder and the posterior only: the head is a fixed judge here,
    /// otherwise it would learn to read the decoder's quirks instead of the decoder
    /// learning to draw.
    fn consistency(&self, z: &Tensor, y: &Tensor) -> (Tensor, Tensor) {
        let n = y.size()[0];
        let quarter = (n / 4).max(1);
        let order = Tensor::randperm(n, (Kind::Int64, y.device())).narrow(0, 0, 2 * quarter);
        let shuffled = y.index_select(0, &order);
        let prior = Tensor::randn([quarter, self.config.z_dim], (Kind::Float, y.device()));
        let latents = Tensor::cat(&[prior, z.narrow(0, 0, quarter)], 0);
        let drawn = self.decode(&latents, &shuffled);
        let batch = 2 * quarter;
        let probe = drawn.detach().set_requires_grad(true);
        let logits = self.label_logits(&probe);
        let mut cross_entropy = Tensor::zeros([batch], (Kind::Float, y.device()));
        for k in 0..self.schema.len() {
            let log_q = self.block(&logits, k).log_softmax(1, Kind::Float);
            cross_entropy -=
                (log_q * self.block(&shuffled, k)).sum_dim_intlist(1, false, Kind::Float);
        }
        let cross_entropy = cross_entropy.mean(Kind::Float);
        // Gradient with respect to the pictures only: nothing accumulates in the head.
        let grad = Tensor::run_backward(&[&cross_entropy], &[&probe], false, false)
            .pop()
            .expect("one input, one gradient");
        let surrogate = (drawn * grad).sum(Kind::Float);
        (cross_entropy.detach(), surrogate)
    }

    /// Per-image negative ELBO −log p(x | y) ≥ … in nats, given full labels [B, 6]
    /// (one posterior sample), and the posterior-mean reconstruction.
    pub fn negative_elbo(&self, x: &Tensor, labels: &Tensor) -> (Tensor, Tensor) {
        let y = self.schema.one_hot(labels);
        let (mu, logvar) = self.encode(x, &y);
        let z = &mu + (&logvar * 0.5).exp() * mu.randn_like();
        let out = self.decoder.forward(&Tensor::cat(&[&z, &y], 1));
        let mut nll = self.reconstruction_nats(&out, x);
        if self.config.likelihood == Likelihood::Gaussian {
            let d = (x.numel() / x.size()[0] as usize) as f64;
            let sigma2 = self.config.sigma * self.config.sigma;
            nll += 0.5 * d * (2.0 * std::f64::consts::PI * sigma2).ln();
        }
        let neg_elbo = nll + gaussian_kl(&mu, &logvar);
        (neg_elbo, self.decode(&mu, &y))
    }

    fn block(&self, logits: &Tensor, k: usize) -> Tensor {
        logits.narrow(1, self.schema.offset(k), self.schema.cards()[k])
    }

    fn posterior_of(&self, features: &Tensor, y: &Tensor) -> (Tensor, Tensor) {
        let stats = self.posterior.forward(&Tensor::cat(&[features, y], 1));
        let parts = stats.chunk(2, 1);
        (parts[0].shallow_clone(), parts[1].clamp(-12.0, 8.0))
    }

    /// −log p(x | z, y) without its constant, per image, from decoder logits.
    fn reconstruction_nats(&self, logits: &Tensor, x: &Tensor) -> Tensor {
        let per_value = match self.config.likelihood {
            Likelihood::Gaussian => {
                let sigma2 = self.config.sigma * self.config.sigma;
                (logits.sigmoid() - x).square() / (2.0 * sigma2)
            }
            Likelihood::Bernoulli => {
                logits.binary_cross_entropy_with_logits::<Tensor>(x, None, None, Reduction::None)
            }
        };
        per_value.sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Float)
    }
}

/// KL(N(mu, exp(logvar)) ‖ N(0, I)) per row.
fn gaussian_kl(mu: &Tensor, logvar: &Tensor) -> Tensor {
    ((mu.square() + logvar.exp() - 1.0 - logvar) * 0.5).sum_dim_intlist(1, false, Kind::Float)
}

/// A one-hot sample from softmax(logits) whose gradient is the Gumbel-softmax
/// relaxation's (temperature 1).
fn straight_through_gumbel(logits: &Tensor) -> Tensor {
    let uniform = logits.rand_like().clamp(1e-10, 1.0 - 1e-7);
    let gumbel = -(-uniform.log()).log();
    let soft = (logits + gumbel).softmax(1, Kind::Float);
    let hard = soft
        .argmax(1, false)
        .one_hot(logits.size()[1])
        .to_kind(Kind::Float);
    &hard - soft.detach() + soft
}
