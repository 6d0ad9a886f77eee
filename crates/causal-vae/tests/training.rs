//! A small but real training run: a few hundred steps on rendered fight scenes must beat
//! the mean-image baseline on reconstruction and read labels far above chance; training
//! with most labels hidden must still learn the label head; runs resume exactly.

use causal_vae::data::FightData;
use causal_vae::{train, DataConfig, ModelConfig, RunConfig, TrainedModel};
use nn::run_dir::RunDir;
use nn::train::{Progress, TrainConfig};
use tch::{Device, Kind, Tensor};

fn small_config(steps: usize, labelled_fraction: f64) -> RunConfig {
    RunConfig {
        model: ModelConfig {
            width: 16,
            hidden: 128,
            ..Default::default()
        },
        train: TrainConfig {
            steps,
            lr: 2e-3,
            warmup: 20,
            checkpoint_every: 100,
            log_every: 20,
            seed: 3,
            ..Default::default()
        },
        data: DataConfig {
            scenes: 3000,
            batch: 32,
            labelled_fraction,
            ..Default::default()
        },
    }
}

fn quiet() -> Progress {
    Progress {
        label: "test".into(),
        visible: false,
    }
}

/// Mean squared error of the test images against (a) the model's reconstructions and
/// (b) the mean training image; and the label head's accuracy on the test images.
fn evaluate(trained: &TrainedModel) -> (f64, f64, f64) {
    let net = &trained.network;
    let schema = trained.model.schema();
    let train = FightData::generate(net, schema, 1000, 64, 11, 1.0).unwrap();
    let test = FightData::generate(net, schema, 256, 64, 12, 1.0).unwrap();
    let all = Tensor::arange(256, (Kind::Int64, Device::Cpu));
    let x = test.images_at(&all, Device::Cpu);
    let labels = test.labels_at(&all, Device::Cpu);
    tch::no_grad(|| {
        let (_, recon) = trained.model.negative_elbo(&x, &labels);
        let mse = (&recon - &x).square().mean(Kind::Float).double_value(&[]);
        let mean_image = train
            .images_at(
                &Tensor::arange(1000, (Kind::Int64, Device::Cpu)),
                Device::Cpu,
            )
            .mean_dim(0, true, Kind::Float);
        let baseline = (&x - mean_image)
            .square()
            .mean(Kind::Float)
            .double_value(&[]);
        let predicted = trained.model.predict_labels(&x);
        let accuracy = predicted
            .eq_tensor(&labels)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        (mse, baseline, accuracy)
    })
}

#[test]
fn a_few_hundred_steps_beat_the_mean_image_and_read_labels() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    let net = bayesnet::examples::fight_scene().unwrap();
    let (trained, report) =
        train(&run, &small_config(300, 1.0), &net, Device::Cpu, &quiet()).unwrap();
    let (mse, baseline, accuracy) = evaluate(&trained);
    eprintln!(
        "mse {mse:.5} vs mean image {baseline:.5}; label accuracy {accuracy:.3}; {:.1} s",
        report.seconds
    );
    assert!(
        mse < 0.7 * baseline,
        "reconstruction {mse} vs mean image {baseline}"
    );
    // Chance over the six variables is about 0.37 (mean of 1/card); the majority class ~0.5.
    assert!(accuracy > 0.8, "label accuracy {accuracy}");
    // The run directory reloads to the same model.
    let reloaded = TrainedModel::load(&run, Device::Cpu).unwrap();
    let (mse2, _, accuracy2) = evaluate(&reloaded);
    assert_eq!((mse, accuracy), (mse2, accuracy2));
}
