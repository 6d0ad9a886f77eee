//! Training runs of the causal VAE: the run configuration, the training objective, and
//! loading a trained model back from its run directory.

use std::path::PathBuf;

use bayesnet::{Engine, Network, Query};
use nn::batches::Batches;
use nn::run_dir::RunDir;
use nn::train::{fit, Loss, Objective, Progress, TrainConfig, TrainReport};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Device;

use crate::data::FightData;
use crate::model::{CausalVae, ModelConfig};
use crate::schema::LabelSchema;
use crate::{Error, Result};

/// Where the training images come from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A folder written by `causalgen data fight` (its `train` split is used); when
    /// absent, `scenes` images are rendered in memory from the run's network.
    pub folder: Option<PathBuf>,
    /// Scenes rendered in memory (ignored with a folder).
    pub scenes: usize,
    /// Nuisance strength of rendered scenes.
    pub nuisance: f32,
    /// Seed of the rendered scenes and of the label masking.
    pub seed: u64,
    /// Fraction of (image, variable) labels kept for training; the rest are hidden
    /// (semi-supervised training).
    pub labelled_fraction: f64,
    /// Images per step.
    pub batch: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            folder: None,
            scenes: 20_000,
            nuisance: 1.0,
            seed: 0,
            labelled_fraction: 1.0,
            batch: 64,
        }
    }
}

/// Everything a run needs, written to its `config.toml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub data: DataConfig,
}

impl RunConfig {
    /// Checks the options a user can set; the message names the option.
    pub fn validate(&self) -> Result<()> {
        self.model.validate().map_err(Error::Invalid)?;
        let d = &self.data;
        if !(d.labelled_fraction > 0.0 && d.labelled_fraction <= 1.0) {
            return Err(Error::Invalid(format!(
                "labelled fraction {} must be in (0, 1]",
                d.labelled_fraction
            )));
        }
        self.train
            .validate()
            .map_err(|message| Error::Invalid(format!("[train] {message}")))?;
        if d.batch == 0 {
            return Err(Error::Invalid("batch size must be at least 1".into()));
        }
        if d.folder.is_none() && d.scenes < d.batch {
            return Err(Error::Invalid(format!(
                "{} scenes cannot fill a batch of {}",
                d.scenes, d.batch
            )));
        }
        Ok(())
    }
}

/// File name of the run's copy of its causal network.
pub const NETWORK_FILE: &str = "network.bif";

/// A trained (or training) model with its network.
pub struct TrainedModel {
    pub config: RunConfig,
    pub network: Network,
    pub vs: VarStore,
    pub model: CausalVae,
}

impl TrainedModel {
    /// A freshly initialised model for `network` (seeded by `config.train.seed`).
    pub fn new(config: &RunConfig, network: Network, device: Device) -> Result<Self> {
        config.validate()?;
        let schema = LabelSchema::new(&network)?;
        let answer = Engine::new(network.clone()).answer(&Query {
            targets: schema.ids().to_vec(),
            ..Default::default()
        })?;
        let priors: Vec<Vec<f64>> = answer.marginals.into_iter().map(|(_, m)| m).collect();
        tch::manual_seed(config.train.seed as i64);
        let vs = VarStore::new(device);
        let model = CausalVae::new(&vs.root(), &config.model, schema, &priors);
        Ok(Self {
            config: config.clone(),
            network,
            vs,
            model,
        })
    }

    /// Loads the run's final weights (or its latest checkpoint if training did not
    /// finish) onto `device`.
    pub fn load(run: &RunDir, device: Device) -> Result<Self> {
        let config: RunConfig = run.read_config()?;
        let network = bayesnet::read_network(&run.root().join(NETWORK_FILE))?;
        let mut trained = Self::new(&config, network, device)?;
        let weights = match run.weights_path().is_file() {
            true => run.weights_path(),
            false => run.checkpoint_path(),
        };
        nn::checkpoint::load_weights(&weights, &mut trained.vs)?;
        Ok(trained)
    }
}

/// Trains (or resumes) the run in `run` with `config` on `network`'s scenes. A run
/// directory that already has a configuration must have been made with the same one.
pub fn train(
    run: &RunDir,
    config: &RunConfig,
    network: &Network,
    device: Device,
    progress: &Progress,
) -> Result<(TrainedModel, TrainReport)> {
    config.validate()?;
    if run.adopt_config(config)? {
        bayesnet::write_network(network, &run.root().join(NETWORK_FILE))?;
    }
    let mut trained = TrainedModel::new(config, network.clone(), device)?;
    let mut data = load_training_data(config, network, trained.model.schema())?;
    if data.size() != config.model.image_size {
        return Err(Error::Invalid(format!(
            "the data's images are {0} × {0} but the model is configured for {1} × {1}",
            data.size(),
            config.model.image_size
        )));
    }
    data.hide_labels(config.data.labelled_fraction, config.data.seed);
    let mut objective = VaeObjective {
        model: &trained.model,
        batches: Batches::new(data.len(), config.data.batch, config.data.seed),
        data: &data,
        device,
        kl_warmup: config.model.kl_warmup,
    };
    let report = fit(
        &mut trained.vs,
        &mut objective,
        run,
        &config.train,
        progress,
    )?;
    Ok((trained, report))
}

fn load_training_data(
    config: &RunConfig,
    network: &Network,
    schema: &LabelSchema,
) -> Result<FightData> {
    match &config.data.folder {
        Some(folder) => FightData::load(folder, "train", network, schema),
        None => FightData::generate(
            network,
            schema,
            config.data.scenes,
            config.model.image_size as usize,
            config.data.seed,
            config.data.nuisance,
        ),
    }
}

struct VaeObjective<'a> {
    model: &'a CausalVae,
    data: &'a FightData,
    batches: Batches,
    device: Device,
    kl_warmup: usize,
}

impl Objective for VaeObjective<'_> {
    fn loss(&mut self, step: usize) -> Loss {
        let index = self.batches.indices(step);
        let x = self.data.images_at(&index, self.device);
        let labels = self.data.labels_at(&index, self.device);
        let kl_weight = match self.kl_warmup {
            0 => 1.0,
            w => ((step + 1) as f64 / w as f64).min(1.0),
        };
        let t = self.model.loss(&x, &labels, kl_weight);
        Loss {
            total: t.total,
            parts: vec![
                ("reconstruction", t.reconstruction),
                ("kl_z", t.kl_z),
                ("kl_y", t.kl_y),
                ("cross_entropy", t.cross_entropy),
                ("label_accuracy", t.label_accuracy),
                ("consistency", t.consistency),
            ],
        }
    }
}

/// Scenes held out from training: the data folder's `test` split, or `n` scenes
/// rendered with a seed the training set never uses. `causalgen query --index` and
/// the evaluation read the same scenes.
pub fn test_data(
    config: &RunConfig,
    network: &Network,
    schema: &LabelSchema,
    n: usize,
) -> Result<FightData> {
    match &config.data.folder {
        Some(folder) => FightData::load(folder, "test", network, schema),
        None => FightData::generate(
            network,
            schema,
            n,
            config.model.image_size as usize,
            config.data.seed ^ TEST_SEED,
            config.data.nuisance,
        ),
    }
}

/// Salt of the held-out scenes' seed.
const TEST_SEED: u64 = 0x7E57_5CE2_E5EE_D000;
