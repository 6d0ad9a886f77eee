//! End-to-end tests of the CITRIS side of `causalgen train | eval`: a generated data
//! set, every model family trained for a few steps, evaluated, resumed, and the errors
//! users hit.

mod common;

use common::{fails, ok_json, succeeds};

fn tiny_train(
    model: &str,
    data: &str,
    run: &str,
    steps: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "train",
        model,
        "--data",
        data,
        "--run",
        run,
        "--steps",
        steps,
        "--batch",
        "16",
        "--width",
        "8",
        "--latents",
        "4",
        "--seed",
        "3",
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    succeeds(&args)
}

#[test]
fn train_eval_and_resume_every_citris_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("boxes").display().to_string();
    succeeds(&["data", "boxes", "--out", &data, "-n", "200", "--seed", "2"]);
    for (model, extra) in [
        ("citris-vae", &[][..]),
        (
            "citris-vae",
            &[
                "--flow-prior",
                "--flow-blocks",
                "2",
                "--assignment-hold-steps",
                "3",
            ][..],
        ),
        ("citris-nf", &[]),
        (
            "citris-nf",
            &[
                "--imperfect-interventions",
                "--assignment-init-margin",
                "2",
                "--assignment-lr-scale",
                "1",
                "--autoencoder-steps",
                "5",
                "--autoencoder-lr",
                "2e-3",
                "--autoencoder-batch",
                "8",
                "--flow-blocks",
                "2",
            ],
        ),
        ("beta-vae", &[]),
    ] {
        let name = format!("{model}{}", extra.concat());
        let run = dir.path().join(name).display().to_string();
        tiny_train(model, &data, &run, "8", extra);
        let config =
            std::fs::read_to_string(std::path::Path::new(&run).join("config.toml")).unwrap();
        // Each option's trace in config.toml, present exactly when the option was given.
        for (option, line) in [
            ("--imperfect-interventions", "interventions = \"imperfect\""),
            ("--assignment-init-margin", "assignment_init_margin = 2.0"),
            (
                "--assignment-lr-scale",
                "prefix = \"prior.assignment_logits\"\nlr_scale = 1.0",
            ),
            ("--flow-blocks", "blocks = 2"),
            ("--assignment-hold-steps", "hold_steps = 3"),
            ("--autoencoder-batch", "autoencoder_batch = 8"),
            (
                "--autoencoder-steps",
                "[model.nf.autoencoder_train]\nsteps = 5\nlr = 0.002\n",
            ),
        ] {
            assert_eq!(
                config.contains(line),
                extra.contains(&option),
                "{model} {option}: {config}"
            );
        }
        let report = ok_json(&[
            "eval",
            &run,
            "--probe-steps",
            "40",
            "--encoder-steps",
            "20",
            "--json",
            "--threads",
            "1",
        ]);
        assert_eq!(report["model"], model);
        // The ball's x inside its box is never intervened on: two targets.
        assert_eq!(report["variables"], serde_json::json!(["ball_b", "ball_y"]));
        assert_eq!(report["assignment"].as_array().unwrap().len(), 4);
        let r2 = report["correlation"]["r2"].as_array().unwrap();
        assert_eq!(r2.len(), 3, "two variable groups and the none group");
        assert!(report["correlation"]["r2_diag"]
            .as_f64()
            .unwrap()
            .is_finite());
        let all_latents = report["correlation"]["r2_all_latents"].as_array().unwrap();
        assert_eq!(all_latents.len(), 2, "one R² from all latents per variable");
        let triplets = &report["triplets"];
        assert!(triplets["pixel_mse"].as_f64().unwrap() >= 0.0, "{triplets}");
        assert!(triplets["floor"]["total"].as_f64().unwrap().is_finite());
        for file in [
            "citris.json",
            "correlation/r2.csv",
            "correlation/spearman.png",
            "triplets.png",
        ] {
            let path = std::path::Path::new(&run).join("eval").join(file);
            assert!(path.is_file(), "{model}: {} missing", path.display());
        }

        // Latent interventions on a held-out frame (runs with an assignment only).
        if model == "beta-vae" {
            let message = fails(&["query", &run, "--intervene", "ball_y", "--threads", "1"]);
            assert!(message.contains("no assignment"), "{message}");
        } else {
            // A variable that has latents after 8 steps of training.
            let variable = report["assignment"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|group| group.as_str())
                .find(|group| group.starts_with("ball_"))
                .expect("some latent is assigned to a variable")
                .to_string();
            for extra in [&[][..], &["--traverse"][..]] {
                let mut args = vec!["query", &run, "--intervene", &variable, "-n", "3"];
                args.extend_from_slice(extra);
                args.extend_from_slice(&["--index", "2", "--threads", "1"]);
                let out = succeeds(&args);
                let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
                assert!(
                    path.ends_with(&format!("intervene-{variable}.png")),
                    "{path}"
                );
                assert!(std::path::Path::new(&path).is_file());
            }
            let message = fails(&["query", &run, "--intervene", "colour"]);
            assert!(message.contains("ball_b, ball_y"), "{message}");
        }

        // Resuming with more steps continues the same run; a fresh train refuses.
        let message = fails(&["train", model, "--data", &data, "--run", &run]);
        assert!(message.contains("--resume"), "{message}");
        let config = std::path::Path::new(&run).join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        // The last `steps` is [train]'s (CITRIS-NF's autoencoder stage comes before it).
        let at = text.rfind("steps = 8").unwrap();
        let longer = format!("{}steps = 10{}", &text[..at], &text[at + 9..]);
        std::fs::write(&config, longer).unwrap();
        // A resumed run keeps its data: another --data is refused, the same one or none
        // is fine.
        let elsewhere = dir.path().join("elsewhere");
        let elsewhere = elsewhere.to_str().unwrap();
        let message = fails(&[
            "train", model, "--data", elsewhere, "--run", &run, "--resume",
        ]);
        assert!(
            message.contains("differs from the data") && message.contains("[data]"),
            "{message}"
        );
        let message = fails(&["train", model, "--run", &run, "--resume", "--steps", "10"]);
        assert!(
            message.contains("--steps") && message.contains("cannot be used with"),
            "{message}"
        );
        let mut resume = vec!["train", model, "--run", &run, "--resume"];
        if model == "citris-nf" {
            resume.extend(["--data", &data]);
        }
        // A hand-edited setting out of range is named with its section, group and value,
        // and the run is left as it was.
        let text = std::fs::read_to_string(&config).unwrap();
        let psi = "prefix = \"prior.assignment_logits\"\nlr_scale = ";
        assert!(text.contains(psi), "{model}: {text}");
        std::fs::write(&config, text.replace(psi, &format!("{psi}-"))).unwrap();
        let message = fails(&resume);
        assert!(
            ["[train]", "'prior.assignment_logits'", "lr_scale", "(got -"]
                .iter()
                .all(|w| message.contains(w)),
            "{model}: {message}"
        );
        std::fs::write(&config, text).unwrap();
        let out = succeeds(&resume);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("resumed at step 8"), "{model}: {stderr}");
        assert_eq!(
            stderr.contains("ψ (latents per variable): "),
            model != "beta-vae",
            "{model}: {stderr}"
        );
    }
}

#[test]
fn a_citris_vae_starts_from_a_citris_nf_autoencoder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("boxes").display().to_string();
    succeeds(&["data", "boxes", "--out", &data, "-n", "100", "--seed", "2"]);
    let nf = dir.path().join("nf");
    tiny_train("citris-nf", &data, &nf.display().to_string(), "4", &[]);
    let autoencoder = nf.join("autoencoder");
    let start_vae_from_autoencoder = |run: &str| {
        let out = tiny_train(
            "citris-vae",
            &data,
            run,
            "4",
            &["--init-from", &autoencoder.display().to_string()],
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let vae = dir.path().join("vae").display().to_string();
    let stderr = start_vae_from_autoencoder(&vae);
    // The autoencoder's encoder and decoder, its output layer as the posterior's mean
    // (the first half of the VAE's [mean, log-std] output); the prior and classifier
    // are CITRIS-VAE's own.
    let weights = autoencoder.join("model.safetensors").display().to_string();
    assert!(
        stderr.contains(&format!("started 36 of 54 variables from {weights} and the mean half of encoder.output.bias, encoder.output.weight (its log-std half starts the posterior at the autoencoder's training noise, σ 0.05); kept as initialised: classifier, prior")),
        "{stderr}"
    );
    let config = std::fs::read_to_string(std::path::Path::new(&vae).join("config.toml")).unwrap();
    assert!(config.contains("init_from = "), "{config}");

    // σ is the one the autoencoder trained with, read from its run's configuration.
    let nf_config = nf.join("config.toml");
    let text = std::fs::read_to_string(&nf_config).unwrap();
    assert!(text.contains("noise_level = 0.05"), "{text}");
    std::fs::write(
        &nf_config,
        text.replace("noise_level = 0.05", "noise_level = 0.02"),
    )
    .unwrap();
    let quieter = dir.path().join("quieter").display().to_string();
    let stderr = start_vae_from_autoencoder(&quieter);
    assert!(stderr.contains("training noise, σ 0.02)"), "{stderr}");

    // The CITRIS-NF run itself: the whole trained model, every variable filled.
    let whole = dir.path().join("whole").display().to_string();
    let stderr = tiny_train(
        "citris-vae",
        &data,
        &whole,
        "4",
        &["--init-from", &nf.display().to_string()],
    )
    .stderr;
    let stderr = String::from_utf8_lossy(&stderr);
    let flow_weights = nf.join("model.safetensors").display().to_string();
    assert!(
        stderr.contains(&format!(
            "takes the shape of the CITRIS-NF run {}: 4 latents, width 8, a 4-block flow prior",
            nf.display()
        )) && stderr.contains(&format!(
            "from {weights} and {flow_weights} and the mean half"
        )) && stderr.contains("kept as initialised: none"),
        "{stderr}"
    );
    let config = std::fs::read_to_string(std::path::Path::new(&whole).join("config.toml")).unwrap();
    assert!(config.contains("[model.vae.flow_prior]"), "{config}");
    let nf_arg = nf.display().to_string();
    let start_from_nf = |model: &str, extra: &[&str]| {
        let run = dir
            .path()
            .join(format!("refused-{model}"))
            .display()
            .to_string();
        let mut args = vec![
            "train",
            model,
            "--data",
            &data,
            "--run",
            &run,
            "--init-from",
            &nf_arg,
        ];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let message = start_from_nf("citris-vae", &["--flow-blocks", "2"]);
    assert!(message.contains("--flow-blocks 2 contradicts"), "{message}");
    let message = start_from_nf("beta-vae", &[]);
    assert!(
        message.contains("starts a CITRIS-VAE, not beta-vae"),
        "{message}"
    );

    let missing = dir.path().join("missing").display().to_string();
    let run = dir.path().join("other").display().to_string();
    let message = fails(&[
        "train",
        "citris-vae",
        "--data",
        &data,
        "--run",
        &run,
        "--init-from",
        &missing,
    ]);
    assert!(
        message.contains("--init-from") && message.contains("missing"),
        "{message}"
    );
}

#[test]
fn mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().display().to_string();
    let run = dir.path().join("run").display().to_string();
    let message = fails(&["train", "citris-vae", "--data", &empty, "--run", &run]);
    assert!(message.contains("dataset.json"), "{message}");
    let message = fails(&["eval", &empty]);
    assert!(message.contains("config.toml"), "{message}");
    let message = fails(&["train", "citris-vae", "--run", &run]);
    assert!(message.contains("--data"), "{message}");
    let data = dir.path().join("boxes").display().to_string();
    succeeds(&["data", "boxes", "--out", &data, "-n", "40"]);
    // Options a model does not have, or values out of range: (model, options, words
    // the message must name).
    let misuses: [(&str, &[&str], &[&str]); 13] = [
        ("citris-nf", &["--flow-prior"], &["flow"]),
        ("beta-vae", &["--flow-prior"], &["flow"]),
        ("beta-vae", &["--imperfect-interventions"], &["imperfect"]),
        (
            "beta-vae",
            &["--assignment-init-margin", "4"],
            &["assignment_init_margin"],
        ),
        (
            "beta-vae",
            &["--assignment-lr-scale", "1"],
            &["--assignment-lr-scale", "β-VAE"],
        ),
        (
            "citris-nf",
            &["--assignment-lr-scale=-1"],
            &["learning-rate scale", "-1"],
        ),
        (
            "beta-vae",
            &["--assignment-hold-steps", "2"],
            &["--assignment-hold-steps", "β-VAE"],
        ),
        (
            "citris-nf",
            &["--steps", "5", "--assignment-hold-steps", "5"],
            &["hold of 5 steps", "5", "scale of 0"],
        ),
        (
            "citris-vae",
            &["--autoencoder-batch", "3"],
            &["--autoencoder-batch", "citris-vae"],
        ),
        (
            "citris-vae",
            &["--flow-blocks", "3"],
            &["--flow-blocks", "no flow"],
        ),
        ("citris-nf", &["--flow-blocks", "0"], &["blocks", "0"]),
        (
            "citris-nf",
            &["--autoencoder-lr", "0"],
            &["learning rate", "0"],
        ),
        (
            "citris-nf",
            &["--autoencoder-steps", "0"],
            &["autoencoder", "0"],
        ),
    ];
    for (model, options, words) in misuses {
        let mut args = vec!["train", model, "--data", &data, "--run", &run];
        args.extend_from_slice(options);
        let message = fails(&args);
        assert!(
            words.iter().all(|w| message.contains(w)),
            "{model} {options:?}: {message}"
        );
    }
}

#[test]
fn bench_citris_prints_a_table_row_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let stdout = succeeds(&[
        "bench",
        "citris",
        "--datasets",
        "boxes",
        "--models",
        "citris-vae,beta-vae,citris-nf-oracle",
        "-n",
        "120",
        "--steps",
        "3",
        "--batch",
        "8",
        "--probe-steps",
        "10",
        "--encoder-steps",
        "10",
        "--out",
        &out,
        "--threads",
        "1",
    ])
    .stdout;
    let table = String::from_utf8(stdout).unwrap();
    assert!(table.contains("| data | model | steps |"), "{table}");
    assert!(table.contains("| R² from all latents (mean) |"), "{table}");
    // Every row has the header's ten columns.
    for row in table.lines().filter(|l| l.starts_with('|')) {
        assert_eq!(row.matches('|').count(), 11, "{row}");
    }
    assert!(table.contains("| boxes | citris-vae | 3 |"), "{table}");
    assert!(table.contains("| boxes | beta-vae | 3 |"), "{table}");
    assert!(
        table.contains("| boxes | citris-nf (oracle encoder) | 3 |"),
        "{table}"
    );
    let oracle = dir.path().join("boxes-citris-nf-oracle");
    assert!(oracle.join("model.safetensors").is_file());
    assert!(oracle.join("eval/correlation/r2.csv").is_file());
    assert!(dir.path().join("boxes-beta-vae/eval/citris.json").is_file());
}
