//! CITRIS-NF (`models/citris_nf/lightning_module.py`): an autoencoder trained first
//! ([`crate::autoencoder`]), then frozen; a normalizing flow ([`crate::flow`]) maps its
//! encodings to causal latents, trained with the transition prior's likelihood and the
//! target classifier. Training the flow touches no image, so the second stage is cheap.
//!
//! Loss of a pair of encodings (e^t, e^{t+1}), each taken `samples` times with
//! N(0, σ²) noise (a sample of the autoencoder's latent distribution):
//! β_t1 · (−log p(f(e^{t+1}) | f(e^t), I^{t+1}) − log|det ∂f/∂e^{t+1}|) + loss_model +
//! β_classifier · loss_z, the NLL averaged over the samples.

use nn::batches::Batches;
use nn::optim::AdamWConfig;
use nn::run_dir::RunDir;
use nn::train::{fit, Loss, Objective, Progress, TrainConfig, TrainReport};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::autoencoder::{Autoencoder, AutoencoderConfig, AutoencoderObjective};
use crate::classifier::TargetClassifier;
use crate::data::{to_input, Sequence};
use crate::error::check_non_negative;
use crate::flow::{Flow, FlowConfig};
use crate::nets::NetConfig;
use crate::prior::{PriorConfig, TransitionPrior};
use crate::representation::Representation;
use crate::training::{load_latest, RunConfig, DEFAULT_BATCH};
use crate::{Error, Result};

/// Folder of the autoencoder stage inside a CITRIS-NF run.
pub const AUTOENCODER_DIR: &str = "autoencoder";

/// The hidden width `c_hid` of CITRIS-NF's prior and target classifier: the reference's
/// `train_nf.py` default, independent of the autoencoder's convolutions (its CITRIS-VAE
/// ties both to the networks' 32).
pub const NF_HIDDEN: i64 = 64;

/// CITRIS-NF's two stages (stored in a run's config).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NfConfig {
    pub autoencoder: AutoencoderConfig,
    /// Optimisation of the autoencoder stage.
    pub autoencoder_train: TrainConfig,
    /// Frames per autoencoder step; the run's `[data] batch` is then the flow's alone.
    /// The two stages want different batches on a CPU: the autoencoder needs many small
    /// steps before Pong's 1.2-pixel ball appears ([`DEFAULT_BATCH`]), while the flow's
    /// prior learns the variables from the intervened pairs, which a larger batch holds
    /// more of (Pong-uniform, ψ held, 25,000 flow steps: R² diag 0.959 and sep 0.105 at
    /// batch 64 against 0.915 and 0.217 at 16 after 30,000). `None` in runs made before
    /// the stages had separate batches: `[data] batch` batches both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoencoder_batch: Option<usize>,
    pub flow: FlowConfig,
    pub prior: PriorConfig,
    /// Hidden units of the target classifier.
    pub classifier_hidden: i64,
    /// Weight of the prior's NLL.
    pub beta_t1: f64,
    /// Weight of the classifier's `loss_z`.
    pub beta_classifier: f64,
    /// Noisy copies of each encoding per step (the reference's `num_samples`).
    pub samples: i64,
}

impl NfConfig {
    /// The reference's settings for images and latents as in `net`, both stages trained
    /// for `steps` steps.
    pub fn for_net(net: &NetConfig, steps: usize) -> Self {
        Self {
            autoencoder: AutoencoderConfig {
                net: net.clone(),
                ..Default::default()
            },
            autoencoder_train: Self::autoencoder_train(steps),
            autoencoder_batch: Some(DEFAULT_BATCH),
            flow: FlowConfig::default(),
            prior: PriorConfig {
                hidden: NF_HIDDEN,
                ..Default::default()
            },
            classifier_hidden: 2 * NF_HIDDEN,
            beta_t1: 1.0,
            beta_classifier: 2.0,
            samples: 8,
        }
    }

    /// The reference's optimisation of the autoencoder stage for `steps` steps: lr 5e-4,
    /// no weight decay, gradients clipped at 0.1, a short warm-up and cosine decay to 5 %.
    pub fn autoencoder_train(steps: usize) -> TrainConfig {
        TrainConfig {
            steps,
            lr: 5e-4,
            warmup: (steps / 20).clamp(1, 100),
            final_lr_ratio: 0.05,
            clip_norm: 0.1,
            adamw: AdamWConfig {
                weight_decay: 0.0,
                ..Default::default()
            },
            param_groups: Vec::new(),
            checkpoint_every: (steps / 4).max(100),
            log_every: 10,
            seed: 0,
        }
    }

    /// Checks the values a user can set; the message names the option and its value.
    pub fn validate(&self) -> Result<()> {
        self.autoencoder.validate()?;
        self.flow.validate()?;
        self.prior.validate()?;
        self.autoencoder_train
            .validate()
            .map_err(|message| Error::Invalid(format!("[model.nf.autoencoder_train] {message}")))?;
        if self.autoencoder_batch == Some(0) {
            return Err(Error::Invalid(
                "the autoencoder stage needs at least 1 frame per step (autoencoder_batch is 0)"
                    .into(),
            ));
        }
        if self.samples < 1 || self.classifier_hidden < 1 {
            return Err(Error::Invalid(format!(
                "samples ({}) and classifier_hidden ({}) must be at least 1",
                self.samples, self.classifier_hidden
            )));
        }
        check_non_negative(&[
            ("beta_t1", self.beta_t1),
            ("beta_classifier", self.beta_classifier),
        ])?;
        Ok(())
    }
}

/// The two stages with their weights (one `VarStore` each, so the autoencoder stays
/// frozen while the flow trains).
pub struct CitrisNf {
    ae_vs: VarStore,
    vs: VarStore,
    parts: Parts,
}

/// The networks, apart from their `VarStore`s (so training can borrow both at once).
struct Parts {
    config: NfConfig,
    autoencoder: Autoencoder,
    flow: Flow,
    prior: TransitionPrior,
    classifier: TargetClassifier,
}

impl CitrisNf {
    /// Fresh stages for `variables` intervention targets; `net` must equal the
    /// autoencoder's network.
    pub fn new(
        net: &NetConfig,
        variables: usize,
        config: &NfConfig,
        device: Device,
    ) -> Result<Self> {
        config.validate()?;
        if &config.autoencoder.net != net {
            return Err(Error::Invalid(
                "the autoencoder's network must be the run's network".into(),
            ));
        }
        let ae_vs = VarStore::new(device);
        let autoencoder = Autoencoder::new(ae_vs.root(), &config.autoencoder)?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let flow = Flow::new(&root / "flow", net.latents, &config.flow)?;
        let prior = TransitionPrior::new(&root / "prior", net.latents, variables, &config.prior)?;
        let classifier = TargetClassifier::new(
            &root / "classifier",
            net.latents,
            variables,
            config.classifier_hidden,
        )?;
        Ok(Self {
            ae_vs,
            vs,
            parts: Parts {
                config: config.clone(),
                autoencoder,
                flow,
                prior,
                classifier,
            },
        })
    }

    /// Loads both stages' weights from `run` (final weights, else checkpoints).
    pub fn load(&mut self, run: &RunDir) -> Result<()> {
        load_latest(
            &RunDir::create(run.root().join(AUTOENCODER_DIR))?,
            &mut self.ae_vs,
        )?;
        load_latest(run, &mut self.vs)
    }

    pub fn prior(&self) -> &TransitionPrior {
        &self.parts.prior
    }

    /// The causal latents [N, L] the flow gives encodings [N, L] (on the model's device).
    pub fn flow_latents(&self, encodings: &Tensor) -> Tensor {
        tch::no_grad(|| self.parts.flow.forward(encodings).0)
    }

    /// The flow stage's trainable weights (flow, prior, classifier; the autoencoder's
    /// are separate and frozen).
    pub fn flow_store(&self) -> &VarStore {
        &self.vs
    }

    /// The flow stage's loss on encoding pairs `e_t`, `e_t1` [B, L] with targets [B, K]
    /// (on the model's device): what one training step of [`train_flow`] optimises,
    /// exposed so the training-speed benchmark times exactly that step. Initialise the
    /// flow first ([`Self::flow_latents`] on a batch of encodings).
    pub fn flow_loss(&self, e_t: &Tensor, e_t1: &Tensor, targets: &Tensor) -> Loss {
        self.parts.loss(e_t, e_t1, targets)
    }

    /// Encodings [N, L] (CPU) of `u8` frames by the frozen autoencoder.
    fn encode_frames(&self, frames: &Tensor, batch: i64) -> Tensor {
        let n = frames.size()[0];
        let device = self.ae_vs.device();
        let parts: Vec<Tensor> = tch::no_grad(|| {
            (0..n)
                .step_by(batch as usize)
                .map(|start| {
                    let x = to_input(&frames.narrow(0, start, batch.min(n - start)), device);
                    self.parts
                        .autoencoder
                        .encode(&x, false)
                        .to_device(Device::Cpu)
                })
                .collect()
        });
        Tensor::cat(&parts, 0)
    }
}

impl Parts {
    /// The loss of encodings `e_t`, `e_t1` [B, L] with targets [B, K]; its parts also
    /// log ψ's diagnostics ([`TransitionPrior::assignment_diagnostics`]).
    fn loss(&self, e_t: &Tensor, e_t1: &Tensor, targets: &Tensor) -> Loss {
        let (b, l, s) = (e_t.size()[0], e_t.size()[1], self.config.samples);
        let noise = self.config.autoencoder.noise_level;
        // [2, B, S, L] noisy copies, flowed in one batch.
        let e = Tensor::stack(&[e_t, e_t1], 0)
            .unsqueeze(2)
            .expand([2, b, s, l], false);
        let e = &e + e.randn_like() * noise;
        let (z, log_det) = self.flow.forward(&e.reshape([2 * b * s, l]));
        let z = z.view([2, b, s, l]);
        let log_det_t1 = log_det
            .view([2, b, s])
            .get(1)
            .mean_dim(1, false, Kind::Float);
        let (z_t, z_t1) = (z.get(0), z.get(1));
        let nll = (self.prior.nll(&z_t, &z_t1, targets) - &log_det_t1).mean(Kind::Float);
        let flat = |z: &Tensor| z.reshape([b * s, l]);
        let sample_targets = targets
            .unsqueeze(1)
            .expand([b, s, -1], false)
            .reshape([b * s, -1]);
        let assignment = self.prior.sample_assignment(b * s);
        let (cls_model, cls_z) =
            self.classifier
                .losses(&flat(&z_t), &flat(&z_t1), &sample_targets, &assignment);
        let total = &nll * self.config.beta_t1
            + &cls_model
            + &cls_z * self.config.beta_classifier
            + self.prior.psi0_regularizer();
        let mut parts = vec![
            ("nll", nll.detach()),
            ("log_det", log_det_t1.mean(Kind::Float).detach()),
            ("cls_model", cls_model.detach()),
            ("cls_z", cls_z.detach()),
        ];
        parts.extend(self.prior.assignment_diagnostics());
        Loss { total, parts }
    }
}

impl Representation for CitrisNf {
    fn encode(&self, images: &Tensor) -> Tensor {
        let parts = &self.parts;
        parts
            .flow
            .forward(&parts.autoencoder.encode(images, false))
            .0
    }

    fn decode(&self, latents: &Tensor) -> Tensor {
        let parts = &self.parts;
        parts
            .autoencoder
            .decode(&parts.flow.inverse(latents), false)
    }

    fn assignment(&self) -> Option<Vec<usize>> {
        Some(self.parts.prior.hard_assignment())
    }

    fn device(&self) -> Device {
        self.vs.device()
    }
}

/// Trains both stages of `model` for the run in `run` on `sequence` (whose targets are
/// the run's): the autoencoder in `RUN/autoencoder` unless it has finished already,
/// then the flow in `RUN`. Each stage resumes from its own checkpoint, so raising the
/// autoencoder's steps in `config.toml` continues it — unless the flow has been trained
/// on its present weights, which the longer autoencoder would silently invalidate.
pub fn train(
    model: &mut CitrisNf,
    run: &RunDir,
    config: &RunConfig,
    sequence: &Sequence,
    progress: &Progress,
) -> Result<TrainReport> {
    let ae_run = RunDir::create(run.root().join(AUTOENCODER_DIR))?;
    let ae_steps = model.parts.config.autoencoder_train.steps;
    let ae_done = match ae_run.has_checkpoint() {
        true => nn::checkpoint::saved_step(&ae_run.checkpoint_path())?,
        false => 0,
    };
    let ae_finished =
        ae_run.weights_path().is_file() && (!ae_run.has_checkpoint() || ae_done >= ae_steps);
    if ae_finished {
        nn::checkpoint::load_weights(&ae_run.weights_path(), &mut model.ae_vs)?;
    } else {
        if run.has_checkpoint() {
            return Err(Error::Invalid(format!(
                "the flow in {} was trained on the autoencoder after {ae_done} steps; training \
                 the autoencoder on to {ae_steps} would leave the flow stale: delete {} to \
                 train the flow again, or set [model.nf.autoencoder_train] steps back to \
                 {ae_done}",
                run.root().display(),
                run.checkpoint_path().display()
            )));
        }
        if let (false, Some(weights)) = (ae_run.has_checkpoint(), &config.init_from) {
            let weights = std::slice::from_ref(weights);
            let transfer = nn::checkpoint::load_matching(weights, &mut model.ae_vs)?;
            crate::training::announce_start(progress, weights, &transfer, None);
        }
        let mut objective = AutoencoderObjective::new(
            &model.parts.autoencoder,
            &sequence.frames,
            model
                .parts
                .config
                .autoencoder_batch
                .unwrap_or(config.data.batch),
            config.data.seed,
        )?;
        let ae_progress = Progress {
            label: format!("{} (autoencoder)", progress.label),
            visible: progress.visible,
        };
        fit(
            &mut model.ae_vs,
            &mut objective,
            &ae_run,
            &model.parts.config.autoencoder_train,
            &ae_progress,
        )?;
    }
    model.ae_vs.freeze();
    let encodings = model.encode_frames(&sequence.frames, 256);
    train_flow(model, run, config, &encodings, &sequence.targets, progress)
}

/// Trains the flow stage of `model` (flow, prior, classifier) in `run` on `encodings`
/// [N, L] of a sequence with `targets` [N−1, K] of its transitions: what [`train`] does
/// after the autoencoder, open to other encoders ([`crate::oracle`]).
pub fn train_flow(
    model: &mut CitrisNf,
    run: &RunDir,
    config: &RunConfig,
    encodings: &Tensor,
    targets: &Tensor,
    progress: &Progress,
) -> Result<TrainReport> {
    let (n, l) = (encodings.size()[0], model.parts.prior.latents());
    if encodings.size() != [n, l] || targets.size() != [n - 1, model.parts.prior.variables()] {
        return Err(Error::Invalid(format!(
            "the flow takes encodings [N, {l}] and targets [N - 1, {}], got {:?} and {:?}",
            model.parts.prior.variables(),
            encodings.size(),
            targets.size()
        )));
    }
    // ActNorm's data-dependent initialisation on the first encodings (a resumed run
    // then loads its initialised values from the checkpoint).
    let init = encodings
        .narrow(0, 0, n.min(1024))
        .to_device(model.vs.device());
    let _ = tch::no_grad(|| model.parts.flow.forward(&init));
    let mut objective = FlowObjective {
        parts: &model.parts,
        device: model.vs.device(),
        encodings,
        targets,
        batches: Batches::new((n - 1) as usize, config.data.batch, config.data.seed),
    };
    Ok(fit(
        &mut model.vs,
        &mut objective,
        run,
        &config.train,
        progress,
    )?)
}

/// Batches of encoding pairs for the flow stage.
struct FlowObjective<'a> {
    parts: &'a Parts,
    device: Device,
    encodings: &'a Tensor,
    targets: &'a Tensor,
    batches: Batches,
}

impl Objective for FlowObjective<'_> {
    fn loss(&mut self, step: usize) -> Loss {
        let index = self.batches.indices(step);
        let device = self.device;
        let e_t = self.encodings.index_select(0, &index).to_device(device);
        let e_t1 = self
            .encodings
            .index_select(0, &(&index + 1))
            .to_device(device);
        let targets = self.targets.index_select(0, &index).to_device(device);
        self.parts.loss(&e_t, &e_t1, &targets)
    }
}
