//! `causalgen bench citris-step`: the timing output, and the step it times against the
//! PyTorch reference. `--export` writes our initial weights, a batch and one step's loss
//! terms and gradient norm; `bench/citris/reference.py --check` rebuilds the flow stage
//! in PyTorch from those weights (by our variable names) and must get the same numbers
//! with the same libtorch seed (the same noise and Gumbel draws), so the benchmark
//! compares the same computation. The PyTorch half needs `.venv/bin/python` with torch
//! (scripts/setup-torch) and is skipped without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fails, ok_json, succeeds};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn times_the_flow_step_and_reports_json() {
    let result = ok_json(&[
        "bench",
        "citris-step",
        "--latents",
        "8",
        "--variables",
        "3",
        "--batch",
        "4",
        "--steps",
        "3",
        "--warmup-steps",
        "1",
        "--threads",
        "1",
        "--json",
    ]);
    assert_eq!(result["engine"], "causalgen");
    assert_eq!(result["latents"], 8);
    assert_eq!(result["ms_per_step_all"].as_array().unwrap().len(), 3);
    assert!(result["ms_per_step"].as_f64().unwrap() > 0.0, "{result}");
    assert!(result["parameters"].as_i64().unwrap() > 0, "{result}");
}

#[test]
fn a_batch_of_one_is_refused() {
    let err = fails(&["bench", "citris-step", "--batch", "1", "--steps", "1"]);
    assert!(err.contains("batch"), "{err}");
}

#[test]
fn the_exported_step_equals_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("step");
    let export_arg = export.to_str().unwrap();
    succeeds(&[
        "bench",
        "citris-step",
        "--latents",
        "6",
        "--variables",
        "3",
        "--batch",
        "5",
        "--blocks",
        "3",
        "--threads",
        "1",
        "--export",
        export_arg,
    ]);
    for file in ["weights.safetensors", "batch.safetensors", "terms.json"] {
        assert!(export.join(file).is_file(), "{file} missing");
    }
    let python = workspace_root().join(".venv/bin/python");
    let has_torch = python.is_file()
        && Command::new(&python)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !has_torch {
        eprintln!(
            "SKIPPED the PyTorch half: {} with torch not found (run scripts/setup-torch)",
            python.display()
        );
        return;
    }
    let out = Command::new(&python)
        .arg(workspace_root().join("bench/citris/reference.py"))
        .args(["--threads", "1", "--check", export_arg])
        .output()
        .expect("the reference runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyTorch disagrees:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    for term in ["total", "nll", "log_det", "cls_model", "cls_z", "grad_norm"] {
        assert!(
            report[term]["relative"].as_f64().unwrap() <= 1e-4,
            "{term}: {report}"
        );
    }
}
