//! Runs end to end on a small generated data set: every model trains into a run
//! directory, resumes, and loads back as a representation.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use citris::data::TrisData;
use citris::representation::encode_frames;
use citris::training::{
    start_files, train, ModelKind, NfSource, NfStage, RunConfig, TrainedModel, TrainedRun,
};
use nn::run_dir::RunDir;
use nn::train::Progress;
use scenes::tris::boxes::Boxes;
use scenes::tris::dataset::{write_dataset, DatasetOptions};
use tch::Device;

/// The tests of this binary share one process and so libtorch's global generator
/// (initialisations, the autoencoder's noise). Most only read the lock and run side by
/// side; a test that compares runs exactly takes it alone, so that no other draws from
/// the generator meanwhile.
static LIBTORCH_RNG: RwLock<()> = RwLock::new(());

fn shared_rng() -> RwLockReadGuard<'static, ()> {
    LIBTORCH_RNG.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive_rng() -> RwLockWriteGuard<'static, ()> {
    LIBTORCH_RNG.write().unwrap_or_else(|e| e.into_inner())
}

fn quiet() -> Progress {
    Progress {
        label: "test".into(),
        visible: false,
    }
}

/// A ball-in-boxes data set of `frames` training frames; the directory holds it while
/// the returned guard lives.
fn boxes(frames: usize, seed: u64) -> (tempfile::TempDir, TrisData) {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(
        &Boxes::new(),
        dir.path(),
        &DatasetOptions::new(frames, seed),
    )
    .unwrap();
    let data = TrisData::open(dir.path()).unwrap();
    (dir, data)
}

fn small_config(kind: ModelKind, data: &TrisData, steps: usize) -> RunConfig {
    let mut config = RunConfig::for_data(kind, data, steps).unwrap();
    config.net.width = 8;
    config.net.latents = 6;
    config.data.batch = 16;
    if let citris::training::ModelConfig::Nf(nf) = &mut config.model {
        nf.autoencoder.net = config.net.clone();
        nf.autoencoder_train.steps = steps;
        nf.samples = 2;
    }
    config
}

#[test]
fn every_model_trains_resumes_and_loads() {
    let _rng = shared_rng();
    let (_data_dir, data) = boxes(120, 5);
    let frames = data.independent("test_indep").unwrap().frames;
    for kind in [
        ModelKind::CitrisVae,
        ModelKind::BetaVae,
        ModelKind::CitrisNf,
    ] {
        let runs = tempfile::tempdir().unwrap();
        let config = small_config(kind, &data, 12);
        assert_eq!(config.kind(), kind);
        let run = RunDir::create(runs.path().join(kind.name())).unwrap();
        let (_, report) = train(&run, &config, Device::Cpu, &quiet()).unwrap();
        assert_eq!(report.steps, 12, "{kind:?}");
        assert!(
            report.last.iter().all(|(_, v)| v.is_finite()),
            "{kind:?}: {:?}",
            report.last
        );

        // Longer: resumes from the finished run's checkpoint.
        let mut longer = config.clone();
        longer.train.steps = 16;
        let other = RunDir::create(runs.path().join("other")).unwrap();
        run_copy(&run, &other);
        std::fs::write(other.config_path(), toml::to_string(&longer).unwrap()).unwrap();
        let (_, report) = train(&other, &longer, Device::Cpu, &quiet()).unwrap();
        assert_eq!(report.start_step, 12, "{kind:?} resumes");

        let loaded = TrainedRun::load(&run, Device::Cpu).unwrap();
        let z = encode_frames(loaded.representation(), &frames, 32);
        assert_eq!(z.size(), vec![frames.size()[0], 6], "{kind:?}");
        let assignment = loaded.representation().assignment();
        assert_eq!(assignment.is_some(), kind != ModelKind::BetaVae, "{kind:?}");
        if let Some(a) = assignment {
            assert_eq!(a.len(), 6);
            assert!(a.iter().all(|&g| g <= config.targets.len()));
        }
    }
}

#[test]
fn a_run_directory_refuses_a_different_configuration() {
    let _rng = shared_rng();
    let (_data_dir, data) = boxes(60, 1);
    let runs = tempfile::tempdir().unwrap();
    let run = RunDir::create(runs.path()).unwrap();
    let config = small_config(ModelKind::BetaVae, &data, 2);
    train(&run, &config, Device::Cpu, &quiet()).unwrap();
    let mut changed = config.clone();
    changed.net.latents = 4;
    let message = train(&run, &changed, Device::Cpu, &quiet())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("different configuration"), "{message}");
}

#[test]
fn a_longer_autoencoder_continues_unless_the_flow_was_trained_on_it() {
    let _rng = shared_rng();
    let (_data_dir, data) = boxes(60, 2);
    let runs = tempfile::tempdir().unwrap();
    let run = RunDir::create(runs.path()).unwrap();
    let config = small_config(ModelKind::CitrisNf, &data, 3);
    train(&run, &config, Device::Cpu, &quiet()).unwrap();

    let mut longer = config.clone();
    let citris::training::ModelConfig::Nf(nf) = &mut longer.model else {
        unreachable!("a CITRIS-NF configuration")
    };
    nf.autoencoder_train.steps = 5;
    std::fs::write(run.config_path(), toml::to_string(&longer).unwrap()).unwrap();
    let message = train(&run, &longer, Device::Cpu, &quiet())
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("after 3 steps") && message.contains("stale"),
        "{message}"
    );

    std::fs::remove_file(run.checkpoint_path()).unwrap();
    let (_, report) = train(&run, &longer, Device::Cpu, &quiet()).unwrap();
    assert_eq!(report.start_step, 0, "the flow starts again");
    let autoencoder = RunDir::create(run.root().join(citris::nf::AUTOENCODER_DIR)).unwrap();
    let step = nn::checkpoint::saved_step(&autoencoder.checkpoint_path()).unwrap();
    assert_eq!(step, 5, "the autoencoder went on from its checkpoint");
}

#[test]
fn the_autoencoder_has_its_own_batch_and_old_runs_keep_theirs() {
    let _rng = exclusive_rng();
    let (_data_dir, data) = boxes(60, 2);
    let runs = tempfile::tempdir().unwrap();
    // The autoencoder's weights after 4 steps at the given batches.
    let autoencoder_after = |name: &str, data_batch: usize, autoencoder_batch: Option<usize>| {
        let mut config = small_config(ModelKind::CitrisNf, &data, 4);
        config.train.steps = 1;
        config.data.batch = data_batch;
        let citris::training::ModelConfig::Nf(nf) = &mut config.model else {
            unreachable!("a CITRIS-NF configuration")
        };
        nf.autoencoder_batch = autoencoder_batch;
        let run = RunDir::create(runs.path().join(name)).unwrap();
        train(&run, &config, Device::Cpu, &quiet()).unwrap();
        let weights = run
            .root()
            .join(citris::nf::AUTOENCODER_DIR)
            .join("model.safetensors");
        tch::Tensor::read_safetensors(weights).unwrap()
    };
    let largest_difference = |a: &[(String, tch::Tensor)], b: &[(String, tch::Tensor)]| {
        assert_eq!(a.len(), b.len());
        a.iter()
            .map(|(name, x)| {
                let (_, y) = b.iter().find(|(other, _)| other == name).unwrap();
                (x - y).abs().max().double_value(&[])
            })
            .fold(0.0, f64::max)
    };
    // The flow at 16 frames per step, the autoencoder at 4: as an old run (no
    // `autoencoder_batch`) whose `[data] batch` of 4 batched both stages …
    let separate = autoencoder_after("separate", 16, Some(4));
    let old = autoencoder_after("old", 4, None);
    let same = largest_difference(&separate, &old);
    assert!(same < 1e-7, "{same}");
    // … and not as one at 16.
    let old_at_16 = autoencoder_after("old-16", 16, None);
    let apart = largest_difference(&separate, &old_at_16);
    assert!(apart > 1e-4, "{apart}");
}

/// Copies a run's files (flat, plus the autoencoder stage) into another directory.
fn run_copy(from: &RunDir, to: &RunDir) {
    copy_dir(from.root(), to.root());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn parameter_groups_name_real_variables() {
    let _rng = shared_rng();
    let (_data_dir, data) = boxes(40, 2);
    let config = small_config(ModelKind::CitrisVae, &data, 2);
    let trained = TrainedRun::new(&config, Device::Cpu).unwrap();
    let citris::training::TrainedModel::Vae { vs, .. } = &trained.model else {
        panic!("a VAE run");
    };
    let names: Vec<String> = vs.variables().into_keys().collect();
    for group in &config.train.param_groups {
        assert!(
            names.iter().any(|n| n.starts_with(&group.prefix)),
            "no variable starts with {}: {names:?}",
            group.prefix
        );
    }
}

/// ψ's probabilities of a model (both CITRIS models have a prior).
fn assignment_probs(trained: &TrainedRun) -> Vec<f64> {
    let prior = match &trained.model {
        citris::training::TrainedModel::Vae { model, .. } => model.prior().expect("CITRIS-VAE"),
        citris::training::TrainedModel::Nf(nf) => nf.prior(),
    };
    Vec::<f64>::try_from(prior.assignment_probs().flatten(0, -1)).unwrap()
}

#[test]
fn a_held_assignment_keeps_its_balanced_start_until_released() {
    // Compares runs' weights exactly: no other test may draw from libtorch's generator.
    let _rng = exclusive_rng();
    let (_data_dir, data) = boxes(60, 3);
    for kind in [ModelKind::CitrisVae, ModelKind::CitrisNf] {
        let mut config = small_config(kind, &data, 6);
        match &mut config.model {
            citris::training::ModelConfig::Vae(vae) => vae.prior.assignment_init_margin = 3.0,
            citris::training::ModelConfig::Nf(nf) => nf.prior.assignment_init_margin = 3.0,
        }
        let start = assignment_probs(&TrainedRun::new(&config, Device::Cpu).unwrap());
        let runs = tempfile::tempdir().unwrap();
        // ψ's probabilities and the other weights after training at ψ's `scale`, held
        // for the first `hold` steps.
        let trained = |name: &str, scale: f64, hold: usize| {
            let mut config = config.clone();
            config.set_assignment_lr_scale(scale).unwrap();
            if hold > 0 {
                config.hold_assignment(hold).unwrap();
            }
            let run = RunDir::create(runs.path().join(name)).unwrap();
            train(&run, &config, Device::Cpu, &quiet()).unwrap();
            let mut weights = tch::Tensor::read_safetensors(run.weights_path()).unwrap();
            weights.retain(|(name, _)| !name.ends_with("assignment_logits"));
            weights.sort_by(|a, b| a.0.cmp(&b.0));
            let psi = assignment_probs(&TrainedRun::load(&run, Device::Cpu).unwrap());
            (psi, weights)
        };
        let (moved, _) = trained("moved", 10.0, 0);
        assert!(
            start.iter().zip(&moved).any(|(a, b)| (a - b).abs() > 1e-4),
            "{kind:?}: ψ learns at 10 ×"
        );
        let (fixed, fixed_weights) = trained("fixed", 0.0, 0);
        assert_eq!(start, fixed, "{kind:?}: ψ at 0 × stays where it started");
        // Held for 5 of the 6 steps, ψ moves only in the last update, so every other
        // weight is the fixed run's: the model trained on the held assignment.
        let (released, released_weights) = trained("released", 10.0, 5);
        assert!(
            start
                .iter()
                .zip(&released)
                .any(|(a, b)| (a - b).abs() > 1e-6),
            "{kind:?}: ψ learns after its hold"
        );
        assert!(!fixed_weights.is_empty());
        for ((name, a), (_, b)) in fixed_weights.iter().zip(&released_weights) {
            assert!(
                a.equal(b),
                "{kind:?}: {name} saw a ψ that moved during its hold"
            );
        }
    }
}

/// `--init-from` a CITRIS-NF run: the CITRIS-VAE takes that run's shape and both of its
/// weight files, and then encodes — posterior mean through the flow prior — exactly as
/// the CITRIS-NF does (autoencoder through its flow), with the same ψ.
#[test]
fn a_citris_vae_started_from_a_citris_nf_run_encodes_as_it_does() {
    let _rng = shared_rng();
    let (_data_dir, data) = boxes(120, 5);
    let frames = data.independent("test_indep").unwrap().frames;
    let runs = tempfile::tempdir().unwrap();
    let nf_run = RunDir::create(runs.path().join("nf")).unwrap();
    let (nf, _) = train(
        &nf_run,
        &small_config(ModelKind::CitrisNf, &data, 12),
        Device::Cpu,
        &quiet(),
    )
    .unwrap();

    let weights = nf_run.weights_path();
    let source = NfSource::of(&weights).unwrap().unwrap();
    assert_eq!(source.stage, NfStage::Flow);
    let (files, noise) = start_files(&weights).unwrap();
    let autoencoder = nf_run.root().join("autoencoder").join("model.safetensors");
    assert_eq!(files, [autoencoder.clone(), weights.clone()]);
    assert_eq!(noise, 0.05);
    let only_autoencoder = NfSource::of(&autoencoder).unwrap().unwrap();
    assert_eq!(only_autoencoder.stage, NfStage::Autoencoder);

    let mut config = small_config(ModelKind::CitrisVae, &data, 12);
    config.net.latents = 3;
    config.take_architecture(&source.config).unwrap();
    assert_eq!(config.net.latents, 6);
    let mut vae = TrainedRun::new(&config, Device::Cpu).unwrap();
    let TrainedModel::Vae { vs, model } = &mut vae.model else {
        panic!("a CITRIS-VAE configuration built a CITRIS-NF");
    };
    let start = model.start_from(vs, &files, noise).unwrap();
    assert!(start.transfer.kept.is_empty(), "{:?}", start.transfer.kept);
    assert_eq!(start.posterior_std, Some(0.05));

    let z_nf = encode_frames(nf.representation(), &frames, 32);
    let z_vae = encode_frames(vae.representation(), &frames, 32);
    let gap = (z_nf - z_vae).abs().max().double_value(&[]);
    assert!(gap < 1e-4, "largest difference {gap}");
    assert_eq!(
        vae.representation().assignment(),
        nf.representation().assignment()
    );

    let mut beta = small_config(ModelKind::BetaVae, &data, 12);
    let err = beta
        .take_architecture(&source.config)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("starts a CITRIS-VAE") && err.contains("autoencoder"),
        "{err}"
    );
}
