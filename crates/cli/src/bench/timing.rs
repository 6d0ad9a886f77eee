//! Timing of training steps, shared by the step benchmarks (`bench train`,
//! `bench citris-step`): untimed warm-up steps, then the median wall time of the timed
//! ones and the process's CPU time per step, as the PyTorch references measure theirs.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use nn::optim::AdamW;
use serde_json::{json, Value};
use tch::{Device, Tensor};

/// The options every step benchmark takes.
#[derive(Args)]
pub struct StepOptions {
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 5)]
    pub warmup_steps: usize,
    /// libtorch intra-op threads (default: CAUSALGEN_THREADS, else all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What [`time_steps`] measured.
pub(super) struct StepTimes {
    /// Median wall time of the timed steps, in milliseconds.
    pub ms: f64,
    /// Wall time of every timed step, in milliseconds.
    pub all_ms: Vec<f64>,
    /// CPU time of all the process's threads per timed step (mean), when readable.
    pub cpu_ms: Option<f64>,
}

impl StepOptions {
    /// Sets libtorch's threads (returned) and glibc's allocator as `nn::train::fit`
    /// does, and parses the device: the process state a training step runs in.
    pub(super) fn prepare(&self) -> Result<(usize, Device)> {
        let threads = nn::device::set_threads(self.threads);
        nn::device::tune_allocator();
        Ok((threads, nn::device::parse_device(&self.device)?))
    }
}

impl StepTimes {
    /// The JSON object a step benchmark prints: the fields every one reports (the
    /// references print the same), followed by the benchmark's own `extra` object.
    pub(super) fn to_json(
        &self,
        options: &StepOptions,
        device: Device,
        threads: usize,
        parameters: i64,
        extra: Value,
    ) -> Value {
        let mut result = json!({
            "engine": "causalgen",
            "device": format!("{device:?}"),
            "threads": threads,
            "parameters": parameters,
            "steps": options.steps,
            "warmup_steps": options.warmup_steps,
            "ms_per_step": self.ms,
            "ms_per_step_all": self.all_ms,
            "cpu_ms_per_step": self.cpu_ms,
        });
        if let (Value::Object(all), Value::Object(extra)) = (&mut result, extra) {
            all.extend(extra);
        }
        result
    }
}

/// The update of a training step as `nn::train::fit` makes it (gradients, clipping,
/// AdamW), failing like `fit` when the gradient norm is not finite.
pub(super) fn checked_update(
    optimizer: &mut AdamW,
    loss: &Tensor,
    clip_norm: f64,
    lr: f64,
    step: usize,
) -> Result<()> {
    let norm = nn::train::update(optimizer, loss, clip_norm, lr);
    anyhow::ensure!(
        norm.is_finite(),
        "the gradient norm is {norm} at step {step}"
    );
    Ok(())
}

/// Runs `step(i)` for `options.warmup_steps + options.steps` steps, timing the last
/// `options.steps` (waiting for `device` to finish each one). libtorch's generator is
/// seeded with `i` before step `i`, as `nn::train::fit` seeds every step.
pub(super) fn time_steps(
    options: &StepOptions,
    device: Device,
    mut step: impl FnMut(usize) -> Result<()>,
) -> Result<StepTimes> {
    let (warmup, steps) = (options.warmup_steps, options.steps);
    anyhow::ensure!(steps >= 1, "steps must be at least 1");
    let mut all_ms = Vec::with_capacity(steps);
    let mut cpu_start = None;
    for i in 0..warmup + steps {
        if i == warmup {
            cpu_start = process_cpu_seconds();
        }
        let start = Instant::now();
        tch::manual_seed(i as i64);
        step(i)?;
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
        if i >= warmup {
            all_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let cpu_ms = cpu_start
        .zip(process_cpu_seconds())
        .map(|(a, b)| (b - a) * 1e3 / steps as f64);
    Ok(StepTimes {
        ms: median(&all_ms),
        all_ms,
        cpu_ms,
    })
}

/// Number of trainable values of `vs`: the check that a reference has the same model.
pub(super) fn trainable_parameters(vs: &tch::nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}

/// CPU time used so far by this process's threads (all of them), in seconds, from
/// `/proc/self/task/*/schedstat` (nanoseconds on a CPU; Linux only). Wall time suffers
/// from other processes on a shared machine; CPU time much less so.
fn process_cpu_seconds() -> Option<f64> {
    let mut total_ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total_ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total_ns as f64 * 1e-9)
}

/// The median (the mean of the middle two for an even count, as Python's
/// `statistics.median`).
pub(super) fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n % 2 {
        1 => v[n / 2],
        _ => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn times_only_the_steps_after_warm_up() {
        let mut seen = Vec::new();
        let options = StepOptions {
            steps: 3,
            warmup_steps: 2,
            threads: Some(1),
            device: "cpu".into(),
            json: false,
        };
        let times = time_steps(&options, Device::Cpu, |i| {
            seen.push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert_eq!(times.all_ms.len(), 3);
        assert!(times.ms >= 0.0);
    }
}
