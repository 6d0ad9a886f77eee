//! `causalgen bench citris-step`: the speed of one training step of CITRIS-NF's flow
//! stage, the one `citris::nf::train_flow` takes (`CitrisNf::flow_loss`: 8 noisy copies
//! of each encoding pair through the flow, the transition prior's NLL marginalised over
//! ψ, the target classifier's two losses on a Gumbel sample of ψ; reading the logged
//! terms; then `nn::train::update` with CITRIS' parameter groups), on one fixed random
//! batch of encodings. `bench/citris/reference.py` times the same model and step in
//! PyTorch; `bench/citris/run` puts both side by side.
//!
//! Unlike the image networks, whose time goes into a few large convolutions, this step
//! is hundreds of small operations, so it measures the framework's per-operation cost.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use citris::nets::NetConfig;
use citris::nf::{CitrisNf, NfConfig};
use citris::training::train_config;
use clap::Args;
use nn::optim::AdamW;
use serde_json::json;
use tch::{Device, Kind, Tensor};

use super::timing::{checked_update, time_steps, trainable_parameters, StepOptions};

#[derive(Args)]
pub struct CitrisStepArgs {
    /// Latent dimensions L (16 for Pong, 32 for Causal3D).
    #[arg(long, default_value_t = 16)]
    latents: i64,
    /// Causal variables K (intervention targets; 5 for Pong).
    #[arg(long, default_value_t = 5)]
    variables: usize,
    /// Encoding pairs per step.
    #[arg(long, default_value_t = 16)]
    batch: i64,
    /// Flow blocks.
    #[arg(long, default_value_t = 4)]
    blocks: usize,
    #[command(flatten)]
    timing: StepOptions,
    /// No timing: write the initial weights, the batch and one step's loss terms and
    /// gradient norm (under libtorch seed 77) into DIR, for `bench/citris/reference.py
    /// --check DIR` to recompute in PyTorch.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
}

pub(super) fn bench_citris_step(args: &CitrisStepArgs) -> Result<()> {
    let (threads, device) = args.timing.prepare()?;
    anyhow::ensure!(
        args.batch >= 2 && args.variables >= 1,
        "batch must be at least 2 and variables at least 1"
    );
    // Pong's networks; only the flow stage is trained here (the autoencoder is frozen).
    let net = NetConfig {
        image_size: 32,
        channels: 4,
        width: 32,
        latents: args.latents,
    };
    let mut config = NfConfig::for_net(&net, args.timing.steps);
    config.flow.blocks = args.blocks;
    tch::manual_seed(0);
    let model = CitrisNf::new(&net, args.variables, &config, device)?;
    let train = train_config(args.timing.steps);
    let parameters = trainable_parameters(model.flow_store());

    // A fixed batch: standard normal encodings, each target intervened on with p = ¼.
    tch::manual_seed(1234);
    let cpu = (Kind::Float, Device::Cpu);
    let e_t = Tensor::randn([args.batch, args.latents], cpu).to_device(device);
    let e_t1 = Tensor::randn([args.batch, args.latents], cpu).to_device(device);
    let targets = Tensor::rand([args.batch, args.variables as i64], cpu)
        .lt(0.25)
        .to_kind(Kind::Float)
        .to_device(device);
    // ActNorm's data initialisation, as train_flow does before its first step.
    let _ = model.flow_latents(&Tensor::cat(&[&e_t, &e_t1], 0));

    let mut optimizer = AdamW::with_groups(model.flow_store(), train.adamw, &train.param_groups);
    if let Some(dir) = &args.export {
        return export(dir, &model, &mut optimizer, [&e_t, &e_t1, &targets]);
    }
    let times = time_steps(&args.timing, device, |step| {
        let loss = model.flow_loss(&e_t, &e_t1, &targets);
        // fit() reads every logged term as a number before the update.
        let _ = loss.total.double_value(&[]);
        for (_, part) in &loss.parts {
            let _ = part.double_value(&[]);
        }
        checked_update(&mut optimizer, &loss.total, train.clip_norm, train.lr, step)
    })?;

    let pairs_per_s = args.batch as f64 / (times.ms * 1e-3);
    if args.timing.json {
        let extra = json!({
            "latents": args.latents,
            "variables": args.variables,
            "batch": args.batch,
            "samples": config.samples,
            "blocks": args.blocks,
            "hidden_per_dim": config.flow.hidden_per_dim,
            "prior_hidden": config.prior.hidden,
            "classifier_hidden": config.classifier_hidden,
            "pairs_per_s": pairs_per_s,
        });
        let result = times.to_json(&args.timing, device, threads, parameters, extra);
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "causalgen CITRIS-NF flow step, {device:?}, {threads} threads: {} latents, {} \
             variables, batch {} × {} samples, {} blocks, {parameters} parameters",
            args.latents, args.variables, args.batch, config.samples, args.blocks
        );
        println!(
            "{:.2} ms/step (median of {}), {pairs_per_s:.0} encoding pairs/s",
            times.ms, args.timing.steps
        );
        if let Some(cpu_ms) = times.cpu_ms {
            println!("{cpu_ms:.2} ms of CPU time per step (all threads, mean)");
        }
    }
    Ok(())
}

/// The libtorch seed before the exported step (the reference re-seeds with it, so the
/// noise on the encodings and the Gumbel sample of ψ are the same draws).
const EXPORT_SEED: i64 = 77;

/// Writes `weights.safetensors` (the flow stage's variables, after ActNorm's data
/// initialisation), `batch.safetensors` (e_t, e_t1, targets) and `terms.json` (the loss
/// terms of one step under [`EXPORT_SEED`] and the gradient norm before clipping).
fn export(
    dir: &Path,
    model: &CitrisNf,
    optimizer: &mut AdamW,
    [e_t, e_t1, targets]: [&Tensor; 3],
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    nn::checkpoint::save_weights(&dir.join("weights.safetensors"), model.flow_store())?;
    let batch = [("e_t", e_t), ("e_t1", e_t1), ("targets", targets)];
    let path = dir.join("batch.safetensors");
    Tensor::write_safetensors(&batch, &path)
        .with_context(|| format!("writing {}", path.display()))?;
    tch::manual_seed(EXPORT_SEED);
    let loss = model.flow_loss(e_t, e_t1, targets);
    let mut terms = serde_json::Map::new();
    terms.insert("total".into(), loss.total.double_value(&[]).into());
    for (name, part) in &loss.parts {
        terms.insert((*name).into(), part.double_value(&[]).into());
    }
    optimizer.zero_grad();
    loss.total.backward();
    terms.insert(
        "grad_norm".into(),
        optimizer.clip_grad_norm(f64::INFINITY).into(),
    );
    let path = dir.join("terms.json");
    std::fs::write(&path, serde_json::to_string_pretty(&terms)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
