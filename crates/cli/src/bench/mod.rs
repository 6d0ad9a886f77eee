//! `causalgen bench`: times our implementations on the workloads shared with reference
//! implementations (`bench/*/run` put both side by side).
//!
//! - `bench bn` ([`bn`]): exact inference on bnlearn networks;
//! - `bench data` ([`data`]): the dataset generators;
//! - `bench train` ([`train`]): training steps of the causal VAE;
//! - `bench citris` ([`citris`]): CITRIS models' metrics at a CPU-sized budget;
//! - `bench citris-step` ([`citris_step`]): training steps of CITRIS-NF's flow stage.

mod bn;
mod citris;
mod citris_step;
mod data;
mod timing;
mod train;

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Exact inference on bnlearn networks: one posterior, and all marginals, with evidence.
    Bn {
        /// Query spec (see bench/bn/queries.json).
        #[arg(long, default_value = "bench/bn/queries.json")]
        spec: PathBuf,
        /// Folders searched, in order, for `<network>.bif`.
        #[arg(long = "data-dir", required = true)]
        data_dirs: Vec<PathBuf>,
        /// Timed repetitions per measurement (fewer once one measurement passes 20 s).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// Dataset generators: frames (or scenes) per second, end to end (sampling,
    /// rendering on all cores, writing the files to a temporary folder).
    Data {
        /// Training frames for causal3d and fight scenes (pong and boxes use 10 times
        /// as many: they are cheap).
        #[arg(short = 'n', long, default_value_t = 20_000)]
        n: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Training steps of the causal VAE (loss, backward, gradient clipping, AdamW) on a
    /// fixed random batch: ms/step, images/s and GFLOP/s.
    Train(train::TrainArgs),
    /// CITRIS-VAE, CITRIS-NF and the β-VAE on generated Pong and Causal3D data: training
    /// time and correlation metrics (R² / Spearman, diag / sep) as a markdown table.
    Citris(Box<citris::CitrisBenchArgs>),
    /// Training steps of CITRIS-NF's flow stage (flow, transition prior, target
    /// classifier; loss, backward, clipping, AdamW) on a fixed random batch of encodings.
    CitrisStep(citris_step::CitrisStepArgs),
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Bn {
            spec,
            data_dirs,
            repeats,
            json,
        } => bn::bench_bn(&spec, &data_dirs, repeats, json),
        BenchCommand::Data { n, seed } => data::bench_data(n, seed),
        BenchCommand::Train(args) => train::bench_train(&args),
        BenchCommand::Citris(args) => citris::bench_citris(&args),
        BenchCommand::CitrisStep(args) => citris_step::bench_citris_step(&args),
    }
}
