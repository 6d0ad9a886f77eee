//! `causalgen data ...`: procedural datasets with exact ground truth, written in the
//! layouts the models (ours and CITRIS') read.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use bayesnet::examples::fight_scene;
use bayesnet::Network;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use scenes::fight::{generate, write_preview, FightOptions};
use scenes::npz::Compression;
use scenes::tris::boxes::Boxes;
use scenes::tris::causal3d::Causal3d;
use scenes::tris::dataset::{write_dataset, DatasetOptions, ProgressEvent};
use scenes::tris::pong::{PaddleIntervention, Pong};
use scenes::tris::TemporalProcess;

use crate::bn::{assignment, load};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Fight scenes: duels sampled from the fight-scene causal network, then drawn.
    Fight(FightArgs),
    /// Causal3DIdent-style rendered object with temporal interventions (CITRIS layout).
    Causal3d {
        #[command(flatten)]
        common: SequenceArgs,
        /// Object shapes, comma-separated (e.g. teapot,cube).
        #[arg(long, value_delimiter = ',', default_value = "teapot")]
        shapes: Vec<String>,
    },
    /// Interventional Pong, 32×32 (CITRIS layout).
    Pong {
        #[command(flatten)]
        common: SequenceArgs,
        /// What an intervention does to a paddle: CITRIS's push of ±1.5, or a uniform
        /// new height (a perfect intervention; writes the `pong-uniform-paddles` variant).
        #[arg(long, value_enum, default_value = "push")]
        paddle_interventions: PaddleInterventionArg,
    },
    /// Ball-in-boxes, 32×32 (CITRIS layout).
    Boxes(SequenceArgs),
}

#[derive(Args)]
pub struct FightArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Number of scenes over all splits.
    #[arg(short = 'n', long, default_value_t = 1000)]
    n: usize,
    /// Image side in pixels.
    #[arg(long, default_value_t = 64)]
    size: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Interventions do(VAR=STATE) applied before sampling.
    #[arg(long = "do", num_args = 1.., value_name = "VAR=STATE")]
    intervention: Vec<String>,
    /// Strength of the non-causal variation (jitter, scale, phase, background,
    /// lighting); 0 gives the clean 432-combination grid.
    #[arg(long, default_value_t = 1.0)]
    nuisance: f32,
    /// Train, validation and test fractions.
    #[arg(long, value_delimiter = ',', default_value = "0.8,0.1,0.1")]
    split: Vec<f32>,
    /// Also write a contact sheet of samples with their labels.
    #[arg(long)]
    preview: Option<PathBuf>,
    /// Also write one PNG per scene under OUT/png.
    #[arg(long)]
    png: bool,
    /// Causal network (.bif or .json) with the fight-scene variable names; the bundled
    /// one by default.
    #[arg(long)]
    network: Option<PathBuf>,
}

/// [`PaddleIntervention`] on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PaddleInterventionArg {
    Push,
    Uniform,
}

impl From<PaddleInterventionArg> for PaddleIntervention {
    fn from(arg: PaddleInterventionArg) -> Self {
        match arg {
            PaddleInterventionArg::Push => Self::Push,
            PaddleInterventionArg::Uniform => Self::Uniform,
        }
    }
}

#[derive(Args)]
pub struct SequenceArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Training frames; the other splits scale with it.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Deflate the .npz members (np.savez_compressed); smaller, slower.
    #[arg(long)]
    compress: bool,
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Fight(args) => fight(&args),
        DataCommand::Causal3d { common, shapes } => {
            let names: Vec<&str> = shapes.iter().map(String::as_str).collect();
            sequences(&Causal3d::new(&names)?, &common)
        }
        DataCommand::Pong {
            common,
            paddle_interventions,
        } => sequences(
            &Pong::with_paddle_interventions(paddle_interventions.into()),
            &common,
        ),
        DataCommand::Boxes(args) => sequences(&Boxes::new(), &args),
    }
}

fn fight_options(args: &FightArgs, net: &Network) -> Result<FightOptions> {
    let [train, val, test] = args.split[..] else {
        bail!(
            "--split takes three fractions (train,val,test), got {}",
            args.split.len()
        );
    };
    Ok(FightOptions {
        n: args.n,
        size: args.size,
        seed: args.seed,
        intervention: assignment(net, &args.intervention)?,
        nuisance: args.nuisance,
        split: [train, val, test],
        pngs: args.png,
    })
}

fn fight(args: &FightArgs) -> Result<()> {
    let net = match &args.network {
        Some(path) => load(path)?,
        None => fight_scene()?,
    };
    let options = fight_options(args, &net)?;
    let bar = bar(args.n as u64, "scenes");
    let summary = generate(&net, &args.out, &options, &|done| {
        bar.set_position(done as u64)
    })
    .with_context(|| format!("writing fight scenes to {}", args.out.display()))?;
    bar.finish_and_clear();
    let [train, val, test] = summary.counts;
    eprintln!(
        "wrote {} fight scenes ({train} train, {val} val, {test} test) at {}x{} to {}",
        train + val + test,
        summary.size,
        summary.size,
        args.out.display()
    );
    if let Some(path) = &args.preview {
        write_preview(path, &net, &options, 36)
            .with_context(|| format!("writing the contact sheet {}", path.display()))?;
        eprintln!("wrote the contact sheet {}", path.display());
    }
    Ok(())
}

/// The compression flag as the dataset writer wants it.
fn compression(compress: bool) -> Compression {
    match compress {
        true => Compression::Deflated,
        false => Compression::Stored,
    }
}

fn sequences(process: &dyn TemporalProcess, args: &SequenceArgs) -> Result<()> {
    let bar = bar(0, "frames");
    let progress = |event: ProgressEvent| {
        bar.set_length(event.frames_total as u64);
        bar.set_position(event.frames_done as u64);
        bar.set_message(event.file);
    };
    let options = DatasetOptions {
        compression: compression(args.compress),
        progress: Some(&progress),
        ..DatasetOptions::new(args.n, args.seed)
    };
    let summary = write_dataset(process, &args.out, &options).with_context(|| {
        format!(
            "writing the {} data set to {}",
            process.name(),
            args.out.display()
        )
    })?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} frames of {} in {} files to {}",
        summary.manifest.splits.total(),
        process.name(),
        summary.files.len(),
        args.out.display()
    );
    Ok(())
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template =
        format!("{{msg:>16}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The output folder of a benchmark run, removed afterwards.
pub fn scratch_dir(name: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("causalgen-bench-{name}-"))
        .tempdir()
        .context("creating a temporary folder for the benchmark")
}
