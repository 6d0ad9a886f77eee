//! The measured-fidelity evaluation end to end on a tiny, quickly trained run: the
//! report must be complete, every number in range, the independent classifier reliable
//! on real images, and a second evaluation must reuse the classifier's weights.

use std::time::Instant;

use causal_vae::data::FightData;
use causal_vae::eval::classifier::{ClassifierConfig, LabelClassifier, CLASSIFIER_DIR};
use causal_vae::eval::{evaluate, Accuracy, EvalOptions, EvalReport, RELIABLE_ACCURACY};
use causal_vae::{train, DataConfig, ModelConfig, RunConfig};
use nn::run_dir::RunDir;
use nn::train::{Progress, TrainConfig};
use tch::Device;

fn tiny_config() -> RunConfig {
    RunConfig {
        model: ModelConfig {
            image_size: 32,
            width: 8,
            hidden: 64,
            ..Default::default()
        },
        train: TrainConfig {
            steps: 150,
            lr: 3e-3,
            warmup: 15,
            checkpoint_every: 150,
            log_every: 50,
            seed: 5,
            ..Default::default()
        },
        data: DataConfig {
            scenes: 2000,
            batch: 32,
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

fn check_accuracy(name: &str, a: &Accuracy, images: usize) {
    assert_eq!(a.images, images, "{name}");
    assert_eq!(a.per_variable.len(), 6, "{name}");
    for &p in a.per_variable.iter().chain([&a.all]) {
        assert!((0.0..=1.0).contains(&p), "{name}: {a:?}");
    }
    let min = a.per_variable.iter().copied().fold(1.0, f64::min);
    assert!(
        a.all <= min + 1e-12,
        "{name}: all six above a variable: {a:?}"
    );
}

#[test]
fn a_tiny_run_evaluates_completely_with_a_reliable_classifier() {
    let clock = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    let net = bayesnet::examples::fight_scene().unwrap();
    let (trained, _) = train(&run, &tiny_config(), &net, Device::Cpu, &quiet()).unwrap();
    let trained_at = clock.elapsed().as_secs_f64();
    let options = EvalOptions {
        samples: 1000,
        counterfactual_scenes: 20,
        classifier_steps: 250,
        classifier_scenes: 3000,
        seed: 7,
    };
    let report = evaluate(&trained, &run, &options, &quiet()).unwrap();
    eprintln!(
        "{}\nVAE trained in {trained_at:.1} s, evaluated in {:.1} s",
        report.summary(),
        clock.elapsed().as_secs_f64() - trained_at
    );

    // The report on disk is the one returned.
    assert_eq!(EvalReport::load(&run).unwrap(), report);
    assert_eq!(report.variables.len(), 6);

    // The judge reads real images reliably.
    let c = &report.classifier;
    check_accuracy("classifier", &c.held_out, 1000);
    assert!(c.reliable && !c.reused, "{c:?}");
    assert!(
        c.held_out
            .per_variable
            .iter()
            .all(|&a| a >= RELIABLE_ACCURACY),
        "{c:?}"
    );

    let names: Vec<&str> = report.queries.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        ["condition", "intervene", "intervene-seen", "counterfactual"]
    );
    for q in &report.queries {
        check_accuracy(&q.name, &q.requested, 1000);
        match (&q.distances, q.name.as_str()) {
            (None, "counterfactual") => {}
            (Some(d), _) => {
                for distance in [&d.generated, &d.exact_samples] {
                    assert_eq!(distance.per_variable.len(), 6);
                    let max = distance.per_variable.iter().copied().fold(0.0, f64::max);
                    assert_eq!(max, distance.max_marginal);
                    assert!((0.0..=1.0).contains(&distance.joint), "{q:?}");
                    // A marginal's TV never exceeds the joint's.
                    assert!(distance.max_marginal <= distance.joint + 1e-12, "{q:?}");
                }
                // 1000 exact samples of a 432-cell joint: a small floor, but not zero.
                let floor = &d.exact_samples;
                assert!(floor.joint > 0.0 && floor.joint < 0.3, "{q:?}");
                assert!(floor.max_marginal < 0.1, "{q:?}");
            }
            _ => panic!("{} without distances", q.name),
        }
    }
    // Conditioning fixes the four evidence variables: their decoded values are always
    // the requested ones, and even a tiny model draws the two characters' species right.
    assert!(report.queries[0].requested.per_variable[0] > 0.5);

    let cf = &report.counterfactual;
    assert_eq!(cf.scenes, 20);
    assert_eq!(cf.intervention, "action=Taunt");
    for p in [cf.map_labels_correct, cf.map_labels_correct_given] {
        assert!((0.0..=1.0).contains(&p), "{cf:?}");
    }
    assert!(cf.nearest_fallbacks <= 20);
    for score in [
        &cf.ours,
        &cf.ours_given,
        &cf.fresh_z,
        &cf.nearest,
        &cf.factual,
    ] {
        for e in [Some(score.all), score.labels_match].into_iter().flatten() {
            assert!(e.mse >= 0.0 && e.mse < 0.5, "{cf:?}");
            assert!(e.ssim > -1.0 && e.ssim <= 1.0 + 1e-6, "{cf:?}");
        }
    }
    assert_eq!(
        cf.ours.labels_match.is_some(),
        cf.map_labels_correct > 0.0,
        "{cf:?}"
    );

    let v = &report.vae;
    check_accuracy("label head", &v.label_head, 1000);
    assert!(v.reconstruction_mse > 0.0 && v.reconstruction_mse < v.mean_image_mse);
    assert!(v.negative_elbo.is_finite());

    // The classifier's weights are reused for the same configuration (the data is not
    // looked at then, so a handful of images will do).
    let classifier_run = RunDir::create(run.root().join(CLASSIFIER_DIR)).unwrap();
    let config: ClassifierConfig = classifier_run.read_config().unwrap();
    let schema = trained.model.schema();
    let few = FightData::generate(&net, schema, 64, 32, 1, 1.0).unwrap();
    let again = LabelClassifier::train_or_load(
        &classifier_run,
        &config,
        &few,
        schema,
        Device::Cpu,
        &quiet(),
    )
    .unwrap();
    assert!(again.reused);
    eprintln!("total {:.1} s", clock.elapsed().as_secs_f64());
}
