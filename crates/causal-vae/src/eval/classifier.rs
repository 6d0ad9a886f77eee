//! The judge of the evaluation: a label classifier trained on freshly rendered fight
//! scenes, independently of the VAE (its own weights, data and seed). Reading generated
//! images with the VAE's own label head would let the model grade itself; an outside
//! classifier that is near-perfect on real images measures what the images show.
//!
//! It is a [`ConvEncoder`] with an MLP head to the schema's concatenated one-hot blocks,
//! trained with one cross-entropy per image variable by [`nn::train::fit`] in its own
//! run directory (`<run>/eval/classifier`), so it is checkpointed, resumable, and reused
//! by later evaluations made with the same configuration.

use nn::batches::Batches;
use nn::layers::{mlp, ConvEncoder};
use nn::run_dir::RunDir;
use nn::train::{fit, Loss, Objective, Progress, TrainConfig};
use serde::{Deserialize, Serialize};
use tch::nn::{Module, Sequential, VarStore};
use tch::{Device, Kind, Tensor};

use crate::data::FightData;
use crate::schema::LabelSchema;
use crate::{Error, Result};

/// Where the classifier's run lives inside the VAE's run directory.
pub const CLASSIFIER_DIR: &str = "eval/classifier";

/// Images per forward pass when classifying many images (bounds memory, not results).
pub const INFERENCE_BATCH: i64 = 256;

/// Everything that determines the classifier's weights (its run's `config.toml`): a run
/// directory holding weights for an equal configuration is reused as is.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Image side in pixels (the VAE's).
    pub image_size: i64,
    /// Channels of the encoder's first level (a multiple of 8).
    pub width: i64,
    /// Width of the head's hidden layer.
    pub hidden: i64,
    /// Rendered training scenes.
    pub scenes: usize,
    /// Nuisance strength of the rendered scenes.
    pub nuisance: f32,
    /// Seed of the rendered scenes (and of the batch order).
    pub data_seed: u64,
    /// Images per step.
    pub batch: usize,
    pub train: TrainConfig,
}

impl ClassifierConfig {
    /// The configuration the evaluation uses: `steps` steps on `scenes` scenes. The
    /// learning-rate warm-up is a tenth of the run (at most 50 steps).
    pub fn new(image_size: i64, scenes: usize, steps: usize, nuisance: f32, seed: u64) -> Self {
        Self {
            image_size,
            width: 16,
            hidden: 128,
            scenes,
            nuisance,
            data_seed: seed,
            batch: 64,
            train: TrainConfig {
                steps,
                lr: 2e-3,
                warmup: (steps / 10).min(50),
                checkpoint_every: 200,
                log_every: 20,
                seed,
                ..Default::default()
            },
        }
    }
}

/// The modules, apart from the `VarStore` that `fit` borrows mutably.
#[derive(Debug)]
struct Network {
    encoder: ConvEncoder,
    head: Sequential,
    schema: LabelSchema,
}

impl Network {
    fn logits(&self, x: &Tensor) -> Tensor {
        self.head.forward(&self.encoder.forward(x))
    }

    /// Sum over the image variables of the mean cross-entropy, and the fraction of
    /// (image, variable) labels predicted correctly.
    fn loss(&self, x: &Tensor, labels: &Tensor) -> (Tensor, Tensor) {
        let logits = self.logits(x);
        let mut total = Tensor::zeros([], (Kind::Float, x.device()));
        let mut correct = Tensor::zeros([], (Kind::Float, x.device()));
        for k in 0..self.schema.len() {
            let block = logits.narrow(1, self.schema.offset(k), self.schema.cards()[k]);
            let target = labels.select(1, k as i64);
            total += block.cross_entropy_for_logits(&target);
            correct += block
                .argmax(1, false)
                .eq_tensor(&target)
                .to_kind(Kind::Float)
                .mean(Kind::Float);
        }
        (total, correct / self.schema.len() as f64)
    }

    fn predict(&self, x: &Tensor) -> Tensor {
        let logits = self.logits(x);
        let picks: Vec<Tensor> = (0..self.schema.len())
            .map(|k| {
                logits
                    .narrow(1, self.schema.offset(k), self.schema.cards()[k])
                    .argmax(1, false)
            })
            .collect();
        Tensor::stack(&picks, 1)
    }
}

/// A trained label classifier.
#[derive(Debug)]
pub struct LabelClassifier {
    vs: VarStore,
    net: Network,
    /// Whether the weights were loaded from an earlier evaluation instead of trained.
    pub reused: bool,
}

impl LabelClassifier {
    /// A freshly initialised classifier (seeded by `config.train.seed`).
    pub fn new(config: &ClassifierConfig, schema: &LabelSchema, device: Device) -> Self {
        tch::manual_seed(config.train.seed as i64);
        let vs = VarStore::new(device);
        let root = vs.root();
        let encoder = ConvEncoder::new(&root / "encoder", config.image_size, config.width);
        let head = mlp(
            &root / "head",
            &[encoder.out_features(), config.hidden, schema.width()],
        );
        Self {
            vs,
            net: Network {
                encoder,
                head,
                schema: schema.clone(),
            },
            reused: false,
        }
    }

    /// The classifier of `run`'s directory when it holds final weights for `config`;
    /// otherwise trains one on `data` (resuming an interrupted training of the same
    /// configuration, starting afresh over one of another).
    pub fn train_or_load(
        run: &RunDir,
        config: &ClassifierConfig,
        data: &FightData,
        schema: &LabelSchema,
        device: Device,
        progress: &Progress,
    ) -> Result<Self> {
        if data.size() != config.image_size || data.len() < config.batch {
            return Err(Error::Invalid(format!(
                "the classifier needs at least {} images of {size} × {size} (got {} of {got} × {got})",
                config.batch,
                data.len(),
                size = config.image_size,
                got = data.size()
            )));
        }
        let mut classifier = Self::new(config, schema, device);
        let same = run.config_path().is_file()
            && run.read_config::<ClassifierConfig>().ok().as_ref() == Some(config);
        if same && run.weights_path().is_file() {
            nn::checkpoint::load_weights(&run.weights_path(), &mut classifier.vs)?;
            classifier.reused = true;
            return Ok(classifier);
        }
        if !same {
            // Weights of another configuration must neither be resumed nor reused.
            for stale in [
                run.checkpoint_path(),
                run.weights_path(),
                run.metrics_path(),
            ] {
                if stale.is_file() {
                    std::fs::remove_file(&stale).map_err(|source| {
                        Error::Nn(nn::NnError::Io {
                            path: stale.clone(),
                            source,
                        })
                    })?;
                }
            }
            run.write_config(config)?;
        }
        let mut objective = ClassifierObjective {
            net: &classifier.net,
            data,
            batches: Batches::new(data.len(), config.batch, config.data_seed),
            device,
        };
        fit(
            &mut classifier.vs,
            &mut objective,
            run,
            &config.train,
            progress,
        )?;
        Ok(classifier)
    }

    /// The most probable label of each image variable for every image of `images`
    /// ([N, 3, S, S], floats in [0, 1] or bytes, any device): [N, 6] on the CPU,
    /// classified in batches.
    pub fn predict(&self, images: &Tensor) -> Tensor {
        let device = self.vs.device();
        let n = images.size()[0];
        let parts: Vec<Tensor> = (0..n)
            .step_by(INFERENCE_BATCH as usize)
            .map(|start| {
                let x = images.narrow(0, start, INFERENCE_BATCH.min(n - start));
                let x = match x.kind() {
                    Kind::Uint8 => x.to_device(device).to_kind(Kind::Float) / 255.0,
                    _ => x.to_device(device).to_kind(Kind::Float),
                };
                tch::no_grad(|| self.net.predict(&x)).to_device(Device::Cpu)
            })
            .collect();
        match parts.is_empty() {
            true => Tensor::zeros(
                [0, self.net.schema.len() as i64],
                (Kind::Int64, Device::Cpu),
            ),
            false => Tensor::cat(&parts, 0),
        }
    }
}

/// Mini-batches of rendered scenes with their full labels.
struct ClassifierObjective<'a> {
    net: &'a Network,
    data: &'a FightData,
    batches: Batches,
    device: Device,
}

impl Objective for ClassifierObjective<'_> {
    fn loss(&mut self, step: usize) -> Loss {
        let index = self.batches.indices(step);
        let x = self.data.images_at(&index, self.device);
        let labels = self.data.labels_at(&index, self.device);
        let (total, accuracy) = self.net.loss(&x, &labels);
        Loss {
            parts: vec![
                ("cross_entropy", total.detach()),
                ("accuracy", accuracy.detach()),
            ],
            total,
        }
    }
}
