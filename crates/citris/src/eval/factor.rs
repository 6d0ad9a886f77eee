//! One causal variable as a network that predicts it sees it (the correlation probe,
//! the causal encoder of the triplet evaluation), following the reference's
//! `CausalEncoder`: how its ground truth becomes a training target, the loss of a
//! prediction, the distances the R² and the triplet scores are made of, and the value
//! pairs that Spearman's ρ ranks. Each kind is handled its own way:
//!
//! | kind | output per column | loss | error (R²) | normalised distance | ranked pairs |
//! | --- | --- | --- | --- | --- | --- |
//! | continuous | 1 value (scaled target) | squared error | in the variable's units | \|error\| / half the range | prediction, truth |
//! | angle | (sin, cos) vector | 1 − cos + 0.1 (2 − ‖v‖)² | arc length / π | arc length / π | unit vector, (sin, cos) of truth |
//! | categorical | `classes` logits | cross-entropy | 0 if the arg-max is right, else 1 | same | arg-max, class |
//!
//! The normalised distance is the reference's `norm_dists`: it scales every continuous
//! variable to [−1, 1] and divides the error by that scale (1), i.e. by half of the
//! variable's range. A variable made of several raw-latent columns (a 3-D position) sums
//! its losses and distances over the columns (the reference treats each column as a
//! variable of its own and sums over them) and averages its ρ over them.

use std::f64::consts::PI;

use scenes::tris::{CausalVariable, VariableKind};
use tch::{Kind, Tensor};

use crate::{Error, Result};

use super::rank::mean_column_spearman;

/// Weight of the angle heads' norm penalty (the reference's `angle_reg_weight`): the
/// cosine loss ignores the vector's length, and pulling it towards 2 keeps the direction
/// away from the ill-conditioned origin.
const ANGLE_NORM_WEIGHT: f64 = 0.1;

/// A causal variable with its targets and its slice of the probe's output.
#[derive(Debug)]
pub(crate) struct Factor {
    encoding: Encoding,
    /// The training target of every frame, [N, c]: standardised values, angles in
    /// radians (period 2π), or class indices as floats.
    pub(crate) target: Tensor,
    /// First column of the factor's slice of the probe's output.
    pub(crate) offset: i64,
    /// Width of that slice.
    pub(crate) width: i64,
}

#[derive(Debug)]
enum Encoding {
    /// Targets are centred and divided by `scale` ([c]) so every variable weighs alike
    /// in the shared loss; `scale` turns errors back into the variable's own units, so a
    /// multi-column variable's R² is that of the vector. `half_range` is half of the
    /// variable's declared range, the unit of the normalised distance.
    Continuous {
        scale: Tensor,
        half_range: f64,
    },
    Angle,
    Categorical {
        classes: i64,
    },
}

/// How continuous targets are scaled.
#[derive(Clone, Copy)]
enum Scaling<'a> {
    /// Standardised with the statistics of these frames ([n] `i64`).
    Frames(&'a Tensor),
    /// Mapped from the declared range to [−1, 1], as the reference scales its data.
    Range,
}

impl Factor {
    /// The factor of `variable`, whose columns are read from the raw `latents` ([N, D],
    /// `f32`); continuous targets are standardised over the frames `train` ([n] `i64`).
    /// Its outputs start at column `offset` of the probe's output.
    pub(crate) fn new(
        variable: &CausalVariable,
        latents: &Tensor,
        train: &Tensor,
        offset: i64,
    ) -> Result<Self> {
        Self::build(variable, latents, Scaling::Frames(train), offset)
    }

    /// Like [`Factor::new`], but continuous targets are mapped from the variable's
    /// declared range to [−1, 1]. The encoding then depends on the variable alone, so
    /// the targets of any set of frames agree with a network trained (and saved) on
    /// another: what the causal encoder needs.
    pub(crate) fn in_range(
        variable: &CausalVariable,
        latents: &Tensor,
        offset: i64,
    ) -> Result<Self> {
        Self::build(variable, latents, Scaling::Range, offset)
    }

    fn build(
        variable: &CausalVariable,
        latents: &Tensor,
        scaling: Scaling,
        offset: i64,
    ) -> Result<Self> {
        let invalid =
            |problem: String| Error::Invalid(format!("variable '{}': {problem}", variable.name));
        let d = latents.size()[1];
        if variable.latents.is_empty() {
            return Err(invalid("has no raw-latent columns to score".into()));
        }
        let columns: Vec<i64> = variable.latents.iter().map(|&c| c as i64).collect();
        if let Some(&c) = columns.iter().find(|&&c| c >= d) {
            return Err(invalid(format!(
                "column {c} is not among the {d} raw-latent columns"
            )));
        }
        let c = columns.len() as i64;
        let values =
            latents.index_select(1, &Tensor::from_slice(&columns).to_device(latents.device()));
        if !all(&values.isfinite()) {
            return Err(invalid("has non-finite ground-truth values".into()));
        }
        let (encoding, target, width) = match variable.kind {
            VariableKind::Continuous { min, max } => {
                if !(max - min).is_finite() || max <= min {
                    return Err(invalid(format!("continuous range [{min}, {max}] is empty")));
                }
                let half_range = f64::from(max - min) / 2.0;
                let (centre, scale) = match scaling {
                    Scaling::Frames(train) => {
                        let fit = values.index_select(0, train);
                        let mean = fit.mean_dim(0, false, Kind::Float);
                        (mean, fit.std_dim(0, false, false).clamp_min(1e-8))
                    }
                    Scaling::Range => {
                        let options = (Kind::Float, latents.device());
                        let centre = f64::from(min) + half_range;
                        (
                            Tensor::full([c], centre, options),
                            Tensor::full([c], half_range, options),
                        )
                    }
                };
                let target = (&values - &centre) / &scale;
                (Encoding::Continuous { scale, half_range }, target, c)
            }
            VariableKind::Angle { min, max } => {
                if !(max - min).is_finite() || max <= min {
                    return Err(invalid(format!("angle range [{min}, {max}] is empty")));
                }
                let scale = 2.0 * PI / f64::from(max - min);
                let target = (&values - f64::from(min)) * scale;
                (Encoding::Angle, target, 2 * c)
            }
            VariableKind::Categorical { classes } => {
                let classes = classes as i64;
                let indices = all(&values.eq_tensor(&values.round()))
                    && all(&values.ge(0.0))
                    && all(&values.lt(classes as f64));
                if !indices {
                    return Err(invalid(format!(
                        "categorical values must be class indices 0..{classes}"
                    )));
                }
                (Encoding::Categorical { classes }, values, classes * c)
            }
        };
        Ok(Self {
            encoding,
            target,
            offset,
            width,
        })
    }

    /// Training loss of `pred` ([B, width]) against `target` ([B, c]): summed over the
    /// columns, averaged over the rows.
    pub(crate) fn loss(&self, pred: &Tensor, target: &Tensor) -> Tensor {
        match &self.encoding {
            Encoding::Continuous { .. } => row_sums(&(pred - target).square()).mean(Kind::Float),
            Encoding::Angle => {
                let vectors = self.vectors(pred);
                let cos = Tensor::cosine_similarity(&vectors, &unit_vectors(target), -1, 1e-8);
                let norm = vectors.norm_scalaropt_dim(2, [-1], false);
                let per_column = (1.0 - cos) + (norm - 2.0).square() * ANGLE_NORM_WEIGHT;
                row_sums(&per_column).mean(Kind::Float)
            }
            Encoding::Categorical { classes } => {
                let ce = pred
                    .reshape([-1, *classes])
                    .cross_entropy_for_logits(&target.to_kind(Kind::Int64).reshape([-1]));
                ce * self.columns()
            }
        }
    }

    /// R² of `pred` ([n, width]) on frames with targets `target` ([n, c]): one minus the
    /// ratio of its squared normalised distances to those of the best constant guess
    /// (mean, circular mean or mode of these frames). A factor that is constant on the
    /// frames leaves nothing to explain and scores 0.
    pub(crate) fn r2(&self, pred: &Tensor, target: &Tensor) -> f64 {
        let residual = self
            .sq_distances(pred, target)
            .sum(Kind::Double)
            .double_value(&[]);
        let baseline = self.constant_prediction(target);
        let total = self
            .sq_distances(&baseline, target)
            .sum(Kind::Double)
            .double_value(&[]);
        let frames = target.size()[0] as f64;
        if total <= 1e-12 * frames {
            return 0.0;
        }
        1.0 - residual / total
    }

    /// Spearman's ρ between `pred` and `target`, averaged over the compared dimensions.
    pub(crate) fn spearman(&self, pred: &Tensor, target: &Tensor) -> f64 {
        let (a, b) = self.rank_pairs(pred, target);
        mean_column_spearman(&a, &b)
    }

    fn columns(&self) -> i64 {
        self.target.size()[1]
    }

    /// Per frame, the normalised distance of `pred` ([n, width]) to `target` ([n, c]),
    /// summed over the columns ([n]): the reference's `norm_dists` (see the module
    /// docs), whose means per variable make the triplet scores.
    pub(crate) fn distances(&self, pred: &Tensor, target: &Tensor) -> Tensor {
        let errors = self.column_errors(pred, target);
        match &self.encoding {
            Encoding::Continuous { half_range, .. } => row_sums(&(errors / *half_range)),
            Encoding::Angle | Encoding::Categorical { .. } => row_sums(&errors),
        }
    }

    /// Per frame, the squared error of `pred` to `target`, summed over the columns
    /// ([n]): what R² compares with the best constant guess.
    fn sq_distances(&self, pred: &Tensor, target: &Tensor) -> Tensor {
        row_sums(&self.column_errors(pred, target).square())
    }

    /// Per frame and column, the error of `pred` ([n, width]) to `target` ([n, c]),
    /// [n, c]: continuous in the variable's units, angles as arc length / π, classes as
    /// 0 (right) or 1 (wrong).
    fn column_errors(&self, pred: &Tensor, target: &Tensor) -> Tensor {
        match &self.encoding {
            Encoding::Continuous { scale, .. } => ((pred - target) * scale).abs(),
            Encoding::Angle => {
                let cos =
                    Tensor::cosine_similarity(&self.vectors(pred), &unit_vectors(target), -1, 1e-8);
                cos.clamp(-1.0, 1.0).acos() / PI
            }
            Encoding::Categorical { .. } => self
                .classes(pred)
                .ne_tensor(&target.to_kind(Kind::Int64))
                .to_kind(Kind::Float),
        }
    }

    /// The best constant prediction for frames with targets `target`, as an output
    /// ([n, width]): the mean, the circular mean's unit vector, or the mode's one-hot.
    fn constant_prediction(&self, target: &Tensor) -> Tensor {
        let n = target.size()[0];
        let single = match &self.encoding {
            Encoding::Continuous { .. } => target.mean_dim(0, false, Kind::Float),
            Encoding::Angle => {
                let sin = target.sin().mean_dim(0, false, Kind::Float);
                let cos = target.cos().mean_dim(0, false, Kind::Float);
                unit_vectors(&sin.atan2(&cos)).reshape([-1])
            }
            Encoding::Categorical { classes } => {
                let (mode, _) = target.to_kind(Kind::Int64).mode(0, false);
                mode.one_hot(*classes).to_kind(Kind::Float).reshape([-1])
            }
        };
        single.unsqueeze(0).expand([n, self.width], false)
    }

    /// What Spearman's ρ compares, as two [n, d] tensors.
    fn rank_pairs(&self, pred: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
        let n = target.size()[0];
        match &self.encoding {
            Encoding::Continuous { .. } => (pred.shallow_clone(), target.shallow_clone()),
            Encoding::Angle => {
                let vectors = self.vectors(pred);
                let norm = vectors.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
                let directions = (vectors / norm).reshape([n, -1]);
                (directions, unit_vectors(target).reshape([n, -1]))
            }
            Encoding::Categorical { .. } => (
                self.classes(pred).to_kind(Kind::Float),
                target.shallow_clone(),
            ),
        }
    }

    /// Angle outputs as one 2-vector per column, [n, c, 2].
    fn vectors(&self, pred: &Tensor) -> Tensor {
        pred.reshape([-1, self.columns(), 2])
    }

    /// Predicted class per column, [n, c] `i64`.
    fn classes(&self, pred: &Tensor) -> Tensor {
        let Encoding::Categorical { classes } = self.encoding else {
            unreachable!("only categorical factors have classes")
        };
        pred.reshape([-1, self.columns(), classes])
            .argmax(-1, false)
    }
}

/// (sin θ, cos θ) of every angle, [.., 2]: the reference's encoding of an angle.
fn unit_vectors(angles: &Tensor) -> Tensor {
    Tensor::stack(&[angles.sin(), angles.cos()], -1)
}

fn row_sums(t: &Tensor) -> Tensor {
    t.sum_dim_intlist(1, false, Kind::Float)
}

fn all(flags: &Tensor) -> bool {
    flags.all().int64_value(&[]) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variable(kind: VariableKind, latents: Vec<usize>) -> CausalVariable {
        CausalVariable {
            name: "v".into(),
            kind,
            latents,
        }
    }

    fn all_rows(n: i64) -> Tensor {
        Tensor::arange(n, (Kind::Int64, tch::Device::Cpu))
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn continuous_r2_is_that_of_the_vector_in_its_own_units() {
        // Two columns with very different spreads: R² weighs errors in raw units.
        let raw = Tensor::from_slice(&[0f32, 0., 1., 10., 2., 20., 3., 30.]).view([4, 2]);
        let kind = VariableKind::Continuous {
            min: 0.0,
            max: 30.0,
        };
        let f = Factor::new(&variable(kind, vec![0, 1]), &raw, &all_rows(4), 0).unwrap();
        // Predict column 0 perfectly and column 1 off by 5 units everywhere.
        let std = Tensor::from_slice(&[1.118_034f32, 11.180_34]); // population stds
        let pred = &f.target + Tensor::from_slice(&[0f32, 5.0]) / std;
        // Total sum of squares: 5 + 500; residual: 4 · 25.
        assert!(close(f.r2(&pred, &f.target), 1.0 - 100.0 / 505.0));
        assert!(close(f.spearman(&pred, &f.target), 1.0));
    }

    #[test]
    fn range_scaled_targets_and_normalised_distances_by_hand() {
        // A 2-column continuous variable in [0, 30]: centre 15, half range 15.
        let raw = Tensor::from_slice(&[0f32, 0., 15., 30.]).view([2, 2]);
        let kind = VariableKind::Continuous {
            min: 0.0,
            max: 30.0,
        };
        let f = Factor::in_range(&variable(kind, vec![0, 1]), &raw, 3).unwrap();
        assert_eq!(f.offset, 3);
        let target = Vec::<f32>::try_from(f.target.reshape([-1])).unwrap();
        assert_eq!(target, vec![-1.0, -1.0, 0.0, 1.0]);
        // Raw errors 1.5 and −3 → 0.1 + 0.2 of the half range, summed over the columns.
        let pred = &f.target + Tensor::from_slice(&[0.1f32, -0.2]);
        let d = Vec::<f32>::try_from(f.distances(&pred, &f.target)).unwrap();
        assert!(d.iter().all(|&x| (x - 0.3).abs() < 1e-6), "{d:?}");
        // Angles: arc / π; classes: 0/1 per column.
        let angle = VariableKind::Angle {
            min: 0.0,
            max: 360.0,
        };
        let degrees = Tensor::from_slice(&[90f32]).view([1, 1]);
        let a = Factor::in_range(&variable(angle, vec![0]), &degrees, 0).unwrap();
        let east = Tensor::from_slice(&[0f32, 5.0]).view([1, 2]); // θ = 0 as (sin, cos)
        assert!((a.distances(&east, &a.target).double_value(&[0]) - 0.5).abs() < 1e-6);
        let classes = Tensor::from_slice(&[2f32, 0.]).view([2, 1]);
        let categorical = variable(VariableKind::Categorical { classes: 3 }, vec![0]);
        let c = Factor::in_range(&categorical, &classes, 0).unwrap();
        let logits = Tensor::from_slice(&[0f32, 0., 1., 0., 1., 0.]).view([2, 3]);
        let d = Vec::<f32>::try_from(c.distances(&logits, &c.target)).unwrap();
        assert_eq!(d, vec![0.0, 1.0]);
        let empty = variable(VariableKind::Continuous { min: 2.0, max: 2.0 }, vec![0]);
        assert!(Factor::in_range(&empty, &raw, 0).is_err());
    }

    #[test]
    fn angles_are_scored_by_arc_length_around_the_circular_mean() {
        // Angles in degrees [0, 360): 350° and 10° straddle the wrap-around.
        let raw = Tensor::from_slice(&[350f32, 10.]).view([2, 1]);
        let kind = VariableKind::Angle {
            min: 0.0,
            max: 360.0,
        };
        let f = Factor::new(&variable(kind, vec![0]), &raw, &all_rows(2), 0).unwrap();
        // The circular mean is 0°, 10° from each: the constant guess scores (10/180)² each.
        // A prediction a right angle off (any length) is at arc 90° = 0.5 normalised.
        let off = |deg: f64| {
            let r = deg.to_radians();
            [(r.sin() * 3.0) as f32, (r.cos() * 3.0) as f32]
        };
        let pred = Tensor::from_slice(&[off(80.0), off(100.0)].concat()).view([2, 2]);
        let expected = 1.0 - 2.0 * 0.25 / (2.0 * (10.0f64 / 180.0).powi(2));
        let r2 = f.r2(&pred, &f.target);
        assert!((r2 / expected - 1.0).abs() < 1e-5, "{r2} vs {expected}");
        let exact = Tensor::from_slice(&[off(350.0), off(10.0)].concat()).view([2, 2]);
        // (Single-precision acos near 1 leaves an arc of ~1e-4.)
        assert!((f.r2(&exact, &f.target) - 1.0).abs() < 1e-4);
        // A unit vector along the truth: cosine term 0, norm term 0.1·(2 − 1)².
        let unit = Tensor::from_slice(&[0.0f32, 1.0]).unsqueeze(0); // θ = 0 as (sin, cos)
        let along = unit.repeat([2, 1]);
        let target = Tensor::zeros([2, 1], (Kind::Float, tch::Device::Cpu));
        assert!(close(f.loss(&along, &target).double_value(&[]), 0.1));
    }

    #[test]
    fn categorical_r2_compares_errors_with_the_mode() {
        let raw = Tensor::from_slice(&[0f32, 0., 0., 1., 2., 2.]).view([6, 1]);
        let kind = VariableKind::Categorical { classes: 3 };
        let f = Factor::new(&variable(kind, vec![0]), &raw, &all_rows(6), 0).unwrap();
        // Predicted classes 0 0 1 1 2 2: one error; the mode (0) makes three.
        let classes = Tensor::from_slice(&[0i64, 0, 1, 1, 2, 2]);
        let logits = classes.one_hot(3).to_kind(Kind::Float) * 4.0;
        assert!(close(f.r2(&logits, &f.target), 1.0 - 1.0 / 3.0));
        // Cross-entropy of the true class under softmax(4·onehot) on the right rows.
        let right = -(4f64.exp() / (4f64.exp() + 2.0)).ln();
        let wrong = -(1.0 / (4f64.exp() + 2.0)).ln();
        let ce = f.loss(&logits, &f.target).double_value(&[]);
        assert!(close(ce, (5.0 * right + wrong) / 6.0), "{ce}");
    }

    #[test]
    fn bad_ground_truth_is_an_error_naming_the_variable() {
        let raw = Tensor::from_slice(&[0f32, 0.5, 3.0]).view([3, 1]);
        let rows = all_rows(3);
        let categorical = variable(VariableKind::Categorical { classes: 3 }, vec![0]);
        let err = Factor::new(&categorical, &raw, &rows, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'v'") && err.contains("class indices"),
            "{err}"
        );
        let outside = variable(VariableKind::Continuous { min: 0.0, max: 1.0 }, vec![1]);
        let err = Factor::new(&outside, &raw, &rows, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("column 1"), "{err}");
        let empty = variable(VariableKind::Angle { min: 1.0, max: 1.0 }, vec![0]);
        assert!(Factor::new(&empty, &raw, &rows, 0).is_err());
    }
}
