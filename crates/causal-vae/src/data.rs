//! Fight-scene training data: images (u8, kept compact in memory) and the network
//! states behind them, either rendered in memory from a network or read from a folder
//! written by `causalgen data fight`.

use std::path::Path;

use bayesnet::Network;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use scenes::fight::{render_into, sample_scenes, FightOptions};
use scenes::npz::NpzFile;
use tch::{Device, Kind, Tensor};

use crate::schema::{LabelSchema, MISSING};
use crate::{Error, Result};

/// Images with their image-variable labels (network state indices, −1 when hidden
/// from training) and the full network states (the ground truth, hidden variables
/// included).
#[derive(Debug)]
pub struct FightData {
    /// [N, 3, S, S] u8 on the CPU.
    pub images: Tensor,
    /// [N, 6] i64 on the CPU.
    pub labels: Tensor,
    /// Full network state per image, indexed by `VarId`.
    pub states: Vec<Vec<usize>>,
}

impl FightData {
    /// Renders `n` scenes forward-sampled from `net` (seeded; `nuisance` as in
    /// `causalgen data fight`).
    pub fn generate(
        net: &Network,
        schema: &LabelSchema,
        n: usize,
        size: usize,
        seed: u64,
        nuisance: f32,
    ) -> Result<Self> {
        let options = FightOptions {
            n,
            size,
            seed,
            nuisance,
            ..Default::default()
        };
        let scenes = sample_scenes(net, &options, n)?;
        let bytes = size * size * 3;
        let mut pixels = vec![0u8; n * bytes];
        pixels
            .par_chunks_mut(bytes)
            .zip(&scenes.labels)
            .zip(&scenes.nuisance)
            .for_each(|((img, l), nu)| render_into(l, nu, size, img));
        Ok(Self::from_parts(schema, &pixels, size, scenes.states))
    }

    /// Reads split `split` (`train`, `val` or `test`) of a data folder.
    pub fn load(dir: &Path, split: &str, net: &Network, schema: &LabelSchema) -> Result<Self> {
        let path = dir.join(format!("{split}.npz"));
        let data_error = |message: String| Error::Data {
            path: path.clone(),
            message,
        };
        if !path.is_file() {
            return Err(data_error(format!(
                "missing; write a data set with `causalgen data fight --out {}`",
                dir.display()
            )));
        }
        let mut npz = NpzFile::open(&path)?;
        let images = npz.read::<u8>("images")?;
        let shape = images.shape().to_vec();
        if shape.len() != 4 || shape[1] != shape[2] || shape[3] != 3 {
            return Err(data_error(format!(
                "images have shape {shape:?}, expected [N, S, S, 3]"
            )));
        }
        let n = shape[0];
        let mut states = vec![vec![0usize; net.len()]; n];
        for v in net.ids() {
            let name = &net.variable(v).name;
            if !npz.contains(name) {
                return Err(data_error(format!(
                    "no array for network variable `{name}`"
                )));
            }
            let values = npz.read_as_i64(name)?;
            if values.data().len() != n {
                return Err(data_error(format!(
                    "`{name}` has {} values for {n} images",
                    values.data().len()
                )));
            }
            for (row, &s) in states.iter_mut().zip(values.data()) {
                if s < 0 || s as usize >= net.card(v) {
                    return Err(data_error(format!(
                        "`{name}` has state index {s}, but the network's `{name}` has {} states",
                        net.card(v)
                    )));
                }
                row[v.0] = s as usize;
            }
        }
        Ok(Self::from_parts(schema, images.data(), shape[1], states))
    }

    fn from_parts(schema: &LabelSchema, hwc: &[u8], size: usize, states: Vec<Vec<usize>>) -> Self {
        let n = states.len() as i64;
        let s = size as i64;
        let images = Tensor::from_slice(hwc)
            .view([n, s, s, 3])
            .permute([0, 3, 1, 2])
            .contiguous();
        let rows: Vec<Vec<i64>> = states
            .iter()
            .map(|st| schema.labels_of_states(st))
            .collect();
        let labels = schema.label_tensor(&rows, Device::Cpu);
        Self {
            images,
            labels,
            states,
        }
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Image side in pixels.
    pub fn size(&self) -> i64 {
        self.images.size()[2]
    }

    /// Hides labels for semi-supervised training: each (image, variable) label is kept
    /// with probability `fraction` (seeded), otherwise set to −1.
    pub fn hide_labels(&mut self, fraction: f64, seed: u64) {
        if fraction >= 1.0 {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4849_4445);
        let mut flat: Vec<i64> = Vec::try_from(self.labels.view([-1])).expect("labels are i64");
        for label in &mut flat {
            if rng.gen::<f64>() >= fraction {
                *label = MISSING;
            }
        }
        self.labels = Tensor::from_slice(&flat).view(self.labels.size().as_slice());
    }

    /// Images `index` as floats in [0, 1] on `device`: [B, 3, S, S].
    pub fn images_at(&self, index: &Tensor, device: Device) -> Tensor {
        self.images
            .index_select(0, index)
            .to_device(device)
            .to_kind(Kind::Float)
            / 255.0
    }

    /// Labels `index` on `device`: [B, 6].
    pub fn labels_at(&self, index: &Tensor, device: Device) -> Tensor {
        self.labels.index_select(0, index).to_device(device)
    }
}
