//! Measured fidelity: how well a trained run's pictures carry the answers the network
//! computes exactly.
//!
//! A separate [`classifier`] trained on freshly rendered scenes reads labels back from
//! images (it must be near-perfect on real images for anything else to mean much). With
//! it, [`evaluate`] measures, and writes to `<run>/eval.json`:
//!
//! 1. the classifier's own accuracy on held-out real images;
//! 2. requested-value accuracy: how often the labels read off a generated image are the
//!    labels it was decoded from, for conditioning, intervening and counterfactuals;
//! 3. total-variation distance between the labels read off the generated images and the
//!    exact distribution of the query ([`distribution`]), per variable and jointly, next
//!    to the distance that the same number of exact samples has (the sampling-noise
//!    floor);
//! 4. true counterfactual error ([`counterfactual`]): the rendered ground truth of the
//!    same unit under do(·) against the VAE's counterfactual, with pixel MSE and SSIM
//!    ([`ssim`]), and against fresh-z, nearest-neighbour and factual-image references;
//! 5. reconstruction MSE, negative ELBO and label-head accuracy on a rendered test split,
//!    with the mean-image MSE as baseline.

pub mod classifier;
pub mod counterfactual;
pub mod distribution;
pub mod ssim;

use std::fmt::Write as _;
use std::time::Instant;

use bayesnet::Assignment;
use nn::run_dir::{write_atomically, RunDir};
use nn::train::Progress;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::FightData;
use crate::query::{self, Generated};
use crate::schema::LabelSchema;
use crate::training::TrainedModel;
use crate::{Error, Result};

use classifier::{ClassifierConfig, LabelClassifier, CLASSIFIER_DIR};
use counterfactual::CounterfactualReport;
use distribution::{distance, exact_joint, histogram, Distance};

/// File of the report in the run directory.
pub const REPORT_FILE: &str = "eval.json";

/// Fewest generated images per query: with fewer, the sampling noise of a 432-cell
/// joint swamps the distances being measured.
pub const MIN_SAMPLES: usize = 1000;

/// Per-variable held-out accuracy the classifier needs for the other numbers to be
/// trusted; [`ClassifierReport::reliable`] records whether it got there.
pub const RELIABLE_ACCURACY: f64 = 0.98;

/// Images per forward pass of the VAE on the test split.
const BATCH: i64 = 256;

/// The tutorial's conditioning query: who fights whom.
pub const CONDITION_EVIDENCE: [(&str, &str); 4] = [
    ("actor", "Satyr"),
    ("actor_type", "Type1"),
    ("reactor", "Golem"),
    ("reactor_type", "Type3"),
];
/// The interventional query: do(action=Attack), no evidence.
pub const INTERVENTION: (&str, &str) = ("action", "Attack");
/// The counterfactual query: had the actor taunted instead.
pub const COUNTERFACTUAL: (&str, &str) = ("action", "Taunt");

/// How much to measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Generated images per query (at least [`MIN_SAMPLES`]); also the size of the
    /// rendered test split.
    pub samples: usize,
    /// Test scenes for the counterfactual error.
    pub counterfactual_scenes: usize,
    /// Training steps of the label classifier.
    pub classifier_steps: usize,
    /// Rendered training scenes of the classifier (also the nearest-neighbour baseline's
    /// training images and the mean image).
    pub classifier_scenes: usize,
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            samples: 2000,
            counterfactual_scenes: 200,
            classifier_steps: 600,
            classifier_scenes: 10_000,
            seed: 0,
        }
    }
}

impl EvalOptions {
    /// Checks the options; the message names the one that is out of range.
    pub fn validate(&self) -> Result<()> {
        if self.samples < MIN_SAMPLES {
            return Err(Error::Invalid(format!(
                "{} samples per query are too few: use at least {MIN_SAMPLES}, or the \
                 sampling noise hides what is measured",
                self.samples
            )));
        }
        for (name, value) in [
            ("counterfactual scenes", self.counterfactual_scenes),
            ("classifier steps", self.classifier_steps),
            ("classifier scenes", self.classifier_scenes),
        ] {
            if value == 0 {
                return Err(Error::Invalid(format!("{name} must be at least 1")));
            }
        }
        Ok(())
    }
}

/// Accuracy of labels read off images against the labels they should show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    pub images: usize,
    /// Per image variable, in [`EvalReport::variables`] order.
    pub per_variable: Vec<f64>,
    /// Fraction of images with all six labels right.
    pub all: f64,
}

/// The independent classifier and how well it reads real images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierReport {
    /// Its weights came from an earlier evaluation of this run.
    pub reused: bool,
    pub steps: usize,
    pub training_scenes: usize,
    /// Accuracy on held-out rendered images.
    pub held_out: Accuracy,
    /// Every variable reaches [`RELIABLE_ACCURACY`] on held-out images.
    pub reliable: bool,
}

/// Distances of a query's label distribution from the exact one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distances {
    /// Labels the classifier read off the generated images.
    pub generated: Distance,
    /// The same number of exact samples (bayesnet's sampler): the noise floor.
    pub exact_samples: Distance,
}

/// One query's measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryReport {
    /// `condition`, `intervene`, `intervene-seen` or `counterfactual`.
    pub name: String,
    /// The query in probability notation.
    pub query: String,
    /// Requested-value accuracy: the classifier's reading against the labels decoded.
    pub requested: Accuracy,
    /// Absent for counterfactuals, whose exact distribution differs per image.
    pub distances: Option<Distances>,
}

/// The VAE itself on rendered test images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeReport {
    pub images: usize,
    /// Pixel MSE of the posterior-mean reconstruction (true labels).
    pub reconstruction_mse: f64,
    /// Pixel MSE of the mean training image: what a model that ignores the input scores.
    pub mean_image_mse: f64,
    /// Negative ELBO with the true labels, nats per image.
    pub negative_elbo: f64,
    /// Accuracy of the VAE's own label head q(y | x).
    pub label_head: Accuracy,
}

/// Everything [`evaluate`] measured (`<run>/eval.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub options: EvalOptions,
    /// The image variables, in the order of every per-variable list.
    pub variables: Vec<String>,
    pub classifier: ClassifierReport,
    pub queries: Vec<QueryReport>,
    pub counterfactual: CounterfactualReport,
    pub vae: VaeReport,
}

impl EvalReport {
    /// Reads `<run>/eval.json`.
    pub fn load(run: &RunDir) -> Result<Self> {
        let path = run.root().join(REPORT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| {
            Error::Nn(nn::NnError::Io {
                path: path.clone(),
                source,
            })
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Data {
            path,
            message: e.to_string(),
        })
    }

    /// Writes `<run>/eval.json` atomically.
    pub fn save(&self, run: &RunDir) -> Result<()> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("cannot serialise the report: {e}")))?;
        Ok(write_atomically(
            &run.root().join(REPORT_FILE),
            json.as_bytes(),
        )?)
    }

    /// The headline numbers as a compact table.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let names: Vec<&str> = self.variables.iter().map(String::as_str).collect();
        let c = &self.classifier;
        let _ = writeln!(
            out,
            "label classifier ({} steps on {} scenes{}): held-out accuracy{}",
            c.steps,
            c.training_scenes,
            if c.reused { ", reused" } else { "" },
            if c.reliable {
                String::new()
            } else {
                format!(" BELOW {RELIABLE_ACCURACY} — the numbers below are unreliable")
            }
        );
        let header = |out: &mut String, title: &str| {
            let _ = write!(out, "  {title:<32}");
            for n in &names {
                let _ = write!(out, " {n:>12}");
            }
            let _ = writeln!(out, " {:>8}", "all six");
        };
        let row = |out: &mut String, label: &str, a: &Accuracy| {
            let _ = write!(out, "  {label:<32}");
            for v in &a.per_variable {
                let _ = write!(out, " {v:>12.3}");
            }
            let _ = writeln!(out, " {:>8.3}", a.all);
        };
        header(&mut out, "");
        row(&mut out, "real images", &c.held_out);
        row(
            &mut out,
            "VAE label head on real images",
            &self.vae.label_head,
        );
        let _ = writeln!(
            out,
            "requested-value accuracy (classifier on generated images)"
        );
        for q in &self.queries {
            row(&mut out, &q.name, &q.requested);
        }
        let _ = writeln!(
            out,
            "total variation to the exact distribution (exact-sample floor in brackets)"
        );
        let _ = writeln!(out, "  {:<32} {:>20} {:>20}", "", "max marginal", "joint");
        for q in &self.queries {
            if let Some(d) = &q.distances {
                let _ = writeln!(
                    out,
                    "  {:<32} {:>9.3} ({:>7.3}) {:>9.3} ({:>7.3})",
                    q.name,
                    d.generated.max_marginal,
                    d.exact_samples.max_marginal,
                    d.generated.joint,
                    d.exact_samples.joint
                );
            }
        }
        let cf = &self.counterfactual;
        let _ = writeln!(
            out,
            "counterfactual do({}) on {} scenes: MAP labels right {:.1}% (labels read), \
             {:.1}% (labels given)",
            cf.intervention,
            cf.scenes,
            100.0 * cf.map_labels_correct,
            100.0 * cf.map_labels_correct_given
        );
        let _ = writeln!(
            out,
            "  {:<32} {:>9} {:>7} {:>11} {:>11}",
            "", "MSE", "SSIM", "MSE|right", "SSIM|right"
        );
        for (label, s) in [
            ("ours (labels read)", &cf.ours),
            ("ours (labels given)", &cf.ours_given),
            ("fresh z", &cf.fresh_z),
            ("nearest training image", &cf.nearest),
            ("factual image", &cf.factual),
        ] {
            let right = match &s.labels_match {
                Some(m) => format!("{:>11.5} {:>11.3}", m.mse, m.ssim),
                None => format!("{:>11} {:>11}", "-", "-"),
            };
            let _ = writeln!(
                out,
                "  {label:<32} {:>9.5} {:>7.3} {right}",
                s.all.mse, s.all.ssim
            );
        }
        if cf.nearest_fallbacks > 0 {
            let _ = writeln!(
                out,
                "  ({} scenes had no training image with the MAP labels: nearest of all used)",
                cf.nearest_fallbacks
            );
        }
        let v = &self.vae;
        let _ = writeln!(
            out,
            "VAE on {} test images: reconstruction MSE {:.5} (mean image {:.5}), \
             negative ELBO {:.1} nats/image",
            v.images, v.reconstruction_mse, v.mean_image_mse, v.negative_elbo
        );
        out
    }
}

/// Measures `trained` (the run in `run`) as described in the [module docs](self), writes
/// the report to `<run>/eval.json` and returns it. The label classifier is trained in
/// (or reused from) `<run>/eval/classifier`. Images are rendered with the nuisance
/// strength the run was trained with.
pub fn evaluate(
    trained: &TrainedModel,
    run: &RunDir,
    options: &EvalOptions,
    progress: &Progress,
) -> Result<EvalReport> {
    options.validate()?;
    let net = &trained.network;
    let schema = trained.model.schema();
    let size = trained.config.model.image_size;
    let nuisance = trained.config.data.nuisance;
    let device = trained.vs.device();
    let seed = |stream: u64| derive_seed(options.seed, stream);
    let clock = Instant::now();

    stage(
        progress,
        &clock,
        "rendering the classifier's training scenes",
    );
    let training = FightData::generate(
        net,
        schema,
        options.classifier_scenes,
        size as usize,
        seed(1),
        nuisance,
    )?;
    let config = ClassifierConfig::new(
        size,
        options.classifier_scenes,
        options.classifier_steps,
        nuisance,
        seed(1),
    );
    stage(progress, &clock, "the label classifier");
    let classifier_run = RunDir::create(run.root().join(CLASSIFIER_DIR))?;
    let classifier_progress = Progress {
        label: format!("{} classifier", progress.label),
        visible: progress.visible,
    };
    let classifier = LabelClassifier::train_or_load(
        &classifier_run,
        &config,
        &training,
        schema,
        device,
        &classifier_progress,
    )?;

    stage(progress, &clock, "scoring real test images");
    let test = FightData::generate(
        net,
        schema,
        options.samples,
        size as usize,
        seed(2),
        nuisance,
    )?;
    let held_out = accuracy(&classifier.predict(&test.images), &test.labels);
    let classifier_report = ClassifierReport {
        reused: classifier.reused,
        steps: options.classifier_steps,
        training_scenes: options.classifier_scenes,
        reliable: held_out
            .per_variable
            .iter()
            .all(|&a| a >= RELIABLE_ACCURACY),
        held_out,
    };
    stage(progress, &clock, "the VAE on real test images");
    let vae = vae_report(trained, &test, &training, seed(3));

    stage(progress, &clock, "conditioning and intervening");
    let evidence = net.assignment(&CONDITION_EVIDENCE)?;
    let intervention = net.assignment(&[INTERVENTION])?;
    let none = Assignment::new();
    let n = options.samples;
    let scorer = QueryScorer {
        trained,
        classifier: &classifier,
        schema,
    };
    let conditioned = query::condition(trained, &evidence, &none, n, seed(4))?;
    let intervened = query::intervene(trained, &intervention, &none, n, seed(5))?;
    let mut queries = vec![
        scorer.score(
            "condition",
            &conditioned.generated,
            &evidence,
            &none,
            seed(6),
        )?,
        scorer.score(
            "intervene",
            &intervened.interventional.generated,
            &none,
            &intervention,
            seed(7),
        )?,
        // Free with `intervene`: the conditional side, seeing the same action.
        scorer.score(
            "intervene-seen",
            &intervened.conditional.generated,
            &intervention,
            &none,
            seed(8),
        )?,
    ];

    stage(
        progress,
        &clock,
        "counterfactuals against the rendered truth",
    );
    let do_taunt = net.assignment(&[COUNTERFACTUAL])?;
    let scenes = options.counterfactual_scenes;
    let measured = counterfactual::evaluate(
        trained,
        &classifier,
        &training,
        &counterfactual::Plan {
            intervention: do_taunt.clone(),
            scenes,
            samples_per_scene: options.samples.div_ceil(scenes),
            nuisance,
            unit_seed: seed(9),
            query_seed: seed(10),
            fresh_z_seed: seed(11),
        },
    )?;
    queries.push(QueryReport {
        name: "counterfactual".into(),
        query: format!("P(·_{{do({})}} | image)", net.describe(&do_taunt)),
        requested: measured.requested,
        distances: None,
    });

    let report = EvalReport {
        options: options.clone(),
        variables: schema.names().to_vec(),
        classifier: classifier_report,
        queries,
        counterfactual: measured.report,
        vae,
    };
    report.save(run)?;
    stage(progress, &clock, "done");
    Ok(report)
}

/// Scores generated images of conditional and interventional queries.
struct QueryScorer<'a> {
    trained: &'a TrainedModel,
    classifier: &'a LabelClassifier,
    schema: &'a LabelSchema,
}

impl QueryScorer<'_> {
    /// Requested-value accuracy of `generated`, and the distances of its read labels and
    /// of as many fresh exact samples (drawn with `floor_seed`) from the exact joint of
    /// P(image variables | do(intervention), evidence).
    fn score(
        &self,
        name: &str,
        generated: &Generated,
        evidence: &Assignment,
        intervention: &Assignment,
        floor_seed: u64,
    ) -> Result<QueryReport> {
        let net = &self.trained.network;
        let cards = self.schema.cards();
        let read = self.classifier.predict(&generated.images);
        let requested = accuracy(
            &read,
            &self.schema.label_tensor(&generated.labels, Device::Cpu),
        );
        let exact = exact_joint(net, self.schema, evidence, intervention)?;
        let floor: Vec<Vec<i64>> = bayesnet::sampling::sample(
            net,
            generated.labels.len(),
            evidence,
            intervention,
            floor_seed,
        )?
        .iter()
        .map(|s| self.schema.labels_of_states(s))
        .collect();
        let flat: Vec<i64> = Vec::try_from(read.view([-1])).unwrap_or_default();
        let read_rows: Vec<Vec<i64>> = flat.chunks(cards.len()).map(<[i64]>::to_vec).collect();
        Ok(QueryReport {
            name: name.into(),
            query: describe_query(net, evidence, intervention),
            requested,
            distances: Some(Distances {
                generated: distance(&histogram(&read_rows, cards)?, &exact, cards),
                exact_samples: distance(&histogram(&floor, cards)?, &exact, cards),
            }),
        })
    }
}

/// `P(· | do(x), e)` in words.
fn describe_query(
    net: &bayesnet::Network,
    evidence: &Assignment,
    intervention: &Assignment,
) -> String {
    let mut given = Vec::new();
    if !intervention.is_empty() {
        given.push(format!("do({})", net.describe(intervention)));
    }
    if !evidence.is_empty() {
        given.push(net.describe(evidence));
    }
    match given.is_empty() {
        true => "P(·)".into(),
        false => format!("P(· | {})", given.join(", ")),
    }
}

/// Accuracy of `predicted` labels against `truth` (both [N, 6] i64).
pub fn accuracy(predicted: &Tensor, truth: &Tensor) -> Accuracy {
    let correct = predicted
        .to_device(Device::Cpu)
        .eq_tensor(&truth.to_device(Device::Cpu))
        .to_kind(Kind::Double);
    let images = correct.size()[0];
    let per_variable: Vec<f64> = match images {
        0 => vec![0.0; correct.size()[1] as usize],
        _ => Vec::try_from(correct.mean_dim(0, false, Kind::Double)).unwrap_or_default(),
    };
    let all = match images {
        0 => 0.0,
        _ => correct
            .sum_dim_intlist(1, false, Kind::Double)
            .eq(correct.size()[1] as f64)
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]),
    };
    Accuracy {
        images: images as usize,
        per_variable,
        all,
    }
}

/// Reconstruction, negative ELBO and label-head accuracy on `test`, and the MSE of the
/// mean `training` image. `seed` fixes the posterior samples of the ELBO.
fn vae_report(
    trained: &TrainedModel,
    test: &FightData,
    training: &FightData,
    seed: u64,
) -> VaeReport {
    let model = &trained.model;
    let device = model.device();
    let mean_image = mean_image(training).to_device(device);
    tch::manual_seed(seed as i64);
    let n = test.len() as i64;
    let (mut mse, mut baseline, mut nelbo) = (0.0, 0.0, 0.0);
    let mut predicted = Vec::new();
    tch::no_grad(|| {
        for start in (0..n).step_by(BATCH as usize) {
            let index =
                Tensor::arange_start(start, (start + BATCH).min(n), (Kind::Int64, Device::Cpu));
            let x = test.images_at(&index, device);
            let labels = test.labels_at(&index, device);
            let (neg_elbo, recon) = model.negative_elbo(&x, &labels);
            let sum = |t: Tensor| t.sum(Kind::Double).double_value(&[]);
            mse += sum(ssim::mse(&recon, &x));
            baseline += sum(ssim::mse(&x, &mean_image.expand_as(&x)));
            nelbo += sum(neg_elbo);
            predicted.push(model.predict_labels(&x).to_device(Device::Cpu));
        }
    });
    let count = n.max(1) as f64;
    VaeReport {
        images: n as usize,
        reconstruction_mse: mse / count,
        mean_image_mse: baseline / count,
        negative_elbo: nelbo / count,
        label_head: accuracy(&Tensor::cat(&predicted, 0), &test.labels),
    }
}

/// The mean of `data`'s images: [1, 3, S, S] in [0, 1] on the CPU (summed in chunks to
/// keep memory at one chunk of floats).
fn mean_image(data: &FightData) -> Tensor {
    let n = data.len() as i64;
    let mut sum = Tensor::zeros(
        [1, 3, data.size(), data.size()],
        (Kind::Double, Device::Cpu),
    );
    for start in (0..n).step_by(1024) {
        let chunk = data.images.narrow(0, start, 1024.min(n - start));
        sum += chunk
            .to_kind(Kind::Double)
            .sum_dim_intlist(0, true, Kind::Double);
    }
    (sum / (255.0 * n.max(1) as f64)).to_kind(Kind::Float)
}

/// Independent seeds for the evaluation's random streams: stream `stream` of a ChaCha
/// generator seeded with the user's seed, kept below 2^63 so they fit a TOML integer.
fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng.next_u64() >> 1
}

/// Tells the user which stage runs and when (training has its own progress bar).
fn stage(progress: &Progress, clock: &Instant, what: &str) {
    if progress.visible {
        eprintln!(
            "{}: {what} ({:.1} s)",
            progress.label,
            clock.elapsed().as_secs_f64()
        );
    }
}
