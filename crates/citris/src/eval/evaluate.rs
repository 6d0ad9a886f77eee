//! `causalgen eval RUN` for CITRIS-family runs: every evaluation of the paper on a data
//! set, written into `RUN/eval/` (CSV, heat maps, `citris.json`).

use std::path::PathBuf;

use nn::run_dir::{write_atomically, RunDir};
use scenes::tris::CausalVariable;
use serde::Serialize;
use tch::Device;

use crate::data::TrisData;
use crate::representation::encode_frames;
use crate::training::TrainedRun;
use crate::Result;

use super::causal_encoder::{CausalEncoder, CausalEncoderOptions};
use super::correlation::{
    assign_by_r2, correlation_report, per_latent_r2, CorrelationOptions, CorrelationReport, Matrix,
};
use super::triplets::{evaluate_triplets, TripletReport, GRID_TRIPLETS};

/// What to evaluate on and how hard to train the probes.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// The independent split whose frames the correlation metrics use.
    pub split: String,
    pub correlation: CorrelationOptions,
    /// The triplet split scored (absent files are skipped).
    pub triplet_split: String,
    /// Training of the causal encoder that reads generated images (kept in the run).
    pub causal_encoder: CausalEncoderOptions,
}

impl EvalOptions {
    pub fn new(device: Device) -> Self {
        Self {
            split: "test_indep".into(),
            correlation: CorrelationOptions {
                device,
                ..Default::default()
            },
            triplet_split: "test_triplets".into(),
            causal_encoder: CausalEncoderOptions {
                device,
                ..Default::default()
            },
        }
    }
}

/// Everything `evaluate` measured.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub data: PathBuf,
    pub split: String,
    pub frames: i64,
    /// Variables scored (the run's targets that have ground-truth latents).
    pub variables: Vec<String>,
    /// Targets without ground truth in the files (not scored).
    pub unscored: Vec<String>,
    /// Per latent, the variable group it is assigned to (`none` for ψ₀); the β-VAE's
    /// is by maximal R², as the paper's baseline.
    pub assignment: Vec<String>,
    pub correlation: CorrelationReport,
    /// Triplets: pixel error and the causal encoder's distance of the model's third
    /// image, next to the encoder's own error on the true third image (the floor).
    pub triplets: Option<TripletReport>,
}

impl EvalReport {
    /// Plain-text summary: headline numbers and both matrices.
    pub fn summary(&self) -> String {
        let c = &self.correlation;
        let mut out = format!(
            "{} on {} ({} frames of {})\n\
             R²       diag {:.3}  sep {:.3}\n\
             Spearman diag {:.3}  sep {:.3}\n",
            self.model,
            self.data.display(),
            self.frames,
            self.split,
            c.r2_diag,
            c.r2_sep,
            c.spearman_diag,
            c.spearman_sep
        );
        // The R² table ends with the all-latents row; Spearman has none.
        let tables: [(&str, &Matrix, Option<&[f64]>); 2] = [
            ("R²", &c.r2, Some(&c.r2_all_latents)),
            ("Spearman", &c.spearman, None),
        ];
        for (title, matrix, all_latents) in tables {
            out.push_str(&format!(
                "\n{title} (rows: latent groups, columns: variables)\n"
            ));
            let rows = c
                .groups
                .iter()
                .map(String::as_str)
                .zip(matrix.0.iter().map(Vec::as_slice))
                .chain(all_latents.map(|row| (ALL_LATENTS_ROW, row)));
            push_table(&mut out, &c.variables, rows);
        }
        if let Some(t) = &self.triplets {
            out.push_str(&format!(
                "\ntriplets ({} of {}): pixel MSE {:.4}",
                t.count, t.split, t.pixel_mse
            ));
            if let (Some(d), Some(f)) = (&t.distance, &t.floor) {
                out.push_str(&format!(
                    ", causal-encoder distance {:.3} (floor {:.3}, ratio {:.2})\n",
                    d.total,
                    f.total,
                    d.total / f.total.max(1e-12)
                ));
                // Per variable, so a total far above the floor says which variable the
                // predictions get wrong (e.g. one no latent group carries).
                let rows = [
                    ("model", d.per_variable.as_slice()),
                    ("floor", f.per_variable.as_slice()),
                ];
                push_table(&mut out, &d.variables, rows.into_iter());
            } else {
                out.push('\n');
            }
        }
        if !self.unscored.is_empty() {
            out.push_str(&format!(
                "\nnot scored (no ground truth in the files): {}\n",
                self.unscored.join(", ")
            ));
        }
        out
    }
}

/// Label of the summary's extra R² row: each variable from all latents together, the
/// most any grouping could reach (not a group; see [`CorrelationReport::r2_all_latents`]).
const ALL_LATENTS_ROW: &str = "(all latents)";

/// Appends a table: a header of `columns` (cut to 10 characters), then one line per
/// labelled row of values.
fn push_table<'a>(
    out: &mut String,
    columns: &[String],
    rows: impl Iterator<Item = (&'a str, &'a [f64])>,
) {
    out.push_str(&format!("{:>14}", ""));
    for column in columns {
        out.push_str(&format!(" {:>10}", truncate(column, 10)));
    }
    out.push('\n');
    for (label, row) in rows {
        out.push_str(&format!("{:>14}", truncate(label, 14)));
        for value in row {
            out.push_str(&format!(" {value:>10.3}"));
        }
        out.push('\n');
    }
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// The targets whose ground truth files with `columns` raw latents hold, in order;
/// the others cannot be scored and their latents count as "none".
pub(crate) fn scored_targets(targets: &[CausalVariable], columns: usize) -> Vec<usize> {
    (0..targets.len())
        .filter(|&k| {
            let latents = &targets[k].latents;
            !latents.is_empty() && latents.iter().all(|&c| c < columns)
        })
        .collect()
}

/// A learned assignment (per latent, a target 0..K or K for none) as indices into
/// `scored` (or `scored.len()` for none and unscored targets).
pub(crate) fn scored_assignment(groups: &[usize], scored: &[usize]) -> Vec<usize> {
    groups
        .iter()
        .map(|&g| scored.iter().position(|&k| k == g).unwrap_or(scored.len()))
        .collect()
}

/// Evaluates `trained` (the run in `run`) on `data`, writing `RUN/eval/`.
pub fn evaluate(
    run: &RunDir,
    trained: &TrainedRun,
    data: &TrisData,
    options: &EvalOptions,
) -> Result<EvalReport> {
    let targets = &trained.config.targets;
    let indep = data.independent(&options.split)?;
    let all_variables = targets.variables(data.variables());
    let d = indep.latents.size()[1] as usize;
    let scored = scored_targets(&all_variables, d);
    let variables: Vec<CausalVariable> = scored.iter().map(|&k| all_variables[k].clone()).collect();
    let model = trained.representation();
    let z = encode_frames(model, &indep.frames, 256);
    // Per latent, its target (0..K, K for none) and its scored variable (0..K', K').
    let (groups, assignment): (Vec<usize>, Vec<usize>) = match model.assignment() {
        Some(groups) => {
            let scored_index = scored_assignment(&groups, &scored);
            (groups, scored_index)
        }
        None => {
            let by_r2 = assign_by_r2(&per_latent_r2(
                &z,
                &indep.latents,
                &variables,
                &options.correlation,
            )?);
            let groups = by_r2
                .iter()
                .map(|&g| scored.get(g).copied().unwrap_or(targets.len()))
                .collect();
            (groups, by_r2)
        }
    };
    let correlation = correlation_report(
        &z,
        &assignment,
        &indep.latents,
        &variables,
        &options.correlation,
    )?;
    let dir = run.root().join("eval/correlation");
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::Data {
        path: dir.clone(),
        message: format!("cannot create the folder: {e}"),
    })?;
    correlation.write_csv(&dir)?;
    correlation.write_heatmaps(&dir)?;
    let triplets = match data
        .dir()
        .join(format!("{}.npz", options.triplet_split))
        .is_file()
    {
        true => {
            let judged: Vec<CausalVariable> = data
                .variables()
                .iter()
                .filter(|v| !v.latents.is_empty() && v.latents.iter().all(|&c| c < d))
                .cloned()
                .collect();
            let encoder =
                CausalEncoder::load_or_train(run, data, &judged, &options.causal_encoder)?;
            let evaluation = evaluate_triplets(
                model,
                data,
                &options.triplet_split,
                targets,
                &groups,
                Some(&encoder),
            )?;
            evaluation.write_grid(&run.file("eval/triplets.png")?, GRID_TRIPLETS)?;
            Some(evaluation.report)
        }
        false => None,
    };
    let report = EvalReport {
        model: trained.config.kind().name().into(),
        data: data.dir().to_path_buf(),
        split: options.split.clone(),
        frames: indep.frames.size()[0],
        variables: variables.iter().map(|v| v.name.clone()).collect(),
        unscored: (0..all_variables.len())
            .filter(|k| !scored.contains(k))
            .map(|k| all_variables[k].name.clone())
            .collect(),
        assignment: assignment
            .iter()
            .map(|&g| correlation.groups[g].clone())
            .collect(),
        correlation,
        triplets,
    };
    let mut json = serde_json::to_vec_pretty(&report).map_err(|e| crate::Error::Data {
        path: run.root().join("eval/citris.json"),
        message: format!("cannot encode the report: {e}"),
    })?;
    json.push(b'\n');
    write_atomically(&run.file("eval/citris.json")?, &json)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::causal_encoder::VariableDistances;

    /// A report on variables x and y with the given triplet scores.
    fn report(triplets: Option<TripletReport>) -> EvalReport {
        EvalReport {
            model: "citris-nf".into(),
            data: PathBuf::from("data"),
            split: "test_indep".into(),
            frames: 10,
            variables: vec!["x".into(), "y".into()],
            unscored: vec![],
            assignment: vec!["x".into(), "x".into()],
            correlation: CorrelationReport {
                variables: vec!["x".into(), "y".into()],
                groups: vec!["x".into(), "y".into(), "none".into()],
                r2: Matrix(vec![vec![0.9, 0.8], vec![0.0, 0.0], vec![0.0, 0.0]]),
                spearman: Matrix(vec![vec![0.9, 0.8], vec![0.0, 0.0], vec![0.0, 0.0]]),
                r2_diag: 0.45,
                r2_sep: 0.4,
                spearman_diag: 0.45,
                spearman_sep: 0.4,
                r2_all_latents: vec![0.95, 0.875],
            },
            triplets,
        }
    }

    #[test]
    fn the_summary_ends_the_r2_table_with_the_all_latents_row() {
        let report = report(None);
        let summary = report.summary();
        let r2_table = summary.split("Spearman (rows").next().unwrap();
        let last = r2_table.trim_end().lines().last().unwrap();
        assert_eq!(
            last.split_whitespace().collect::<Vec<_>>(),
            ["(all", "latents)", "0.950", "0.875"]
        );
        assert_eq!(summary.matches(ALL_LATENTS_ROW).count(), 1, "{summary}");
    }

    #[test]
    fn the_summary_lists_the_triplet_distances_per_variable_beside_the_floor() {
        let distances = |per_variable: Vec<f64>| VariableDistances {
            variables: vec!["x".into(), "score".into()],
            total: per_variable.iter().sum(),
            per_variable,
        };
        let summary = report(Some(TripletReport {
            split: "test_triplets".into(),
            count: 4,
            pixel_mse: 0.01,
            distance: Some(distances(vec![0.05, 0.45])),
            floor: Some(distances(vec![0.03, 0.0])),
        }))
        .summary();
        let triplets = summary
            .split("triplets (4 of test_triplets)")
            .nth(1)
            .unwrap();
        let lines: Vec<Vec<&str>> = triplets
            .lines()
            .map(|line| line.split_whitespace().collect())
            .collect();
        assert!(lines[0]
            .join(" ")
            .ends_with("distance 0.500 (floor 0.030, ratio 16.67)"));
        assert_eq!(lines[1], ["x", "score"]);
        assert_eq!(lines[2], ["model", "0.050", "0.450"]);
        assert_eq!(lines[3], ["floor", "0.030", "0.000"]);
    }
}
