//! `causalgen train citris-vae|citris-nf|beta-vae`: causal representation learning from
//! temporal intervened sequences, and the CITRIS side of `eval` and `query`.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use citris::data::TrisData;
use citris::eval::evaluate::{evaluate, EvalOptions};
use citris::eval::latent_views::{
    intervene, latent_response, reconstruct, write_intervention_grid, LatentIntervention, Slider,
};
use citris::flow::FlowConfig;
use citris::prior::InterventionModel;
use citris::representation::encode_frames;
use citris::training::{ModelConfig, ModelKind, NfSource, NfStage, RunConfig, TrainedRun};
use clap::{Args, Subcommand};
use nn::run_dir::RunDir;
use nn::train::Progress;
use tch::{Device, Kind, Tensor};

use crate::vae::{ComputeArgs, EvalArgs, QueryArgs};

/// The CITRIS-family models `causalgen train` knows besides the fight-scene causal VAE.
#[derive(Subcommand)]
pub enum CitrisModel {
    /// CITRIS-VAE: a VAE whose latents follow a transition prior conditioned on the
    /// intervention targets, with a learned assignment of latents to causal variables.
    CitrisVae(CitrisTrainArgs),
    /// CITRIS-NF: an autoencoder, then a normalizing flow on its latents trained with
    /// the transition prior (both stages in one run directory).
    CitrisNf(CitrisTrainArgs),
    /// β-VAE on single frames: the baseline without a causal prior.
    BetaVae(CitrisTrainArgs),
}

#[derive(Args)]
pub struct CitrisTrainArgs {
    /// A data set from `causalgen data causal3d|pong|boxes` (its train split is used);
    /// with --resume the run's own (config.toml `[data] folder`), which --data may only
    /// repeat.
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// Run directory (config.toml, checkpoints, metrics.csv).
    #[arg(long)]
    run: PathBuf,
    /// Continue the run in --run from its last checkpoint, with its own config.toml: the
    /// options that set up a run cannot be given with it (to train longer, raise `steps`
    /// there).
    #[arg(long)]
    resume: bool,
    /// Optimisation steps (for CITRIS-NF: of each stage).
    #[arg(long, conflicts_with = "resume", default_value_t = 5000)]
    steps: usize,
    /// Frame pairs per step (CITRIS-NF: of the flow stage; --autoencoder-batch sets the
    /// autoencoder's).
    #[arg(long, conflicts_with = "resume", default_value_t = citris::training::DEFAULT_BATCH)]
    batch: usize,
    /// Latent dimensions [default: 32 for 64 × 64 frames, 16 for smaller ones].
    #[arg(long, conflicts_with = "resume")]
    latents: Option<i64>,
    /// Channels of the first convolution.
    #[arg(long, conflicts_with = "resume", default_value_t = 32)]
    width: i64,
    /// Peak learning rate [default: 1e-3].
    #[arg(long, conflicts_with = "resume", value_parser = learning_rate)]
    lr: Option<f64>,
    /// Weight of the KL term (CITRIS-VAE's β_t1; the β of the β-VAE; CITRIS-NF's NLL).
    #[arg(long, conflicts_with = "resume", default_value_t = 1.0)]
    beta: f64,
    /// Steps of KL warm-up (VAEs).
    #[arg(long, conflicts_with = "resume", default_value_t = 0)]
    kl_warmup: usize,
    /// λ: pushes latents that explain no variable to ψ₀ (0 turns it off).
    #[arg(long, conflicts_with = "resume", default_value_t = 0.0)]
    lambda: f64,
    /// CITRIS-VAE: a normalizing flow between the encoder's latents and the prior's
    /// (the reference's flow prior) instead of the closed-form KL.
    #[arg(long, conflicts_with = "resume")]
    flow_prior: bool,
    /// CITRIS models: interventions may depend on the past (Pong's paddles step up or
    /// down from where they were), so the prior conditions intervened latents on z^t
    /// instead of drawing them from one learned Gaussian.
    #[arg(long, conflicts_with = "resume")]
    imperfect_interventions: bool,
    /// CITRIS models: ψ starts with this logit margin on a balanced assignment (latent l
    /// on variable l mod K; with --lambda > 0 on group l mod (K + 1), "no variable"
    /// included) instead of uniform (0, the reference's), so that no variable starts
    /// without latents; ψ learns on from there, at --assignment-lr-scale.
    #[arg(
        long,
        conflicts_with = "resume",
        default_value_t = 0.0,
        value_name = "MARGIN"
    )]
    assignment_init_margin: f64,
    /// CITRIS models: ψ's learning rate as a multiple of the model's [default: 10] (1
    /// lets --assignment-init-margin's start hold for longer; 0 keeps it fixed, a known
    /// assignment, to test whether the rest of the model can use one).
    #[arg(long, conflicts_with = "resume", value_name = "SCALE")]
    assignment_lr_scale: Option<f64>,
    /// CITRIS models: ψ stays at its start for this many steps, then learns: the flow
    /// (or encoder) separates the variables first under a fixed grouping — with
    /// --assignment-init-margin, a balanced one — and ψ then adjusts it.
    #[arg(long, conflicts_with = "resume", value_name = "STEPS")]
    assignment_hold_steps: Option<usize>,
    /// CITRIS-NF: optimisation steps of the autoencoder stage [default: --steps].
    #[arg(long, conflicts_with = "resume", value_name = "STEPS")]
    autoencoder_steps: Option<usize>,
    /// CITRIS-NF: frames per step of the autoencoder stage [default: 16; small batches,
    /// many steps, let small objects like Pong's ball appear].
    #[arg(long, conflicts_with = "resume", value_name = "BATCH")]
    autoencoder_batch: Option<usize>,
    /// CITRIS-NF: peak learning rate of the autoencoder stage [default: 5e-4, the
    /// reference's; Pong's 1.2-pixel ball appears sooner at 1e-3].
    #[arg(long, conflicts_with = "resume", value_name = "LR", value_parser = learning_rate)]
    autoencoder_lr: Option<f64>,
    /// CITRIS-NF, and CITRIS-VAE with --flow-prior: blocks of the normalizing flow
    /// [default: 4, the reference's]; deeper flows unfold an autoencoder's code faster.
    #[arg(long, conflicts_with = "resume", value_name = "BLOCKS")]
    flow_blocks: Option<usize>,
    /// Start from the weights of another run instead of a random initialisation: its
    /// `model.safetensors` (or that file's directory), e.g. `RUN/autoencoder` of a
    /// CITRIS-NF run to start a CITRIS-VAE with the scene's objects already drawn, or
    /// that CITRIS-NF run itself to start a CITRIS-VAE as the whole trained model (its
    /// autoencoder, its flow as the flow prior, its prior, ψ and classifier; the VAE
    /// takes that run's latents, flow and widths). Variables whose name and shape match
    /// are copied, an autoencoder's output layer becomes the posterior's mean (with σ
    /// starting at the noise that autoencoder trained with, from its run's
    /// config.toml), and the others are listed.
    #[arg(long, conflicts_with = "resume", value_name = "FILE|DIR")]
    init_from: Option<PathBuf>,
    #[arg(long, conflicts_with = "resume", default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    compute: ComputeArgs,
}

impl CitrisTrainArgs {
    fn config(&self, kind: ModelKind, data: &TrisData) -> Result<RunConfig> {
        let interventions = if self.imperfect_interventions {
            InterventionModel::Imperfect
        } else {
            InterventionModel::Perfect
        };
        let mut config = RunConfig::for_data(kind, data, self.steps)?;
        config.net.width = self.width;
        if let Some(latents) = self.latents {
            config.net.latents = latents;
        }
        config.init_from = self.init_from.as_deref().map(weight_file).transpose()?;
        // A CITRIS-NF run's flow stage brings its flow: the VAE has a flow prior then.
        let flow_source = match &config.init_from {
            Some(weights) => NfSource::of(weights)
                .with_context(|| format!("--init-from: reading the run of {}", weights.display()))?
                .filter(|source| source.stage == NfStage::Flow),
            None => None,
        };
        let flow_prior = self.flow_prior || flow_source.is_some();
        config.data.batch = self.batch;
        config.data.seed = self.seed;
        config.train.seed = self.seed;
        if let Some(lr) = self.lr {
            config.train.lr = lr;
        }
        if let Some(scale) = self.assignment_lr_scale {
            ensure!(
                kind != ModelKind::BetaVae,
                "--assignment-lr-scale sets the learning rate of CITRIS' assignment ψ; the \
                 β-VAE has none (its latents are assigned by R² after training)"
            );
            config.set_assignment_lr_scale(scale)?;
        }
        if let Some(steps) = self.assignment_hold_steps {
            ensure!(
                kind != ModelKind::BetaVae,
                "--assignment-hold-steps holds CITRIS' assignment ψ; the β-VAE has none (its \
                 latents are assigned by R² after training)"
            );
            config.hold_assignment(steps)?;
        }
        let flow = FlowConfig {
            blocks: self.flow_blocks.unwrap_or(FlowConfig::default().blocks),
            ..FlowConfig::default()
        };
        match &mut config.model {
            ModelConfig::Vae(_)
                if self.autoencoder_steps.is_some()
                    || self.autoencoder_lr.is_some()
                    || self.autoencoder_batch.is_some() =>
            {
                bail!(
                    "--autoencoder-steps, --autoencoder-lr and --autoencoder-batch set \
                     CITRIS-NF's autoencoder stage; {} has none",
                    kind.name()
                )
            }
            ModelConfig::Vae(_) if self.flow_blocks.is_some() && !flow_prior => {
                bail!(
                    "--flow-blocks sets the normalizing flow of CITRIS-NF or of CITRIS-VAE's \
                     --flow-prior; this {} run has no flow",
                    kind.name()
                )
            }
            ModelConfig::Vae(vae) => {
                vae.beta_t1 = self.beta;
                vae.kl_warmup = self.kl_warmup;
                vae.prior.lambda_reg = self.lambda;
                vae.prior.interventions = interventions;
                vae.prior.assignment_init_margin = self.assignment_init_margin;
                vae.flow_prior = flow_prior.then_some(flow);
            }
            ModelConfig::Nf(_) if self.flow_prior => {
                bail!("--flow-prior is an option of citris-vae; CITRIS-NF always has its flow")
            }
            ModelConfig::Nf(nf) => {
                nf.autoencoder.net = config.net.clone();
                if let Some(steps) = self.autoencoder_steps {
                    nf.autoencoder_train = citris::nf::NfConfig::autoencoder_train(steps);
                }
                if let Some(lr) = self.autoencoder_lr {
                    nf.autoencoder_train.lr = lr;
                }
                if self.autoencoder_batch.is_some() {
                    nf.autoencoder_batch = self.autoencoder_batch;
                }
                nf.autoencoder_train.seed = self.seed;
                nf.flow = flow;
                nf.beta_t1 = self.beta;
                nf.prior.lambda_reg = self.lambda;
                nf.prior.interventions = interventions;
                nf.prior.assignment_init_margin = self.assignment_init_margin;
            }
        }
        if let Some(source) = flow_source {
            self.take_architecture_of(&mut config, &source)?;
        }
        Ok(config)
    }

    /// Starting from the flow stage of CITRIS-NF run `source`, `config` takes that run's
    /// shape (see [`RunConfig::take_architecture`]); a flag that says otherwise is a
    /// contradiction.
    fn take_architecture_of(&self, config: &mut RunConfig, source: &NfSource) -> Result<()> {
        let (net, flow) = (&source.config.autoencoder.net, &source.config.flow);
        let contradictions = [
            ("--latents", self.latents, net.latents),
            (
                "--flow-blocks",
                self.flow_blocks.map(|b| b as i64),
                flow.blocks as i64,
            ),
        ];
        for (flag, given, source_value) in contradictions {
            if let Some(given) = given.filter(|&given| given != source_value) {
                bail!(
                    "--init-from {} starts from a CITRIS-NF run with {flag} {source_value}; \
                     {flag} {given} contradicts it (leave it out)",
                    source.root.display()
                );
            }
        }
        config.take_architecture(&source.config)?;
        eprintln!(
            "{}: takes the shape of the CITRIS-NF run {}: {} latents, width {}, a \
             {}-block flow prior, prior and classifier widths {} and {}",
            config.kind().name(),
            source.root.display(),
            net.latents,
            net.width,
            flow.blocks,
            source.config.prior.hidden,
            source.config.classifier_hidden
        );
        Ok(())
    }
}

/// A learning rate from the command line: a finite number above 0.
fn learning_rate(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(lr) if lr.is_finite() && lr > 0.0 => Ok(lr),
        Ok(lr) => Err(format!(
            "a learning rate must be a finite number > 0 (got {lr})"
        )),
        Err(err) => Err(format!("not a number: {err}")),
    }
}

/// The weight file `--init-from` names: the path itself, or a run directory's
/// `model.safetensors`.
fn weight_file(path: &Path) -> Result<PathBuf> {
    let file = match path.is_dir() {
        true => path.join("model.safetensors"),
        false => path.to_path_buf(),
    };
    ensure!(
        file.is_file(),
        "--init-from: {} does not exist (give a model.safetensors or the run directory holding one)",
        file.display()
    );
    Ok(file)
}

/// `causalgen train <citris model>`.
pub fn train(model: &CitrisModel) -> Result<()> {
    let (kind, args) = match model {
        CitrisModel::CitrisVae(args) => (ModelKind::CitrisVae, args),
        CitrisModel::CitrisNf(args) => (ModelKind::CitrisNf, args),
        CitrisModel::BetaVae(args) => (ModelKind::BetaVae, args),
    };
    let device = args.compute.setup()?;
    let run = RunDir::create(&args.run)?;
    let config = if args.resume {
        let config: RunConfig = RunDir::open(&args.run)?.read_config()?;
        if let Some(data) = &args.data {
            ensure_same_folder(data, &config.data.folder, &args.run)?;
        }
        config
    } else {
        if run.config_path().is_file() {
            bail!(
                "{} already holds a run; pass --resume to continue it, or choose a new --run",
                args.run.display()
            );
        }
        let folder = args
            .data
            .as_ref()
            .context("--data is required without --resume")?;
        args.config(kind, &TrisData::open(folder)?)?
    };
    if config.kind() != kind {
        bail!(
            "{} holds a {} run, not {}",
            args.run.display(),
            config.kind().name(),
            kind.name()
        );
    }
    let progress = Progress {
        label: kind.name().into(),
        visible: true,
    };
    let (trained, report) = citris::training::train(&run, &config, device, &progress)
        .with_context(|| format!("training {}", run.root().display()))?;
    crate::vae::print_trained(&format!("{} ", kind.name()), &report);
    if let Some(assignment) = trained.representation().assignment() {
        let data = TrisData::open(&config.data.folder)?;
        let variables = variable_names(&config, &data);
        eprintln!("{}", describe_assignment(&assignment, &variables));
    }
    eprintln!(
        "next: causalgen eval {} --data {}",
        run.root().display(),
        config.data.folder.display()
    );
    Ok(())
}

/// A resumed run keeps the data it started on: `--data` naming another folder is an
/// error (not silently ignored), which says how to move a run's data on purpose.
fn ensure_same_folder(data: &Path, trained_on: &Path, run: &Path) -> Result<()> {
    ensure!(
        nn::run_dir::same_path(data, trained_on),
        "--data {} differs from the data {} was trained on ({}); leave --data out to resume \
         on that, or edit `folder` under [data] in {} if the data set has moved",
        data.display(),
        run.display(),
        trained_on.display(),
        run.join("config.toml").display()
    );
    Ok(())
}

/// The names of the causal variables a run learns (its target columns of `data`), in
/// ψ's group order.
fn variable_names(config: &RunConfig, data: &TrisData) -> Vec<String> {
    config
        .targets
        .variables(data.variables())
        .into_iter()
        .map(|v| v.name)
        .collect()
}

/// One line on how ψ groups the latents, e.g. "ψ (latents per variable): ball_x 3,
/// ball_y 2, none 1; no latent for paddle_y" — an empty variable is the first sign of a collapsed assignment, so it
/// is named right after training.
fn describe_assignment(assignment: &[usize], variables: &[String]) -> String {
    let count = |group: usize| assignment.iter().filter(|&&g| g == group).count();
    let mut groups: Vec<String> = variables
        .iter()
        .enumerate()
        .filter(|&(k, _)| count(k) > 0)
        .map(|(k, name)| format!("{name} {}", count(k)))
        .collect();
    if count(variables.len()) > 0 {
        groups.push(format!("none {}", count(variables.len())));
    }
    let empty: Vec<&str> = variables
        .iter()
        .enumerate()
        .filter(|&(k, _)| count(k) == 0)
        .map(|(_, name)| name.as_str())
        .collect();
    let mut line = format!("ψ (latents per variable): {}", groups.join(", "));
    if !empty.is_empty() {
        line.push_str(&format!("; no latent for {}", empty.join(", ")));
    }
    line
}

/// Whether `run` holds a CITRIS-family run (its config names intervention targets).
pub fn is_citris_run(run: &Path) -> bool {
    std::fs::read_to_string(run.join("config.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| table.contains_key("targets"))
}

/// Loads a CITRIS-family run.
pub fn load_run(run: &Path, compute: &ComputeArgs) -> Result<(RunDir, TrainedRun)> {
    let device = compute.setup()?;
    let run = RunDir::open(run)?;
    let trained = TrainedRun::load(&run, device)
        .with_context(|| format!("loading {}", run.root().display()))?;
    Ok((run, trained))
}

/// `causalgen eval RUN` for a CITRIS-family run.
pub fn eval(args: &EvalArgs) -> Result<()> {
    let (run, trained) = load_run(&args.run, &args.compute)?;
    let folder = args.data.as_ref().unwrap_or(&trained.config.data.folder);
    let data = TrisData::open(folder)?;
    let mut options = EvalOptions::new(trained.representation().device());
    options.correlation.steps = args.probe_steps;
    options.correlation.seed = args.seed;
    options.causal_encoder.steps = args.encoder_steps;
    options.causal_encoder.seed = args.seed;
    let report = evaluate(&run, &trained, &data, &options)
        .with_context(|| format!("evaluating {}", run.root().display()))?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&report)?),
        false => println!("{}", report.summary()),
    }
    eprintln!(
        "wrote {} (and the matrices as CSV and PNG beside it)",
        run.root().join("eval/citris.json").display()
    );
    Ok(())
}

/// `causalgen query RUN` for a CITRIS-family run: latent interventions on an image, or
/// the latent-response view of a slider file.
pub fn query(args: &QueryArgs) -> Result<()> {
    let (run, trained) = load_run(&args.run, &args.compute)?;
    let data = TrisData::open(&trained.config.data.folder)?;
    let variables = variable_names(&trained.config, &data);
    let model = trained.representation();
    let assignment = model.assignment().with_context(|| {
        format!(
            "{} is a {} run: it learns no assignment of latents to variables",
            run.root().display(),
            trained.config.kind().name()
        )
    })?;
    let channels = trained.config.net.channels;
    if let Some(path) = &args.slider {
        let slider = Slider::read(path, channels)?;
        let response = latent_response(model, &slider, &assignment, &variables, None)?;
        let csv = run.file("queries/latent_response.csv")?;
        response.write_csv(&csv)?;
        let png = args
            .out
            .clone()
            .map_or_else(|| run.file("queries/latent_response.png"), Ok)?;
        response.write_png(&png)?;
        println!("{}", serde_json::to_string_pretty(&response)?);
        eprintln!("wrote {} and {}", csv.display(), png.display());
        return Ok(());
    }
    let name = args.intervene.as_ref().with_context(|| {
        format!(
            "pass --intervene VAR (one of: {}) or --slider FILE",
            variables.join(", ")
        )
    })?;
    let variable = variables.iter().position(|v| v == name).with_context(|| {
        format!(
            "unknown variable `{name}`; this run's variables: {}",
            variables.join(", ")
        )
    })?;
    ensure!(args.samples >= 1, "-n must be at least 1");
    let indep = data.independent("test_indep")?;
    let image = match (&args.image, args.index) {
        (Some(path), _) => {
            let x = crate::vae::read_image(path, trained.config.net.image_size)?;
            (x * 255.0).round().to_kind(Kind::Uint8).unsqueeze(0)
        }
        (None, index) => {
            let index = index.unwrap_or(0) as i64;
            let n = indep.frames.size()[0];
            ensure!(
                index < n,
                "--index {index} is past the {n} frames of test_indep"
            );
            indep.frames.narrow(0, index, 1)
        }
    };
    let pool = encode_frames(
        model,
        &indep.frames.narrow(0, 0, indep.frames.size()[0].min(1000)),
        256,
    );
    let how = match args.traverse {
        true => LatentIntervention::Traversal {
            steps: args.samples,
            range: 2.0,
            pool,
        },
        false => {
            let n = pool.size()[0];
            tch::manual_seed(args.seed as i64);
            let rows = Tensor::randint(n, [args.samples as i64], (Kind::Int64, Device::Cpu));
            LatentIntervention::Draws {
                values: pool.index_select(0, &rows),
            }
        }
    };
    let results = intervene(model, &image, &assignment, variable, &how)?;
    let reconstruction = reconstruct(model, &image)?;
    let path = args
        .out
        .clone()
        .map_or_else(|| run.file(format!("queries/intervene-{name}.png")), Ok)?;
    write_intervention_grid(
        &path,
        &image,
        &reconstruction,
        &results,
        &how.captions(name)?,
    )?;
    println!("{}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::describe_assignment;

    #[test]
    fn assignment_line_counts_groups_and_names_empty_variables() {
        let names = ["ball_x".to_string(), "ball_y".into(), "paddle".into()];
        assert_eq!(
            describe_assignment(&[0, 1, 0, 3], &names),
            "ψ (latents per variable): ball_x 2, ball_y 1, none 1; no latent for paddle"
        );
        assert_eq!(
            describe_assignment(&[2, 1, 0], &names),
            "ψ (latents per variable): ball_x 1, ball_y 1, paddle 1"
        );
    }
}
