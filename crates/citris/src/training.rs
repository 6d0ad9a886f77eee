//! Runs: a model trained on a data set into a run directory (`config.toml`, checkpoints,
//! `metrics.csv`, weights), resumable, and loaded back for evaluation and queries.

use std::path::{Path, PathBuf};

use nn::optim::{AdamWConfig, ParamGroup};
use nn::run_dir::RunDir;
use nn::train::{fit, Progress, TrainConfig, TrainReport};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::autoencoder::AutoencoderConfig;
use crate::data::{Sequence, TargetGroups, TrisData};
use crate::nets::NetConfig;
use crate::nf::{self, CitrisNf, NfConfig, AUTOENCODER_DIR};
use crate::representation::Representation;
use crate::vae::{CitrisObjective, CitrisVae, CitrisVaeConfig, VaeKind};
use crate::{Error, Result};

/// Variable name of ψ's logits in a model's `VarStore`.
const ASSIGNMENT_LOGITS: &str = "prior.assignment_logits";

/// Frame pairs per step by default. The reference trains with 512 on a GPU; on a CPU
/// the number of updates, not of images, is what lets small objects emerge: on Pong
/// (a 1.2-pixel ball), CITRIS-NF's autoencoder at batch 64 stayed on the "no ball"
/// plateau (MSE 0.0084) through 4000 steps at every learning rate from 5e-4 to 5e-3,
/// while at batch 16 it left it after ~7000 steps (112k images; MSE 0.0007 at 25k).
pub const DEFAULT_BATCH: usize = 16;

/// ψ's learning rate relative to the model's. The reference trains ψ at the model's rate
/// for ~10⁵ steps; at the few thousand steps of a CPU budget ψ barely leaves its uniform
/// start (every latent then sits in the first variable's group). Measured on
/// ball-in-boxes, 3000 steps: R² diag 0.58 at 1×, 0.92 at 10×.
pub const ASSIGNMENT_LR_SCALE: f64 = 10.0;

/// The optimisation of CITRIS' models for `steps` steps: AdamW at lr 1e-3 without
/// weight decay, cosine decay to 5 % after a linear warm-up, gradients clipped at 1.0;
/// CITRIS' classifier at 4 × the learning rate with weight decay 1e-4, and ψ's logits at
/// [`ASSIGNMENT_LR_SCALE`] × the rate. Shared by [`RunConfig::for_data`] and the
/// training-speed benchmark, so that both take the same step.
pub fn train_config(steps: usize) -> TrainConfig {
    TrainConfig {
        steps,
        lr: 1e-3,
        warmup: (steps / 20).clamp(1, 500),
        final_lr_ratio: 0.05,
        clip_norm: 1.0,
        adamw: AdamWConfig {
            weight_decay: 0.0,
            ..Default::default()
        },
        param_groups: vec![
            ParamGroup {
                prefix: "classifier.".into(),
                lr_scale: 4.0,
                weight_decay: 1e-4,
                hold_steps: 0,
            },
            assignment_group(),
        ],
        checkpoint_every: (steps / 4).max(100),
        log_every: 10,
        seed: 0,
    }
}

/// ψ's parameter group at the default [`ASSIGNMENT_LR_SCALE`], moving from the first step.
fn assignment_group() -> ParamGroup {
    ParamGroup {
        prefix: ASSIGNMENT_LOGITS.into(),
        lr_scale: ASSIGNMENT_LR_SCALE,
        weight_decay: 0.0,
        hold_steps: 0,
    }
}

/// The model families a run can train.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// CITRIS-VAE: VAE with the transition prior and the target classifier.
    CitrisVae,
    /// CITRIS-NF: a pretrained autoencoder, then a normalizing flow with the prior.
    CitrisNf,
    /// β-VAE on single frames, the baseline without a causal prior.
    BetaVae,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::CitrisVae => "citris-vae",
            Self::CitrisNf => "citris-nf",
            Self::BetaVae => "beta-vae",
        }
    }
}

/// The architecture and loss of a run's model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ModelConfig {
    /// CITRIS-VAE or the β-VAE (its `kind` says which).
    Vae(CitrisVaeConfig),
    /// CITRIS-NF with its autoencoder stage.
    Nf(NfConfig),
}

/// Where the frames come from and how they are batched.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A folder from `causalgen data causal3d|pong|boxes` (its `train` split is used).
    pub folder: PathBuf,
    /// Frame pairs per step.
    pub batch: usize,
    /// Seed of the batch order.
    pub seed: u64,
}

/// Everything a run needs, written to its `config.toml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Weights the model starts from instead of its random initialisation — a
    /// `model.safetensors` of another run, e.g. a CITRIS-NF autoencoder to start a
    /// CITRIS-VAE with the objects already drawn; for CITRIS-NF, into its autoencoder
    /// stage. Every variable whose name and shape match is copied before the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
    pub data: DataConfig,
    /// The intervention targets the model learns (grouped from the training split).
    pub targets: TargetGroups,
    pub net: NetConfig,
    pub model: ModelConfig,
    /// Optimisation of the model (for CITRIS-NF: of the flow stage).
    pub train: TrainConfig,
}

impl RunConfig {
    /// The reference's settings for `kind` on `data`, with `steps` optimisation steps:
    /// 32 latents for 64 × 64 frames, 16 for smaller ones, optimised as
    /// [`train_config`] says. Two departures for CPU budgets: batches of
    /// [`DEFAULT_BATCH`], and ψ's logits learn at [`ASSIGNMENT_LR_SCALE`] × the rate.
    pub fn for_data(kind: ModelKind, data: &TrisData, steps: usize) -> Result<Self> {
        let train_split = data.sequence("train")?;
        let targets = TargetGroups::from_targets(&train_split.targets);
        if targets.is_empty() {
            return Err(Error::Data {
                path: data.dir().join("train.npz"),
                message: "no variable is ever intervened on: CITRIS needs interventions".into(),
            });
        }
        let [channels, size, _] = data.input_shape();
        let net = NetConfig {
            image_size: size,
            channels,
            width: 32,
            latents: if size >= 64 { 32 } else { 16 },
        };
        net.validate()?;
        let model = match kind {
            ModelKind::CitrisVae => ModelConfig::Vae(CitrisVaeConfig::default()),
            ModelKind::BetaVae => ModelConfig::Vae(CitrisVaeConfig {
                kind: VaeKind::BetaVae,
                ..Default::default()
            }),
            ModelKind::CitrisNf => ModelConfig::Nf(NfConfig::for_net(&net, steps)),
        };
        Ok(Self {
            init_from: None,
            data: DataConfig {
                folder: data.dir().to_path_buf(),
                batch: DEFAULT_BATCH,
                seed: 0,
            },
            targets,
            net,
            model,
            train: train_config(steps),
        })
    }

    /// Which model the run trains.
    pub fn kind(&self) -> ModelKind {
        match &self.model {
            ModelConfig::Vae(vae) if vae.kind == VaeKind::BetaVae => ModelKind::BetaVae,
            ModelConfig::Vae(_) => ModelKind::CitrisVae,
            ModelConfig::Nf(_) => ModelKind::CitrisNf,
        }
    }

    /// ψ's parameter group (`prior.assignment_logits`), added with the defaults to a
    /// configuration that has none.
    fn assignment_group_mut(&mut self) -> &mut ParamGroup {
        let groups = &mut self.train.param_groups;
        let index = match groups.iter().position(|g| g.prefix == ASSIGNMENT_LOGITS) {
            Some(index) => index,
            None => {
                groups.push(assignment_group());
                groups.len() - 1
            }
        };
        &mut groups[index]
    }

    /// Sets ψ's learning rate to `scale` × the model's (the parameter group of
    /// `prior.assignment_logits`; [`ASSIGNMENT_LR_SCALE`] by default). Errors when the
    /// scale is negative or not finite.
    pub fn set_assignment_lr_scale(&mut self, scale: f64) -> Result<()> {
        if !(scale.is_finite() && scale >= 0.0) {
            return Err(Error::Invalid(format!(
                "ψ's learning-rate scale must be a finite number ≥ 0 (got {scale})"
            )));
        }
        self.assignment_group_mut().lr_scale = scale;
        Ok(())
    }

    /// Holds ψ at its start for the first `steps` optimisation steps, then lets it learn
    /// at its rate: a learned ψ decides early, on the entangled code of a flow that has
    /// not yet separated the variables, and a held one leaves the flow the time to do so.
    /// Errors unless `steps` is below the run's steps (hold for all of them with
    /// [`set_assignment_lr_scale`](Self::set_assignment_lr_scale)`(0.0)`).
    pub fn hold_assignment(&mut self, steps: usize) -> Result<()> {
        if steps >= self.train.steps {
            return Err(Error::Invalid(format!(
                "ψ's hold of {steps} steps leaves it none of the run's {} to learn in; \
                 a ψ held throughout is a learning-rate scale of 0",
                self.train.steps
            )));
        }
        self.assignment_group_mut().hold_steps = steps;
        Ok(())
    }

    /// Makes this CITRIS-VAE the shape of CITRIS-NF `source` — its autoencoder's network,
    /// its flow as the flow prior, its prior's and classifier's widths — so that starting
    /// from that run's flow stage fills every variable. Errors for other models: only
    /// CITRIS-VAE has a flow, a prior and a classifier to take.
    pub fn take_architecture(&mut self, source: &NfConfig) -> Result<()> {
        let vae = match &mut self.model {
            ModelConfig::Vae(vae) if vae.kind == VaeKind::Citris => vae,
            _ => {
                return Err(Error::Invalid(format!(
                    "a CITRIS-NF run's flow stage starts a CITRIS-VAE, not {}; start from \
                     its autoencoder (RUN/{AUTOENCODER_DIR}) instead",
                    self.kind().name()
                )))
            }
        };
        vae.prior.hidden = source.prior.hidden;
        vae.classifier_hidden = source.classifier_hidden;
        vae.flow_prior = Some(source.flow.clone());
        self.net = source.autoencoder.net.clone();
        Ok(())
    }

    /// Checks the options a user can set; the message names the option.
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        match &self.model {
            ModelConfig::Vae(vae) => vae.validate()?,
            ModelConfig::Nf(nf) => nf.validate()?,
        }
        self.train
            .validate()
            .map_err(|message| Error::Invalid(format!("[train] {message}")))?;
        if self.data.batch == 0 {
            return Err(Error::Invalid("batch size must be at least 1".into()));
        }
        if self.targets.is_empty() {
            return Err(Error::Invalid("the run has no intervention targets".into()));
        }
        Ok(())
    }
}

/// A trained (or training) model.
pub struct TrainedRun {
    pub config: RunConfig,
    pub model: TrainedModel,
}

/// The model of a run with its weights.
pub enum TrainedModel {
    Vae { vs: VarStore, model: Box<CitrisVae> },
    Nf(Box<CitrisNf>),
}

impl TrainedRun {
    /// A freshly initialised model (seeded by `config.train.seed`).
    pub fn new(config: &RunConfig, device: Device) -> Result<Self> {
        config.validate()?;
        tch::manual_seed(config.train.seed as i64);
        let model = match &config.model {
            ModelConfig::Vae(vae) => {
                let vs = VarStore::new(device);
                let model = CitrisVae::new(vs.root(), &config.net, config.targets.len(), vae)?;
                TrainedModel::Vae {
                    vs,
                    model: Box::new(model),
                }
            }
            ModelConfig::Nf(nf) => TrainedModel::Nf(Box::new(CitrisNf::new(
                &config.net,
                config.targets.len(),
                nf,
                device,
            )?)),
        };
        Ok(Self {
            config: config.clone(),
            model,
        })
    }

    /// Loads a run's final weights (or its latest checkpoint if training did not
    /// finish) onto `device`.
    pub fn load(run: &RunDir, device: Device) -> Result<Self> {
        let config: RunConfig = run.read_config()?;
        let mut trained = Self::new(&config, device)?;
        match &mut trained.model {
            TrainedModel::Vae { vs, .. } => load_latest(run, vs)?,
            TrainedModel::Nf(model) => model.load(run)?,
        }
        Ok(trained)
    }

    /// The model behind the evaluation interface.
    pub fn representation(&self) -> &dyn Representation {
        match &self.model {
            TrainedModel::Vae { model, .. } => model.as_ref(),
            TrainedModel::Nf(model) => model.as_ref(),
        }
    }
}

/// Loads `run`'s final weights, or its checkpoint when training has not finished.
pub(crate) fn load_latest(run: &RunDir, vs: &mut VarStore) -> Result<()> {
    let weights = match run.weights_path().is_file() {
        true => run.weights_path(),
        false => run.checkpoint_path(),
    };
    nn::checkpoint::load_weights(&weights, vs)?;
    Ok(())
}

/// Trains (or resumes) the run in `run` with `config`. A run directory that already has
/// a configuration must have been made with the same one.
pub fn train(
    run: &RunDir,
    config: &RunConfig,
    device: Device,
    progress: &Progress,
) -> Result<(TrainedRun, TrainReport)> {
    config.validate()?;
    run.adopt_config(config)?;
    let sequence = training_sequence(config)?;
    let mut trained = TrainedRun::new(config, device)?;
    let report = match &mut trained.model {
        TrainedModel::Vae { vs, model } => {
            // A run with a checkpoint resumes from it; only a new run takes a start.
            let fresh = !run.has_checkpoint();
            if let (true, Some(weights)) = (fresh, &config.init_from) {
                let (files, autoencoder_noise) = start_files(weights)?;
                let start = model.start_from(vs, &files, autoencoder_noise)?;
                announce_start(progress, &files, &start.transfer, start.posterior_std);
            }
            let mut objective =
                CitrisObjective::new(model, &sequence, config.data.batch, config.data.seed)?;
            if fresh {
                objective.initialise_flow_prior();
            }
            fit(vs, &mut objective, run, &config.train, progress)?
        }
        TrainedModel::Nf(model) => nf::train(model, run, config, &sequence, progress)?,
    };
    Ok((trained, report))
}

/// A CITRIS-NF run that weights given as `init_from` come from: its directory, its
/// configuration and the stage that saved them.
#[derive(Clone, Debug)]
pub struct NfSource {
    pub root: PathBuf,
    pub config: NfConfig,
    pub stage: NfStage,
}

/// The two stages of a CITRIS-NF run, each with its weight file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfStage {
    /// `RUN/autoencoder/`: the autoencoder (encoder and decoder).
    Autoencoder,
    /// `RUN/` itself: the flow, the transition prior with ψ, and the target classifier.
    Flow,
}

impl NfSource {
    /// The CITRIS-NF run whose weight file `weights` is — one in `RUN/autoencoder/` or in
    /// `RUN/` of a run whose `config.toml` is CITRIS-NF's — or `None` for weights from
    /// anywhere else.
    pub fn of(weights: &Path) -> Result<Option<Self>> {
        let parent = weights.parent().unwrap_or(Path::new(""));
        let (root, stage) = match parent.file_name() == Some(AUTOENCODER_DIR.as_ref()) {
            true => (
                parent.parent().unwrap_or(Path::new("")),
                NfStage::Autoencoder,
            ),
            false => (parent, NfStage::Flow),
        };
        if !root.join("config.toml").is_file() {
            return Ok(None);
        }
        let source: RunConfig = RunDir::open(root)?.read_config()?;
        Ok(match source.model {
            ModelConfig::Nf(config) => Some(Self {
                root: root.to_path_buf(),
                config,
                stage,
            }),
            ModelConfig::Vae(_) => None,
        })
    }
}

/// The weight files that starting from `weights` (a run's `init_from`) reads, in order,
/// and the latent noise of the autoencoder they hold. A CITRIS-NF run's flow stage comes
/// with that run's autoencoder, so that a CITRIS-VAE starts as the whole trained
/// CITRIS-NF; a CITRIS-NF autoencoder alone gives the noise it trained with (from its
/// run's `config.toml`); weights from anywhere else the default autoencoder's.
pub fn start_files(weights: &Path) -> Result<(Vec<PathBuf>, f64)> {
    let weights = weights.to_path_buf();
    Ok(match NfSource::of(&weights)? {
        Some(source) => {
            let noise = source.config.autoencoder.noise_level;
            match source.stage {
                NfStage::Flow => {
                    let autoencoder = RunDir::at(source.root.join(AUTOENCODER_DIR));
                    (vec![autoencoder.weights_path(), weights], noise)
                }
                NfStage::Autoencoder => (vec![weights], noise),
            }
        }
        None => (vec![weights], AutoencoderConfig::default().noise_level),
    })
}

/// Says on stderr (with a visible `progress`) what starting from `weights` did: which
/// variables took a weight, which only their first half (with the σ the posterior then
/// starts at, when that half was a VAE's posterior mean), and which kept their
/// initialisation.
pub(crate) fn announce_start(
    progress: &Progress,
    weights: &[PathBuf],
    transfer: &nn::checkpoint::Transfer,
    posterior_std: Option<f64>,
) {
    if !progress.visible {
        return;
    }
    let halves = match (transfer.first_half.is_empty(), posterior_std) {
        (true, _) => String::new(),
        (false, None) => format!(" and the first half of {}", transfer.first_half.join(", ")),
        (false, Some(std)) => format!(
            " and the mean half of {} (its log-std half starts the posterior at the \
             autoencoder's training noise, σ {std})",
            transfer.first_half.join(", ")
        ),
    };
    eprintln!(
        "{}: started {} of {} variables from {}{halves}; kept as initialised: {}",
        progress.label,
        transfer.copied.len(),
        transfer.copied.len() + transfer.first_half.len() + transfer.kept.len(),
        weights
            .iter()
            .map(|file| file.display().to_string())
            .collect::<Vec<_>>()
            .join(" and "),
        describe_kept(transfer)
    );
}

/// The variables a transfer left alone, by module: a module none of whose variables took
/// a weight by its name ("prior"), the others variable by variable ("encoder.output.bias").
fn describe_kept(transfer: &nn::checkpoint::Transfer) -> String {
    let module = |name: &str| name.split('.').next().unwrap_or(name).to_string();
    let mut parts: Vec<String> = Vec::new();
    for name in &transfer.kept {
        let mut started = transfer.copied.iter().chain(&transfer.first_half);
        let part = match started.any(|c| module(c) == module(name)) {
            true => name.clone(),
            false => module(name),
        };
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    match parts.is_empty() {
        true => "none".into(),
        false => parts.join(", "),
    }
}

/// The training split with the run's targets, checked against the model's input.
fn training_sequence(config: &RunConfig) -> Result<Sequence> {
    let data = TrisData::open(&config.data.folder)?;
    let [channels, size, width] = data.input_shape();
    if (channels, size, width)
        != (
            config.net.channels,
            config.net.image_size,
            config.net.image_size,
        )
    {
        return Err(Error::Invalid(format!(
            "{} holds {channels}-channel {size} × {width} frames but the run's model takes \
             {}-channel {} × {} images",
            config.data.folder.display(),
            config.net.channels,
            config.net.image_size,
            config.net.image_size
        )));
    }
    let sequence = data.sequence("train")?;
    Ok(Sequence {
        targets: select_targets(&config.targets, &sequence.targets, &config.data.folder)?,
        frames: sequence.frames,
        latents: sequence.latents,
    })
}

/// `targets` [N, K] of a data set reduced to the run's target groups.
pub fn select_targets(
    groups: &TargetGroups,
    targets: &Tensor,
    folder: &std::path::Path,
) -> Result<Tensor> {
    let columns = targets.size()[1] as usize;
    match groups.columns.iter().flatten().max() {
        Some(&c) if c >= columns => Err(Error::Data {
            path: folder.to_path_buf(),
            message: format!(
                "has {columns} intervention columns but the run was trained on a data set \
                 with at least {}",
                c + 1
            ),
        }),
        _ => Ok(groups.select(targets)),
    }
}
