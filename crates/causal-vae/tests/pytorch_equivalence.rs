//! Our layers and model against PyTorch. `bench/train/reference.py --export` builds the
//! same architecture in plain PyTorch (parameter names equal to our VarStore's), and
//! writes its weights, a batch, and its outputs on that batch. Loaded into our
//! `CausalVae`, the weights must give the same label logits, posterior, decoded
//! images; with libtorch's generator seeded alike (same libtorch, same random draws),
//! the same loss terms and gradients of one training step (labels partly missing, so
//! the Gumbel path is exercised); and after gradient clipping and one AdamW update,
//! the same parameters.
//!
//! Needs `.venv/bin/python` with torch (scripts/setup-torch); skipped without it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bayesnet::{Engine, Query};
use causal_vae::schema::LabelSchema;
use causal_vae::{CausalVae, ModelConfig};
use nn::optim::{AdamW, AdamWConfig};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Relative tolerance: the largest difference over the largest magnitude of a tensor.
const RTOL: f64 = 1e-4;
const LOSS_SEED: i64 = 77;
const LR: f64 = 1e-3;
const CLIP_NORM: f64 = 5.0;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreter of `.venv` when it can import torch.
fn python_with_torch() -> Option<PathBuf> {
    let python = workspace_root().join(".venv/bin/python");
    let ok = python.is_file()
        && Command::new(&python)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

fn config() -> ModelConfig {
    ModelConfig {
        image_size: 64,
        width: 16,
        z_dim: 8,
        hidden: 64,
        // The reference implements the VAE loss without the consistency term.
        consistency_weight: 0.0,
        ..Default::default()
    }
}

/// The largest |got − want| must be at most RTOL × the largest |want|.
fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    assert_close_within(name, got, want, 0.0);
}

/// As [`assert_close`], with `slack` more absolute difference allowed.
fn assert_close_within(name: &str, got: &Tensor, want: &Tensor, slack: f64) {
    assert_eq!(got.size(), want.size(), "{name}: shapes differ");
    let got = got.to_kind(Kind::Double);
    let want = want.to_kind(Kind::Double);
    let diff = (&got - &want).abs().max().double_value(&[]);
    let scale = want.abs().max().double_value(&[]).max(1e-12);
    assert!(
        diff <= RTOL * scale + slack,
        "{name}: max difference {diff:e} against max magnitude {scale:e} (relative {:e})",
        diff / scale
    );
}

#[test]
fn matches_pytorch() {
    let Some(python) = python_with_torch() else {
        eprintln!(
            "SKIPPED pytorch_equivalence: {} with torch not found (run scripts/setup-torch)",
            workspace_root().join(".venv/bin/python").display()
        );
        return;
    };
    let config = config();
    let net = bayesnet::examples::fight_scene().unwrap();
    let schema = LabelSchema::new(&net).unwrap();
    let answer = Engine::new(net.clone())
        .answer(&Query {
            targets: schema.ids().to_vec(),
            ..Default::default()
        })
        .unwrap();
    let priors: Vec<Vec<f64>> = answer.marginals.into_iter().map(|(_, m)| m).collect();

    let dir = tempfile::tempdir().unwrap();
    let priors_path = dir.path().join("priors.json");
    let json: Vec<String> = priors.iter().map(|p| format!("{p:?}")).collect();
    std::fs::write(&priors_path, format!("[{}]", json.join(","))).unwrap();
    let output = Command::new(&python)
        .arg(workspace_root().join("bench/train/reference.py"))
        .arg("--export")
        .arg(dir.path())
        .arg("--priors")
        .arg(&priors_path)
        .args(["--batch", "6", "--threads", "1"])
        .args(["--size", &config.image_size.to_string()])
        .args(["--width", &config.width.to_string()])
        .args(["--z-dim", &config.z_dim.to_string()])
        .args(["--hidden", &config.hidden.to_string()])
        .args([
            "--lr",
            &LR.to_string(),
            "--clip-norm",
            &CLIP_NORM.to_string(),
        ])
        .args(["--loss-seed", &LOSS_SEED.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "reference.py --export failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Same thread count as the reference: reductions then split the same way.
    tch::set_num_threads(1);
    let mut vs = VarStore::new(Device::Cpu);
    let model = CausalVae::new(&vs.root(), &config, schema.clone(), &priors);
    nn::checkpoint::load_weights(&dir.path().join("weights.safetensors"), &mut vs).unwrap();

    // torch.save's state dict loads too, with the same values.
    let mut vs_pt = VarStore::new(Device::Cpu);
    let _ = CausalVae::new(&vs_pt.root(), &config, schema, &priors);
    nn::checkpoint::load_weights(&dir.path().join("weights.pt"), &mut vs_pt).unwrap();
    let pt = vs_pt.variables();
    for (name, t) in vs.variables() {
        assert!(
            t.equal(&pt[&name]),
            "{name} differs between .safetensors and .pt"
        );
    }

    let data: HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.path().join("data.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    let (x, labels, y, z) = (&data["x"], &data["labels"], &data["y"], &data["z"]);
    assert!(
        labels.lt(0).any().int64_value(&[]) == 1,
        "some labels are missing"
    );

    tch::no_grad(|| {
        assert_close(
            "label logits",
            &model.label_logits(x),
            &data["label_logits"],
        );
        let (mu, logvar) = model.encode(x, y);
        assert_close("posterior mean", &mu, &data["mu"]);
        assert_close("posterior log-variance", &logvar, &data["logvar"]);
        assert_close("decoded images", &model.decode(z, y), &data["decoded"]);
    });

    // One training step, as nn::train::fit takes it.
    let initial: HashMap<String, Tensor> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    let mut optimizer = AdamW::new(&vs, AdamWConfig::default());
    tch::manual_seed(LOSS_SEED);
    let terms = model.loss(x, labels, 1.0);
    for (name, value) in [
        ("total", &terms.total),
        ("reconstruction", &terms.reconstruction),
        ("kl_z", &terms.kl_z),
        ("kl_y", &terms.kl_y),
        ("cross_entropy", &terms.cross_entropy),
        ("label_accuracy", &terms.label_accuracy),
    ] {
        assert_close(
            &format!("loss term {name}"),
            &value.detach().reshape([1]),
            &data[&format!("loss.{name}")],
        );
    }
    optimizer.zero_grad();
    terms.total.backward();
    let variables = vs.variables();
    for (name, t) in &variables {
        assert_close(
            &format!("gradient of {name}"),
            &t.grad(),
            &data[&format!("grad.{name}")],
        );
    }
    let norm = optimizer.clip_grad_norm(CLIP_NORM);
    let want = data["grad_norm"].double_value(&[0]);
    assert!(
        (norm - want).abs() <= RTOL * want,
        "gradient norm {norm} vs {want}"
    );
    assert!(norm > CLIP_NORM, "the step exercises clipping ({norm})");
    optimizer.step(LR);
    // The update itself (not only the parameters, which barely move in one step). It is
    // read as the difference of float32 parameters, so one unit in the last place of the
    // largest parameter is the resolution it can be compared at: a weight near 1 moved
    // by 1e-3 differs by 1.2e-7 when the two libraries round the new weight apart (seen
    // on a Xeon, not on an EPYC), which is 1.2e-4 of the update.
    for (name, t) in &variables {
        let got = t.detach() - &initial[name];
        let want = &data[&format!("updated.{name}")] - &initial[name];
        let resolution = f64::from(f32::EPSILON) * initial[name].abs().max().double_value(&[]);
        assert_close_within(&format!("AdamW update of {name}"), &got, &want, resolution);
    }
}
