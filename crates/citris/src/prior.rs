//! The transition prior p(z^{t+1} | z^t, I^{t+1}) of CITRIS (Lippe et al. 2022), with
//! the learned assignment ψ of latents to causal variables.
//!
//! Each latent z_l belongs to one of G = K + 1 groups: causal variable k < K, or the
//! last group, "no causal variable" (ψ₀, whose intervention flag is always 0). ψ is a
//! categorical distribution per latent, logits [L, G]. Every latent has a small MLP that
//! reads all of z^t (a shared linear "context" layer) plus its own value z^t_l; the L
//! MLPs run as one batched matrix product per layer. Given its group, latent l at t+1
//! follows a Gaussian whose parameters depend on the [`InterventionModel`]:
//!
//! - **perfect** (the reference's default): without an intervention on its group, the
//!   MLP's N(μ_l(z^t), σ_l(z^t)²); under an intervention on its variable k, a learned
//!   Gaussian per (latent, variable) that ignores z^t;
//! - **imperfect** (the reference's `imperfect_interventions`): the MLP also reads which
//!   group the latent is in and whether that group is intervened on (the reference's
//!   `target_prod`: I_g in the group's slot, −1 in the others), so an intervention may
//!   depend on the past — Pong's paddles move one step up or down from where they were.
//!
//! Like the reference (non-autoregressive prior), the KL divergence to the encoder's
//! posterior and the negative log-likelihood are marginalised analytically over ψ's
//! probabilities: the prior's parameters are computed for all G groups at once
//! ([`TransitionPrior::group_params`], cheap next to the image networks) and each
//! group's term is weighted by P(ψ(l) = g). The straight-through Gumbel-softmax sample
//! ([`TransitionPrior::sample_assignment`]) is what the target classifier sees, and is
//! how ψ also learns from it. (For CITRIS-NF with imperfect interventions the reference
//! evaluates one Gumbel sample instead of marginalising; the marginal is that sample's
//! expectation, without its variance.)
//!
//! λ (`lambda_reg`) scales the ψ₀ group's term by 1 − λ, which makes "no causal
//! variable" cheaper and so collects the information that interventions do not explain
//! there. With λ = 0 the ψ₀ group is switched off entirely (its logits are masked), as
//! in the reference.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// The masked logit of ψ₀ when λ = 0: the group then never gets any probability.
const MASKED_LOGIT: f64 = -1e9;

/// What the prior assumes an intervention does to the latents of its variable.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InterventionModel {
    /// The intervened variable is drawn afresh, independent of the past: one learned
    /// Gaussian per (latent, variable). Right for Pong's ball and Causal3DIdent.
    #[default]
    Perfect,
    /// The intervention may depend on the past (a paddle pushed up or down from where it
    /// was): the latent's MLP is told its group and that group's intervention flag.
    Imperfect,
}

/// Settings of the transition prior (stored in a run's config). The defaults are the
/// reference's for CITRIS-VAE.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriorConfig {
    /// Hidden width of each latent's MLP (the reference ties it to the networks' `c_hid`:
    /// 32 for CITRIS-VAE, 64 for CITRIS-NF).
    pub hidden: i64,
    /// λ ∈ [0, 1): the ψ₀ group's KL/NLL is weighted by 1 − λ; 0 removes ψ₀. The
    /// reference's modules default to 0.01 but its run scripts pass 0, which we follow:
    /// with λ > 0, CITRIS-NF's regulariser moved every Pong latent to ψ₀ in 3000 steps.
    pub lambda_reg: f64,
    /// Temperature τ of the Gumbel-softmax sample of ψ.
    pub gumbel_temperature: f64,
    /// Perfect or imperfect interventions (runs written before this option are perfect).
    #[serde(default)]
    pub interventions: InterventionModel,
    /// ψ's starting point. 0, the reference's: uniform. m > 0: latent l starts with
    /// logit m on causal variable l mod K, so that every variable owns latents from the
    /// first step — or, when ψ₀ exists (λ > 0), on group l mod (K + 1), ψ₀ included, so
    /// that what no target owns (Pong's scores) has latents that triplets keep from
    /// frame a. ψ commits within the first few thousand steps, and a variable left
    /// without a latent then gets no gradient to win one back (see
    /// [`TransitionPrior::assignment_diagnostics`]); a variable that is hard to encode,
    /// like Pong's ball direction, loses that race from a uniform start. The margin only
    /// biases the start — ψ still learns, at its own learning rate (`lr_scale` of
    /// `prior.assignment_logits`, `train --assignment-lr-scale`; 0 holds ψ at the start):
    /// on Pong-uniform with a margin of 4, the direction lost its last latent after 1,210
    /// steps at the default 10 ×, and kept its group at 1 ×; held (margin 8, scale 0),
    /// the flow isolated it (diag 0.925 after 60,000 steps, docs/citris-experiments.md).
    /// Runs written before this option start uniform.
    #[serde(default)]
    pub assignment_init_margin: f64,
}

impl Default for PriorConfig {
    fn default() -> Self {
        Self {
            hidden: 32,
            lambda_reg: 0.0,
            gumbel_temperature: 1.0,
            interventions: InterventionModel::Perfect,
            assignment_init_margin: 0.0,
        }
    }
}

impl PriorConfig {
    /// Checks the values a user can set; the message names the option and its value.
    pub fn validate(&self) -> Result<()> {
        if self.hidden < 1 {
            return Err(Error::Invalid(format!(
                "prior hidden width must be at least 1 (got {})",
                self.hidden
            )));
        }
        if !(0.0..1.0).contains(&self.lambda_reg) {
            return Err(Error::Invalid(format!(
                "lambda_reg must be in [0, 1) (got {})",
                self.lambda_reg
            )));
        }
        if !(self.assignment_init_margin.is_finite() && self.assignment_init_margin >= 0.0) {
            return Err(Error::Invalid(format!(
                "assignment_init_margin must be a finite number ≥ 0 (got {})",
                self.assignment_init_margin
            )));
        }
        if !(self.gumbel_temperature.is_finite() && self.gumbel_temperature > 0.0) {
            return Err(Error::Invalid(format!(
                "gumbel_temperature must be a finite number > 0 (got {})",
                self.gumbel_temperature
            )));
        }
        Ok(())
    }
}

/// KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) elementwise (broadcasting), from means and log-stds.
pub fn gaussian_kl(mean1: &Tensor, log_std1: &Tensor, mean2: &Tensor, log_std2: &Tensor) -> Tensor {
    let var_ratio = ((log_std1 - log_std2) * 2.0).exp();
    let distance = (mean1 - mean2).square() / (log_std2 * 2.0).exp();
    (log_std2 - log_std1) + (var_ratio + distance) * 0.5 - 0.5
}

/// log N(x; μ, σ²) elementwise (broadcasting), from the mean and log-std.
pub fn gaussian_log_prob(mean: &Tensor, log_std: &Tensor, x: &Tensor) -> Tensor {
    let standardised = (x - mean) / log_std.exp();
    -(log_std + 0.5 * (2.0 * std::f64::consts::PI).ln()) - standardised.square() * 0.5
}

/// ψ's starting logits [L, K + 1]: `margin` on group l mod `balanced` in row l, 0
/// elsewhere (all zeros, uniform, for a margin of 0). `balanced` is K, or K + 1 when ψ₀
/// (the last column) takes its share.
fn initial_logits(latents: i64, variables: i64, balanced: i64, margin: f64) -> Tensor {
    let values: Vec<f32> = (0..latents)
        .flat_map(|l| {
            (0..=variables).map(move |g| {
                if g == l % balanced {
                    margin as f32
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_slice(&values).view([latents, variables + 1])
}

/// L independent linear layers applied in parallel: input [.., L, in] → [.., L, out],
/// one batched product instead of a loop over latents.
#[derive(Debug)]
struct GroupedLinear {
    /// [L, out, in]
    weight: Tensor,
    /// [L, out]
    bias: Tensor,
}

impl GroupedLinear {
    /// Weights uniform in ±√(6 / (in · out)), zero biases: the reference's
    /// initialisation (PyTorch's Kaiming bound computed on the [L, out, in] tensor takes
    /// out · in as the fan-in). It is smaller than a per-latent Kaiming bound, which
    /// matters: with ±√(6 / in) the initial log-stds spread over several nats and the
    /// first KL terms are in the hundreds.
    fn new(p: nn::Path, groups: i64, inputs: i64, outputs: i64) -> Self {
        let bound = (6.0 / (inputs * outputs) as f64).sqrt();
        Self {
            weight: p.uniform("weight", &[groups, outputs, inputs], -bound, bound),
            bias: p.zeros("bias", &[groups, outputs]),
        }
    }
}

impl Module for GroupedLinear {
    fn forward(&self, x: &Tensor) -> Tensor {
        Tensor::einsum("...li,loi->...lo", &[x, &self.weight], None::<&[i64]>) + &self.bias
    }
}

/// The transition prior with the assignment ψ; its weights live in the `VarStore` of
/// the path it was built on.
#[derive(Debug)]
pub struct TransitionPrior {
    latents: i64,
    variables: i64,
    hidden: i64,
    lambda_reg: f64,
    temperature: f64,
    /// ψ's logits [L, G], the last column ψ₀ ("no causal variable").
    logits: Tensor,
    /// Added to `logits`: 0, or [`MASKED_LOGIT`] in the ψ₀ column when λ = 0.
    logit_offset: Tensor,
    /// z^t [N, L] → [N, L·H]: what every latent's MLP knows of the whole state.
    context: nn::Linear,
    /// Each latent's own z^t_l (and, for imperfect interventions, its group's G-slot
    /// intervention code) → H.
    input: GroupedLinear,
    hidden_layer: GroupedLinear,
    /// → (mean, log-std) per latent.
    output: GroupedLinear,
    /// Perfect interventions: (mean, log-std) [L, K, 2] of latent l under an
    /// intervention on variable k. `None` for imperfect interventions.
    intervention: Option<Tensor>,
}

impl TransitionPrior {
    /// A prior for `latents` latents and `variables` causal variables (K, the width of
    /// the intervention targets).
    pub fn new(p: nn::Path, latents: i64, variables: usize, cfg: &PriorConfig) -> Result<Self> {
        cfg.validate()?;
        if latents < 1 || variables < 1 {
            return Err(Error::Invalid(format!(
                "the transition prior needs at least one latent and one causal variable \
                 (got {latents} latents, {variables} variables)"
            )));
        }
        let k = variables as i64;
        let h = cfg.hidden;
        let logit_offset = Tensor::zeros([latents, k + 1], (Kind::Float, p.device()));
        let balanced = if cfg.lambda_reg == 0.0 {
            let _ = logit_offset.narrow(1, k, 1).fill_(MASKED_LOGIT);
            k
        } else {
            k + 1
        };
        let (own_inputs, intervention) = match cfg.interventions {
            InterventionModel::Perfect => (
                1,
                Some(p.uniform("intervention", &[latents, k, 2], -0.5, 0.5)),
            ),
            InterventionModel::Imperfect => (1 + k + 1, None),
        };
        Ok(Self {
            latents,
            variables: k,
            hidden: h,
            lambda_reg: cfg.lambda_reg,
            temperature: cfg.gumbel_temperature,
            logits: p.var_copy(
                "assignment_logits",
                &initial_logits(latents, k, balanced, cfg.assignment_init_margin),
            ),
            logit_offset,
            context: nn::linear(&p / "context", latents, latents * h, Default::default()),
            input: GroupedLinear::new(&p / "input", latents, own_inputs, h),
            hidden_layer: GroupedLinear::new(&p / "hidden", latents, h, h),
            output: GroupedLinear::new(&p / "output", latents, h, 2),
            intervention,
        })
    }

    /// Number of latents L.
    pub fn latents(&self) -> i64 {
        self.latents
    }

    /// Number of causal variables K.
    pub fn variables(&self) -> i64 {
        self.variables
    }

    /// ψ's effective logits [L, G] (ψ₀ masked when λ = 0).
    fn effective_logits(&self) -> Tensor {
        &self.logits + &self.logit_offset
    }

    /// softmax(ψ) [L, G]: row l is the probability of latent l belonging to each
    /// causal variable, the last column to none.
    pub fn assignment_probs(&self) -> Tensor {
        self.effective_logits().softmax(-1, Kind::Float)
    }

    /// The most likely group of each latent (argmax ψ): a variable index < K, or K for
    /// "no causal variable". This is the assignment used for evaluation (triplets,
    /// per-group correlations).
    pub fn hard_assignment(&self) -> Vec<usize> {
        let groups = self.effective_logits().argmax(-1, false);
        Vec::<i64>::try_from(groups.to_device(tch::Device::Cpu))
            .expect("argmax gives i64")
            .into_iter()
            .map(|g| g as usize)
            .collect()
    }

    /// `batch` independent straight-through Gumbel-softmax samples of ψ, [B, L, G]:
    /// one-hot rows forward, the gradient of the relaxed softmax((ψ + g) / τ) backward,
    /// so that losses on the sample train ψ's logits.
    pub fn sample_assignment(&self, batch: i64) -> Tensor {
        let logits = self
            .effective_logits()
            .unsqueeze(0)
            .expand([batch, self.latents, self.variables + 1], false);
        // −ln E with E ~ Exp(1) is a standard Gumbel variable.
        let gumbel = -logits.empty_like().exponential_(1.0).log();
        let soft = ((logits + gumbel) / self.temperature).softmax(-1, Kind::Float);
        let hard = soft
            .zeros_like()
            .scatter_value(-1, &soft.argmax(-1, true), 1.0);
        hard - soft.detach() + soft
    }

    /// The prior's mean and log-std [N, G, L] of every latent as if it belonged to each
    /// group g, for z^t [N, L] and targets I^{t+1} [N, K] in {0, 1}.
    pub fn group_params(&self, z_t: &Tensor, targets: &Tensor) -> (Tensor, Tensor) {
        self.group_params_with(z_t, targets, false)
    }

    /// [`Self::group_params`]; `detach_intervention` cuts the gradient to the perfect
    /// interventions' Gaussians (CITRIS-NF fits them by a separate term).
    fn group_params_with(
        &self,
        z_t: &Tensor,
        targets: &Tensor,
        detach_intervention: bool,
    ) -> (Tensor, Tensor) {
        let (n, l, g) = (z_t.size()[0], self.latents, self.variables + 1);
        let context = self.context.forward(z_t).view([n, l, self.hidden]);
        let own = z_t.unsqueeze(-1);
        // I^{t+1} per group [N, G]: ψ₀ is never intervened on.
        let flags = Tensor::cat(&[targets, &targets.narrow(1, 0, 1).zeros_like()], 1);
        let mlp = |context: &Tensor, own: &Tensor| {
            let h = self
                .hidden_layer
                .forward(&(context + self.input.forward(own)).silu());
            self.output.forward(&h.silu())
        };
        match &self.intervention {
            None => {
                // Group g's code: I_g in slot g, −1 in every other slot.
                let eye = Tensor::eye(g, (Kind::Float, z_t.device()));
                let code = flags.unsqueeze(1) * &eye - (eye.neg() + 1.0); // [N, G, G]
                let own = Tensor::cat(
                    &[
                        own.unsqueeze(1).expand([n, g, l, 1], false),
                        code.unsqueeze(2).expand([n, g, l, g], false),
                    ],
                    -1,
                );
                let out = mlp(&context.unsqueeze(1), &own); // [N, G, L, 2]
                (out.select(-1, 0), out.select(-1, 1))
            }
            Some(intervention) => {
                let out = mlp(&context, &own); // [N, L, 2]
                let observed = |i: i64| out.select(-1, i).unsqueeze(1).expand([n, g, l], false);
                let intervention = if detach_intervention {
                    intervention.detach()
                } else {
                    intervention.shallow_clone()
                };
                // [N, G, 1] against [G, L] (ψ₀'s row is a placeholder, never selected).
                let intervened = flags.unsqueeze(-1).eq(1.0);
                let under_intervention = |i: i64| {
                    let p = intervention.select(-1, i).tr(); // [K, L]
                    Tensor::cat(&[&p, &p.narrow(0, 0, 1)], 0)
                };
                (
                    under_intervention(0).where_self(&intervened, &observed(0)),
                    under_intervention(1).where_self(&intervened, &observed(1)),
                )
            }
        }
    }

    /// Weights [G, L] of the groups' terms: P(ψ(l) = g), the ψ₀ row scaled by 1 − λ.
    fn group_weights(&self) -> Tensor {
        let probs = self.assignment_probs().tr();
        let scale = Tensor::ones([self.variables + 1, 1], (Kind::Float, probs.device()));
        let _ = scale.get(self.variables).fill_(1.0 - self.lambda_reg);
        probs * scale
    }

    /// KL(q(z^{t+1} | x^{t+1}) ‖ p(z^{t+1} | z^t, I^{t+1})) per sample [B], summed over
    /// latents and marginalised over ψ (see the module documentation). `z_t` [B, L] is
    /// the encoding of frame t (the reference passes the posterior mean), `mean_t1` and
    /// `log_std_t1` [B, L] the posterior of frame t+1, `targets` [B, K] in {0, 1}.
    pub fn kl(
        &self,
        z_t: &Tensor,
        mean_t1: &Tensor,
        log_std_t1: &Tensor,
        targets: &Tensor,
    ) -> Tensor {
        let (mean, log_std) = self.group_params(z_t, targets);
        let kl = gaussian_kl(
            &mean_t1.unsqueeze(1),
            &log_std_t1.unsqueeze(1),
            &mean,
            &log_std,
        );
        (kl * self.group_weights()).sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float)
    }

    /// −log p(z^{t+1} | z^t, I^{t+1}) per sample [B], summed over latents and
    /// marginalised over ψ, for CITRIS-NF (which has samples, not a Gaussian posterior).
    /// `z_t` and `z_t1` are [B, S, L]: S samples per pair; the NLL averages over all
    /// S × S pairs of (z^t, z^{t+1}) samples. `targets` [B, K].
    ///
    /// As in the reference, with perfect interventions the marginalised term sees the
    /// intervention distributions' parameters detached; they are fitted instead by a
    /// term with value zero whose gradient is that of every latent's NLL under them
    /// whenever their variable is intervened on (z^{t+1} detached), regardless of ψ.
    pub fn nll(&self, z_t: &Tensor, z_t1: &Tensor, targets: &Tensor) -> Tensor {
        let (b, s, l) = (z_t.size()[0], z_t.size()[1], self.latents);
        let g = self.variables + 1;
        let repeated = targets.unsqueeze(1).expand([b, s, self.variables], false);
        let (mean, log_std) = self.group_params_with(
            &z_t.reshape([b * s, l]),
            &repeated.reshape([b * s, self.variables]),
            true,
        );
        // [B, S(t), 1, G, L] against [B, 1, S(t+1), 1, L].
        let nll = gaussian_log_prob(
            &mean.view([b, s, 1, g, l]),
            &log_std.view([b, s, 1, g, l]),
            &z_t1.view([b, 1, s, 1, l]),
        )
        .mean_dim([1i64, 2].as_slice(), false, Kind::Float)
        .neg();
        let nll =
            (nll * self.group_weights()).sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float);
        match &self.intervention {
            None => nll,
            Some(intervention) => {
                let z = z_t1.detach().unsqueeze(-1); // [B, S, L, 1] against [L, K]
                let fit = (gaussian_log_prob(
                    &intervention.select(-1, 0),
                    &intervention.select(-1, 1),
                    &z,
                )
                .mean_dim(1, false, Kind::Float)
                .neg()
                    * targets.unsqueeze(1))
                .sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float);
                nll + &fit - fit.detach()
            }
        }
    }

    /// How far ψ has committed, for the training log: `psi_entropy`, the mean entropy
    /// (nats) of the latents' assignment distributions (ln G while undecided, 0 once
    /// every latent has picked its group), and `psi_unassigned`, the number of causal
    /// variables that no latent's argmax picks. ψ's softmax saturates as it commits,
    /// after which a variable left without a latent gets no gradient to win one back;
    /// the log shows that as it happens, long before an evaluation would.
    pub fn assignment_diagnostics(&self) -> [(&'static str, Tensor); 2] {
        tch::no_grad(|| {
            let probs = self.assignment_probs();
            let entropy = (&probs * probs.clamp_min(1e-30).log())
                .sum_dim_intlist(-1, false, Kind::Float)
                .mean(Kind::Float)
                .neg();
            let picked = probs
                .zeros_like()
                .scatter_value(-1, &probs.argmax(-1, true), 1.0)
                .sum_dim_intlist(0, false, Kind::Float)
                .narrow(0, 0, self.variables);
            let unassigned = picked.eq(0.0).sum(Kind::Float);
            [("psi_entropy", entropy), ("psi_unassigned", unassigned)]
        })
    }

    /// λ · mean_l (1 − P(ψ(l) = ψ₀)), a scalar: the reference adds it to CITRIS-NF's
    /// training loss to push unexplained latents towards ψ₀, since an NLL, unlike a KL,
    /// is not made cheaper by down-weighting (it can be negative). 0 when λ = 0.
    pub fn psi0_regularizer(&self) -> Tensor {
        let none = self.assignment_probs().select(1, self.variables);
        (none.neg() + 1.0).mean(Kind::Float) * self.lambda_reg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::OptimizerConfig;
    use tch::Device;

    const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

    fn prior_with(
        vs: &nn::VarStore,
        latents: i64,
        variables: usize,
        lambda: f64,
        interventions: InterventionModel,
    ) -> TransitionPrior {
        let cfg = PriorConfig {
            hidden: 8,
            lambda_reg: lambda,
            interventions,
            ..Default::default()
        };
        TransitionPrior::new(vs.root() / "prior", latents, variables, &cfg).unwrap()
    }

    fn prior(vs: &nn::VarStore, latents: i64, variables: usize, lambda: f64) -> TransitionPrior {
        prior_with(vs, latents, variables, lambda, InterventionModel::Perfect)
    }

    /// Perfect interventions' (mean, log-std) [L, K].
    fn intervention_params(prior: &TransitionPrior) -> (Tensor, Tensor) {
        let p = prior.intervention.as_ref().expect("perfect interventions");
        (p.select(-1, 0), p.select(-1, 1))
    }

    /// The transition without intervention [N, L]: any group's parameters when nothing
    /// is intervened on.
    fn transition(prior: &TransitionPrior, z_t: &Tensor) -> (Tensor, Tensor) {
        let targets = Tensor::zeros([z_t.size()[0], prior.variables], CPU);
        let (mean, log_std) = prior.group_params(z_t, &targets);
        (mean.select(1, 0), log_std.select(1, 0))
    }

    fn set(param: &Tensor, values: &Tensor) {
        tch::no_grad(|| {
            let mut p = param.shallow_clone();
            p.copy_(values);
        });
    }

    fn value(t: &Tensor, index: &[i64]) -> f64 {
        t.double_value(index)
    }

    /// KL(N(m1, s1²) ‖ N(m2, s2²)) in plain f64, from log-stds.
    fn kl_by_hand(m1: f64, ls1: f64, m2: f64, ls2: f64) -> f64 {
        ls2 - ls1 + ((2.0 * ls1).exp() + (m1 - m2).powi(2)) / (2.0 * (2.0 * ls2).exp()) - 0.5
    }

    /// The closed form is E_{ψ ~ softmax, z ~ q}[w(ψ)·(log q(z) − log p_ψ(z))] with
    /// w = 1 − λ for ψ₀ and 1 otherwise; checked against 200 000 samples of both (within
    /// four standard errors), for both intervention models.
    #[test]
    fn kl_matches_monte_carlo() {
        for interventions in [InterventionModel::Perfect, InterventionModel::Imperfect] {
            tch::manual_seed(0);
            let (l, k, lambda) = (3, 2, 0.5);
            let vs = nn::VarStore::new(Device::Cpu);
            let prior = prior_with(&vs, l, k as usize, lambda, interventions);
            set(&prior.logits, &(Tensor::randn([l, k + 1], CPU) * 1.5));
            let z_t = Tensor::randn([2, l], CPU);
            let mean_t1 = Tensor::randn([2, l], CPU);
            let log_std_t1 = Tensor::randn([2, l], CPU) * 0.3 - 0.5;
            let targets = Tensor::from_slice(&[1f32, 0., 1., 1.]).view([2, k]);
            let closed = prior.kl(&z_t, &mean_t1, &log_std_t1, &targets);
            assert_eq!(closed.size(), vec![2]);

            let n = 200_000;
            let (group_mean, group_log_std) = prior.group_params(&z_t, &targets);
            // Groups [N, L], one draw per latent and sample.
            let groups = prior.assignment_probs().multinomial(n, true).tr();
            let weight = groups.eq(k).to_kind(Kind::Float) * -lambda + 1.0;
            for b in 0..2 {
                let p_mean = group_mean.get(b).gather(0, &groups, false);
                let p_log_std = group_log_std.get(b).gather(0, &groups, false);
                let (qm, qs) = (mean_t1.get(b), log_std_t1.get(b));
                let z = &qm + Tensor::randn([n, l], CPU) * qs.exp();
                let ratio =
                    gaussian_log_prob(&qm, &qs, &z) - gaussian_log_prob(&p_mean, &p_log_std, &z);
                let per_sample = (ratio * &weight)
                    .sum_dim_intlist(1, false, Kind::Float)
                    .to_kind(Kind::Double);
                let mc = per_sample.mean(Kind::Double).double_value(&[]);
                let standard_error = per_sample.std(true).double_value(&[]) / (n as f64).sqrt();
                let exact = value(&closed, &[b]);
                assert!(
                    (mc - exact).abs() < 4.0 * standard_error,
                    "{interventions:?}, sample {b}: Monte Carlo {mc} ± {standard_error} vs \
                     closed form {exact}"
                );
            }
        }
    }

    /// A (numerically) one-hot ψ: each latent's KL is the one of its own group, by hand.
    #[test]
    fn one_hot_assignment_reduces_to_group_kl() {
        tch::manual_seed(1);
        let (l, k, lambda) = (4, 2, 0.25);
        let vs = nn::VarStore::new(Device::Cpu);
        let prior = prior(&vs, l, k as usize, lambda);
        let groups = [0i64, 1, 2, 0]; // latent 2: no causal variable
        let one_hot = Tensor::from_slice(&groups)
            .one_hot(k + 1)
            .to_kind(Kind::Float)
            * 40.0;
        set(&prior.logits, &one_hot);
        assert_eq!(prior.hard_assignment(), vec![0, 1, 2, 0]);
        let z_t = Tensor::randn([2, l], CPU);
        let mean_t1 = Tensor::randn([2, l], CPU);
        let log_std_t1 = Tensor::randn([2, l], CPU) * 0.3;
        let targets = Tensor::from_slice(&[1f32, 0., 0., 1.]).view([2, k]);
        let kl = prior.kl(&z_t, &mean_t1, &log_std_t1, &targets);
        let (obs_mean, obs_log_std) = transition(&prior, &z_t);
        let (intv_mean, intv_log_std) = intervention_params(&prior);
        for b in 0..2 {
            let mut expected = 0.0;
            for (li, &g) in groups.iter().enumerate() {
                let li = li as i64;
                let (m, s) = (value(&mean_t1, &[b, li]), value(&log_std_t1, &[b, li]));
                let intervened = g < k && value(&targets, &[b, g]) == 1.0;
                expected += if intervened {
                    kl_by_hand(
                        m,
                        s,
                        value(&intv_mean, &[li, g]),
                        value(&intv_log_std, &[li, g]),
                    )
                } else {
                    let weight = if g == k { 1.0 - lambda } else { 1.0 };
                    weight
                        * kl_by_hand(
                            m,
                            s,
                            value(&obs_mean, &[b, li]),
                            value(&obs_log_std, &[b, li]),
                        )
                };
            }
            let got = value(&kl, &[b]);
            assert!(
                (got - expected).abs() < 1e-4 * expected.abs().max(1.0),
                "{got} vs {expected}"
            );
        }
    }

    /// The NLL by hand for one sample and a one-hot ψ, and its gradients: the
    /// intervention distributions of an intervened variable learn even for latents not
    /// assigned to it, without the NLL's value changing.
    #[test]
    fn nll_by_hand_and_intervention_fit() {
        tch::manual_seed(2);
        let (l, k, lambda) = (3, 2, 0.5);
        let vs = nn::VarStore::new(Device::Cpu);
        let prior = prior(&vs, l, k as usize, lambda);
        let groups = [1i64, 2, 0];
        set(
            &prior.logits,
            &(Tensor::from_slice(&groups)
                .one_hot(k + 1)
                .to_kind(Kind::Float)
                * 40.0),
        );
        let z_t = Tensor::randn([1, 1, l], CPU);
        let z_t1 = Tensor::randn([1, 1, l], CPU);
        let targets = Tensor::from_slice(&[0f32, 1.]).view([1, k]);
        let nll = prior.nll(&z_t, &z_t1, &targets);
        assert_eq!(nll.size(), vec![1]);
        let (obs_mean, obs_log_std) = transition(&prior, &z_t.view([1, l]));
        let (intv_mean, intv_log_std) = intervention_params(&prior);
        let log_n = |m: f64, s: f64, x: f64| {
            -s - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * ((x - m) / s.exp()).powi(2)
        };
        let x = |li: i64| value(&z_t1, &[0, 0, li]);
        // Latent 0 → variable 1 (intervened), latent 1 → ψ₀, latent 2 → variable 0.
        let expected = -log_n(
            value(&intv_mean, &[0, 1]),
            value(&intv_log_std, &[0, 1]),
            x(0),
        ) - (1.0 - lambda)
            * log_n(
                value(&obs_mean, &[0, 1]),
                value(&obs_log_std, &[0, 1]),
                x(1),
            )
            - log_n(
                value(&obs_mean, &[0, 2]),
                value(&obs_log_std, &[0, 2]),
                x(2),
            );
        assert!(
            (value(&nll, &[0]) - expected).abs() < 1e-4,
            "{nll} vs {expected}"
        );

        nll.sum(Kind::Float).backward();
        let grad = prior
            .intervention
            .as_ref()
            .unwrap()
            .grad()
            .abs()
            .sum_dim_intlist(-1, false, Kind::Float);
        for li in 0..l {
            assert!(
                value(&grad, &[li, 1]) > 0.0,
                "latent {li}, intervened variable"
            );
            assert_eq!(
                value(&grad, &[li, 0]),
                0.0,
                "latent {li}, variable not intervened"
            );
        }
    }

    /// Imperfect interventions: group g's parameters change with I_g only, also depend
    /// on z^t under intervention, and there are no separate intervention Gaussians.
    #[test]
    fn imperfect_groups_read_their_own_flag_and_the_past() {
        tch::manual_seed(4);
        let (l, k) = (3, 2);
        let vs = nn::VarStore::new(Device::Cpu);
        let prior = prior_with(&vs, l, k as usize, 0.2, InterventionModel::Imperfect);
        assert!(vs
            .variables()
            .keys()
            .all(|name| !name.contains("intervention")));
        let z_t = Tensor::randn([1, l], CPU).expand([4, l], true).contiguous();
        // Nothing, variable 0, variable 1, both intervened on.
        let targets = Tensor::from_slice(&[0f32, 0., 1., 0., 0., 1., 1., 1.]).view([4, k]);
        let (mean, _) = prior.group_params(&z_t, &targets);
        let differs = |a: i64, b: i64, g: i64| {
            (mean.get(a).get(g) - mean.get(b).get(g))
                .abs()
                .max()
                .double_value(&[])
                > 1e-6
        };
        assert!(
            differs(0, 1, 0) && !differs(0, 1, 1),
            "I_0 moves group 0 only"
        );
        assert!(
            differs(0, 2, 1) && !differs(0, 2, 0),
            "I_1 moves group 1 only"
        );
        assert!(!differs(0, 3, 2), "ψ₀ is never intervened on");

        let other_past = Tensor::randn([4, l], CPU);
        let (moved, _) = prior.group_params(&other_past, &targets);
        let gap = (moved.get(3) - mean.get(3)).abs().max().double_value(&[]);
        assert!(gap > 1e-4, "under intervention the prior still reads z^t");
    }

    /// The case imperfect interventions are for: each variable, when intervened on,
    /// jumps one step up or down from where it was (Pong's paddles); otherwise it decays.
    /// Trained on the NLL alone, ψ puts each latent in its own variable's group.
    #[test]
    fn imperfect_prior_assigns_latents_whose_interventions_depend_on_the_past() {
        tch::manual_seed(5);
        let (l, k, n) = (2, 2, 512);
        let vs = nn::VarStore::new(Device::Cpu);
        let prior = prior_with(&vs, l, k as usize, 0.0, InterventionModel::Imperfect);
        let mut opt = nn::Adam::default().build(&vs, 1e-2).unwrap();
        for _ in 0..300 {
            let z_t = Tensor::rand([n, l], CPU) * 4.0 - 2.0;
            let targets = Tensor::rand([n, k], CPU).lt(0.3).to_kind(Kind::Float);
            let jump = (Tensor::rand([n, l], CPU).lt(0.5).to_kind(Kind::Float) * 2.0 - 1.0) + &z_t;
            let natural = &z_t * 0.8;
            let z_t1 =
                jump.where_self(&targets.eq(1.0), &natural) + Tensor::randn([n, l], CPU) * 0.05;
            let loss = prior
                .nll(&z_t.unsqueeze(1), &z_t1.unsqueeze(1), &targets)
                .mean(Kind::Float);
            opt.backward_step(&loss);
        }
        assert_eq!(
            prior.hard_assignment(),
            vec![0, 1],
            "{}",
            prior.assignment_probs()
        );
    }

    #[test]
    fn gumbel_samples_are_one_hot_follow_softmax_and_pass_gradients() {
        tch::manual_seed(3);
        let (l, k) = (3, 3);
        let vs = nn::VarStore::new(Device::Cpu);
        let prior = prior(&vs, l, k as usize, 0.1);
        set(&prior.logits, &Tensor::randn([l, k + 1], CPU));
        let samples = prior.sample_assignment(20_000);
        assert_eq!(samples.size(), vec![20_000, l, k + 1]);
        let ones = samples.eq(1.0).sum(Kind::Int64).int64_value(&[]);
        let zeros = samples.eq(0.0).sum(Kind::Int64).int64_value(&[]);
        assert_eq!((ones, zeros), (20_000 * l, 20_000 * l * k), "one-hot rows");
        let frequencies = samples.mean_dim(0, false, Kind::Float);
        let gap = (frequencies - prior.assignment_probs())
            .abs()
            .max()
            .double_value(&[]);
        assert!(gap < 0.02, "frequencies differ from softmax(ψ) by {gap}");

        let weights = Tensor::randn([l, k + 1], CPU);
        (prior.sample_assignment(16) * weights)
            .sum(Kind::Float)
            .backward();
        let grad = prior.logits.grad();
        assert!(
            grad.abs().min().double_value(&[]) > 0.0,
            "every logit learns: {grad}"
        );
    }

    #[test]
    fn assignment_diagnostics_follow_psi_from_undecided_to_committed() {
        let read = |prior: &TransitionPrior| {
            let [(_, entropy), (_, unassigned)] = prior.assignment_diagnostics();
            (value(&entropy, &[]), value(&unassigned, &[]))
        };
        // Undecided: entropy ln K with ψ₀ masked (λ = 0), ln (K + 1) with it.
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let masked = prior(&vs, 4, 3, 0.0);
        assert!((read(&masked).0 - 3f64.ln()).abs() < 1e-5);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let open = prior(&vs, 4, 3, 0.1);
        assert!((read(&open).0 - 4f64.ln()).abs() < 1e-5);
        // Committed: latents 0, 1 to variable 0, latents 2, 3 to variable 2; variable 1
        // has no latent.
        let logits = Tensor::from_slice(&[
            20.0f32, 0., 0., 0., 20., 0., 0., 0., 0., 0., 20., 0., 0., 0., 20., 0.,
        ])
        .view([4, 4]);
        set(&open.logits, &logits);
        let (entropy, unassigned) = read(&open);
        assert!(entropy < 1e-6, "entropy {entropy}");
        assert_eq!(unassigned, 1.0);
        // ψ₀ (the last column) is not a causal variable: a latent there assigns none.
        let logits = logits.roll([1i64].as_slice(), [1i64].as_slice());
        set(&open.logits, &logits);
        assert_eq!(read(&open).1, 2.0);
    }

    #[test]
    fn a_margin_starts_every_variable_with_latents() {
        let start = |margin: f64| {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let cfg = PriorConfig {
                assignment_init_margin: margin,
                ..Default::default()
            };
            let prior = TransitionPrior::new(vs.root(), 7, 3, &cfg).unwrap();
            (prior.hard_assignment(), prior.assignment_probs())
        };
        let (groups, probs) = start(3.0);
        assert_eq!(groups, [0, 1, 2, 0, 1, 2, 0]);
        let own = 3f64.exp() / (3f64.exp() + 2.0); // ψ₀ is masked (λ = 0)
        assert!((value(&probs, &[4, 1]) - own).abs() < 1e-6);
        assert!((value(&probs, &[4, 0]) - (1.0 - own) / 2.0).abs() < 1e-6);
        // With ψ₀ (λ > 0) the balance includes it: every (K + 1)-th latent starts there.
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let cfg = PriorConfig {
            assignment_init_margin: 3.0,
            lambda_reg: 0.01,
            ..Default::default()
        };
        let with_none = TransitionPrior::new(vs.root(), 7, 3, &cfg).unwrap();
        assert_eq!(with_none.hard_assignment(), [0, 1, 2, 3, 0, 1, 2]);
        let own = 3f64.exp() / (3f64.exp() + 3.0);
        assert!((value(&with_none.assignment_probs(), &[3, 3]) - own).abs() < 1e-6);
        // No margin: uniform over the K variables, as the reference starts.
        let (_, probs) = start(0.0);
        let variables = probs.narrow(1, 0, 3);
        assert!((variables - 1.0 / 3.0).abs().max().double_value(&[]) < 1e-6);
        let cfg = PriorConfig {
            assignment_init_margin: -1.0,
            ..Default::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("assignment_init_margin") && err.contains("-1"),
            "{err}"
        );
    }

    #[test]
    fn hard_assignment_is_argmax_and_lambda_zero_removes_psi0() {
        let vs = nn::VarStore::new(Device::Cpu);
        let logits = Tensor::from_slice(&[0.1f32, 2.0, 0.5, 3.0, 0.0, 1.0]).view([2, 3]);
        let with_psi0 = prior(&vs, 2, 2, 0.1);
        set(&with_psi0.logits, &logits);
        assert_eq!(with_psi0.hard_assignment(), vec![1, 0]);
        set(&with_psi0.logits, &logits.flip([1]));
        assert_eq!(with_psi0.hard_assignment(), vec![1, 2]);
        let without = prior(&vs, 2, 2, 0.0);
        set(&without.logits, &logits.flip([1]));
        assert_eq!(without.hard_assignment(), vec![1, 0], "ψ₀ is never chosen");
        let none = without.assignment_probs().select(1, 2);
        assert_eq!(none.abs().max().double_value(&[]), 0.0);
        assert_eq!(without.psi0_regularizer().double_value(&[]), 0.0);
    }

    /// Runs written before the option existed have no `interventions` key: perfect.
    #[test]
    fn configs_without_an_intervention_model_are_perfect() {
        let old: PriorConfig =
            toml::from_str("hidden = 32\nlambda_reg = 0.0\ngumbel_temperature = 1.0\n").unwrap();
        assert_eq!(old, PriorConfig::default());
        let imperfect = PriorConfig {
            interventions: InterventionModel::Imperfect,
            ..Default::default()
        };
        let text = toml::to_string(&imperfect).unwrap();
        assert!(text.contains("interventions = \"imperfect\""), "{text}");
        assert_eq!(toml::from_str::<PriorConfig>(&text).unwrap(), imperfect);
    }

    #[test]
    fn invalid_options_are_named() {
        let vs = nn::VarStore::new(Device::Cpu);
        let build = |cfg: PriorConfig| {
            TransitionPrior::new(vs.root(), 4, 2, &cfg)
                .unwrap_err()
                .to_string()
        };
        let err = build(PriorConfig {
            lambda_reg: 1.0,
            ..Default::default()
        });
        assert!(err.contains("lambda_reg") && err.contains('1'), "{err}");
        let err = build(PriorConfig {
            gumbel_temperature: 0.0,
            ..Default::default()
        });
        assert!(err.contains("gumbel_temperature"), "{err}");
        let err = TransitionPrior::new(vs.root(), 4, 0, &PriorConfig::default()).unwrap_err();
        assert!(err.to_string().contains("0 variables"), "{err}");
    }
}
