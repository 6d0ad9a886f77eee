//! The target classifier of CITRIS (Lippe et al. 2022, `models/shared/target_classifier.py`):
//! it predicts the intervention targets I^{t+1} from z^t and one group of latents of
//! z^{t+1}, and its loss pushes the encoder to put each causal variable's information
//! into that variable's group only.
//!
//! The groups come from a one-hot sample of the assignment ψ ([B, L, K+1], see
//! [`TransitionPrior::sample_assignment`](crate::prior::TransitionPrior::sample_assignment))
//! plus one group holding every latent, K + 2 masks m_j in all. For each mask the input
//! is [z^t, z^{t+1} ⊙ m_j, m_j] (3L values) and the network (Linear → SiLU → Linear,
//! the last layer zero-initialised so that it starts at p = ½ everywhere) outputs K
//! logits. Two losses:
//!
//! - `loss_model` trains the classifier on detached latents and masks: every group
//!   predicts every target;
//! - `loss_z` trains the latents and ψ (the classifier's parameters detached, i.e. the
//!   reference's frozen copy with momentum 0): group k must predict I_k (weighted by K,
//!   since there is one such target among K), the "all latents" group all targets, and
//!   every other (group, target) pair the target's marginal frequency, i.e. carry no
//!   information about it.
//!
//! Both are means over samples, groups and targets, times K + 2, as in the reference;
//! CITRIS-VAE adds `loss_model + β_classifier · loss_z` to its loss. The reference gives
//! the classifier its own learning rate (4e-3) and weight decay (1e-4); its parameters
//! live under this module's path so an optimiser can single them out.

use tch::nn::{self, Module};
use tch::{Kind, Reduction, Tensor};

use crate::{Error, Result};

/// The target classifier; its weights and the running target marginals live in the
/// `VarStore` of the path it was built on.
#[derive(Debug)]
pub struct TargetClassifier {
    latents: i64,
    variables: i64,
    hidden: nn::Linear,
    output: nn::Linear,
    /// Running mean [K] of the targets seen in training (starts at ½): the labels of
    /// the (group, target) pairs that must carry no information. Not trainable, saved
    /// with the weights.
    marginal: Tensor,
    /// Number of batches averaged into `marginal` (a scalar, saved with it).
    batches_seen: Tensor,
}

impl TargetClassifier {
    /// A classifier for `latents` latents and `variables` causal variables with a hidden
    /// layer of `hidden` units (the reference uses 2 · c_hid).
    pub fn new(p: nn::Path, latents: i64, variables: usize, hidden: i64) -> Result<Self> {
        if latents < 1 || variables < 1 || hidden < 1 {
            return Err(Error::Invalid(format!(
                "the target classifier needs at least one latent, variable and hidden unit \
                 (got {latents} latents, {variables} variables, {hidden} hidden)"
            )));
        }
        let k = variables as i64;
        let zero = nn::LinearConfig {
            ws_init: nn::Init::Const(0.0),
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        };
        let marginal = p.zeros_no_train("target_marginal", &[k]);
        tch::no_grad(|| {
            let _ = marginal.shallow_clone().fill_(0.5);
        });
        Ok(Self {
            latents,
            variables: k,
            hidden: nn::linear(&p / "hidden", 3 * latents, hidden, Default::default()),
            output: nn::linear(&p / "output", hidden, k, zero),
            marginal,
            batches_seen: p.zeros_no_train("batches_seen", &[]),
        })
    }

    /// Logits [.., K] of inputs [.., 3L]; with `frozen` the parameters are detached, so
    /// gradients reach only the inputs.
    fn logits(&self, inputs: &Tensor, frozen: bool) -> Tensor {
        let layer = |linear: &nn::Linear, x: &Tensor| match frozen {
            false => linear.forward(x),
            true => x.linear(
                &linear.ws.detach(),
                linear.bs.as_ref().map(Tensor::detach).as_ref(),
            ),
        };
        layer(&self.output, &layer(&self.hidden, inputs).silu())
    }

    /// Folds a batch's targets into the running marginal (on the device: no host
    /// synchronisation).
    fn observe(&self, targets: &Tensor) {
        tch::no_grad(|| {
            let seen = &self.batches_seen;
            let batch_mean = targets.mean_dim(0, false, Kind::Float);
            let updated = (&self.marginal * seen + batch_mean) / (seen + 1.0);
            self.marginal.shallow_clone().copy_(&updated);
            let _ = seen.shallow_clone().g_add_scalar_(1.0);
        });
    }

    /// `(loss_model, loss_z)` (scalars) of one training batch: latents `z_t` and `z_t1`
    /// [B, L], `targets` [B, K] in {0, 1}, and `assignment` [B, L, K+1], a one-hot
    /// sample of ψ per sample (gradients flow through it into ψ via `loss_z`). Also
    /// folds `targets` into the running marginal, so call it once per training step.
    pub fn losses(
        &self,
        z_t: &Tensor,
        z_t1: &Tensor,
        targets: &Tensor,
        assignment: &Tensor,
    ) -> (Tensor, Tensor) {
        let (b, l, k) = (z_t.size()[0], self.latents, self.variables);
        let groups = k + 2;
        self.observe(targets);
        // Masks [B, K+2, L]: the K + 1 groups of ψ, then all latents.
        let masks =
            Tensor::cat(&[assignment, &assignment.ones_like().narrow(2, 0, 1)], 2).transpose(1, 2);
        let inputs = |z_t: &Tensor, z_t1: &Tensor, masks: &Tensor| {
            Tensor::cat(
                &[
                    z_t.unsqueeze(1).expand([b, groups, l], false),
                    z_t1.unsqueeze(1) * masks,
                    masks.shallow_clone(),
                ],
                -1,
            )
        };
        let labels = targets.unsqueeze(1).expand([b, groups, k], false);

        let model_logits = self.logits(
            &inputs(&z_t.detach(), &z_t1.detach(), &masks.detach()),
            false,
        );
        let loss_model = model_logits.binary_cross_entropy_with_logits::<Tensor>(
            &labels,
            None,
            None,
            Reduction::Mean,
        ) * groups as f64;

        // Which (group, target) pairs must predict the true target: group k target k,
        // and every target from all latents; ψ₀ none.
        let options = (Kind::Float, z_t.device());
        let own = Tensor::cat(
            &[
                Tensor::eye(k, options),
                Tensor::zeros([1, k], options),
                Tensor::ones([1, k], options),
            ],
            0,
        );
        let z_labels = labels.where_self(&own.to_kind(Kind::Bool), &self.marginal);
        let weights = own * (k as f64 - 1.0) + 1.0;
        let z_logits = self.logits(&inputs(z_t, z_t1, &masks), true);
        let loss_z = z_logits.binary_cross_entropy_with_logits(
            &z_labels,
            Some(&weights),
            None,
            Reduction::Mean,
        ) * groups as f64;
        (loss_model, loss_z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prior::{PriorConfig, TransitionPrior};
    use std::f64::consts::LN_2;
    use tch::Device;

    const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

    /// A one-hot assignment [B, L, K+1] with the same groups for every sample.
    fn assignment(groups: &[i64], k: i64, batch: i64) -> Tensor {
        let one_hot = Tensor::from_slice(groups)
            .one_hot(k + 1)
            .to_kind(Kind::Float);
        one_hot
            .unsqueeze(0)
            .expand([batch, -1, -1], false)
            .contiguous()
    }

    fn targets() -> Tensor {
        Tensor::from_slice(&[1f32, 0., 1., 0., 0., 1., 1., 1., 0., 0., 0., 0.]).view([4, 3])
    }

    /// With the zero-initialised last layer every logit is 0, so each BCE term is ln 2
    /// whatever its label: loss_model = (K+2)·ln 2 and loss_z = (K+2)·ln 2·mean(weights),
    /// where 2K of the (K+2)·K pairs have weight K.
    #[test]
    fn zero_initialised_output_gives_ln2() {
        let (l, k) = (4, 3);
        let vs = nn::VarStore::new(Device::Cpu);
        let classifier = TargetClassifier::new(vs.root(), l, k as usize, 16).unwrap();
        let z_t = Tensor::randn([4, l], CPU);
        let z_t1 = Tensor::randn([4, l], CPU);
        let (loss_model, loss_z) =
            classifier.losses(&z_t, &z_t1, &targets(), &assignment(&[0, 1, 2, 3], k, 4));
        assert_eq!(loss_model.size(), Vec::<i64>::new());
        let groups = (k + 2) as f64;
        let mean_weight = (2 * k * k + (k + 2) * k - 2 * k) as f64 / ((k + 2) * k) as f64;
        assert!((loss_model.double_value(&[]) - groups * LN_2).abs() < 1e-6);
        assert!((loss_z.double_value(&[]) - groups * LN_2 * mean_weight).abs() < 1e-6);
    }

    /// With constant logits c_k (zero weights, bias c) the losses are sums of
    /// BCE(c_k, label) by hand; loss_z's labels use the targets' mean after this batch.
    #[test]
    fn losses_by_hand_with_constant_logits() {
        let (l, k) = (2, 3);
        let vs = nn::VarStore::new(Device::Cpu);
        let classifier = TargetClassifier::new(vs.root(), l, k as usize, 8).unwrap();
        let c = [0.7f64, -1.2, 0.3];
        tch::no_grad(|| {
            let mut bias = classifier.output.bs.as_ref().unwrap().shallow_clone();
            bias.copy_(&Tensor::from_slice(&c).to_kind(Kind::Float));
        });
        let t = targets();
        let (loss_model, loss_z) = classifier.losses(
            &Tensor::randn([4, l], CPU),
            &Tensor::randn([4, l], CPU),
            &t,
            &assignment(&[1, 3], k, 4),
        );
        let bce = |logit: f64, y: f64| (1.0 + logit.exp()).ln() - y * logit;
        let label = |b: i64, j: usize| t.double_value(&[b, j as i64]);
        let marginal: Vec<f64> = (0..3)
            .map(|j| (0..4).map(|b| label(b, j)).sum::<f64>() / 4.0)
            .collect();
        let (groups, k) = (5usize, 3usize);
        let (mut model, mut z) = (0.0, 0.0);
        for b in 0..4 {
            for g in 0..groups {
                for (j, &logit) in c.iter().enumerate() {
                    model += bce(logit, label(b, j));
                    let own = g == j || g == groups - 1;
                    z += match own {
                        true => k as f64 * bce(logit, label(b, j)),
                        false => bce(logit, marginal[j]),
                    };
                }
            }
        }
        let count = (4 * groups * k) as f64;
        let expected = [groups as f64 * model / count, groups as f64 * z / count];
        let got = [loss_model.double_value(&[]), loss_z.double_value(&[])];
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-5, "{got:?} vs {expected:?}");
        }
    }

    #[test]
    fn marginal_is_the_running_mean_of_targets() {
        let vs = nn::VarStore::new(Device::Cpu);
        let classifier = TargetClassifier::new(vs.root(), 2, 3, 4).unwrap();
        let z = Tensor::zeros([4, 2], CPU);
        let a = assignment(&[0, 1], 3, 4);
        let _ = classifier.losses(&z, &z, &targets(), &a);
        let _ = classifier.losses(&z, &z, &targets().ones_like(), &a);
        let expected = [(0.5 + 1.0) / 2.0, (0.25 + 1.0) / 2.0, (0.5 + 1.0) / 2.0];
        for (j, e) in expected.iter().enumerate() {
            assert!((classifier.marginal.double_value(&[j as i64]) - e).abs() < 1e-6);
        }
    }

    /// loss_model trains only the classifier; loss_z only the latents and ψ.
    #[test]
    fn gradients_go_where_they_belong() {
        tch::manual_seed(4);
        let (l, k) = (4, 2);
        let vs = nn::VarStore::new(Device::Cpu);
        let prior =
            TransitionPrior::new(vs.root() / "prior", l, k, &PriorConfig::default()).unwrap();
        let classifier = TargetClassifier::new(vs.root() / "classifier", l, k, 8).unwrap();
        // Leave the zero initialisation, through which no gradient reaches the inputs.
        tch::no_grad(|| {
            let mut w = classifier.output.ws.shallow_clone();
            w.copy_(&Tensor::randn([k as i64, 8], CPU));
        });
        let z_t = Tensor::randn([6, l], CPU).set_requires_grad(true);
        let z_t1 = Tensor::randn([6, l], CPU).set_requires_grad(true);
        let t =
            Tensor::from_slice(&[1f32, 0., 0., 1., 1., 1., 0., 0., 1., 0., 0., 1.]).view([6, 2]);
        let has_grad = |x: &Tensor| {
            let g = x.grad();
            g.defined() && g.abs().sum(Kind::Float).double_value(&[]) > 0.0
        };
        let variables = vs.variables();
        let logits = &variables["prior.assignment_logits"];
        let weight = &classifier.hidden.ws;

        let (loss_model, _) = classifier.losses(&z_t, &z_t1, &t, &prior.sample_assignment(6));
        loss_model.backward();
        assert!(has_grad(weight));
        assert!(!has_grad(&z_t) && !has_grad(&z_t1) && !has_grad(logits));

        let (_, loss_z) = classifier.losses(&z_t, &z_t1, &t, &prior.sample_assignment(6));
        let mut weight = weight.shallow_clone();
        weight.zero_grad();
        loss_z.backward();
        assert!(has_grad(&z_t) && has_grad(&z_t1) && has_grad(logits));
        assert!(!has_grad(&weight));
    }

    #[test]
    fn empty_sizes_are_rejected() {
        let vs = nn::VarStore::new(Device::Cpu);
        let err = TargetClassifier::new(vs.root(), 4, 0, 8).unwrap_err();
        assert!(err.to_string().contains("0 variables"), "{err}");
    }
}
