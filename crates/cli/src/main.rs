//! `causalgen`: one command line for causal generative modelling. Thin by design: it
//! parses arguments, calls the libraries and prints; all logic lives in the crates.

mod bench;
mod bn;
mod citris;
mod data;
mod demo;
mod report;
mod vae;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Deep causal generative modelling of images, with exact causal queries.
#[derive(Parser)]
#[command(name = "causalgen", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// End-to-end demonstration on built-in defaults.
    Demo(demo::DemoArgs),
    /// Train a model into a run directory (resumable): the fight-scene causal VAE by
    /// default, or a CITRIS-family model on temporal intervened sequences.
    Train(Box<TrainCommand>),
    /// Ask a trained run: condition (--evidence), intervene (--do), or counterfactual
    /// (--image/--index with --do); prints exact posteriors and writes an image grid.
    Query(vae::QueryArgs),
    /// Measure a trained run: requested-value accuracy and distances to the exact
    /// distributions (read by an independent classifier), true counterfactual error
    /// against rendered ground truth, reconstruction and ELBO.
    Eval(vae::EvalArgs),
    /// Discrete causal Bayesian networks: exact queries, do(), counterfactuals, MPE,
    /// sampling and learning.
    #[command(subcommand)]
    Bn(bn::BnCommand),
    /// Procedural datasets with exact ground truth.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Benchmarks against reference implementations.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// `causalgen train [--run ...]` trains the fight-scene causal VAE;
/// `causalgen train citris-vae|citris-nf|beta-vae --data DIR --run RUN` a CITRIS model.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct TrainCommand {
    #[command(subcommand)]
    model: Option<citris::CitrisModel>,
    #[command(flatten)]
    causal_vae: vae::TrainArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Train(cmd) => match &cmd.model {
            Some(model) => citris::train(model),
            None => vae::train(&cmd.causal_vae),
        },
        Command::Query(args) => vae::query(&args),
        Command::Eval(args) => vae::eval(&args),
        Command::Bn(cmd) => bn::run(cmd),
        Command::Data(cmd) => data::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
