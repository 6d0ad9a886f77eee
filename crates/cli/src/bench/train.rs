//! `causalgen bench train`: the speed of our training step, the one `nn::train::fit`
//! takes for the causal VAE (`CausalVae::loss`, reading the logged terms, then
//! `nn::train::update`: zero the gradients, backward, global-norm clipping, AdamW), on
//! one fixed random batch. `bench/train/reference.py` times the same model and step in
//! PyTorch; `bench/train/run` puts both side by side.
//!
//! FLOPs are counted analytically (`nn::layers::macs`): 2 per multiply-add of every
//! convolution, transposed convolution and linear layer of the forward pass, × 3 for
//! forward and backward.

use anyhow::Result;
use causal_vae::{DataConfig, ModelConfig, RunConfig, TrainedModel};
use clap::Args;
use nn::layers::{level_channels, macs};
use nn::optim::AdamW;
use nn::train::TrainConfig;
use serde_json::json;
use tch::{Device, Kind, Tensor};

use super::timing::{checked_update, time_steps, trainable_parameters, StepOptions};

#[derive(Args)]
pub struct TrainArgs {
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    batch: i64,
    /// Image side in pixels (4 × a power of two).
    #[arg(long, default_value_t = 64)]
    size: i64,
    /// Channels of the first convolution.
    #[arg(long, default_value_t = 32)]
    width: i64,
    #[arg(long, default_value_t = 16)]
    z_dim: i64,
    /// Hidden width of the label head and the posterior.
    #[arg(long, default_value_t = 256)]
    hidden: i64,
    #[command(flatten)]
    timing: StepOptions,
}

/// Forward-pass multiply-adds of the causal VAE for one image: the encoder, the label
/// head, the posterior and the decoder each run once in `CausalVae::loss`.
fn forward_macs(m: &ModelConfig, label_width: i64) -> i64 {
    let features = 16
        * level_channels(m.image_size, m.width)
            .last()
            .expect("a level");
    macs::encoder(m.image_size, m.width)
        + macs::mlp(&[features, m.hidden, label_width])
        + macs::mlp(&[features + label_width, m.hidden, 2 * m.z_dim])
        + macs::decoder(m.z_dim + label_width, m.image_size, m.width)
}

pub(super) fn bench_train(args: &TrainArgs) -> Result<()> {
    let (threads, device) = args.timing.prepare()?;
    anyhow::ensure!(
        args.batch >= 1 && args.timing.steps >= 1,
        "batch and steps must be at least 1"
    );
    let config = RunConfig {
        model: ModelConfig {
            image_size: args.size,
            width: args.width,
            z_dim: args.z_dim,
            hidden: args.hidden,
            // The PyTorch reference has no label-consistency term: compare like with like.
            consistency_weight: 0.0,
            ..Default::default()
        },
        train: TrainConfig::default(),
        data: DataConfig {
            scenes: args.batch as usize,
            batch: args.batch as usize,
            ..Default::default()
        },
    };
    let network = bayesnet::examples::fight_scene()?;
    let trained = TrainedModel::new(&config, network, device)?;
    let (model, train) = (&trained.model, &config.train);
    let parameters = trainable_parameters(&trained.vs);

    // A fixed batch: images uniform in [0, 1], every label present.
    tch::manual_seed(1234);
    let cpu = (Kind::Float, Device::Cpu);
    let x = Tensor::rand([args.batch, 3, args.size, args.size], cpu).to_device(device);
    let columns: Vec<Tensor> = model
        .schema()
        .cards()
        .iter()
        .map(|&card| Tensor::randint(card, [args.batch], (Kind::Int64, Device::Cpu)))
        .collect();
    let labels = Tensor::stack(&columns, 1).to_device(device);

    let mut optimizer = AdamW::new(&trained.vs, train.adamw);
    let times = time_steps(&args.timing, device, |step| {
        let terms = model.loss(&x, &labels, 1.0);
        // fit() reads every logged term as a number before the update.
        for term in [
            &terms.total,
            &terms.reconstruction,
            &terms.kl_z,
            &terms.kl_y,
            &terms.cross_entropy,
            &terms.label_accuracy,
        ] {
            let _ = term.double_value(&[]);
        }
        checked_update(
            &mut optimizer,
            &terms.total,
            train.clip_norm,
            train.lr,
            step,
        )
    })?;
    let (ms, cpu_ms) = (times.ms, times.cpu_ms);
    let flops_per_step =
        3.0 * 2.0 * (forward_macs(&config.model, model.schema().width()) * args.batch) as f64;
    let gflops = flops_per_step / (ms * 1e-3) / 1e9;
    let images_per_s = args.batch as f64 / (ms * 1e-3);
    if args.timing.json {
        let extra = json!({
            "batch": args.batch,
            "size": args.size,
            "width": args.width,
            "z_dim": args.z_dim,
            "hidden": args.hidden,
            "images_per_s": images_per_s,
            "gflop_per_step": flops_per_step / 1e9,
            "gflops": gflops,
        });
        let result = times.to_json(&args.timing, device, threads, parameters, extra);
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "causalgen train step, {device:?}, {threads} threads: batch {} of {}×{}, width {}, \
             {parameters} parameters",
            args.batch, args.size, args.size, args.width
        );
        println!(
            "{ms:.1} ms/step (median of {}), {images_per_s:.0} images/s, {:.2} GFLOP/step, \
             {gflops:.1} GFLOP/s",
            args.timing.steps,
            flops_per_step / 1e9
        );
        if let Some(cpu_ms) = cpu_ms {
            println!("{cpu_ms:.1} ms of CPU time per step (all threads, mean)");
        }
    }
    Ok(())
}
