//! `causalgen train | query | eval`: the fight-scene causal VAE from the command line.
//! Thin: options become a `RunConfig` or a query, the work happens in `causal_vae`.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use bayesnet::{Assignment, Network};
use causal_vae::query::{self, Posterior};
use causal_vae::{grid, test_data, DataConfig, Likelihood, ModelConfig, RunConfig, TrainedModel};
use clap::{Args, ValueEnum};
use nn::run_dir::RunDir;
use nn::train::{Progress, TrainConfig};
use serde_json::json;
use tch::{Device, Kind, Tensor};

use crate::bn::{assignment, load};

/// Where and how tensors run.
#[derive(Args, Clone, Debug)]
pub struct ComputeArgs {
    /// cpu, cuda, cuda:N, or auto (CUDA when usable).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// libtorch threads (default: CAUSALGEN_THREADS, RAYON_NUM_THREADS, or all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ComputeArgs {
    pub fn setup(&self) -> Result<Device> {
        nn::device::set_threads(self.threads);
        Ok(nn::device::parse_device(&self.device)?)
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LikelihoodArg {
    Gaussian,
    Bernoulli,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Run directory (config.toml, checkpoints, metrics.csv, samples). Required unless a
    /// model (`citris-vae`, ...) is named, whose own options then apply.
    #[arg(long, required = true)]
    run: Option<PathBuf>,
    /// Continue the run in --run from its last checkpoint, with its own config.toml: the
    /// options that set up a run cannot be given with it (to train longer, raise `steps`
    /// there).
    #[arg(long)]
    resume: bool,
    /// A folder from `causalgen data fight` (its train split); otherwise scenes are
    /// rendered in memory.
    #[arg(long, conflicts_with = "resume")]
    data: Option<PathBuf>,
    /// Causal network (BIF or JSON) for in-memory scenes [default: the bundled fight network].
    #[arg(long, conflicts_with = "resume")]
    network: Option<PathBuf>,
    /// Scenes rendered in memory.
    #[arg(long, conflicts_with = "resume", default_value_t = 20_000)]
    scenes: usize,
    /// Nuisance strength of rendered scenes.
    #[arg(long, conflicts_with = "resume", default_value_t = 1.0)]
    nuisance: f32,
    /// Fraction of labels kept (semi-supervised below 1).
    #[arg(long, conflicts_with = "resume", default_value_t = 1.0)]
    labelled_fraction: f64,
    #[arg(long, conflicts_with = "resume", default_value_t = 64)]
    size: i64,
    #[arg(long, conflicts_with = "resume", default_value_t = 2000)]
    steps: usize,
    #[arg(long, conflicts_with = "resume", default_value_t = 64)]
    batch: usize,
    /// Peak learning rate (cosine schedule with warm-up).
    #[arg(long, conflicts_with = "resume", default_value_t = 2e-3)]
    lr: f64,
    #[arg(long, conflicts_with = "resume", default_value_t = 100)]
    warmup: usize,
    /// Channels of the first convolution.
    #[arg(long, conflicts_with = "resume", default_value_t = 32)]
    width: i64,
    #[arg(long, conflicts_with = "resume", default_value_t = 16)]
    z_dim: i64,
    #[arg(long, conflicts_with = "resume", default_value_t = 256)]
    hidden: i64,
    #[arg(
        long,
        conflicts_with = "resume",
        value_enum,
        default_value = "gaussian"
    )]
    likelihood: LikelihoodArg,
    /// Standard deviation of the Gaussian likelihood.
    #[arg(long, conflicts_with = "resume", default_value_t = 0.1)]
    sigma: f64,
    #[arg(long, conflicts_with = "resume", default_value_t = 1.0)]
    beta: f64,
    /// Steps of linear KL warm-up.
    #[arg(long, conflicts_with = "resume", default_value_t = 0)]
    kl_warmup: usize,
    /// Weight of the label head's cross-entropy.
    #[arg(long, conflicts_with = "resume", default_value_t = 100.0)]
    label_weight: f64,
    /// Weight of the label-consistency term (decoded prior samples must be read back as
    /// the labels they were drawn with); 0 turns it off.
    #[arg(long, conflicts_with = "resume", default_value_t = 100.0)]
    consistency_weight: f64,
    #[arg(long, conflicts_with = "resume", default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    compute: ComputeArgs,
}

impl TrainArgs {
    fn config(&self) -> RunConfig {
        RunConfig {
            model: ModelConfig {
                image_size: self.size,
                width: self.width,
                z_dim: self.z_dim,
                hidden: self.hidden,
                likelihood: match self.likelihood {
                    LikelihoodArg::Gaussian => Likelihood::Gaussian,
                    LikelihoodArg::Bernoulli => Likelihood::Bernoulli,
                },
                sigma: self.sigma,
                beta: self.beta,
                kl_warmup: self.kl_warmup,
                label_weight: self.label_weight,
                consistency_weight: self.consistency_weight,
            },
            train: TrainConfig {
                steps: self.steps,
                lr: self.lr,
                warmup: self.warmup,
                seed: self.seed,
                ..TrainConfig::default()
            },
            data: DataConfig {
                folder: self.data.clone(),
                scenes: self.scenes,
                nuisance: self.nuisance,
                seed: self.seed,
                labelled_fraction: self.labelled_fraction,
                batch: self.batch,
            },
        }
    }
}

pub fn train(args: &TrainArgs) -> Result<()> {
    let run_path = args.run.as_ref().context("pass --run RUN")?;
    let device = args.compute.setup()?;
    let run = RunDir::create(run_path)?;
    let (config, network) = if args.resume {
        let run = RunDir::open(run_path)?;
        let network = load(&run.root().join(causal_vae::training::NETWORK_FILE))?;
        (run.read_config::<RunConfig>()?, network)
    } else {
        if run.config_path().is_file() {
            bail!(
                "{} already holds a run; pass --resume to continue it, or choose a new --run",
                run_path.display()
            );
        }
        let network = match (&args.network, &args.data) {
            (Some(path), _) => load(path)?,
            (None, Some(folder)) => load(&folder.join("network.bif"))?,
            (None, None) => bayesnet::examples::fight_scene()?,
        };
        (args.config(), network)
    };
    train_run(&run, &config, &network, device, "train")?;
    Ok(())
}

/// Trains `config` into `run` (resuming if it has a checkpoint), writes sample grids
/// and prints a summary.
pub fn train_run(
    run: &RunDir,
    config: &RunConfig,
    network: &Network,
    device: Device,
    label: &str,
) -> Result<TrainedModel> {
    let progress = Progress {
        label: label.to_string(),
        visible: true,
    };
    let (trained, report) = causal_vae::train(run, config, network, device, &progress)
        .with_context(|| format!("training {}", run.root().display()))?;
    print_trained("", &report);
    write_samples(run, &trained)?;
    Ok(trained)
}

/// Prints what a training call did: steps, time, resume point, last logged terms.
pub(crate) fn print_trained(what: &str, report: &nn::train::TrainReport) {
    let resumed = match report.start_step {
        0 => String::new(),
        s => format!(" (resumed at step {s})"),
    };
    let last: Vec<String> = report
        .last
        .iter()
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect();
    eprintln!(
        "trained {what}{} steps in {:.1} s{resumed}: {}",
        report.steps,
        report.seconds,
        last.join(", ")
    );
}

/// `samples/reconstructions.png` (held-out scenes over their reconstructions) and
/// `samples/prior.png` (forward samples of the network decoded with z ~ N(0, I)).
fn write_samples(run: &RunDir, trained: &TrainedModel) -> Result<()> {
    let schema = trained.model.schema();
    let size = trained.config.model.image_size;
    let test = test_data(&trained.config, &trained.network, schema, 8)?;
    let index = Tensor::arange(8.min(test.len() as i64), (Kind::Int64, Device::Cpu));
    let x = test.images_at(&index, trained.vs.device());
    let labels = test.labels_at(&index, trained.vs.device());
    let (_, recon) = tch::no_grad(|| trained.model.negative_elbo(&x, &labels));
    let rows: Vec<Vec<i64>> =
        Vec::<Vec<i64>>::try_from(labels.to_device(Device::Cpu)).context("labels")?;
    let mut captions: Vec<Vec<String>> = rows
        .iter()
        .map(|l| grid::caption(schema, "data", l))
        .collect();
    captions.extend(
        rows.iter()
            .map(|l| grid::caption(schema, "reconstruction", l)),
    );
    let images = Tensor::cat(&[x.to_device(Device::Cpu), recon.to_device(Device::Cpu)], 0);
    let path = run.file("samples/reconstructions.png")?;
    grid::write_sheet(&path, &grid::tiles(&images, captions), size, rows.len(), 2)?;
    let prior = query::condition(
        trained,
        &Assignment::new(),
        &Assignment::new(),
        16,
        trained.config.train.seed,
    )?;
    let captions = prior
        .generated
        .labels
        .iter()
        .map(|l| grid::caption(schema, "", l))
        .collect();
    let path = run.file("samples/prior.png")?;
    grid::write_sheet(
        &path,
        &grid::tiles(&prior.generated.images, captions),
        size,
        8,
        2,
    )?;
    eprintln!(
        "wrote {} and samples/prior.png",
        run.root().join("samples/reconstructions.png").display()
    );
    Ok(())
}

#[derive(Args)]
pub struct QueryArgs {
    /// A run directory from `causalgen train` (or `causalgen demo`).
    pub run: PathBuf,
    /// Observed value, VAR=STATE (repeatable).
    #[arg(long = "evidence", short = 'e')]
    evidence: Vec<String>,
    /// Intervention, VAR=STATE (repeatable): do(VAR=STATE).
    #[arg(long = "do")]
    intervention: Vec<String>,
    /// Counterfactual (CITRIS runs: latent intervention) on this image (PNG of the
    /// model's size).
    #[arg(long, conflicts_with = "index")]
    pub image: Option<PathBuf>,
    /// Counterfactual on the N-th held-out scene (CITRIS runs: frame of the independent
    /// test split).
    #[arg(long)]
    pub index: Option<usize>,
    /// CITRIS runs: replace the latents of this causal variable (draws from other
    /// frames, or --traverse) and decode.
    #[arg(long)]
    pub intervene: Option<String>,
    /// CITRIS runs: sweep the variable's latents from −2 to +2 standard deviations
    /// instead of drawing them from other frames.
    #[arg(long, requires = "intervene")]
    pub traverse: bool,
    /// CITRIS runs: frames that change one factor at a time (CITRIS' data_slider.npz):
    /// how much each latent group moves per frame (CSV and bar charts).
    #[arg(long, conflicts_with = "intervene")]
    pub slider: Option<PathBuf>,
    /// Images to generate.
    #[arg(short = 'n', long, default_value_t = 16)]
    pub samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Image grid to write [default: RUN/queries/<rung>.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON (posteriors, labels, image path) instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

pub fn query(args: &QueryArgs) -> Result<()> {
    if crate::citris::is_citris_run(&args.run) {
        return crate::citris::query(args);
    }
    if args.intervene.is_some() || args.slider.is_some() {
        bail!("--intervene and --slider are for CITRIS runs; this run answers --evidence/--do");
    }
    let device = args.compute.setup()?;
    let run = RunDir::open(&args.run)?;
    let trained = TrainedModel::load(&run, device)
        .with_context(|| format!("loading {}", run.root().display()))?;
    let net = &trained.network;
    let evidence = assignment(net, &args.evidence)?;
    let intervention = assignment(net, &args.intervention)?;
    ensure!(args.samples >= 1, "--samples must be at least 1");
    let counterfactual_input = args.image.is_some() || args.index.is_some();
    let rung = match (counterfactual_input, intervention.is_empty()) {
        (true, true) => bail!("a counterfactual needs --do VAR=STATE (what would have been)"),
        (true, false) => "counterfactual",
        (false, false) => "intervene",
        (false, true) => "condition",
    };
    let out = match &args.out {
        Some(path) => path.clone(),
        None => run.file(format!("queries/{rung}.png"))?,
    };
    let size = trained.config.model.image_size;
    let (sections, tiles) = match rung {
        "condition" => {
            let result = query::condition(
                &trained,
                &evidence,
                &Assignment::new(),
                args.samples,
                args.seed,
            )?;
            let title = format!("P(· | {})", describe(net, &evidence));
            let tiles = labelled(&trained, &result.generated, "");
            (
                vec![(title, result.evidence_probability, result.posteriors)],
                tiles,
            )
        }
        "intervene" => {
            let result =
                query::intervene(&trained, &intervention, &evidence, args.samples, args.seed)?;
            let mut seen = evidence.clone();
            seen.extend(intervention.iter().map(|(v, s)| (*v, *s)));
            let mut tiles = labelled(&trained, &result.interventional.generated, "do");
            tiles.extend(labelled(&trained, &result.conditional.generated, "seen"));
            let doing = format!(
                "P(· | do({}){})",
                describe(net, &intervention),
                with(net, &evidence)
            );
            let seeing = format!("P(· | {})", describe(net, &seen));
            (
                vec![
                    (
                        doing,
                        result.interventional.evidence_probability,
                        result.interventional.posteriors,
                    ),
                    (
                        seeing,
                        result.conditional.evidence_probability,
                        result.conditional.posteriors,
                    ),
                ],
                tiles,
            )
        }
        _ => {
            let image = match (&args.image, args.index) {
                (Some(path), _) => read_image(path, size)?,
                (None, Some(i)) => held_out_image(&trained, i)?,
                _ => unreachable!("checked above"),
            };
            let result = query::counterfactual(
                &trained,
                &image,
                &evidence,
                &intervention,
                args.samples,
                args.seed,
            )?;
            let tiles = counterfactual_tiles(&trained, &result);
            let what = format!("do({})", describe(net, &intervention));
            (
                vec![
                    (
                        "factual: P(· | image)".to_string(),
                        f64::NAN,
                        result.factual,
                    ),
                    (
                        format!("counterfactual: P(·_{what} | image)"),
                        f64::NAN,
                        result.counterfactual,
                    ),
                ],
                tiles,
            )
        }
    };
    let columns = if rung == "intervene" {
        args.samples
    } else {
        8.min(tiles.len())
    };
    grid::write_sheet(&out, &tiles, size, columns, 2)
        .with_context(|| format!("writing {}", out.display()))?;
    if args.json {
        let value = json!({
            "rung": rung,
            "image": out.display().to_string(),
            "answers": sections.iter().map(|(title, pe, posteriors)| json!({
                "query": title,
                "evidence_probability": if pe.is_finite() { json!(pe) } else { json!(null) },
                "marginals": posteriors_json(posteriors),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for (title, pe, posteriors) in &sections {
            println!("== {title}");
            if pe.is_finite() {
                println!("P(evidence) = {}", crate::report::fmt_p(*pe));
            }
            println!("{}", posteriors_table(posteriors));
        }
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// A counterfactual's row: the image, its reconstruction, the most probable
/// counterfactual, then the samples of the counterfactual world.
pub fn counterfactual_tiles(
    trained: &TrainedModel,
    result: &query::Counterfactual,
) -> Vec<scenes::fight::Tile> {
    let schema = trained.model.schema();
    let headline = ["image", "reconstruction", "counterfactual"];
    let labels = [
        &result.factual_labels,
        &result.factual_labels,
        &result.map_labels,
    ];
    let captions = headline
        .iter()
        .zip(labels)
        .map(|(h, l)| grid::caption(schema, h, l))
        .collect();
    let mut tiles = grid::tiles(&result.images, captions);
    tiles.extend(labelled(trained, &result.samples, "sample"));
    tiles
}

fn labelled(
    trained: &TrainedModel,
    generated: &query::Generated,
    headline: &str,
) -> Vec<scenes::fight::Tile> {
    let schema = trained.model.schema();
    let captions = generated
        .labels
        .iter()
        .map(|l| grid::caption(schema, headline, l))
        .collect();
    grid::tiles(&generated.images, captions)
}

fn describe(net: &Network, assignment: &Assignment) -> String {
    match assignment.is_empty() {
        true => "nothing".into(),
        false => net.describe(assignment),
    }
}

fn with(net: &Network, evidence: &Assignment) -> String {
    match evidence.is_empty() {
        true => String::new(),
        false => format!(", {}", net.describe(evidence)),
    }
}

/// `{"VAR": {"STATE": p}}` for every variable.
pub fn posteriors_json(posteriors: &[Posterior]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = posteriors
        .iter()
        .map(|p| {
            let states: serde_json::Map<String, serde_json::Value> = p
                .states
                .iter()
                .zip(&p.probabilities)
                .map(|(s, q)| (s.clone(), json!(q)))
                .collect();
            (p.variable.clone(), serde_json::Value::Object(states))
        })
        .collect();
    serde_json::Value::Object(map)
}

/// One block per variable with a bar, like `causalgen bn query`.
pub fn posteriors_table<'a>(posteriors: impl IntoIterator<Item = &'a Posterior>) -> String {
    let mut out = String::new();
    for p in posteriors {
        let width = p.states.iter().map(String::len).max().unwrap_or(0);
        out.push_str(&format!("{}\n", p.variable));
        for (s, q) in p.states.iter().zip(&p.probabilities) {
            let bar = "#".repeat((q * 40.0).round() as usize);
            out.push_str(&format!(
                "  {s:<width$}  {}  {bar}\n",
                crate::report::fmt_p(*q)
            ));
        }
    }
    out
}

/// The `index`-th held-out scene as [3, S, S] in [0, 1].
pub fn held_out_image(trained: &TrainedModel, index: usize) -> Result<Tensor> {
    let test = test_data(
        &trained.config,
        &trained.network,
        trained.model.schema(),
        index + 1,
    )?;
    ensure!(
        index < test.len(),
        "--index {index} is past the {} held-out scenes",
        test.len()
    );
    Ok(test
        .images_at(&Tensor::from_slice(&[index as i64]), Device::Cpu)
        .squeeze_dim(0))
}

/// Reads an RGB(A) PNG of `size × size` pixels as [3, S, S] in [0, 1].
pub(crate) fn read_image(path: &Path, size: i64) -> Result<Tensor> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .with_context(|| format!("{}: not a PNG file", path.display()))?;
    let mut buffer = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let info = reader
        .next_frame(&mut buffer)
        .with_context(|| format!("{}: corrupt PNG", path.display()))?;
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => bail!(
            "{}: {other:?} PNG; the model reads RGB images",
            path.display()
        ),
    };
    ensure!(
        info.width as i64 == size && info.height as i64 == size,
        "{}: image is {} × {}, the model draws {size} × {size}",
        path.display(),
        info.width,
        info.height
    );
    let pixels = Tensor::from_slice(&buffer[..info.buffer_size()]).view([size, size, channels]);
    Ok(pixels
        .narrow(2, 0, 3)
        .permute([2, 0, 1])
        .to_kind(Kind::Float)
        / 255.0)
}

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory from `causalgen train` (or `causalgen demo`).
    pub run: PathBuf,
    /// CITRIS runs: the data set to evaluate on [default: the one the run trained on].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// CITRIS runs: training steps of the correlation probe.
    #[arg(long, default_value_t = 2000)]
    pub probe_steps: usize,
    /// CITRIS runs: training steps of the causal encoder that judges triplet images
    /// (trained once, kept in RUN/eval/causal_encoder).
    #[arg(long, default_value_t = 2000)]
    pub encoder_steps: usize,
    /// Generated images per query (at least 1000, for the distances).
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Held-out scenes for the true counterfactual error.
    #[arg(long, default_value_t = 200)]
    counterfactual_scenes: usize,
    /// Training steps of the independent label classifier (kept in RUN/eval/classifier).
    #[arg(long, default_value_t = 600)]
    classifier_steps: usize,
    /// Rendered scenes the classifier learns from (also the nearest-neighbour baseline's pool).
    #[arg(long, default_value_t = 10_000)]
    classifier_scenes: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the report as JSON (also written to RUN/eval.json, RUN/eval/citris.json).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

pub fn eval(args: &EvalArgs) -> Result<()> {
    if crate::citris::is_citris_run(&args.run) {
        return crate::citris::eval(args);
    }
    if args.data.is_some() {
        bail!("--data is for CITRIS runs; a causal-VAE run evaluates on rendered scenes");
    }
    let device = args.compute.setup()?;
    let run = RunDir::open(&args.run)?;
    let trained = TrainedModel::load(&run, device)
        .with_context(|| format!("loading {}", run.root().display()))?;
    let options = causal_vae::eval::EvalOptions {
        samples: args.samples,
        counterfactual_scenes: args.counterfactual_scenes,
        classifier_steps: args.classifier_steps,
        classifier_scenes: args.classifier_scenes,
        seed: args.seed,
    };
    let progress = Progress {
        label: "eval".into(),
        visible: true,
    };
    let report = causal_vae::eval::evaluate(&trained, &run, &options, &progress)?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&report)?),
        false => println!("{}", report.summary()),
    }
    eprintln!("wrote {}", run.root().join("eval.json").display());
    Ok(())
}
