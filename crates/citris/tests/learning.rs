//! Short real runs on ball-in-boxes. CITRIS-VAE learns which of its latents carry the
//! box the ball is in, from the intervention targets alone: the latents ψ assigns to
//! `ball_b` predict it almost perfectly. (CITRIS-NF's flow stage on the ground truth:
//! `tests/oracle.rs`; wrong inputs to it: `tests/flow_inputs.rs`.)
//!
//! About a minute on two cores in release mode. The comparison with the β-VAE baseline
//! needs longer runs than a test affords (at 2000 steps of this size CITRIS-VAE's R² diag
//! was 0.76 or 0.50 depending on the seed, the β-VAE's 0.17 or 0.64); at 3000 steps of
//! width 32, CITRIS-VAE reaches R² diag 0.92 against the β-VAE's 0.50 (README,
//! `causalgen bench citris --datasets boxes`).

use citris::data::TrisData;
use citris::eval::evaluate::{evaluate, EvalOptions, EvalReport};
use citris::training::{train, ModelConfig, ModelKind, RunConfig};
use nn::run_dir::RunDir;
use nn::train::Progress;
use scenes::tris::boxes::Boxes;
use scenes::tris::dataset::{write_dataset, DatasetOptions};
use tch::Device;

fn train_and_evaluate(kind: ModelKind, data: &TrisData, runs: &std::path::Path) -> EvalReport {
    let mut config = RunConfig::for_data(kind, data, 1500).unwrap();
    config.net.width = 16;
    config.net.latents = 4;
    config.data.batch = 32;
    config.data.seed = 1;
    config.train.seed = 0;
    let ModelConfig::Vae(vae) = &mut config.model else {
        panic!("a VAE");
    };
    // The ball covers 9 of 1024 pixels: at β = 1 both VAEs collapse to the mean image.
    vae.beta_t1 = 0.1;
    let run = RunDir::create(runs.join(kind.name())).unwrap();
    let progress = Progress {
        label: kind.name().into(),
        visible: false,
    };
    let (trained, _) = train(&run, &config, Device::Cpu, &progress).unwrap();
    let mut options = EvalOptions::new(Device::Cpu);
    options.correlation.steps = 500;
    options.causal_encoder.steps = 200;
    evaluate(&run, &trained, data, &options).unwrap()
}

/// 2000 training frames of ball-in-boxes, written into `dir`.
fn boxes(dir: &std::path::Path) -> TrisData {
    let data_dir = dir.join("boxes");
    write_dataset(&Boxes::new(), &data_dir, &DatasetOptions::new(2000, 1)).unwrap();
    TrisData::open(&data_dir).unwrap()
}

#[test]
fn citris_vae_identifies_the_box_variable() {
    let dir = tempfile::tempdir().unwrap();
    let data = boxes(dir.path());
    let report = train_and_evaluate(ModelKind::CitrisVae, &data, dir.path());
    eprintln!("{}", report.summary());
    assert_eq!(report.variables, ["ball_b", "ball_y"]);
    assert!(
        report.assignment.iter().any(|g| g == "ball_b"),
        "some latent is assigned to the box: {:?}",
        report.assignment
    );
    let r2 = &report.correlation.r2.0;
    assert!(r2[0][0] > 0.9, "the box is read from its group: {r2:?}");
}
