//! The flow stage and the oracle name what they were given wrongly. In a binary of its
//! own: building a model draws from libtorch's global generator, which would change the
//! learning tests' runs if it shared their process.

use citris::data::TrisData;
use citris::eval::correlation::CorrelationOptions;
use citris::oracle::train_and_score;
use citris::training::{ModelConfig, ModelKind, RunConfig};
use nn::run_dir::RunDir;
use nn::train::Progress;
use scenes::tris::boxes::Boxes;
use scenes::tris::dataset::{write_dataset, DatasetOptions};
use tch::Device;

/// The flow stage and the oracle name what they were given wrongly.
#[test]
fn flow_and_oracle_inputs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("boxes");
    write_dataset(&Boxes::new(), &data_dir, &DatasetOptions::new(200, 1)).unwrap();
    let data = TrisData::open(&data_dir).unwrap();
    let config = RunConfig::for_data(ModelKind::CitrisNf, &data, 10).unwrap();
    let ModelConfig::Nf(nf) = &config.model else {
        panic!("CITRIS-NF");
    };
    let mut model =
        citris::nf::CitrisNf::new(&config.net, config.targets.len(), nf, Device::Cpu).unwrap();
    let run = RunDir::create(dir.path().join("flow")).unwrap();
    let progress = Progress {
        label: "flow".into(),
        visible: false,
    };
    let encodings = tch::Tensor::zeros([10, 3], (tch::Kind::Float, Device::Cpu));
    let targets = tch::Tensor::zeros([9, 2], (tch::Kind::Float, Device::Cpu));
    let err = citris::nf::train_flow(&mut model, &run, &config, &encodings, &targets, &progress)
        .err()
        .unwrap()
        .to_string();
    let expected = format!("[N, {}]", config.net.latents);
    assert!(err.contains("[10, 3]") && err.contains(&expected), "{err}");

    let vae = RunConfig::for_data(ModelKind::CitrisVae, &data, 10).unwrap();
    let err = train_and_score(
        &run,
        &vae,
        &data,
        "test_indep",
        &CorrelationOptions::default(),
        &progress,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("citris-vae"), "{err}");
}
