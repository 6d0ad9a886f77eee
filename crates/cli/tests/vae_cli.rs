//! End-to-end tests of `causalgen train | query | demo`: a tiny real run, every rung of
//! queries on it (JSON contract, image grids), resuming, and the errors users hit.

mod common;

use common::{fails, ok_json, succeeds};

use std::path::Path;

use serde_json::Value;

fn total(marginal: &Value) -> f64 {
    marginal
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_f64().unwrap())
        .sum()
}

fn tiny_run(dir: &Path) -> String {
    let run = dir.join("run").display().to_string();
    succeeds(&[
        "train",
        "--run",
        &run,
        "--scenes",
        "300",
        "--steps",
        "30",
        "--batch",
        "16",
        "--width",
        "8",
        "--hidden",
        "32",
        "--warmup",
        "5",
        "--seed",
        "4",
        "--threads",
        "2",
    ]);
    run
}

#[test]
fn train_then_ask_all_three_rungs() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    for file in [
        "config.toml",
        "network.bif",
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.csv",
        "samples/prior.png",
        "samples/reconstructions.png",
    ] {
        assert!(Path::new(&run).join(file).is_file(), "{file}");
    }

    let condition = ok_json(&[
        "query",
        &run,
        "--evidence",
        "actor=Satyr",
        "-e",
        "reactor=Golem",
        "-n",
        "4",
        "--json",
    ]);
    assert_eq!(condition["rung"], "condition");
    let marginals = &condition["answers"][0]["marginals"];
    assert_eq!(marginals["actor"]["Satyr"].as_f64(), Some(1.0));
    for name in ["action", "reaction", "actor_attack", "reactor_defense"] {
        assert!((total(&marginals[name]) - 1.0).abs() < 1e-9, "{name}");
    }
    assert!(Path::new(condition["image"].as_str().unwrap()).is_file());

    let intervene = ok_json(&["query", &run, "--do", "action=Attack", "-n", "3", "--json"]);
    assert_eq!(intervene["rung"], "intervene");
    let doing = &intervene["answers"][0]["marginals"]["actor_attack"];
    let seeing = &intervene["answers"][1]["marginals"]["actor_attack"];
    assert!(
        (doing["HIGH"].as_f64().unwrap() - seeing["HIGH"].as_f64().unwrap()).abs() > 0.05,
        "{doing} vs {seeing}"
    );

    let out = dir.path().join("cf.png").display().to_string();
    let cf = ok_json(&[
        "query",
        &run,
        "--index",
        "2",
        "--do",
        "action=Taunt",
        "-n",
        "2",
        "--out",
        &out,
        "--json",
    ]);
    assert_eq!(cf["rung"], "counterfactual");
    let action = &cf["answers"][1]["marginals"]["action"];
    assert!((action["Taunt"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!(Path::new(&out).is_file());

    // An image file from the generator works as input too; tables go to stdout.
    let data = dir.path().join("data").display().to_string();
    succeeds(&[
        "data", "fight", "--out", &data, "-n", "3", "--png", "--seed", "9",
    ]);
    let png = dir.path().join("data/png/000000.png").display().to_string();
    let text = succeeds(&[
        "query",
        &run,
        "--image",
        &png,
        "--do",
        "action=Walk",
        "-n",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("== counterfactual") && stdout.contains("reaction"),
        "{stdout}"
    );

    // A finished run is not overwritten; --resume continues (here: nothing left to do).
    let again = fails(&["train", "--run", &run, "--steps", "30"]);
    assert!(
        again.contains("already holds a run") && again.contains("--resume"),
        "{again}"
    );
    // Options that set up a run are refused with --resume (not silently ignored).
    let err = fails(&["train", "--run", &run, "--resume", "--steps", "60"]);
    assert!(
        err.contains("--steps") && err.contains("cannot be used with") && err.contains("--resume"),
        "{err}"
    );
    let resumed = succeeds(&["train", "--run", &run, "--resume"]);
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("resumed at step 30"));

    // Mistakes are named.
    let err = fails(&["query", &run, "--evidence", "actor=Dragon"]);
    assert!(err.contains("Dragon") && err.contains("actor"), "{err}");
    let err = fails(&["query", &run, "--index", "1"]);
    assert!(err.contains("--do"), "{err}");
    let err = fails(&[
        "query",
        &run,
        "--image",
        &dir.path()
            .join("run/samples/prior.png")
            .display()
            .to_string(),
        "--do",
        "action=Walk",
    ]);
    assert!(err.contains("the model draws 64 × 64"), "{err}");
    let err = fails(&[
        "query",
        &dir.path().join("nothing").display().to_string(),
        "--do",
        "action=Walk",
    ]);
    assert!(err.contains("not a run directory"), "{err}");
}

#[test]
fn bad_training_options_and_devices_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r").display().to_string();
    let err = fails(&["train", "--run", &run, "--size", "48", "--steps", "1"]);
    assert!(err.contains("image size 48"), "{err}");
    let err = fails(&[
        "train",
        "--run",
        &run,
        "--labelled-fraction",
        "0",
        "--steps",
        "1",
    ]);
    assert!(err.contains("labelled fraction 0"), "{err}");
    let err = fails(&["train", "--run", &run, "--device", "tpu", "--steps", "1"]);
    assert!(err.contains("unknown device 'tpu'"), "{err}");
    let err = fails(&[
        "train",
        "--run",
        &run,
        "--data",
        &dir.path().join("missing").display().to_string(),
        "--steps",
        "1",
    ]);
    assert!(err.contains("missing"), "{err}");
    if !tch::Cuda::is_available() {
        let err = fails(&["train", "--run", &run, "--device", "cuda", "--steps", "1"]);
        assert!(err.contains("CUDA was requested"), "{err}");
    }
}

#[test]
fn quick_demo_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let result = succeeds(&[
        "demo",
        "--quick",
        "--out",
        &out.display().to_string(),
        "--threads",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    for heading in ["Rung 1", "Rung 2", "Rung 3", "Measured fidelity"] {
        assert!(
            stdout.contains(heading),
            "{heading} missing from:\n{stdout}"
        );
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for image in [
        "condition.png",
        "intervene.png",
        "counterfactual.png",
        "run/samples/prior.png",
    ] {
        assert!(html.contains(image), "{image}");
        assert!(out.join(image).is_file(), "{image}");
    }
    assert!(html.matches("<svg").count() >= 8, "charts");
    assert!(out.join("run/eval.json").is_file());
}
