//! End-to-end tests of `causalgen data ...`: the files the contract names, determinism
//! across runs, and clear errors.

mod common;

use common::{fails, succeeds};

use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("data_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

const CITRIS_FILES: [&str; 8] = [
    "dataset.json",
    "test.npz",
    "test_indep.npz",
    "test_triplets.npz",
    "train.npz",
    "val.npz",
    "val_indep.npz",
    "val_triplets.npz",
];

#[test]
fn fight_writes_the_dataset_and_a_preview() {
    let dir = scratch("fight");
    let preview = dir.join("sheet.png");
    let (d, p) = (dir.to_str().unwrap(), preview.to_str().unwrap());
    succeeds(&[
        "data",
        "fight",
        "--out",
        d,
        "-n",
        "60",
        "--seed",
        "4",
        "--preview",
        p,
    ]);
    let names = files(&dir);
    for f in [
        "dataset.json",
        "labels.csv",
        "network.bif",
        "sheet.png",
        "test.npz",
        "train.npz",
        "val.npz",
    ] {
        assert!(names.contains(&f.to_string()), "{f} missing: {names:?}");
    }
    let labels = std::fs::read_to_string(dir.join("labels.csv")).unwrap();
    assert_eq!(labels.lines().count(), 61, "a header and one row per scene");
    // Same seed, same bytes.
    let again = scratch("fight-again");
    succeeds(&[
        "data",
        "fight",
        "--out",
        again.to_str().unwrap(),
        "-n",
        "60",
        "--seed",
        "4",
    ]);
    for f in ["train.npz", "labels.csv"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
    // Under do(action=Walk) every scene walks.
    let walk = scratch("fight-walk");
    succeeds(&[
        "data",
        "fight",
        "--out",
        walk.to_str().unwrap(),
        "-n",
        "30",
        "--do",
        "action=Walk",
    ]);
    let labels = std::fs::read_to_string(walk.join("labels.csv")).unwrap();
    let header: Vec<&str> = labels.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "action").unwrap();
    assert!(labels
        .lines()
        .skip(1)
        .all(|l| l.split(',').nth(column) == Some("Walk")));
}

#[test]
fn sequence_generators_write_the_citris_layout() {
    for (generator, extra, name) in [
        ("pong", vec![], "pong"),
        (
            "pong",
            vec!["--paddle-interventions", "uniform"],
            "pong-uniform-paddles",
        ),
        ("boxes", vec![], "boxes"),
        ("causal3d", vec!["--shapes", "teapot,cube"], "causal3d"),
    ] {
        let dir = scratch(name);
        let mut args = vec![
            "data",
            generator,
            "--out",
            dir.to_str().unwrap(),
            "-n",
            "40",
            "--seed",
            "1",
        ];
        args.extend(extra);
        succeeds(&args);
        assert_eq!(files(&dir), CITRIS_FILES, "{name}");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("dataset.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["generator"], name);
        assert_eq!(manifest["splits"]["train"], 40);
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = scratch("bad");
    let out = out.to_str().unwrap();
    let e = fails(&["data", "fight", "--out", out, "--do", "action=Dance"]);
    assert!(e.contains("`action` has no state `Dance`"), "{e}");
    let e = fails(&["data", "fight", "--out", out, "--split", "0.5,0.5"]);
    assert!(e.contains("--split"), "{e}");
    let e = fails(&["data", "causal3d", "--out", out, "--shapes", "banana"]);
    assert!(e.contains("banana") && e.contains("teapot"), "{e}");
}
