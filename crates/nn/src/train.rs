//! The training loop shared by every model: AdamW with a cosine schedule and warm-up,
//! global-norm gradient clipping, a progress bar with the loss and ETA, `metrics.csv`,
//! periodic atomic checkpoints, exact resume, and a stop on a non-finite loss.
//!
//! Determinism: before each step libtorch's generator is re-seeded from (seed, step),
//! and the model picks its batch from the step number, so a run resumed from a
//! checkpoint takes exactly the steps an uninterrupted run would have taken.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

use crate::checkpoint;
use crate::metrics::MetricsLog;
use crate::optim::{AdamW, AdamWConfig, CosineSchedule, ParamGroup};
use crate::run_dir::RunDir;
use crate::{NnError, Result};

/// Optimisation settings of a run (stored in its `config.toml`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Total optimisation steps.
    pub steps: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// Final learning rate as a fraction of the peak (cosine decay).
    pub final_lr_ratio: f64,
    /// Global gradient-norm bound.
    pub clip_norm: f64,
    pub adamw: AdamWConfig,
    /// Parameters trained with their own learning-rate scale and weight decay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub param_groups: Vec<ParamGroup>,
    /// Steps between checkpoints (one is always written at the end).
    pub checkpoint_every: usize,
    /// Steps between rows of `metrics.csv` (each row averages its steps).
    pub log_every: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 1000,
            lr: 1e-3,
            warmup: 50,
            final_lr_ratio: 0.05,
            clip_norm: 5.0,
            adamw: AdamWConfig::default(),
            param_groups: Vec::new(),
            checkpoint_every: 250,
            log_every: 10,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Checks the settings a user may edit in a run's `config.toml`, where a negative
    /// learning rate would train uphill without a word; the message names the setting
    /// (a parameter group by its prefix) and its value.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.steps == 0 {
            return Err(format!("steps must be at least 1 (got {})", self.steps));
        }
        let positive = [
            ("lr", self.lr),
            ("clip_norm", self.clip_norm),
            ("adamw.eps", self.adamw.eps),
        ];
        if let Some((name, value)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(format!("{name} must be a finite number > 0 (got {value})"));
        }
        if !(0.0..=1.0).contains(&self.final_lr_ratio) {
            return Err(format!(
                "final_lr_ratio must lie in [0, 1] (got {})",
                self.final_lr_ratio
            ));
        }
        for (name, beta) in [
            ("adamw.beta1", self.adamw.beta1),
            ("adamw.beta2", self.adamw.beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return Err(format!("{name} must lie in [0, 1) (got {beta})"));
            }
        }
        non_negative("adamw.weight_decay", self.adamw.weight_decay)?;
        for group in &self.param_groups {
            let named = |message: String| format!("param group '{}': {message}", group.prefix);
            if group.prefix.is_empty() {
                return Err(named(
                    "an empty prefix takes every parameter; set the base settings instead".into(),
                ));
            }
            non_negative("lr_scale", group.lr_scale).map_err(named)?;
            non_negative("weight_decay", group.weight_decay).map_err(named)?;
            if group.hold_steps >= self.steps {
                return Err(named(format!(
                    "hold_steps {} leaves none of the run's {} steps to learn in (a group held \
                     throughout has lr_scale 0)",
                    group.hold_steps, self.steps
                )));
            }
        }
        Ok(())
    }
}

/// `Err` naming `name` unless `value` is a finite number ≥ 0.
fn non_negative(name: &str, value: f64) -> std::result::Result<(), String> {
    match value.is_finite() && value >= 0.0 {
        true => Ok(()),
        false => Err(format!("{name} must be a finite number ≥ 0 (got {value})")),
    }
}

/// A step's loss: the scalar to minimise and named terms to log (scalars too).
pub struct Loss {
    pub total: Tensor,
    pub parts: Vec<(&'static str, Tensor)>,
}

/// What a model exposes to the loop.
pub trait Objective {
    /// The loss of training step `step` (the objective chooses its batch from it).
    fn loss(&mut self, step: usize) -> Loss;
}

/// What happened in [`fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Step the run started from (0, or the checkpoint's step when resumed).
    pub start_step: usize,
    /// Steps completed in total (= `config.steps` on success).
    pub steps: usize,
    /// Wall-clock seconds of this call.
    pub seconds: f64,
    /// Mean of each logged term over the last logging window.
    pub last: Vec<(String, f64)>,
}

/// How the loop reports progress.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Shown before the bar.
    pub label: String,
    /// Draw a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub visible: bool,
}

/// Trains the variables of `vs` on `objective`, resuming from the run's checkpoint
/// when there is one. The final weights are also written to `model.safetensors`.
pub fn fit(
    vs: &mut VarStore,
    objective: &mut dyn Objective,
    run: &RunDir,
    config: &TrainConfig,
    progress: &Progress,
) -> Result<TrainReport> {
    let clock = Instant::now();
    crate::device::tune_allocator();
    let mut optimizer = AdamW::with_groups(vs, config.adamw, &config.param_groups);
    let start_step = match run.has_checkpoint() {
        true => checkpoint::load(&run.checkpoint_path(), vs, &mut optimizer)?,
        false => 0,
    };
    let mut last_checkpoint = (start_step > 0).then_some(start_step);
    let mut metrics = MetricsLog::open(&run.metrics_path(), last_checkpoint)?;
    let schedule = CosineSchedule {
        peak: config.lr,
        warmup: config.warmup,
        total: config.steps,
        final_ratio: config.final_lr_ratio,
    };
    let bar = progress_bar(progress, config.steps, start_step);
    let mut window = Window::default();
    let mut last = Vec::new();
    for step in start_step..config.steps {
        tch::manual_seed(step_seed(config.seed, step));
        let loss = objective.loss(step);
        let values = finite_values(&loss, step, last_checkpoint)?;
        let lr = schedule.lr(step);
        let grad_norm = update(&mut optimizer, &loss.total, config.clip_norm, lr);
        if !grad_norm.is_finite() {
            return Err(NnError::NonFiniteLoss {
                step,
                part: "gradient norm".into(),
                value: grad_norm,
                checkpoint_step: last_checkpoint,
            });
        }
        window.add(&values, grad_norm);
        let done = step + 1;
        if done % config.log_every.max(1) == 0 || done == config.steps {
            let means = window.take();
            let mut row: Vec<(&str, f64)> = vec![("step", done as f64), ("lr", lr)];
            row.extend(means.iter().map(|(n, v)| (*n, *v)));
            row.push(("seconds", clock.elapsed().as_secs_f64()));
            metrics.log(&row)?;
            bar.set_message(format!("loss {:.4}", means[0].1));
            last = means.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        }
        if done % config.checkpoint_every.max(1) == 0 || done == config.steps {
            checkpoint::save(&run.checkpoint_path(), vs, &optimizer, done)?;
            last_checkpoint = Some(done);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    checkpoint::save_weights(&run.weights_path(), vs)?;
    Ok(TrainReport {
        start_step,
        steps: config.steps,
        seconds: clock.elapsed().as_secs_f64(),
        last,
    })
}

/// The update of one training step, as [`fit`] makes it: clears the gradients,
/// backpropagates `loss`, clips the gradients' global norm to `clip_norm` and applies
/// AdamW with learning rate `lr`. Returns the gradient norm before clipping; when it is
/// not finite, the parameters are left unchanged.
pub fn update(optimizer: &mut AdamW, loss: &Tensor, clip_norm: f64, lr: f64) -> f64 {
    optimizer.zero_grad();
    loss.backward();
    let grad_norm = optimizer.clip_grad_norm(clip_norm);
    if grad_norm.is_finite() {
        optimizer.step(lr);
    }
    grad_norm
}

/// A seed for libtorch's generator at `step`, spread so neighbouring steps differ.
fn step_seed(seed: u64, step: usize) -> i64 {
    let mut x = seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((x ^ (x >> 31)) >> 1) as i64
}

/// The loss and its terms as numbers; an error naming the first non-finite one.
fn finite_values(
    loss: &Loss,
    step: usize,
    checkpoint_step: Option<usize>,
) -> Result<Vec<(&'static str, f64)>> {
    let mut values = vec![("loss", loss.total.double_value(&[]))];
    values.extend(loss.parts.iter().map(|(n, t)| (*n, t.double_value(&[]))));
    if let Some(&(name, value)) = values.iter().find(|(_, v)| !v.is_finite()) {
        return Err(NnError::NonFiniteLoss {
            step,
            part: if name == "loss" {
                String::new()
            } else {
                name.to_string()
            },
            value,
            checkpoint_step,
        });
    }
    Ok(values)
}

/// Running sums of the logged values between two rows.
#[derive(Default)]
struct Window {
    sums: Vec<(&'static str, f64)>,
    count: usize,
}

impl Window {
    fn add(&mut self, values: &[(&'static str, f64)], grad_norm: f64) {
        if self.sums.is_empty() {
            self.sums = values.iter().map(|(n, _)| (*n, 0.0)).collect();
            self.sums.push(("grad_norm", 0.0));
        }
        let all = values.iter().map(|(_, v)| *v).chain([grad_norm]);
        for (slot, v) in self.sums.iter_mut().zip(all) {
            slot.1 += v;
        }
        self.count += 1;
    }

    fn take(&mut self) -> Vec<(&'static str, f64)> {
        let n = self.count.max(1) as f64;
        let means = self.sums.iter().map(|(name, s)| (*name, s / n)).collect();
        self.sums.clear();
        self.count = 0;
        means
    }
}

fn progress_bar(progress: &Progress, total: usize, start: usize) -> ProgressBar {
    let target = match progress.visible {
        true => ProgressDrawTarget::stderr(),
        false => ProgressDrawTarget::hidden(),
    };
    let bar = ProgressBar::with_draw_target(Some(total as u64), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} {msg} ETA {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix(progress.label.clone());
    bar.set_position(start as u64);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::exclusive_generator;
    use tch::nn::{self, Module};
    use tch::{Device, Kind};

    /// Least squares on a fixed linear problem: y = x·w* with w* = (1, -2, 3).
    struct Regression {
        layer: nn::Linear,
        x: Tensor,
        y: Tensor,
        poison_at: Option<usize>,
    }

    impl Regression {
        fn new(vs: &VarStore) -> Self {
            let x = Tensor::randn([64, 3], (Kind::Float, Device::Cpu));
            let w = Tensor::from_slice(&[1.0f32, -2.0, 3.0]).view([3, 1]);
            Self {
                layer: nn::linear(vs.root() / "fit", 3, 1, Default::default()),
                y: x.matmul(&w),
                x,
                poison_at: None,
            }
        }
    }

    impl Objective for Regression {
        fn loss(&mut self, step: usize) -> Loss {
            let mut mse = self
                .layer
                .forward(&self.x)
                .mse_loss(&self.y, tch::Reduction::Mean);
            if self.poison_at == Some(step) {
                mse *= f64::NAN;
            }
            let noise = Tensor::randn([1], (Kind::Float, Device::Cpu)).sum(Kind::Float);
            Loss {
                total: mse.shallow_clone(),
                parts: vec![("mse", mse.detach()), ("noise", noise)],
            }
        }
    }

    fn config(steps: usize) -> TrainConfig {
        TrainConfig {
            steps,
            lr: 0.1,
            warmup: 5,
            checkpoint_every: 20,
            log_every: 10,
            ..Default::default()
        }
    }

    /// Every out-of-range setting is refused with its name (a group's with its prefix)
    /// and value; the defaults and a group held for all but the last step pass.
    #[test]
    fn settings_out_of_range_are_named() {
        type Edit = fn(&mut TrainConfig);
        let group = ParamGroup {
            prefix: "prior.".into(),
            lr_scale: 10.0,
            weight_decay: 0.0,
            hold_steps: 9,
        };
        let valid = TrainConfig {
            param_groups: vec![group.clone()],
            ..config(10)
        };
        assert_eq!(valid.validate(), Ok(()));
        assert_eq!(TrainConfig::default().validate(), Ok(()));
        let edits: [(Edit, &[&str]); 11] = [
            (|c| c.steps = 0, &["steps", "0"]),
            (|c| c.lr = -1e-3, &["lr", "-0.001"]),
            (|c| c.lr = f64::NAN, &["lr", "NaN"]),
            (|c| c.clip_norm = 0.0, &["clip_norm", "0"]),
            (|c| c.final_lr_ratio = 1.5, &["final_lr_ratio", "1.5"]),
            (|c| c.adamw.beta2 = 1.0, &["adamw.beta2", "1"]),
            (|c| c.adamw.eps = 0.0, &["adamw.eps", "0"]),
            (
                |c| c.adamw.weight_decay = -1.0,
                &["adamw.weight_decay", "-1"],
            ),
            (
                |c| c.param_groups[0].lr_scale = -2.0,
                &["'prior.'", "lr_scale", "-2"],
            ),
            (
                |c| c.param_groups[0].hold_steps = 10,
                &["'prior.'", "hold_steps 10", "10 steps"],
            ),
            (|c| c.param_groups[0].prefix.clear(), &["empty prefix"]),
        ];
        for (edit, words) in edits {
            let mut bad = valid.clone();
            edit(&mut bad);
            let message = bad.validate().unwrap_err();
            assert!(words.iter().all(|w| message.contains(w)), "{message}");
        }
    }

    fn quiet() -> Progress {
        Progress {
            label: "test".into(),
            visible: false,
        }
    }

    fn train(
        run: &RunDir,
        steps: usize,
        poison_at: Option<usize>,
    ) -> (Result<TrainReport>, Tensor) {
        tch::manual_seed(1);
        let mut vs = VarStore::new(Device::Cpu);
        let mut objective = Regression::new(&vs);
        objective.poison_at = poison_at;
        let report = fit(&mut vs, &mut objective, run, &config(steps), &quiet());
        (report, objective.layer.ws.detach().copy())
    }

    #[test]
    fn learns_and_logs() {
        let _generator = exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let (report, w) = train(&run, 200, None);
        let report = report.unwrap();
        assert_eq!(report.last[0].0, "loss");
        // From about 14 (the variance of x·w*) to a small fraction of it.
        assert!(report.last[0].1 < 1e-2, "{:?}", report.last);
        assert!((w.double_value(&[0, 2]) - 3.0).abs() < 0.1);
        let csv = std::fs::read_to_string(run.metrics_path()).unwrap();
        assert!(
            csv.starts_with("step,lr,loss,mse,noise,grad_norm,seconds\n"),
            "{csv}"
        );
        assert_eq!(csv.lines().count(), 21);
        assert!(run.weights_path().is_file() && run.checkpoint_path().is_file());
    }

    /// A run interrupted after its step-40 checkpoint (here by a NaN at step 45) and
    /// resumed gives bit-identical weights (and the same noise draws: libtorch's
    /// generator is re-seeded per step).
    #[test]
    fn resume_is_exact() {
        let _generator = exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let straight = RunDir::create(dir.path().join("a")).unwrap();
        let (_, w_straight) = train(&straight, 100, None);
        let split = RunDir::create(dir.path().join("b")).unwrap();
        assert!(train(&split, 100, Some(45)).0.is_err());
        let (report, w_split) = train(&split, 100, None);
        assert_eq!(report.unwrap().start_step, 40);
        assert!(w_straight.equal(&w_split));
        let a = std::fs::read_to_string(straight.metrics_path()).unwrap();
        let b = std::fs::read_to_string(split.metrics_path()).unwrap();
        let strip = |s: &str| {
            s.lines()
                .map(|l| l.rsplit_once(',').unwrap().0.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a), strip(&b), "same rows but the clock");
    }

    #[test]
    fn nan_stops_and_keeps_the_last_good_checkpoint() {
        let _generator = exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let (report, _) = train(&run, 100, Some(47));
        let err = report.unwrap_err().to_string();
        assert!(
            err.contains("step 47") && err.contains("NaN") && err.contains("step 40"),
            "{err}"
        );
        // The checkpoint on disk is step 40's and is loadable; resuming continues.
        let (report, _) = train(&run, 60, None);
        assert_eq!(report.unwrap().start_step, 40);
    }
}
