//! The correlation metrics of the CITRIS paper: how well each group of latents predicts
//! each causal variable, as R² and Spearman's ρ, summarised by **diag** (mean of the
//! diagonal: every variable is in its own group) and **sep** (mean over groups of the
//! largest off-diagonal entry: no group carries another variable).
//!
//! As in the reference (`CorrelationMetricsLogCallback`): the encoded latents of i.i.d.
//! frames are z-scored, the frames split 50/50 by a seeded permutation, a probe
//! ([`super::probe`]) is trained on the first half to predict every variable from every
//! group of latents (assignment ψ, plus the group of latents assigned to no variable),
//! and the scores are taken on the second half. Each variable kind is predicted and
//! scored its own way (see [`super::factor`]).
//!
//! Matrices have one row per group, the K variables' groups in variable order and the
//! "none" group ([`NONE_GROUP`]) **last**, and one column per variable; diag and sep
//! ignore the none row.
//!
//! Not in the paper: the report also gives each variable's R² from **all** latents
//! together (a separate probe), the most any assignment could reach. It tells the two
//! ways a low diag comes about apart: the encoder lost the variable (low here too), or
//! the variable is encoded but ψ did not give it a group of its own (high here).

use std::path::Path;

use scenes::tris::CausalVariable;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::{Error, Result};

use super::factor::Factor;
use super::heatmap::heatmap;
use super::probe::{Probe, ProbeTraining};

/// Name of the row of latents that ψ assigns to no causal variable.
pub const NONE_GROUP: &str = "none";

/// The z-score divides by at least this, as the reference does: a (nearly) constant
/// latent stays near 0 instead of blowing up.
const MIN_LATENT_STD: f64 = 1e-2;

/// How the probe is trained. The defaults are the reference's (hidden 128, lr 4e-3,
/// batches of 512 frames, split seed 42); it trains 100 epochs over half the frames,
/// which is 2000 steps for a set of about 20 000 frames.
#[derive(Clone, Debug)]
pub struct CorrelationOptions {
    /// Adam steps.
    pub steps: usize,
    /// Frames per step (each seen through every group).
    pub batch_size: usize,
    pub lr: f64,
    /// Units of the probe's two hidden layers.
    pub hidden: i64,
    /// Fixes the train/test split, the probe's initial weights and its batches.
    pub seed: u64,
    pub device: Device,
}

impl Default for CorrelationOptions {
    fn default() -> Self {
        Self {
            steps: 2000,
            batch_size: 512,
            lr: 4e-3,
            hidden: 128,
            seed: 42,
            device: Device::Cpu,
        }
    }
}

/// A score matrix: one row per group of latents, one column per causal variable.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Matrix(pub Vec<Vec<f64>>);

impl Matrix {
    /// Mean of the diagonal over the first K rows (K = columns).
    pub fn diag(&self) -> f64 {
        let k = self.variables();
        (0..k).map(|i| self.0[i][i]).sum::<f64>() / k as f64
    }

    /// Mean over the first K rows of the row's largest off-diagonal entry; 0 with a
    /// single variable, which has nothing to be confused with.
    pub fn sep(&self) -> f64 {
        let k = self.variables();
        if k < 2 {
            return 0.0;
        }
        let row_max = |i: usize| {
            (0..k)
                .filter(|&j| j != i)
                .map(|j| self.0[i][j])
                .fold(f64::NEG_INFINITY, f64::max)
        };
        (0..k).map(row_max).sum::<f64>() / k as f64
    }

    fn variables(&self) -> usize {
        let k = self.0.first().map_or(0, Vec::len);
        assert!(
            k > 0 && self.0.len() >= k,
            "a score matrix has a row per variable"
        );
        k
    }
}

/// The correlation metrics of one model on one set of frames.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CorrelationReport {
    /// Column names: the causal variables.
    pub variables: Vec<String>,
    /// Row names: the variables' groups, then [`NONE_GROUP`].
    pub groups: Vec<String>,
    pub r2: Matrix,
    pub spearman: Matrix,
    pub r2_diag: f64,
    pub r2_sep: f64,
    pub spearman_diag: f64,
    pub spearman_sep: f64,
    /// Per variable, R² from all latents together (see the module docs).
    pub r2_all_latents: Vec<f64>,
}

/// The correlation metrics of latents `z` ([N, L], encoded from i.i.d. frames) grouped
/// by `assignment` (per latent, its variable 0..K, or K for none) against the frames'
/// raw ground-truth `latents` ([N, D]) of the causal `variables`.
pub fn correlation_report(
    z: &Tensor,
    assignment: &[usize],
    latents: &Tensor,
    variables: &[CausalVariable],
    options: &CorrelationOptions,
) -> Result<CorrelationReport> {
    let l = check_inputs(z, latents, variables, options)?;
    let k = variables.len();
    if assignment.len() != l {
        return Err(Error::Invalid(format!(
            "the assignment has {} entries but there are {l} latents",
            assignment.len()
        )));
    }
    if let Some((i, g)) = assignment.iter().enumerate().find(|(_, &g)| g > k) {
        return Err(Error::Invalid(format!(
            "latent {i} is assigned to group {g}, but there are {k} variables (group {k} \
             is none)"
        )));
    }
    let flags: Vec<f32> = (0..=k)
        .flat_map(|g| assignment.iter().map(move |&a| f32::from(u8::from(a == g))))
        .collect();
    let masks = Tensor::from_slice(&flags).view([k as i64 + 1, l as i64]);
    let (r2, spearman) = group_scores(z, &masks, latents, variables, options)?;
    let all = Tensor::ones([1, l as i64], (Kind::Float, Device::Cpu));
    let (Matrix(mut all_rows), _) = group_scores(z, &all, latents, variables, options)?;
    let r2_all_latents = all_rows.remove(0);
    let names: Vec<String> = variables.iter().map(|v| v.name.clone()).collect();
    let mut groups = names.clone();
    groups.push(NONE_GROUP.to_string());
    Ok(CorrelationReport {
        variables: names,
        groups,
        r2_diag: r2.diag(),
        r2_sep: r2.sep(),
        spearman_diag: spearman.diag(),
        spearman_sep: spearman.sep(),
        r2,
        spearman,
        r2_all_latents,
    })
}

/// R² of every single latent for every variable ([L, K]): the first half of the β-VAE
/// baseline's evaluation in the reference (`BaselineCorrelationMetricsLogCallback`),
/// which then groups the latents with [`assign_by_r2`].
pub fn per_latent_r2(
    z: &Tensor,
    latents: &Tensor,
    variables: &[CausalVariable],
    options: &CorrelationOptions,
) -> Result<Matrix> {
    let l = check_inputs(z, latents, variables, options)?;
    let singles = Tensor::eye(l as i64, (Kind::Float, Device::Cpu));
    Ok(group_scores(z, &singles, latents, variables, options)?.0)
}

/// Each latent assigned to the variable it predicts best (the largest entry of its row
/// of [`per_latent_r2`]): how the reference groups the latents of models without a
/// learned assignment. No latent is left to the none group.
pub fn assign_by_r2(per_latent: &Matrix) -> Vec<usize> {
    per_latent
        .0
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(j, _)| j)
                .expect("a score row has an entry per variable")
        })
        .collect()
}

impl CorrelationReport {
    /// Writes `r2.csv` and `spearman.csv` into `dir` (created if needed): a header of
    /// `group` and the variable names, then one row per group.
    pub fn write_csv(&self, dir: &Path) -> Result<()> {
        create_dir(dir)?;
        for (file, matrix) in [("r2.csv", &self.r2), ("spearman.csv", &self.spearman)] {
            let mut text = std::iter::once("group")
                .chain(self.variables.iter().map(String::as_str))
                .map(csv_field)
                .collect::<Vec<_>>()
                .join(",");
            text.push('\n');
            for (group, row) in self.groups.iter().zip(&matrix.0) {
                text.push_str(&csv_field(group));
                for v in row {
                    text.push_str(&format!(",{v:.6}"));
                }
                text.push('\n');
            }
            nn::run_dir::write_atomically(&dir.join(file), text.as_bytes())?;
        }
        Ok(())
    }

    /// Writes the heat maps `r2.png` and `spearman.png` into `dir` (created if needed).
    pub fn write_heatmaps(&self, dir: &Path) -> Result<()> {
        create_dir(dir)?;
        for (file, title, matrix) in [
            ("r2.png", "R2", &self.r2),
            ("spearman.png", "Spearman", &self.spearman),
        ] {
            heatmap(title, &self.groups, &self.variables, &matrix.0).write_png(&dir.join(file))?;
        }
        Ok(())
    }
}

/// R² and Spearman matrices ([G, K]) of the groups `masks` ([G, L], 0/1).
fn group_scores(
    z: &Tensor,
    masks: &Tensor,
    latents: &Tensor,
    variables: &[CausalVariable],
    options: &CorrelationOptions,
) -> Result<(Matrix, Matrix)> {
    let device = options.device;
    let (n, l) = z.size2().expect("checked 2-D");
    let z = z.to_device(device).to_kind(Kind::Float);
    let z = (&z - z.mean_dim(0, true, Kind::Float))
        / z.std_dim(0, true, true).clamp_min(MIN_LATENT_STD);
    let masks = masks.to_device(device);
    let latents = latents.to_device(device).to_kind(Kind::Float);
    // A seeded permutation: the first half trains the probe, the rest is scored.
    let order = nn::batches::Batches::new(n as usize, n as usize, options.seed)
        .indices(0)
        .to_device(device);
    let (train, test) = (order.narrow(0, 0, n / 2), order.narrow(0, n / 2, n - n / 2));

    let mut factors = Vec::with_capacity(variables.len());
    let mut outputs = 0;
    for variable in variables {
        let factor = Factor::new(variable, &latents, &train, outputs)?;
        outputs += factor.width;
        factors.push(factor);
    }
    let mut probe = Probe::new(l, outputs, options.hidden, device, options.seed);
    let training = ProbeTraining {
        steps: options.steps,
        batch_size: options.batch_size,
        lr: options.lr,
        // Batches drawn apart from the split's permutation.
        seed: options.seed.wrapping_add(1),
    };
    probe.fit(&z, &masks, &factors, &train, training);

    let z_test = z.index_select(0, &test);
    let targets: Vec<Tensor> = factors
        .iter()
        .map(|f| f.target.index_select(0, &test))
        .collect();
    let (mut r2, mut spearman) = (Vec::new(), Vec::new());
    for g in 0..masks.size()[0] {
        let out = probe.predict(&z_test, &masks.narrow(0, g, 1));
        let slices = factors
            .iter()
            .zip(&targets)
            .map(|(f, t)| (f, out.narrow(1, f.offset, f.width), t));
        let (r2_row, rho_row): (Vec<f64>, Vec<f64>) = slices
            .map(|(f, pred, t)| (f.r2(&pred, t), f.spearman(&pred, t)))
            .unzip();
        r2.push(r2_row);
        spearman.push(rho_row);
    }
    Ok((Matrix(r2), Matrix(spearman)))
}

/// Checks what a caller can get wrong; returns the number of latents.
fn check_inputs(
    z: &Tensor,
    latents: &Tensor,
    variables: &[CausalVariable],
    options: &CorrelationOptions,
) -> Result<usize> {
    let invalid = |m: String| Err(Error::Invalid(m));
    let (Ok((n, l)), Ok((m, _))) = (z.size2(), latents.size2()) else {
        return invalid(format!(
            "latents must be [N, L] and ground truth [N, D]; got {:?} and {:?}",
            z.size(),
            latents.size()
        ));
    };
    if n != m {
        return invalid(format!("{n} encoded frames but {m} ground-truth rows"));
    }
    if n < 4 || l < 1 {
        return invalid(format!(
            "{n} frames of {l} latents: need at least 4 frames (half to train, half to \
             score) and one latent"
        ));
    }
    if variables.is_empty() {
        return invalid("no causal variables to score".into());
    }
    if !bool::try_from(z.isfinite().all()).unwrap_or(false) {
        return invalid("the encoded latents contain non-finite values".into());
    }
    if options.batch_size == 0 || options.hidden < 1 || !options.lr.is_finite() || options.lr <= 0.0
    {
        return invalid(format!(
            "correlation probe options need batch_size ≥ 1, hidden ≥ 1 and a finite lr > 0; got \
             {}, {} and {}",
            options.batch_size, options.hidden, options.lr
        ));
    }
    Ok(l as usize)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Data {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })
}

/// A CSV field, quoted when it holds a separator, a quote or a line break.
pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use scenes::tris::VariableKind;

    use super::*;

    /// Options that train in well under a second on the CPU.
    fn quick() -> CorrelationOptions {
        CorrelationOptions {
            steps: 300,
            batch_size: 128,
            ..CorrelationOptions::default()
        }
    }

    fn continuous(name: &str, column: usize) -> CausalVariable {
        CausalVariable {
            name: name.into(),
            kind: VariableKind::Continuous { min: 0.0, max: 1.0 },
            latents: vec![column],
        }
    }

    fn cpu() -> (Kind, Device) {
        (Kind::Float, Device::Cpu)
    }

    #[test]
    fn latents_equal_to_the_factors_score_one_on_the_diagonal() {
        tch::manual_seed(1);
        let n = 1000;
        let factors = Tensor::rand([n, 3], cpu());
        // z = (f0, f1, exp(3 f2)) with a little noise (the last one a monotone but
        // non-linear code, which Spearman's ρ scores as fully as the others), and one
        // pure-noise latent for "none".
        let codes = Tensor::cat(
            &[
                factors.narrow(1, 0, 2),
                (factors.narrow(1, 2, 1) * 3.0).exp(),
            ],
            1,
        );
        let z = Tensor::cat(
            &[
                codes + Tensor::randn([n, 3], cpu()) * 0.01,
                Tensor::randn([n, 1], cpu()),
            ],
            1,
        );
        let vars = [continuous("a", 0), continuous("b", 1), continuous("c", 2)];
        let report = correlation_report(&z, &[0, 1, 2, 3], &factors, &vars, &quick()).unwrap();
        assert_eq!(report.groups, ["a", "b", "c", NONE_GROUP]);
        assert!(report.r2_diag > 0.98, "{report:#?}");
        assert!(report.spearman_diag > 0.98, "{report:#?}");
        assert!(report.r2_sep.abs() < 0.1, "{report:#?}");
        assert!(report.spearman_sep.abs() < 0.15, "{report:#?}");
        for j in 0..3 {
            assert!(
                report.r2.0[3][j].abs() < 0.1,
                "the noise latent explains nothing"
            );
        }
    }

    #[test]
    fn all_latents_show_what_a_wrong_assignment_hides() {
        tch::manual_seed(4);
        let n = 1000;
        let factors = Tensor::rand([n, 2], cpu());
        let z = &factors + Tensor::randn([n, 2], cpu()) * 0.01;
        let vars = [continuous("a", 0), continuous("b", 1)];
        // Both latents left to "none": no group predicts anything...
        let report = correlation_report(&z, &[2, 2], &factors, &vars, &quick()).unwrap();
        assert!(report.r2_diag.abs() < 0.1, "{report:#?}");
        // ...but together they hold both variables.
        assert_eq!(report.r2_all_latents.len(), 2);
        for r2 in &report.r2_all_latents {
            assert!(*r2 > 0.95, "{report:#?}");
        }
    }

    #[test]
    fn independent_noise_explains_nothing() {
        tch::manual_seed(2);
        let n = 2000;
        let factors = Tensor::rand([n, 2], cpu());
        let z = Tensor::randn([n, 2], cpu());
        let vars = [continuous("a", 0), continuous("b", 1)];
        let report = correlation_report(&z, &[0, 1], &factors, &vars, &quick()).unwrap();
        for row in report.r2.0.iter().chain([&report.r2_all_latents]) {
            for &v in row {
                assert!(v.abs() < 0.1, "{report:#?}");
            }
        }
    }

    #[test]
    fn an_angle_is_read_from_its_sine_and_cosine() {
        tch::manual_seed(3);
        let n = 1000;
        let theta = Tensor::rand([n, 1], cpu()) * std::f64::consts::TAU;
        let z = Tensor::cat(&[theta.sin(), theta.cos()], 1) + Tensor::randn([n, 2], cpu()) * 0.01;
        let angle = CausalVariable {
            name: "rotation".into(),
            kind: VariableKind::Angle {
                min: 0.0,
                max: std::f32::consts::TAU,
            },
            latents: vec![0],
        };
        let report = correlation_report(&z, &[0, 0], &theta, &[angle], &quick()).unwrap();
        assert!(report.r2_diag > 0.9, "{report:#?}");
        assert!(report.spearman_diag > 0.9, "{report:#?}");
    }

    #[test]
    fn a_category_is_read_from_one_latent() {
        tch::manual_seed(4);
        let n = 1000;
        let class = Tensor::randint(3, [n, 1], cpu());
        let other = Tensor::rand([n, 1], cpu());
        let z = Tensor::cat(
            &[
                &class + Tensor::randn([n, 1], cpu()) * 0.05,
                other.shallow_clone(),
            ],
            1,
        );
        let truth = Tensor::cat(&[class, other], 1);
        let shape = CausalVariable {
            name: "shape".into(),
            kind: VariableKind::Categorical { classes: 3 },
            latents: vec![0],
        };
        let vars = [shape, continuous("b", 1)];
        let report = correlation_report(&z, &[0, 1], &truth, &vars, &quick()).unwrap();
        assert!(report.r2.0[0][0] > 0.9, "{report:#?}");
        assert!(report.spearman.0[0][0] > 0.9, "{report:#?}");
        assert!(report.r2.0[1][0].abs() < 0.1, "{report:#?}");
    }

    #[test]
    fn the_baseline_assignment_finds_each_latents_factor() {
        tch::manual_seed(5);
        let n = 1000;
        let f = Tensor::rand([n, 3], cpu());
        // Latents: f2, f0, f1 and a second, non-linear copy of f0.
        let z = Tensor::cat(
            &[
                f.narrow(1, 2, 1),
                f.narrow(1, 0, 1),
                f.narrow(1, 1, 1),
                f.narrow(1, 0, 1).exp(),
            ],
            1,
        );
        let vars = [continuous("a", 0), continuous("b", 1), continuous("c", 2)];
        let r2 = per_latent_r2(&z, &f, &vars, &quick()).unwrap();
        assert_eq!(r2.0.len(), 4);
        assert_eq!(assign_by_r2(&r2), vec![2, 0, 1, 0], "{r2:?}");
    }

    #[test]
    fn diag_and_sep_skip_the_none_row() {
        let m = Matrix(vec![
            vec![0.9, 0.2, 0.1],
            vec![0.3, 0.8, 0.0],
            vec![0.05, 0.1, 0.7],
            vec![0.5, 0.9, 0.5],
        ]);
        assert!((m.diag() - 0.8).abs() < 1e-12);
        assert!((m.sep() - 0.2).abs() < 1e-12);
        assert_eq!(assign_by_r2(&m), vec![0, 1, 2, 1]);
        assert_eq!(Matrix(vec![vec![0.7], vec![0.1]]).sep(), 0.0);
    }

    #[test]
    fn reports_are_written_as_csv_and_heat_maps() {
        let report = CorrelationReport {
            variables: vec!["pos".into(), "a,b".into()],
            groups: vec!["pos".into(), "a,b".into(), NONE_GROUP.into()],
            r2: Matrix(vec![vec![1.0, 0.0], vec![0.25, 0.5], vec![0.0, -0.125]]),
            spearman: Matrix(vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 0.0]]),
            r2_diag: 0.75,
            r2_sep: 0.125,
            spearman_diag: 1.0,
            spearman_sep: 0.0,
            r2_all_latents: vec![1.0, 0.75],
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("correlation");
        report.write_csv(&out).unwrap();
        report.write_heatmaps(&out).unwrap();
        let r2 = std::fs::read_to_string(out.join("r2.csv")).unwrap();
        assert_eq!(
            r2,
            "group,pos,\"a,b\"\npos,1.000000,0.000000\n\"a,b\",0.250000,0.500000\n\
             none,0.000000,-0.125000\n"
        );
        assert!(out.join("spearman.csv").is_file());
        for png in ["r2.png", "spearman.png"] {
            let bytes = std::fs::read(out.join(png)).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png} is a PNG");
        }
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["r2"][2][1], -0.125);
    }

    #[test]
    fn mistakes_in_the_inputs_are_errors() {
        let z = Tensor::zeros([8, 2], cpu());
        let truth = Tensor::zeros([8, 1], cpu());
        let vars = [continuous("a", 0)];
        let opts = quick();
        let err = correlation_report(&z, &[0, 2], &truth, &vars, &opts).unwrap_err();
        assert!(
            err.to_string().contains("latent 1 is assigned to group 2"),
            "{err}"
        );
        let err = correlation_report(&z, &[0], &truth, &vars, &opts).unwrap_err();
        assert!(err.to_string().contains("1 entries"), "{err}");
        let short = Tensor::zeros([7, 1], cpu());
        assert!(correlation_report(&z, &[0, 1], &short, &vars, &opts).is_err());
        let nan = Tensor::full([8, 2], f64::NAN, cpu());
        assert!(per_latent_r2(&nan, &truth, &vars, &opts).is_err());
    }
}
