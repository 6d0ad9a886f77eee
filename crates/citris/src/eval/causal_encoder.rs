//! The causal encoder of the triplet evaluation (the reference's `CausalEncoder`): a
//! CNN trained with supervision to read every causal variable from a frame. Applied to
//! an image a model generated, it says how far the causal variables shown are from the
//! ones the image should show, as per-variable normalised distances (see
//! the `factor` module: continuous |error| / half the range, angles arc / π, classes
//! 0/1).
//!
//! The network is the models' own image encoder ([`Encoder`]) with one output per
//! factor column (the reference puts a hidden layer of `width` features and one linear
//! head per variable behind it; the encoder's last linear layer is those heads side by
//! side). Continuous targets are scaled by the variables' declared ranges, so a saved
//! network needs nothing but its variables to be used again. Trained as the reference
//! trains it: AdamW (lr 1e-3, weight decay 1e-4), a linear warm-up then a cosine decay
//! to 0, gradients clipped at norm 1.
//!
//! The encoder is not perfect: its distance on real frames it has not seen (say
//! `test_indep`) is the floor of any model's triplet distance ([`CausalEncoder::floor`]).
//!
//! A run keeps its encoder in `RUN/eval/causal_encoder/` ([`CAUSAL_ENCODER_DIR`]:
//! `config.json` and `model.safetensors`), so evaluating again does not retrain it.

use std::path::{Path, PathBuf};

use nn::batches::Batches;
use nn::optim::{AdamW, AdamWConfig, CosineSchedule};
use nn::run_dir::{write_atomically, RunDir};
use nn::train::update;
use scenes::tris::CausalVariable;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::data::{to_input, LabelledFrames, TrisData};
use crate::nets::{Encoder, NetConfig};
use crate::{Error, Result};

use super::factor::Factor;

/// Where a run keeps its causal encoder, relative to the run directory.
pub const CAUSAL_ENCODER_DIR: &str = "eval/causal_encoder";

/// The independent split [`CausalEncoder::load_or_train`] trains on: i.i.d. frames that
/// cover the variables' joint range, disjoint from the `test_indep` frames that measure
/// the floor.
pub const TRAINING_SPLIT: &str = "val_indep";

const CONFIG_FILE: &str = "config.json";
const WEIGHTS_FILE: &str = "model.safetensors";

/// Frames per forward pass when predicting (bounds memory on large sets).
const PREDICT_BATCH: i64 = 256;

/// Most warm-up steps (the reference's default is 100).
const MAX_WARMUP: usize = 100;

/// How the causal encoder is trained. The defaults are the reference's (batches of
/// 128, lr 1e-3, 64 hidden channels) with 5000 steps.
#[derive(Clone, Debug)]
pub struct CausalEncoderOptions {
    /// AdamW steps.
    pub steps: usize,
    /// Frames per step.
    pub batch: usize,
    pub lr: f64,
    /// Hidden channels of the encoder.
    pub width: i64,
    /// Fixes the initial weights and the batch order.
    pub seed: u64,
    pub device: Device,
}

impl Default for CausalEncoderOptions {
    fn default() -> Self {
        Self {
            steps: 5000,
            batch: 128,
            lr: 1e-3,
            width: 64,
            seed: 0,
            device: Device::Cpu,
        }
    }
}

/// What a saved encoder was made from: [`CausalEncoder::load_or_train`] reuses a saved
/// encoder only when this matches what it would train now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncoderConfig {
    /// The variables it predicts, in output order.
    variables: Vec<CausalVariable>,
    net: NetConfig,
    steps: usize,
    batch: usize,
    lr: f64,
    seed: u64,
    /// The frames it was trained on (data folder and split), when known.
    trained_on: Option<(PathBuf, String)>,
}

/// Per causal variable, a mean normalised distance; `total` is their sum (the
/// reference's triplet loss).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariableDistances {
    pub variables: Vec<String>,
    pub per_variable: Vec<f64>,
    pub total: f64,
}

/// A trained causal encoder.
#[derive(Debug)]
pub struct CausalEncoder {
    vs: VarStore,
    net: Encoder,
    config: EncoderConfig,
}

impl CausalEncoder {
    /// Trains an encoder on `frames` (`u8` [N, C, H, W], H = W = 32 or 64) with their
    /// raw `latents` ([N, D]) to predict every variable of `variables`.
    pub fn train(
        frames: &Tensor,
        latents: &Tensor,
        variables: &[CausalVariable],
        options: &CausalEncoderOptions,
    ) -> Result<Self> {
        Self::train_described(frames, latents, variables, options, None)
    }

    /// The encoder of the run in `run` for `variables`: the saved one when it was made
    /// for them with `options` from `data`, otherwise one trained now on `data`'s
    /// [`TRAINING_SPLIT`] and saved in the run.
    pub fn load_or_train(
        run: &RunDir,
        data: &TrisData,
        variables: &[CausalVariable],
        options: &CausalEncoderOptions,
    ) -> Result<Self> {
        let dir = run.root().join(CAUSAL_ENCODER_DIR);
        let [channels, size, _] = data.input_shape();
        let trained_on = Some((data.dir().to_path_buf(), TRAINING_SPLIT.to_string()));
        let wanted = EncoderConfig::new(variables, channels, size, options, trained_on.clone());
        if let Ok(mut saved) = read_config(&dir) {
            // The data folder may have been named another way this time.
            if let Some((folder, _)) = &mut saved.trained_on {
                if nn::run_dir::same_path(folder, data.dir()) {
                    *folder = data.dir().to_path_buf();
                }
            }
            if saved == wanted {
                return Self::load(&dir, options.device);
            }
        }
        let frames = data.independent(TRAINING_SPLIT)?;
        let encoder = Self::train_described(
            &frames.frames,
            &frames.latents,
            variables,
            options,
            trained_on,
        )?;
        encoder.save(&dir)?;
        Ok(encoder)
    }

    fn train_described(
        frames: &Tensor,
        latents: &Tensor,
        variables: &[CausalVariable],
        options: &CausalEncoderOptions,
        trained_on: Option<(PathBuf, String)>,
    ) -> Result<Self> {
        let (n, channels, size) = check_frames(frames, latents)?;
        if variables.is_empty() || options.steps == 0 || options.batch == 0 {
            return Err(Error::Invalid(
                "the causal encoder needs at least one variable, one step and one frame per \
                 batch"
                    .into(),
            ));
        }
        let config = EncoderConfig::new(variables, channels, size, options, trained_on);
        let device = options.device;
        let factors = factors(variables, &latents.to_device(device))?;
        let encoder = Self::untrained(config, device)?;
        let mut optimizer = AdamW::new(&encoder.vs, AdamWConfig::default());
        let schedule = CosineSchedule {
            peak: options.lr,
            warmup: (options.steps / 10).clamp(1, MAX_WARMUP),
            total: options.steps,
            final_ratio: 0.0,
        };
        let mut batches = Batches::new(n as usize, options.batch, options.seed);
        for step in 0..options.steps {
            let rows = batches.indices(step);
            let x = to_input(
                &frames.index_select(0, &rows.to_device(frames.device())),
                device,
            );
            let out = encoder.net.forward_t(&x, true);
            let rows = rows.to_device(device);
            let losses: Vec<Tensor> = factors
                .iter()
                .map(|f| {
                    f.loss(
                        &out.narrow(1, f.offset, f.width),
                        &f.target.index_select(0, &rows),
                    )
                })
                .collect();
            let loss = Tensor::stack(&losses, 0).sum(Kind::Float);
            update(&mut optimizer, &loss, 1.0, schedule.lr(step));
        }
        Ok(encoder)
    }

    /// A network for `config` with weights drawn from libtorch's generator seeded with
    /// the config's seed.
    fn untrained(config: EncoderConfig, device: Device) -> Result<Self> {
        tch::manual_seed(config.seed as i64);
        let vs = VarStore::new(device);
        let net = Encoder::new(&vs.root() / "encoder", &config.net, config.net.latents)?;
        Ok(Self { vs, net, config })
    }

    /// The variables it predicts, in the order of every distance it reports.
    pub fn variables(&self) -> &[CausalVariable] {
        &self.config.variables
    }

    /// Writes the encoder into `dir` (created if needed): weights and configuration,
    /// each atomically; the configuration, written last, marks a complete encoder.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Data {
            path: dir.to_path_buf(),
            message: format!("cannot create the folder: {e}"),
        })?;
        let config_path = dir.join(CONFIG_FILE);
        // A stale configuration must not describe the new weights if writing stops halfway.
        if config_path.is_file() {
            std::fs::remove_file(&config_path).map_err(|e| Error::Data {
                path: config_path.clone(),
                message: format!("cannot replace the file: {e}"),
            })?;
        }
        nn::checkpoint::save_weights(&dir.join(WEIGHTS_FILE), &self.vs)?;
        let mut json = serde_json::to_vec_pretty(&self.config).map_err(|e| Error::Data {
            path: config_path.clone(),
            message: format!("cannot encode the configuration: {e}"),
        })?;
        json.push(b'\n');
        write_atomically(&config_path, &json)?;
        Ok(())
    }

    /// Loads an encoder [`save`](Self::save)d in `dir` onto `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        let config = read_config(dir)?;
        let mut encoder = Self::untrained(config, device)?;
        nn::checkpoint::load_weights(&dir.join(WEIGHTS_FILE), &mut encoder.vs)?;
        Ok(encoder)
    }

    /// Per frame and variable, the normalised distance ([N, K], CPU) of what the
    /// encoder reads from `images` to the true raw `latents` ([N, D]). `images` are
    /// frames (`u8` [N, C, H, W]) or model outputs (`f32` in [−1, 1]), on any device.
    pub fn frame_distances(&self, images: &Tensor, latents: &Tensor) -> Result<Tensor> {
        let shape = images.size();
        let net = &self.config.net;
        let expected = [net.channels, net.image_size, net.image_size];
        if shape.len() != 4 || shape[1..] != expected {
            return Err(Error::Invalid(format!(
                "the causal encoder reads [N, {}, {}, {}] images, got {shape:?}",
                expected[0], expected[1], expected[2]
            )));
        }
        let n = shape[0];
        if latents.dim() != 2 || latents.size()[0] != n {
            return Err(Error::Invalid(format!(
                "{n} images but ground-truth latents of shape {:?}",
                latents.size()
            )));
        }
        let latents = latents.to_device(Device::Cpu);
        let factors = factors(&self.config.variables, &latents)?;
        let out = self.outputs(images);
        let distances: Vec<Tensor> = factors
            .iter()
            .map(|f| f.distances(&out.narrow(1, f.offset, f.width), &f.target))
            .collect();
        Ok(Tensor::stack(&distances, 1))
    }

    /// Per variable, the mean normalised distance over `images` (as in
    /// [`frame_distances`](Self::frame_distances)).
    pub fn predict_distances(
        &self,
        images: &Tensor,
        latents: &Tensor,
    ) -> Result<VariableDistances> {
        let per_frame = self.frame_distances(images, latents)?;
        let means = per_frame.mean_dim(0, false, Kind::Double);
        let per_variable = Vec::<f64>::try_from(&means).expect("a vector of distances");
        Ok(VariableDistances {
            variables: self
                .config
                .variables
                .iter()
                .map(|v| v.name.clone())
                .collect(),
            total: per_variable.iter().sum(),
            per_variable,
        })
    }

    /// The encoder's own error on real frames it was not trained on (e.g.
    /// `test_indep`): no generated image can be scored closer to its target on average,
    /// so it is the floor of the triplet distances.
    pub fn floor(&self, held_out: &LabelledFrames) -> Result<VariableDistances> {
        self.predict_distances(&held_out.frames, &held_out.latents)
    }

    /// The network's outputs for `images` ([N, total factor width], CPU), in batches,
    /// in inference mode.
    fn outputs(&self, images: &Tensor) -> Tensor {
        let device = self.vs.device();
        tch::no_grad(|| {
            let parts: Vec<Tensor> = images
                .split(PREDICT_BATCH, 0)
                .iter()
                .map(|chunk| {
                    let x = match chunk.kind() {
                        Kind::Uint8 => to_input(chunk, device),
                        _ => chunk.to_device(device).to_kind(Kind::Float),
                    };
                    self.net.forward_t(&x, false).to_device(Device::Cpu)
                })
                .collect();
            Tensor::cat(&parts, 0)
        })
    }
}

impl EncoderConfig {
    fn new(
        variables: &[CausalVariable],
        channels: i64,
        size: i64,
        options: &CausalEncoderOptions,
        trained_on: Option<(PathBuf, String)>,
    ) -> Self {
        Self {
            variables: variables.to_vec(),
            net: NetConfig {
                image_size: size,
                channels,
                width: options.width,
                latents: variables.iter().map(output_width).sum(),
            },
            steps: options.steps,
            batch: options.batch,
            lr: options.lr,
            seed: options.seed,
            trained_on,
        }
    }
}

/// Outputs the encoder spends on `variable` (its factor's width).
fn output_width(variable: &CausalVariable) -> i64 {
    use scenes::tris::VariableKind;
    let columns = variable.latents.len() as i64;
    match variable.kind {
        VariableKind::Continuous { .. } => columns,
        VariableKind::Angle { .. } => 2 * columns,
        VariableKind::Categorical { classes } => classes as i64 * columns,
    }
}

/// The range-scaled factors of `variables` on `latents`, side by side.
fn factors(variables: &[CausalVariable], latents: &Tensor) -> Result<Vec<Factor>> {
    let mut offset = 0;
    variables
        .iter()
        .map(|v| {
            let factor = Factor::in_range(v, latents, offset)?;
            offset += factor.width;
            Ok(factor)
        })
        .collect()
}

/// (N, channels, size) of `u8` frames [N, C, S, S] with one latent row each.
fn check_frames(frames: &Tensor, latents: &Tensor) -> Result<(i64, i64, i64)> {
    let shape = frames.size();
    let bad = |problem: String| Err(Error::Invalid(format!("causal encoder: {problem}")));
    if frames.kind() != Kind::Uint8 || shape.len() != 4 || shape[2] != shape[3] {
        return bad(format!(
            "frames must be u8 [N, C, S, S], got {:?} {shape:?}",
            frames.kind()
        ));
    }
    if shape[0] == 0 || latents.dim() != 2 || latents.size()[0] != shape[0] {
        return bad(format!(
            "{} frames need as many latent rows, got latents {:?}",
            shape[0],
            latents.size()
        ));
    }
    Ok((shape[0], shape[1], shape[2]))
}

fn read_config(dir: &Path) -> Result<EncoderConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Data {
        path: path.clone(),
        message: format!("cannot read the causal encoder's configuration: {e}"),
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Data {
        path,
        message: format!("not a causal encoder configuration: {e}"),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use scenes::tris::boxes::Boxes;
    use scenes::tris::dataset::{write_dataset, DatasetOptions};

    use super::*;

    /// A ball-in-boxes set (32 × 32) in a temporary folder (kept while the first value
    /// lives): 500 `val_indep` and 500 `test_indep` frames, 200 test triplets. Generating
    /// it takes well under a second.
    pub(crate) fn boxes_data() -> (tempfile::TempDir, TrisData) {
        let dir = tempfile::tempdir().expect("temporary folder");
        write_dataset(&Boxes::new(), dir.path(), &DatasetOptions::new(2000, 3))
            .expect("generated data set");
        let data = TrisData::open(dir.path()).expect("opened data set");
        (dir, data)
    }

    /// An encoder for the manifest's variables trained `steps` steps on `val_indep`.
    pub(crate) fn boxes_encoder(data: &TrisData, steps: usize) -> CausalEncoder {
        let train = data.independent(TRAINING_SPLIT).expect("val_indep");
        let options = CausalEncoderOptions {
            steps,
            batch: 64,
            width: 16,
            ..Default::default()
        };
        CausalEncoder::train(&train.frames, &train.latents, data.variables(), &options)
            .expect("trained encoder")
    }

    /// The distances of the best constant guesses, computed by hand for ball-in-boxes:
    /// the majority box, and the mean x and y over `half_range` each.
    fn constant_guess_distances(latents: &Tensor) -> Vec<f64> {
        let column =
            |j: i64| Vec::<f64>::try_from(latents.select(1, j).to_kind(Kind::Double)).unwrap();
        let mean_abs_dev = |values: &[f64], half_range: f64| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            values.iter().map(|v| (v - mean).abs()).sum::<f64>() / values.len() as f64 / half_range
        };
        let boxes = column(0);
        let right = boxes.iter().filter(|&&b| b == 1.0).count() as f64 / boxes.len() as f64;
        let half = |lo: f32, hi: f32| f64::from(hi - lo) / 2.0;
        vec![
            right.min(1.0 - right),
            mean_abs_dev(&column(1), half(Boxes::BALL_X_MIN, Boxes::BALL_X_MAX)),
            mean_abs_dev(&column(2), half(Boxes::BALL_Y_MIN, Boxes::BALL_Y_MAX)),
        ]
    }

    #[test]
    fn trained_encoder_reads_held_out_frames_far_better_than_a_constant_guess() {
        let (_dir, data) = boxes_data();
        let encoder = boxes_encoder(&data, 300);
        let held_out = data.independent("test_indep").unwrap();
        let floor = encoder.floor(&held_out).unwrap();
        let guess = constant_guess_distances(&held_out.latents);
        eprintln!(
            "encoder {:?} vs constant guess {guess:?}",
            floor.per_variable
        );
        assert_eq!(floor.variables, vec!["ball_b", "ball_x", "ball_y"]);
        for (k, (&d, &g)) in floor.per_variable.iter().zip(&guess).enumerate() {
            assert!(d < 0.5 * g, "variable {k}: {d} vs constant guess {g}");
        }
        let total: f64 = guess.iter().sum();
        assert!(floor.total < 0.25 * total, "{} vs {total}", floor.total);
    }

    #[test]
    fn saved_encoder_loads_with_the_same_predictions_and_is_reused() {
        let (_dir, data) = boxes_data();
        let data = &data;
        let run_root = tempfile::tempdir().unwrap();
        let run = RunDir::create(run_root.path()).unwrap();
        let options = CausalEncoderOptions {
            steps: 3,
            batch: 16,
            width: 8,
            ..Default::default()
        };
        let first = CausalEncoder::load_or_train(&run, data, data.variables(), &options).unwrap();
        let weights = run.root().join(CAUSAL_ENCODER_DIR).join(WEIGHTS_FILE);
        let written = std::fs::metadata(&weights).unwrap().modified().unwrap();
        let again = CausalEncoder::load_or_train(&run, data, data.variables(), &options).unwrap();
        assert_eq!(
            std::fs::metadata(&weights).unwrap().modified().unwrap(),
            written
        );
        let held_out = data.independent("test_indep").unwrap();
        let (a, b) = (
            first.floor(&held_out).unwrap(),
            again.floor(&held_out).unwrap(),
        );
        assert_eq!(a, b);
        // Another spelling of the data folder is the same data.
        let name = data.dir().file_name().unwrap();
        let respelled = TrisData::open(&data.dir().join("..").join(name)).unwrap();
        CausalEncoder::load_or_train(&run, &respelled, data.variables(), &options).unwrap();
        assert_eq!(
            std::fs::metadata(&weights).unwrap().modified().unwrap(),
            written
        );
        // Other options retrain.
        let other = CausalEncoderOptions { seed: 1, ..options };
        let retrained = CausalEncoder::load_or_train(&run, data, data.variables(), &other).unwrap();
        assert_ne!(retrained.floor(&held_out).unwrap(), a);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let frames = Tensor::zeros([2, 3, 32, 32], (Kind::Uint8, Device::Cpu));
        let latents = Tensor::zeros([3, 3], (Kind::Float, Device::Cpu));
        let variables = Boxes::new();
        let variables = scenes::tris::TemporalProcess::variables(&variables);
        let options = CausalEncoderOptions::default();
        let err = CausalEncoder::train(&frames, &latents, &variables, &options).unwrap_err();
        assert!(err.to_string().contains("latent rows"), "{err}");
        let float = frames.to_kind(Kind::Float);
        let err = CausalEncoder::train(&float, &latents.narrow(0, 0, 2), &variables, &options)
            .unwrap_err();
        assert!(err.to_string().contains("u8"), "{err}");
        let tiny = CausalEncoderOptions {
            steps: 1,
            batch: 2,
            width: 4,
            ..Default::default()
        };
        let encoder =
            CausalEncoder::train(&frames, &latents.narrow(0, 0, 2), &variables, &tiny).unwrap();
        let small = Tensor::zeros([2, 3, 16, 16], (Kind::Uint8, Device::Cpu));
        let err = encoder
            .predict_distances(&small, &latents.narrow(0, 0, 2))
            .unwrap_err();
        assert!(err.to_string().contains("[N, 3, 32, 32]"), "{err}");
    }
}
