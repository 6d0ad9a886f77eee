//! `causalgen bench citris`: how far each CITRIS-family model gets on each data set in a
//! CPU-sized budget: wall-clock to train, then the correlation metrics (R², Spearman;
//! diag and sep) of `causalgen eval`, as a markdown table.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use citris::data::TrisData;
use citris::eval::evaluate::{evaluate, EvalOptions};
use citris::oracle::train_and_score;
use citris::training::{train, ModelKind, RunConfig};
use clap::{Args, ValueEnum};
use nn::run_dir::RunDir;
use nn::train::Progress;
use scenes::tris::boxes::Boxes;
use scenes::tris::causal3d::Causal3d;
use scenes::tris::dataset::{write_dataset, DatasetOptions};
use scenes::tris::pong::{PaddleIntervention, Pong};
use scenes::tris::TemporalProcess;

use crate::vae::ComputeArgs;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Dataset {
    Pong,
    /// Pong with perfect paddle interventions (`causalgen data pong --paddle-interventions
    /// uniform`).
    PongUniformPaddles,
    Causal3d,
    Boxes,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Model {
    CitrisVae,
    CitrisNf,
    BetaVae,
    /// CITRIS-NF's flow stage on rotated ground truth instead of an autoencoder's
    /// encodings (`citris::oracle`): what identification reaches with a perfect encoder.
    CitrisNfOracle,
}

#[derive(Args)]
pub struct CitrisBenchArgs {
    /// Data sets to generate and learn.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["pong", "causal3d"])]
    datasets: Vec<Dataset>,
    /// Models to train on each.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["citris-vae", "citris-nf", "beta-vae"])]
    models: Vec<Model>,
    /// Training frames generated per data set.
    #[arg(short = 'n', long, default_value_t = 20_000)]
    frames: usize,
    /// Optimisation steps per model (CITRIS-NF: per stage).
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Frame pairs per step (CITRIS-NF: of the flow stage; its autoencoder keeps 16).
    #[arg(long, default_value_t = citris::training::DEFAULT_BATCH)]
    batch: usize,
    /// KL / NLL weight (β_t1).
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// CITRIS-VAE with the reference's flow prior (see `train citris-vae --flow-prior`).
    #[arg(long)]
    flow_prior: bool,
    /// Training steps of the correlation probe.
    #[arg(long, default_value_t = 2000)]
    probe_steps: usize,
    /// Training steps of the causal encoder that judges triplet images.
    #[arg(long, default_value_t = 2000)]
    encoder_steps: usize,
    /// Keep data sets and runs here [default: a temporary folder].
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    compute: ComputeArgs,
}

/// Generates each data set, trains each model on it, evaluates, prints the table.
pub(super) fn bench_citris(args: &CitrisBenchArgs) -> Result<()> {
    let device = args.compute.setup()?;
    let scratch = tempfile::tempdir()?;
    let root = args
        .out
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let mut rows = Vec::new();
    for &dataset in &args.datasets {
        let process: Box<dyn TemporalProcess> = match dataset {
            Dataset::Pong => Box::new(Pong::new()),
            Dataset::PongUniformPaddles => {
                Box::new(Pong::with_paddle_interventions(PaddleIntervention::Uniform))
            }
            Dataset::Boxes => Box::new(Boxes::new()),
            Dataset::Causal3d => Box::new(Causal3d::new(&["teapot"])?),
        };
        let folder = root.join(process.name());
        if !folder.join(citris::data::MANIFEST_FILE).is_file() {
            eprintln!("generating {} ({} frames)", process.name(), args.frames);
            write_dataset(
                process.as_ref(),
                &folder,
                &DatasetOptions::new(args.frames, args.seed),
            )?;
        }
        let data = TrisData::open(&folder)?;
        for &model in &args.models {
            let kind = match model {
                Model::CitrisVae => ModelKind::CitrisVae,
                Model::CitrisNf | Model::CitrisNfOracle => ModelKind::CitrisNf,
                Model::BetaVae => ModelKind::BetaVae,
            };
            let oracle = matches!(model, Model::CitrisNfOracle);
            let flow_prior = kind == ModelKind::CitrisVae && args.flow_prior;
            let label = match (flow_prior, oracle) {
                (true, _) => format!("{} (flow prior)", kind.name()),
                (_, true) => format!("{} (oracle encoder)", kind.name()),
                _ => kind.name().to_string(),
            };
            let mut config = RunConfig::for_data(kind, &data, args.steps)?;
            config.data.batch = args.batch;
            config.data.seed = args.seed;
            config.train.seed = args.seed;
            match &mut config.model {
                citris::training::ModelConfig::Vae(vae) => {
                    vae.beta_t1 = args.beta;
                    if flow_prior {
                        vae.flow_prior = Some(citris::flow::FlowConfig::default());
                    }
                }
                citris::training::ModelConfig::Nf(nf) => nf.beta_t1 = args.beta,
            }
            let run_name = match oracle {
                true => format!("{}-{}-oracle", process.name(), kind.name()),
                false => format!("{}-{}", process.name(), kind.name()),
            };
            let run = RunDir::create(root.join(run_name))?;
            let progress = Progress {
                label: format!("{} {label}", process.name()),
                visible: true,
            };
            let mut options = EvalOptions::new(device);
            options.correlation.steps = args.probe_steps;
            options.causal_encoder.steps = args.encoder_steps;
            let clock = Instant::now();
            let (seconds, correlation, triplets) = if oracle {
                let report = train_and_score(
                    &run,
                    &config,
                    &data,
                    &options.split,
                    &options.correlation,
                    &progress,
                )
                .with_context(|| format!("training {}", run.root().display()))?;
                let seconds = clock.elapsed().as_secs_f64();
                eprintln!("ψ: {}", report.assignment.join(", "));
                (seconds, report.correlation, None)
            } else {
                let (trained, _) = train(&run, &config, device, &progress)
                    .with_context(|| format!("training {}", run.root().display()))?;
                let seconds = clock.elapsed().as_secs_f64();
                let report = evaluate(&run, &trained, &data, &options)?;
                let triplets = report.triplets.as_ref().and_then(|t| {
                    let (d, f) = (t.distance.as_ref()?, t.floor.as_ref()?);
                    Some(format!("{:.3} ({:.3})", d.total, f.total))
                });
                (seconds, report.correlation, triplets)
            };
            let c = &correlation;
            let all_latents = c.r2_all_latents.iter().sum::<f64>() / c.r2_all_latents.len() as f64;
            let row = format!(
                "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
                process.name(),
                label,
                args.steps,
                seconds,
                c.r2_diag,
                c.r2_sep,
                c.spearman_diag,
                c.spearman_sep,
                all_latents,
                triplets.unwrap_or_else(|| "–".into())
            );
            eprintln!("{row}");
            rows.push(row);
        }
    }
    println!(
        "| data | model | steps | train s | R² diag | R² sep | Spearman diag | Spearman sep | \
         R² from all latents (mean) | triplet distance (causal-encoder floor) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!(
        "({} threads, batch {}, {} training frames; runs in {})",
        nn::device::thread_count(args.compute.threads),
        args.batch,
        args.frames,
        root.display()
    );
    Ok(())
}
