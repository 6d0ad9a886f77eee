//! AdamW and the cosine learning-rate schedule with linear warm-up.
//!
//! tch's optimisers keep their moments inside libtorch's C++ objects, which cannot be
//! saved; ours keeps them as named tensors, so a checkpoint holds the full training
//! state and a resumed run continues exactly where it stopped.

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

/// AdamW hyper-parameters (Loshchilov & Hutter; PyTorch's defaults but weight decay).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices and kernels only (not to biases or
    /// normalisation gains, whose decay only hurts).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        }
    }
}

/// Different settings for the parameters whose names start with `prefix` (e.g. a
/// classifier trained alongside a model at a higher learning rate, as CITRIS trains its
/// target classifier). The first matching group wins; other parameters use the base.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamGroup {
    /// Variable-name prefix in the `VarStore`, e.g. `classifier.`.
    pub prefix: String,
    /// Multiplies the schedule's learning rate.
    pub lr_scale: f64,
    /// Decoupled weight decay of the group's matrices and kernels.
    pub weight_decay: f64,
    /// Updates during which the group's parameters stay where they are (their moments
    /// still accumulate): a part of a model held at its start while the rest settles,
    /// as CITRIS' assignment ψ while the flow separates the variables. 0: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hold_steps: usize,
}

fn is_zero(steps: &usize) -> bool {
    *steps == 0
}

/// One trainable tensor with its two moment estimates and its group's settings.
#[derive(Debug)]
struct Slot {
    name: String,
    param: Tensor,
    m: Tensor,
    v: Tensor,
    lr_scale: f64,
    /// 0 for biases and normalisation gains.
    weight_decay: f64,
    /// The parameter does not move during the first `hold_steps` updates.
    hold_steps: usize,
}

/// AdamW over every trainable variable of a [`VarStore`].
#[derive(Debug)]
pub struct AdamW {
    config: AdamWConfig,
    slots: Vec<Slot>,
    /// Updates applied so far (for the bias correction).
    steps: i64,
}

impl AdamW {
    pub fn new(vs: &VarStore, config: AdamWConfig) -> Self {
        Self::with_groups(vs, config, &[])
    }

    /// AdamW with per-group learning-rate scales and weight decays.
    pub fn with_groups(vs: &VarStore, config: AdamWConfig, groups: &[ParamGroup]) -> Self {
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = named
            .into_iter()
            .map(|(name, param)| {
                let group = groups.iter().find(|g| name.starts_with(&g.prefix));
                let decay = group.map_or(config.weight_decay, |g| g.weight_decay);
                Slot {
                    m: param.zeros_like().detach(),
                    v: param.zeros_like().detach(),
                    lr_scale: group.map_or(1.0, |g| g.lr_scale),
                    weight_decay: if param.dim() > 1 { decay } else { 0.0 },
                    hold_steps: group.map_or(0, |g| g.hold_steps),
                    name,
                    param,
                }
            })
            .collect();
        Self {
            config,
            slots,
            steps: 0,
        }
    }

    /// Clears the gradients of every parameter.
    pub fn zero_grad(&mut self) {
        for slot in &mut self.slots {
            slot.param.zero_grad();
        }
    }

    /// Scales the gradients so that their global L2 norm is at most `max_norm`; returns
    /// the norm before clipping (non-finite when a gradient is).
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let grads: Vec<Tensor> = self
            .slots
            .iter()
            .map(|s| s.param.grad())
            .filter(|g| g.defined())
            .collect();
        if grads.is_empty() {
            return 0.0;
        }
        // The norm of the per-tensor norms: one reduction per tensor, no temporaries.
        let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
        let norm = Tensor::stack(&norms, 0).norm().double_value(&[]);
        if norm.is_finite() && norm > max_norm {
            let scale = max_norm / (norm + 1e-6);
            for mut g in grads {
                let _ = g.g_mul_scalar_(scale);
            }
        }
        norm
    }

    /// One AdamW update with learning rate `lr` (times the slot's group scale; 0 for a
    /// group still within its `hold_steps`):
    ///
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr·m̂ / (√v̂ + ε) (bias-corrected
    /// moments), after θ ← (1 − lr·λ)θ for tensors that decay.
    ///
    /// Written, like PyTorch's `AdamW`, with in-place operations and as few temporary
    /// tensors as possible (each one a full-size allocation per parameter tensor).
    pub fn step(&mut self, lr: f64) {
        self.steps += 1;
        let c = self.config;
        let bias1 = 1.0 - c.beta1.powi(self.steps as i32);
        let bias2 = 1.0 - c.beta2.powi(self.steps as i32);
        tch::no_grad(|| {
            for slot in &mut self.slots {
                let grad = slot.param.grad();
                if !grad.defined() {
                    continue;
                }
                let held = self.steps <= slot.hold_steps as i64;
                let lr = if held { 0.0 } else { lr * slot.lr_scale };
                if slot.weight_decay > 0.0 {
                    let _ = slot.param.g_mul_scalar_(1.0 - lr * slot.weight_decay);
                }
                let _ = slot.m.lerp_(&grad, 1.0 - c.beta1);
                let _ = slot.v.g_mul_scalar_(c.beta2);
                let _ = slot.v.addcmul_(&(&grad * (1.0 - c.beta2)), &grad);
                if lr == 0.0 {
                    continue;
                }
                // θ += m / d with d = (√v / √bias2 + ε) · (−bias1 / lr), built in place.
                let mut denom = slot.v.sqrt();
                let _ = denom.g_div_scalar_(bias2.sqrt());
                let _ = denom.g_add_scalar_(c.eps);
                let _ = denom.g_mul_scalar_(-bias1 / lr);
                let _ = slot.param.addcdiv_(&slot.m, &denom);
            }
        });
    }

    /// Updates applied so far.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// The optimiser state as named tensors (`adamw.m.<param>`, `adamw.v.<param>`,
    /// `adamw.steps`), for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.slots.len() + 1);
        for s in &self.slots {
            out.push((format!("adamw.m.{}", s.name), s.m.shallow_clone()));
            out.push((format!("adamw.v.{}", s.name), s.v.shallow_clone()));
        }
        out.push(("adamw.steps".into(), Tensor::from_slice(&[self.steps])));
        out
    }

    /// Restores [`state`](Self::state); every moment must be present with its
    /// parameter's shape. Returns a description of the first problem otherwise.
    pub fn load_state(&mut self, find: &dyn Fn(&str) -> Option<Tensor>) -> Result<(), String> {
        for s in &mut self.slots {
            for (kind, target) in [("m", &mut s.m), ("v", &mut s.v)] {
                let key = format!("adamw.{kind}.{}", s.name);
                let saved = find(&key).ok_or_else(|| format!("'{key}' is missing"))?;
                if saved.size() != target.size() {
                    return Err(format!(
                        "'{key}' has shape {:?}, the model needs {:?}",
                        saved.size(),
                        target.size()
                    ));
                }
                tch::no_grad(|| target.copy_(&saved));
            }
        }
        let steps = find("adamw.steps").ok_or("'adamw.steps' is missing")?;
        self.steps = steps.int64_value(&[0]);
        Ok(())
    }
}

/// Linear warm-up from 0 to `peak` over `warmup` steps, then a cosine decay to
/// `peak × final_ratio` at `total` steps.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct CosineSchedule {
    pub peak: f64,
    pub warmup: usize,
    pub total: usize,
    pub final_ratio: f64,
}

impl CosineSchedule {
    /// The learning rate for (0-based) `step`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let progress = ((step - self.warmup) as f64 / span).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.peak * (self.final_ratio + (1.0 - self.final_ratio) * cosine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device, Kind};

    #[test]
    fn schedule_warms_up_then_decays() {
        let s = CosineSchedule {
            peak: 1.0,
            warmup: 10,
            total: 110,
            final_ratio: 0.1,
        };
        assert!((s.lr(0) - 0.1).abs() < 1e-12);
        assert!((s.lr(9) - 1.0).abs() < 1e-12);
        assert!((s.lr(10) - 1.0).abs() < 1e-12);
        assert!((s.lr(60) - 0.55).abs() < 1e-12);
        assert!((s.lr(110) - 0.1).abs() < 1e-12);
        assert!((s.lr(500) - 0.1).abs() < 1e-12);
    }

    /// PyTorch's AdamW formula written out in f64 for a parameter with gradient 2θ (the
    /// loss Σ θ²), the first `hold` updates at learning rate 0.
    fn adamw_by_hand(mut p: [f64; 2], lr: f64, decay: f64, steps: i32, hold: i32) -> [f64; 2] {
        let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
        for t in 1..=steps {
            let lr = if t <= hold { 0.0 } else { lr };
            for i in 0..2 {
                let g = 2.0 * p[i];
                p[i] *= 1.0 - lr * decay;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let mh = m[i] / (1.0 - 0.9f64.powi(t));
                let vh = v[i] / (1.0 - 0.999f64.powi(t));
                p[i] -= lr * mh / (vh.sqrt() + 1e-8);
            }
        }
        p
    }

    fn assert_close(w: &Tensor, expected: [f64; 2]) {
        for (i, expected) in expected.iter().enumerate() {
            let got = w.double_value(&[0, i as i64]);
            assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        }
    }

    /// Our update equals PyTorch's AdamW formula, also per parameter group.
    #[test]
    fn matches_the_adamw_formula_per_group() {
        let vs = nn::VarStore::new(Device::Cpu);
        let init = Tensor::from_slice(&[1.0f32, -2.0]).view([1, 2]);
        let w = vs.root().var_copy("w", &init);
        let c = vs.root().sub("classifier").var_copy("w", &init);
        let config = AdamWConfig {
            weight_decay: 0.1,
            ..Default::default()
        };
        let group = ParamGroup {
            prefix: "classifier.".into(),
            lr_scale: 4.0,
            weight_decay: 0.0,
            hold_steps: 0,
        };
        let mut opt = AdamW::with_groups(&vs, config, &[group]);
        let lr = 0.01;
        for _ in 0..3 {
            opt.zero_grad();
            ((&w * &w).sum(Kind::Float) + (&c * &c).sum(Kind::Float)).backward();
            opt.step(lr);
        }
        assert_close(&w, adamw_by_hand([1.0, -2.0], lr, 0.1, 3, 0));
        assert_close(&c, adamw_by_hand([1.0, -2.0], 4.0 * lr, 0.0, 3, 0));
    }

    /// A held group keeps its start for `hold_steps` updates while its moments
    /// accumulate, then moves as PyTorch's AdamW would with the learning rate 0 until then;
    /// the other parameters move from the first update.
    #[test]
    fn a_held_group_starts_moving_after_its_hold() {
        let vs = nn::VarStore::new(Device::Cpu);
        let init = Tensor::from_slice(&[1.0f32, -2.0]).view([1, 2]);
        let w = vs.root().var_copy("w", &init);
        let psi = vs.root().sub("psi").var_copy("w", &init);
        let group = ParamGroup {
            prefix: "psi.".into(),
            lr_scale: 2.0,
            weight_decay: 0.1,
            hold_steps: 3,
        };
        let config = AdamWConfig::default();
        let mut opt = AdamW::with_groups(&vs, config, &[group]);
        let lr = 0.01;
        for step in 1..=5 {
            opt.zero_grad();
            ((&w * &w).sum(Kind::Float) + (&psi * &psi).sum(Kind::Float)).backward();
            opt.step(lr);
            if step <= 3 {
                assert_close(&psi, [1.0, -2.0]);
            }
        }
        assert_close(
            &w,
            adamw_by_hand([1.0, -2.0], lr, config.weight_decay, 5, 0),
        );
        assert_close(&psi, adamw_by_hand([1.0, -2.0], 2.0 * lr, 0.1, 5, 3));
        assert_ne!(
            adamw_by_hand([1.0, -2.0], 2.0 * lr, 0.1, 5, 3),
            adamw_by_hand([1.0, -2.0], 2.0 * lr, 0.1, 2, 0),
            "warm moments make the update after a hold differ from a fresh start"
        );
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var_copy("w", &Tensor::from_slice(&[3.0f32, 4.0]));
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        (&w * &w).sum(Kind::Float).backward(); // grad = (6, 8), norm 10
        let before = opt.clip_grad_norm(1.0);
        assert!((before - 10.0).abs() < 1e-5);
        let after = w.grad().square().sum(Kind::Float).sqrt().double_value(&[]);
        assert!((after - 1.0).abs() < 1e-4, "{after}");
    }
}
