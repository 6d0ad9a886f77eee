//! An oracle encoder for CITRIS-NF: the ground-truth causal factors of a data set,
//! standardised, padded with noise and mixed by a random rotation, in place of the
//! autoencoder's encodings. Training CITRIS-NF's flow stage on them measures the
//! identification stage alone (flow, transition prior, ψ, target classifier): what
//! CITRIS-NF could reach with a perfect autoencoder. When a model falls short of the
//! paper's scores, the oracle tells whether the encoder or the identification is to
//! blame; if the oracle fails on a data set, no better autoencoder will fix it.
//!
//! The encodings hold every variable of the data set (also those never intervened on,
//! such as Pong's scores, as an autoencoder would), angles as sine and cosine, each
//! standardised on the training split; the remaining latents are i.i.d. N(0, 1) noise
//! (a flow cannot model constant dimensions). The rotation and noise come from libtorch's
//! global generator, which [`train_and_score`] seeds with the run's seed.

use nn::run_dir::RunDir;
use nn::train::Progress;
use scenes::tris::{CausalVariable, VariableKind};
use tch::{Device, Kind, Tensor};

use crate::data::TrisData;
use crate::eval::correlation::{correlation_report, CorrelationOptions, CorrelationReport};
use crate::eval::evaluate::{scored_assignment, scored_targets};
use crate::nf::{train_flow, CitrisNf};
use crate::training::{select_targets, ModelConfig, RunConfig};
use crate::{Error, Result};

/// Features with a smaller standard deviation on the training split are constant and
/// left out.
const MIN_STD: f64 = 1e-6;

/// One column of the oracle's features.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Feature {
    /// A raw-latent column as it is.
    Value(usize),
    /// The sine of an angle column.
    Sin(usize),
    /// The cosine of an angle column.
    Cos(usize),
}

/// Maps ground-truth latents to oracle encodings.
#[derive(Debug)]
pub struct OracleEncoder {
    features: Vec<Feature>,
    /// Mean and standard deviation [F] of the features on the training split.
    mean: Tensor,
    std: Tensor,
    /// A random orthogonal matrix [L, L].
    rotation: Tensor,
}

impl OracleEncoder {
    /// An encoder into `latents` dimensions for the `variables` of a data set, fitted to
    /// its training ground truth `raw` [N, D] (CPU).
    pub fn fit(raw: &Tensor, variables: &[CausalVariable], latents: i64) -> Result<Self> {
        let d = raw.size()[1] as usize;
        let candidates: Vec<Feature> = variables
            .iter()
            .flat_map(|v| {
                v.latents
                    .iter()
                    .filter(move |&&c| c < d)
                    .flat_map(move |&c| match v.kind {
                        VariableKind::Angle { .. } => vec![Feature::Sin(c), Feature::Cos(c)],
                        _ => vec![Feature::Value(c)],
                    })
            })
            .collect();
        if candidates.is_empty() {
            return Err(Error::Invalid(
                "the oracle found no ground-truth columns of the variables to encode".into(),
            ));
        }
        let values = features(&candidates, raw);
        let std = Vec::<f64>::try_from(values.std_dim(0, true, false).to_kind(Kind::Double))
            .map_err(|e| Error::Invalid(format!("feature deviations: {e}")))?;
        let kept: Vec<usize> = (0..candidates.len())
            .filter(|&i| std[i] > MIN_STD)
            .collect();
        if kept.len() as i64 > latents {
            return Err(Error::Invalid(format!(
                "the oracle encodes {} ground-truth features but the model has only {latents} \
                 latents",
                kept.len()
            )));
        }
        let index = Tensor::from_slice(&kept.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let values = values.index_select(1, &index);
        let (rotation, _) = Tensor::linalg_qr(
            &Tensor::randn([latents, latents], (Kind::Float, Device::Cpu)),
            "reduced",
        );
        Ok(Self {
            mean: values.mean_dim(0, false, Kind::Float),
            std: values.std_dim(0, true, false),
            features: kept.iter().map(|&i| candidates[i]).collect(),
            rotation,
        })
    }

    /// Encodings [N, L] (CPU) of ground-truth latents `raw` [N, D].
    pub fn encode(&self, raw: &Tensor) -> Tensor {
        let n = raw.size()[0];
        let l = self.rotation.size()[0];
        let values = (features(&self.features, raw) - &self.mean) / &self.std;
        let noise = Tensor::randn(
            [n, l - self.features.len() as i64],
            (Kind::Float, Device::Cpu),
        );
        Tensor::cat(&[values, noise], 1).matmul(&self.rotation)
    }
}

/// `features` [N, F] of ground-truth latents [N, D].
fn features(features: &[Feature], raw: &Tensor) -> Tensor {
    let columns: Vec<Tensor> = features
        .iter()
        .map(|f| match *f {
            Feature::Value(c) => raw.select(1, c as i64),
            Feature::Sin(c) => raw.select(1, c as i64).sin(),
            Feature::Cos(c) => raw.select(1, c as i64).cos(),
        })
        .collect();
    Tensor::stack(&columns, 1).to_kind(Kind::Float)
}

/// What the identification stage reached on oracle encodings.
#[derive(Debug)]
pub struct OracleReport {
    /// Correlation metrics on the independent split, as `causalgen eval` computes them.
    pub correlation: CorrelationReport,
    /// Per latent, its group by hard ψ: a target's name or "none".
    pub assignment: Vec<String>,
}

/// Trains the flow stage of the CITRIS-NF run `config` in `run` on oracle encodings of
/// `data`'s training split, then scores hard-ψ groups of the independent split `split`
/// with `options` (whose device also trains the flow); the matrices go to
/// `RUN/eval/correlation` as `causalgen eval` writes them.
pub fn train_and_score(
    run: &RunDir,
    config: &RunConfig,
    data: &TrisData,
    split: &str,
    options: &CorrelationOptions,
    progress: &Progress,
) -> Result<OracleReport> {
    config.validate()?;
    let ModelConfig::Nf(nf) = &config.model else {
        return Err(Error::Invalid(format!(
            "the oracle trains CITRIS-NF's flow stage, not a {} run",
            config.kind().name()
        )));
    };
    let sequence = data.sequence("train")?;
    let raw = sequence.latents.as_ref().ok_or_else(|| Error::Data {
        path: data.dir().join("train.npz"),
        message: "has no `raw_latents`: the oracle encodes the ground truth".into(),
    })?;
    let targets = select_targets(&config.targets, &sequence.targets, data.dir())?;
    tch::manual_seed(config.train.seed as i64);
    let encoder = OracleEncoder::fit(raw, data.variables(), config.net.latents)?;
    let mut model = CitrisNf::new(&config.net, config.targets.len(), nf, options.device)?;
    train_flow(
        &mut model,
        run,
        config,
        &encoder.encode(raw),
        &targets,
        progress,
    )?;

    let indep = data.independent(split)?;
    let z = model
        .flow_latents(&encoder.encode(&indep.latents).to_device(options.device))
        .to_device(Device::Cpu);
    let all = config.targets.variables(data.variables());
    let scored = scored_targets(&all, indep.latents.size()[1] as usize);
    let variables: Vec<CausalVariable> = scored.iter().map(|&k| all[k].clone()).collect();
    let groups = model.prior().hard_assignment();
    let correlation = correlation_report(
        &z,
        &scored_assignment(&groups, &scored),
        &indep.latents,
        &variables,
        options,
    )?;
    let dir = run.root().join("eval/correlation");
    correlation.write_csv(&dir)?;
    correlation.write_heatmaps(&dir)?;
    let assignment = groups
        .iter()
        .map(|&g| all.get(g).map_or("none".to_string(), |v| v.name.clone()))
        .collect();
    Ok(OracleReport {
        correlation,
        assignment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> Vec<CausalVariable> {
        vec![
            CausalVariable {
                name: "angle".into(),
                kind: VariableKind::Angle {
                    min: 0.0,
                    max: std::f32::consts::TAU,
                },
                latents: vec![0],
            },
            CausalVariable {
                name: "constant".into(),
                kind: VariableKind::Continuous { min: 0.0, max: 1.0 },
                latents: vec![1],
            },
            CausalVariable {
                name: "value".into(),
                kind: VariableKind::Continuous { min: 0.0, max: 1.0 },
                latents: vec![2],
            },
            CausalVariable {
                name: "not in the files".into(),
                kind: VariableKind::Categorical { classes: 3 },
                latents: vec![3],
            },
        ]
    }

    fn raw(n: i64) -> Tensor {
        Tensor::stack(
            &[
                Tensor::rand([n], (Kind::Float, Device::Cpu)) * std::f64::consts::TAU,
                Tensor::full([n], 0.5, (Kind::Float, Device::Cpu)),
                Tensor::rand([n], (Kind::Float, Device::Cpu)),
            ],
            1,
        )
    }

    /// Angles become sine and cosine, constant and absent columns are left out, and the
    /// encoding is an isometry of the standardised features and the noise: its inverse
    /// rotation gives back the features with mean 0 and deviation 1.
    #[test]
    fn encodings_rotate_standardised_features() {
        tch::manual_seed(0);
        let raw = raw(4000);
        let encoder = OracleEncoder::fit(&raw, &variables(), 5).unwrap();
        assert_eq!(
            encoder.features,
            [Feature::Sin(0), Feature::Cos(0), Feature::Value(2)]
        );
        let e = encoder.encode(&raw);
        assert_eq!(e.size(), [4000, 5]);
        let back = e.matmul(&encoder.rotation.tr());
        let expected = Tensor::stack(
            &[
                raw.select(1, 0).sin(),
                raw.select(1, 0).cos(),
                raw.select(1, 2),
            ],
            1,
        );
        let expected =
            (&expected - expected.mean_dim(0, true, Kind::Float)) / expected.std_dim(0, true, true);
        let error = (back.narrow(1, 0, 3) - expected)
            .abs()
            .max()
            .double_value(&[]);
        assert!(error < 1e-4, "{error}");
        let noise_std = back.narrow(1, 3, 2).std(true).double_value(&[]);
        assert!((noise_std - 1.0).abs() < 0.1, "{noise_std}");
    }

    #[test]
    fn too_few_latents_for_the_features_is_an_error() {
        let err = OracleEncoder::fit(&raw(100), &variables(), 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 ground-truth features") && err.contains("only 2"),
            "{err}"
        );
    }
}
