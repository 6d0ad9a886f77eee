//! A data set in the CITRIS file layout (`causalgen data causal3d|pong|boxes`, see
//! `scenes::tris::dataset`) as tensors: the training sequence as frame pairs with their
//! intervention targets, independent frames with ground-truth latents for the
//! correlation metrics, and triplets.
//!
//! Frames stay `u8` in memory ([N, C, H, W]) and are scaled to the models' input range
//! [−1, 1] per batch by [`to_input`], so a 50 000-frame set costs 600 MB, not 2.4 GB.

use std::path::{Path, PathBuf};

use scenes::citris_files::{SliderFrames, TemporalSequence, Triplets};
use scenes::manifest::Manifest;
use scenes::npz::Array;
use scenes::tris::CausalVariable;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::{Error, Result};

/// Name of the manifest that `causalgen data` writes next to the `.npz` files.
pub const MANIFEST_FILE: &str = "dataset.json";

/// An opened data set: its manifest and folder; splits are read on demand.
#[derive(Clone, Debug)]
pub struct TrisData {
    dir: PathBuf,
    manifest: Manifest,
}

impl TrisData {
    /// Opens the data set in `dir` (which must hold `dataset.json`).
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Err(Error::Data {
                path,
                message: "missing: not a complete data set (generate one with \
                          `causalgen data causal3d|pong|boxes --out DIR`)"
                    .into(),
            });
        }
        let manifest = Manifest::read(&path)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The causal variables, in the column order of intervention targets.
    pub fn variables(&self) -> &[CausalVariable] {
        &self.manifest.variables
    }

    /// `[channels, height, width]` of a model input.
    pub fn input_shape(&self) -> [i64; 3] {
        let [h, w, c] = self.manifest.image_shape;
        [c as i64, h as i64, w as i64]
    }

    /// A temporal split (`train`, `val`, `test`) as frame pairs.
    pub fn sequence(&self, split: &str) -> Result<Sequence> {
        let path = self.dir.join(format!("{split}.npz"));
        let file = TemporalSequence::read(&path)?;
        let targets = file.interventions.as_ref().ok_or_else(|| Error::Data {
            path: path.clone(),
            message: "has no `interventions`: CITRIS needs the intervention targets".into(),
        })?;
        let k = self.variables().len();
        if targets.shape()[1] != k {
            return Err(Error::Data {
                path,
                message: format!(
                    "`interventions` has {} columns but {MANIFEST_FILE} lists {k} variables",
                    targets.shape()[1]
                ),
            });
        }
        Ok(Sequence {
            frames: frames_tensor(&file.imgs),
            targets: flags_tensor(targets),
            latents: file.raw_latents.as_ref().map(latents_tensor),
        })
    }

    /// An independent split (`val_indep`, `test_indep`): frames and raw latents.
    pub fn independent(&self, split: &str) -> Result<LabelledFrames> {
        let path = self.dir.join(format!("{split}.npz"));
        // Same layout as a slider file: frames, latents and one flag row per frame.
        let file = SliderFrames::read(&path)?;
        Ok(LabelledFrames {
            frames: frames_tensor(&file.imgs),
            latents: latents_tensor(&file.raw_latents),
        })
    }

    /// A triplet split (`val_triplets`, `test_triplets`).
    pub fn triplets(&self, split: &str) -> Result<TripletSet> {
        let path = self.dir.join(format!("{split}.npz"));
        let file = Triplets::read(&path)?;
        let shape = file.images.shape();
        let (m, h, w, c) = (shape[0], shape[2], shape[3], shape[4]);
        let images = Tensor::from_slice(file.images.data())
            .view([m as i64, 3, h as i64, w as i64, c as i64])
            .permute([0, 1, 4, 2, 3])
            .contiguous();
        Ok(TripletSet {
            images,
            mask: flags_tensor(&file.mask),
            latents: file.raw_latents.as_ref().map(latents_tensor),
        })
    }
}

/// The intervention targets a model learns: columns of `interventions` that are always
/// intervened on together form one target (causal3d moves x, y and z of the position as
/// one variable, as CITRIS' `--coarse_vars` does), and columns never intervened on are
/// dropped (no model can tell them apart). Decided once from the training split and
/// stored with the run, so evaluation uses the same targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetGroups {
    /// Per target, the `interventions` columns it stands for (in column order).
    pub columns: Vec<Vec<usize>>,
}

impl TargetGroups {
    /// Groups the columns of `targets` ([N, K] in {0, 1}).
    pub fn from_targets(targets: &Tensor) -> Self {
        let (n, k) = targets.size2().expect("targets are [N, K]");
        let columns: Vec<Vec<u8>> = (0..k)
            .map(|j| {
                let column = targets.select(1, j).to_kind(Kind::Uint8).contiguous();
                let mut values = vec![0u8; n as usize];
                column.copy_data(&mut values, n as usize);
                values
            })
            .collect();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (j, column) in columns.iter().enumerate() {
            if !column.contains(&1) {
                continue;
            }
            match groups.iter_mut().find(|g| columns[g[0]] == *column) {
                Some(group) => group.push(j),
                None => groups.push(vec![j]),
            }
        }
        Self { columns: groups }
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Per target, a causal variable: the shared name prefix of its columns (`pos` for
    /// `pos-x`, `pos-y`, `pos-z`) or their names joined by `+`, the first column's kind,
    /// and the raw latents of all its columns.
    pub fn variables(&self, columns: &[CausalVariable]) -> Vec<CausalVariable> {
        self.columns
            .iter()
            .map(|group| {
                let members: Vec<&CausalVariable> = group.iter().map(|&j| &columns[j]).collect();
                CausalVariable {
                    name: group_name(&members),
                    kind: members[0].kind.clone(),
                    latents: members.iter().flat_map(|v| v.latents.clone()).collect(),
                }
            })
            .collect()
    }

    /// `targets` ([N, K] over all columns) reduced to one column per target ([N, G]).
    pub fn select(&self, targets: &Tensor) -> Tensor {
        let first: Vec<i64> = self.columns.iter().map(|g| g[0] as i64).collect();
        targets.index_select(1, &Tensor::from_slice(&first).to_device(targets.device()))
    }
}

fn group_name(members: &[&CausalVariable]) -> String {
    if members.len() == 1 {
        return members[0].name.clone();
    }
    let prefix = |name: &str| name.rsplit_once(['-', '_']).map(|(p, _)| p.to_string());
    let first = prefix(&members[0].name);
    match first {
        Some(p)
            if members
                .iter()
                .all(|m| prefix(&m.name).as_deref() == Some(p.as_str())) =>
        {
            p
        }
        _ => members
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join("+"),
    }
}

/// A temporal sequence: frame t and t+1 with the targets intervened on between them.
#[derive(Debug)]
pub struct Sequence {
    /// [N, C, H, W] `u8`.
    pub frames: Tensor,
    /// [N−1, K] `f32` in {0, 1}.
    pub targets: Tensor,
    /// [N, D] ground-truth latents of the frames, where the file has them (only
    /// [`crate::oracle`] reads them: models learn from frames and targets alone).
    pub latents: Option<Tensor>,
}

impl Sequence {
    /// Number of frame pairs (transitions).
    pub fn pairs(&self) -> i64 {
        self.targets.size()[0]
    }

    /// The pairs `index` ([B] `i64`) on `device`: frames t ([B, C, H, W]) and t+1 as
    /// model inputs, and the targets of t → t+1 ([B, K]).
    pub fn batch(&self, index: &Tensor, device: Device) -> (Tensor, Tensor, Tensor) {
        let index = index.to_device(Device::Cpu);
        let now = to_input(&self.frames.index_select(0, &index), device);
        let next = to_input(&self.frames.index_select(0, &(&index + 1)), device);
        let targets = self.targets.index_select(0, &index).to_device(device);
        (now, next, targets)
    }
}

/// I.i.d. frames with their ground truth.
#[derive(Debug)]
pub struct LabelledFrames {
    /// [N, C, H, W] `u8`.
    pub frames: Tensor,
    /// [N, D] `f32`: the `raw_latents` columns named in the manifest.
    pub latents: Tensor,
}

/// Triplets (a, b, render(mix(a, b, mask))).
#[derive(Debug)]
pub struct TripletSet {
    /// [M, 3, C, H, W] `u8`.
    pub images: Tensor,
    /// [M, K] `f32`: 1 where the variable was taken from b.
    pub mask: Tensor,
    /// [M, 3, D] `f32`, when the file has them.
    pub latents: Option<Tensor>,
}

/// Frames ([N, C, H, W] `u8`, on any device) as a model input on `device`: `f32` in
/// [−1, 1], as CITRIS scales its images.
pub fn to_input(frames: &Tensor, device: Device) -> Tensor {
    frames.to_device(device).to_kind(Kind::Float) / 127.5 - 1.0
}

/// Model outputs in [−1, 1] back to `u8` frames on the CPU.
pub fn to_frames(images: &Tensor) -> Tensor {
    ((images.clamp(-1.0, 1.0) + 1.0) * 127.5)
        .round()
        .to_kind(Kind::Uint8)
        .to_device(Device::Cpu)
}

fn frames_tensor(imgs: &Array<u8>) -> Tensor {
    let s: Vec<i64> = imgs.shape().iter().map(|&d| d as i64).collect();
    Tensor::from_slice(imgs.data())
        .view([s[0], s[1], s[2], s[3]])
        .permute([0, 3, 1, 2])
        .contiguous()
}

fn flags_tensor(flags: &Array<bool>) -> Tensor {
    let values: Vec<f32> = flags.data().iter().map(|&f| f as u8 as f32).collect();
    let s: Vec<i64> = flags.shape().iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&values).view(s.as_slice())
}

fn latents_tensor(latents: &Array<f32>) -> Tensor {
    let s: Vec<i64> = latents.shape().iter().map(|&d| d as i64).collect();
    Tensor::from_slice(latents.data()).view(s.as_slice())
}

#[cfg(test)]
mod tests {
    use scenes::tris::VariableKind;

    use super::*;

    fn variable(name: &str, latent: usize) -> CausalVariable {
        CausalVariable {
            name: name.into(),
            kind: VariableKind::Continuous { min: 0.0, max: 1.0 },
            latents: vec![latent],
        }
    }

    #[test]
    fn columns_intervened_together_form_one_target_and_silent_ones_drop() {
        // Columns: pos-x, pos-y (always together), hue (alone), material (never).
        let targets = Tensor::from_slice(&[
            1f32, 1., 0., 0., //
            0., 0., 1., 0., //
            1., 1., 1., 0., //
            0., 0., 0., 0.,
        ])
        .view([4, 4]);
        let groups = TargetGroups::from_targets(&targets);
        assert_eq!(groups.columns, vec![vec![0, 1], vec![2]]);
        let names = ["pos-x", "pos-y", "hue", "material"];
        let columns: Vec<CausalVariable> = names
            .iter()
            .enumerate()
            .map(|(i, n)| variable(n, i))
            .collect();
        let variables = groups.variables(&columns);
        assert_eq!(variables[0].name, "pos");
        assert_eq!(variables[0].latents, vec![0, 1]);
        assert_eq!(variables[1].name, "hue");
        let selected = groups.select(&targets);
        assert_eq!(selected.size(), vec![4, 2]);
        assert_eq!(
            Vec::<f32>::try_from(selected.select(0, 2)).unwrap(),
            vec![1.0, 1.0]
        );
    }

    #[test]
    fn unrelated_names_are_joined() {
        let a = variable("ball", 0);
        let b = variable("paddle_y", 1);
        assert_eq!(group_name(&[&a, &b]), "ball+paddle_y");
    }

    #[test]
    fn frames_scale_to_the_unit_interval_and_back() {
        let frames = Tensor::from_slice(&[0u8, 128, 255]).view([1, 1, 1, 3]);
        let input = to_input(&frames, Device::Cpu);
        let values = Vec::<f32>::try_from(input.flatten(0, -1)).unwrap();
        assert_eq!(values[0], -1.0);
        assert_eq!(values[2], 1.0);
        assert!(values[1].abs() < 0.01);
        assert!(to_frames(&input).equal(&frames));
    }
}
