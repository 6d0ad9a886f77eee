//! The triplet evaluation of the CITRIS paper (`triplet_prediction` and
//! `triplet_evaluation` of the reference's models): a triplet holds frames a and b and
//! the frame c rendered from a's causal variables with those of a mask taken from b.
//! A model encodes a and b, takes each latent from b when the variable it is assigned
//! to is masked and from a otherwise (latents assigned to no variable keep a's value),
//! and decodes. A model whose latents separate the causal variables reproduces c.
//!
//! Scores: the pixel MSE against c (in [0, 1] units) and, when the triplets come with
//! their ground truth and a [`CausalEncoder`] is given, how far the variables the
//! encoder reads from the prediction are from c's, per variable; the **triplet
//! distance** is their sum. The encoder's distance on the true c frames, reported with
//! it, is the floor no model can beat on average (the reference's `true_dist`).

use std::path::Path;

use scenes::fight::{tile_sheet, Tile};
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::data::{to_frames, to_input, TargetGroups, TripletSet, TrisData};
use crate::representation::{decode_latents, encode_frames, Representation};
use crate::training::select_targets;
use crate::{Error, Result};

use super::causal_encoder::{CausalEncoder, VariableDistances};

/// Frames per forward pass of the model.
const BATCH: i64 = 256;

/// Triplets a grid shows by default.
pub const GRID_TRIPLETS: usize = 8;

/// The scores of one model on one triplet split.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TripletReport {
    pub split: String,
    /// Triplets scored.
    pub count: i64,
    /// Mean squared pixel error of the predictions against the true c, in [0, 1] units.
    pub pixel_mse: f64,
    /// The causal encoder's distances of the predictions to c's variables (their total
    /// is the triplet distance); absent without an encoder or ground truth.
    pub distance: Option<VariableDistances>,
    /// The same for the true c frames: the floor of `distance`.
    pub floor: Option<VariableDistances>,
}

/// A report with the triplets and the predictions it scored.
#[derive(Debug)]
pub struct TripletEvaluation {
    pub report: TripletReport,
    pub triplets: TripletSet,
    /// The model's c per triplet, `f32` [M, C, H, W] in [−1, 1] (CPU).
    pub predicted: Tensor,
}

impl TripletEvaluation {
    /// Writes a PNG of the first `count` triplets, one per row: a, b, the true c and
    /// the model's c.
    pub fn write_grid(&self, path: &Path, count: usize) -> Result<()> {
        let images = &self.triplets.images;
        let shown = (count as i64).min(images.size()[0]);
        let size = images.size()[4];
        let predicted = to_frames(&self.predicted.narrow(0, 0, shown)).unsqueeze(1);
        // [shown, 4, C, H, W] → one tile per frame, row by row.
        let rows = Tensor::cat(&[images.narrow(0, 0, shown), predicted], 1);
        let captions = ["a", "b", "true c", "model's c"];
        let tiles: Vec<Tile> = (0..shown * 4)
            .map(|i| Tile {
                pixels: rgb_pixels(&rows.get(i / 4).get(i % 4)),
                caption: vec![captions[(i % 4) as usize].to_string()],
            })
            .collect();
        let zoom = (128 / size.max(1)).max(1) as usize;
        tile_sheet(&tiles, size as usize, 4, zoom).write_png(path)?;
        Ok(())
    }
}

/// Evaluates `model` on `data`'s triplet split `split` (`val_triplets`,
/// `test_triplets`). `targets` are the run's intervention targets (the mask's columns
/// are reduced to them); `assignment` gives per latent its target (0..K) or K for none:
/// the model's own ψ, or for models without one the assignment by R².
pub fn evaluate_triplets(
    model: &dyn Representation,
    data: &TrisData,
    split: &str,
    targets: &TargetGroups,
    assignment: &[usize],
    encoder: Option<&CausalEncoder>,
) -> Result<TripletEvaluation> {
    let set = data.triplets(split)?;
    let mask = select_targets(targets, &set.mask, data.dir())?;
    let predicted = predict_triplets(model, &set.images, &mask, assignment)?;
    let report = score_triplets(split, &set, &predicted, encoder)?;
    Ok(TripletEvaluation {
        report,
        triplets: set,
        predicted,
    })
}

/// The model's prediction of c for every triplet: `images` (`u8` [M, 3, C, H, W]) a
/// and b encoded, mixed by `mask` ([M, K], 1 = take the target from b) through
/// `assignment` (see [`mix_latents`]), and decoded; `f32` [M, C, H, W] in [−1, 1].
pub fn predict_triplets(
    model: &dyn Representation,
    images: &Tensor,
    mask: &Tensor,
    assignment: &[usize],
) -> Result<Tensor> {
    let shape = images.size();
    if shape.len() != 5 || shape[1] != 3 || shape[0] != mask.size()[0] {
        return Err(Error::Invalid(format!(
            "triplets must be [M, 3, C, H, W] with a mask row each, got {shape:?} and a mask \
             of {:?}",
            mask.size()
        )));
    }
    let a = encode_frames(model, &images.select(1, 0), BATCH);
    let b = encode_frames(model, &images.select(1, 1), BATCH);
    let mixed = mix_latents(&a, &b, mask, assignment)?;
    Ok(decode_latents(model, &mixed, BATCH))
}

/// Latents [M, L] with b's value where the target `assignment` gives the latent is set
/// in `mask` ([M, K]) and a's elsewhere; latents assigned K (no target) keep a's value.
pub fn mix_latents(a: &Tensor, b: &Tensor, mask: &Tensor, assignment: &[usize]) -> Result<Tensor> {
    let (m, k) = mask
        .size2()
        .map_err(|_| Error::Invalid(format!("a triplet mask is [M, K], got {:?}", mask.size())))?;
    let latents = a.size()[1];
    if assignment.len() as i64 != latents || a.size() != b.size() || a.size()[0] != m {
        return Err(Error::Invalid(format!(
            "mixing latents {:?} and {:?} with a mask {:?} needs one assignment per latent \
             (got {})",
            a.size(),
            b.size(),
            mask.size(),
            assignment.len()
        )));
    }
    if let Some(&g) = assignment.iter().find(|&&g| g as i64 > k) {
        return Err(Error::Invalid(format!(
            "a latent is assigned to target {g}, but there are only {k} (and {k} = none)"
        )));
    }
    let none = Tensor::zeros([m, 1], (Kind::Float, mask.device()));
    let groups: Vec<i64> = assignment.iter().map(|&g| g as i64).collect();
    let per_latent = Tensor::cat(&[mask.to_kind(Kind::Float), none], 1)
        .index_select(1, &Tensor::from_slice(&groups).to_device(mask.device()))
        .to_device(a.device());
    Ok(b.where_self(&per_latent.gt(0.5), a))
}

/// Scores `predicted` (`f32` [M, C, H, W] in [−1, 1]) against the c frames of `set`.
pub fn score_triplets(
    split: &str,
    set: &TripletSet,
    predicted: &Tensor,
    encoder: Option<&CausalEncoder>,
) -> Result<TripletReport> {
    let truth = set.images.select(1, 2);
    if predicted.size() != truth.size() {
        return Err(Error::Invalid(format!(
            "predicted frames {:?} do not match the triplets' {:?}",
            predicted.size(),
            truth.size()
        )));
    }
    // Halving a difference in [−1, 1] units gives it in [0, 1] units.
    let pixel_mse = ((predicted - to_input(&truth, predicted.device())) / 2.0)
        .square()
        .mean(Kind::Double)
        .double_value(&[]);
    let (distance, floor) = match (encoder, &set.latents) {
        (Some(encoder), Some(latents)) => {
            let c = latents.select(1, 2);
            (
                Some(encoder.predict_distances(predicted, &c)?),
                Some(encoder.predict_distances(&truth, &c)?),
            )
        }
        _ => (None, None),
    };
    Ok(TripletReport {
        split: split.to_string(),
        count: truth.size()[0],
        pixel_mse,
        distance,
        floor,
    })
}

/// A `u8` frame [C, H, W] (1 or 3 channels) as row-major RGB bytes.
fn rgb_pixels(frame: &Tensor) -> Vec<u8> {
    let rgb = match frame.size()[0] {
        1 => frame.repeat([3, 1, 1]),
        _ => frame.narrow(0, 0, 3),
    };
    Vec::<u8>::try_from(rgb.permute([1, 2, 0]).contiguous().view([-1])).expect("u8 frame")
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tch::Device;

    use super::super::causal_encoder::tests::{boxes_data, boxes_encoder};
    use super::*;

    /// Encodes a 1 × 1 × L "image" as its L values and decodes them back.
    struct Identity;

    impl Representation for Identity {
        fn encode(&self, images: &Tensor) -> Tensor {
            images.flatten(1, -1)
        }
        fn decode(&self, latents: &Tensor) -> Tensor {
            latents.view([latents.size()[0], -1, 1, 1])
        }
        fn assignment(&self) -> Option<Vec<usize>> {
            None
        }
        fn device(&self) -> Device {
            Device::Cpu
        }
    }

    #[test]
    fn masked_targets_take_b_latents_and_the_rest_keep_a() {
        // Two triplets of 5-value images; latents 0, 1 → target 0, 2 → target 1,
        // 3 → none, 4 → target 1.
        let a = Tensor::from_slice(&[0u8, 10, 20, 30, 40, 1, 11, 21, 31, 41]).view([2, 5]);
        let b =
            Tensor::from_slice(&[100u8, 110, 120, 130, 140, 101, 111, 121, 131, 141]).view([2, 5]);
        let c = Tensor::zeros([2, 5], (Kind::Uint8, Device::Cpu));
        let images = Tensor::stack(&[a, b, c], 1).view([2, 3, 5, 1, 1]);
        let mask = Tensor::from_slice(&[1f32, 0., 0., 1.]).view([2, 2]);
        let assignment = [0, 0, 1, 2, 1];
        let predicted = predict_triplets(&Identity, &images, &mask, &assignment).unwrap();
        let frames = Vec::<u8>::try_from(to_frames(&predicted).view([-1])).unwrap();
        assert_eq!(frames, vec![100, 110, 20, 30, 40, 1, 11, 121, 31, 141]);
        let err = mix_latents(
            &Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)),
            &Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)),
            &mask,
            &[0, 0, 3, 2, 1],
        )
        .unwrap_err();
        assert!(err.to_string().contains("target 3"), "{err}");
    }

    /// A perfect model: whatever it is asked, it decodes the true c frames, in order.
    struct Oracle {
        truth: Tensor,
        next: Cell<i64>,
    }

    impl Representation for Oracle {
        fn encode(&self, images: &Tensor) -> Tensor {
            Tensor::zeros([images.size()[0], 2], (Kind::Float, Device::Cpu))
        }
        fn decode(&self, latents: &Tensor) -> Tensor {
            let (start, len) = (self.next.get(), latents.size()[0]);
            self.next.set(start + len);
            to_input(&self.truth.narrow(0, start, len), Device::Cpu)
        }
        fn assignment(&self) -> Option<Vec<usize>> {
            Some(vec![0, 1])
        }
        fn device(&self) -> Device {
            Device::Cpu
        }
    }

    #[test]
    fn a_perfect_model_scores_the_causal_encoder_floor() {
        let (_dir, data) = boxes_data();
        let data = &data;
        let encoder = boxes_encoder(data, 20);
        let truth = data.triplets("test_triplets").unwrap().images.select(1, 2);
        let oracle = Oracle {
            truth,
            next: Cell::new(0),
        };
        let targets = TargetGroups {
            columns: vec![vec![0], vec![2]],
        };
        let assignment = oracle.assignment().unwrap();
        let evaluation = evaluate_triplets(
            &oracle,
            data,
            "test_triplets",
            &targets,
            &assignment,
            Some(&encoder),
        )
        .unwrap();
        let report = &evaluation.report;
        assert_eq!(report.count, 200);
        assert_eq!(report.pixel_mse, 0.0);
        let (distance, floor) = (
            report.distance.as_ref().unwrap(),
            report.floor.as_ref().unwrap(),
        );
        assert_eq!(distance, floor);
        assert!(
            floor.total > 0.0,
            "an encoder trained 20 steps is not exact"
        );
        let sum: f64 = distance.per_variable.iter().sum();
        assert!((distance.total - sum).abs() < 1e-12);

        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("triplets.png");
        evaluation.write_grid(&png, GRID_TRIPLETS).unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    }
}
