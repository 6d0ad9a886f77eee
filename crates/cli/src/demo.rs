//! `causalgen demo`: the end-to-end demonstration on built-in defaults. It renders
//! fight scenes from the bundled causal network, trains the causal VAE on them, asks
//! the tutorial's questions on all three rungs of Pearl's ladder (exact posteriors plus
//! pictures), measures how faithful the pictures are, and writes `report.html`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use bayesnet::examples::fight_scene;
use bayesnet::Assignment;
use causal_vae::eval::{evaluate, EvalOptions};
use causal_vae::query::{self, Posterior};
use causal_vae::report::{BarChart, Block, LineChart, Report, Section};
use causal_vae::{grid, test_data, DataConfig, ModelConfig, RunConfig, TrainedModel};
use clap::Args;
use nn::run_dir::RunDir;
use nn::train::{Progress, TrainConfig};

use crate::bn::assignment;
use crate::vae::{counterfactual_tiles, posteriors_table, train_run, ComputeArgs};

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the run, the pictures and report.html (a finished run is reused).
    #[arg(long, default_value = "demo-output")]
    out: PathBuf,
    /// A one-minute version (small model, few steps): pictures are rough.
    #[arg(long)]
    quick: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    compute: ComputeArgs,
}

/// The demo's model and schedule; `--quick` shrinks everything.
fn demo_config(quick: bool, seed: u64) -> (RunConfig, EvalOptions) {
    let (scenes, steps, width, batch) = match quick {
        true => (2_000, 120, 8, 32),
        false => (20_000, 1_200, 16, 32),
    };
    let config = RunConfig {
        model: ModelConfig {
            width,
            hidden: 256,
            ..ModelConfig::default()
        },
        train: TrainConfig {
            steps,
            lr: 2e-3,
            warmup: steps / 20,
            seed,
            checkpoint_every: 250,
            ..TrainConfig::default()
        },
        data: DataConfig {
            scenes,
            seed,
            batch,
            ..DataConfig::default()
        },
    };
    let eval = EvalOptions {
        samples: if quick { 1_000 } else { 2_000 },
        counterfactual_scenes: if quick { 20 } else { 200 },
        classifier_steps: if quick { 250 } else { 400 },
        classifier_scenes: if quick { 2_000 } else { 10_000 },
        seed,
    };
    (config, eval)
}

pub fn run(args: &DemoArgs) -> Result<()> {
    let clock = std::time::Instant::now();
    let device = args.compute.setup()?;
    let net = fight_scene()?;
    let (config, eval_options) = demo_config(args.quick, args.seed);
    let run = RunDir::create(args.out.join("run"))?;
    if run.config_path().is_file() && run.read_config::<RunConfig>().ok().as_ref() != Some(&config)
    {
        anyhow::bail!(
            "{} holds a run with other settings; remove it or pass another --out",
            run.root().display()
        );
    }
    eprintln!(
        "causal VAE on {} rendered fight scenes, {} steps (run directory {})",
        config.data.scenes,
        config.train.steps,
        run.root().display()
    );
    let trained = train_run(&run, &config, &net, device, "train")?;
    let mut report = Report {
        title: "causalgen demo: a causal VAE of RPG fight scenes".into(),
        sections: vec![intro(&config)],
    };
    report.sections.push(training_section(&run)?);
    report
        .sections
        .push(condition_section(&trained, &args.out, args.seed)?);
    report
        .sections
        .push(intervene_section(&trained, &args.out, args.seed)?);
    report
        .sections
        .push(counterfactual_section(&trained, &args.out, args.seed)?);
    let progress = Progress {
        label: "eval".into(),
        visible: true,
    };
    let eval = evaluate(&trained, &run, &eval_options, &progress).context("evaluating the run")?;
    println!("== Measured fidelity\n{}", eval.summary());
    report.sections.push(Section {
        heading: "Measured fidelity".into(),
        blocks: vec![
            Block::Text(
                "An independent classifier, trained on real rendered scenes, reads the generated pictures back; \
                 counterfactuals are compared with the true counterfactual scenes (same nuisance, same exogenous noise, \
                 changed causal variables) rendered by the generator."
                    .into(),
            ),
            Block::Preformatted(eval.summary()),
        ],
    });
    let path = args.out.join("report.html");
    report
        .write(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "wrote {} ({:.0} s in all)",
        path.display(),
        clock.elapsed().as_secs_f64()
    );
    Ok(())
}

fn intro(config: &RunConfig) -> Section {
    Section {
        heading: "What this is".into(),
        blocks: vec![Block::Text(format!(
            "The fight-scene causal network (characters, types, hidden strength/attack/defense, action, reaction) draws \
             each scene's causal variables; a procedural renderer draws the picture with random nuisance (positions, sizes, \
             poses, background, light). A conditional VAE ({}×{} images, z of {} dimensions, label head q(y|x)) was trained \
             on {} such scenes for {} steps. Every probability below is exact (junction tree / twin network); the pictures \
             are decoded from jointly sampled causal variables.",
            config.model.image_size,
            config.model.image_size,
            config.model.z_dim,
            config.data.scenes,
            config.train.steps
        ))],
    }
}

fn training_section(run: &RunDir) -> Result<Section> {
    let csv = std::fs::read_to_string(run.metrics_path())
        .with_context(|| format!("reading {}", run.metrics_path().display()))?;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|x| x.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let series = |name: &str| -> Vec<(f64, f64)> {
        match (column("step"), column(name)) {
            (Some(s), Some(c)) => rows.iter().map(|r| (r[s], r[c])).collect(),
            _ => Vec::new(),
        }
    };
    Ok(Section {
        heading: "Training".into(),
        blocks: vec![
            Block::Lines(LineChart {
                title: "loss terms (nats per image)".into(),
                x_label: "step".into(),
                series: ["loss", "reconstruction", "kl_z"]
                    .iter()
                    .map(|n| (n.to_string(), series(n)))
                    .collect(),
                log_y: true,
            }),
            Block::Lines(LineChart {
                title: "label head accuracy (training batches)".into(),
                x_label: "step".into(),
                series: vec![("accuracy".into(), series("label_accuracy"))],
                log_y: false,
            }),
            Block::Image {
                path: "run/samples/reconstructions.png".into(),
                caption: "held-out scenes (top) and their reconstructions (bottom)".into(),
            },
            Block::Image {
                path: "run/samples/prior.png".into(),
                caption: "scenes sampled from the network, decoded with z ~ N(0, I)".into(),
            },
        ],
    })
}

fn pairs(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn find<'a>(posteriors: &'a [Posterior], name: &str) -> &'a Posterior {
    posteriors
        .iter()
        .find(|p| p.variable == name)
        .expect("fight network variable")
}

fn bars(title: &str, series: &[(&str, &Posterior)]) -> Block {
    Block::Bars(BarChart {
        title: title.into(),
        categories: series[0].1.states.clone(),
        series: series
            .iter()
            .map(|(n, p)| (n.to_string(), p.probabilities.clone()))
            .collect(),
    })
}

fn condition_section(trained: &TrainedModel, out: &std::path::Path, seed: u64) -> Result<Section> {
    let net = &trained.network;
    let evidence = assignment(
        net,
        &pairs(&[
            "actor=Satyr",
            "actor_type=Type1",
            "reactor=Golem",
            "reactor_type=Type3",
        ]),
    )?;
    let result = query::condition(trained, &evidence, &Assignment::new(), 16, seed)?;
    let schema = trained.model.schema();
    let captions = result
        .generated
        .labels
        .iter()
        .map(|l| grid::caption(schema, "", l))
        .collect();
    let size = trained.config.model.image_size;
    grid::write_sheet(
        &out.join("condition.png"),
        &grid::tiles(&result.generated.images, captions),
        size,
        8,
        2,
    )?;
    let title = "Rung 1, condition: a Type1 satyr faces a Type3 golem";
    let hidden = ["actor_strength", "actor_attack", "reactor_defense"];
    let shown: Vec<Posterior> = hidden
        .iter()
        .chain(&["action", "reaction"])
        .filter_map(|n| result.posteriors.iter().find(|p| p.variable == *n).cloned())
        .collect();
    println!(
        "== {title}\nP(evidence) = {:.4}\n{}",
        result.evidence_probability,
        posteriors_table(&shown)
    );
    let mut blocks = vec![
        Block::Text("Action and reaction are sampled jointly from their exact posterior given the four characters, z ~ N(0, I), and decoded.".into()),
        Block::Image { path: "condition.png".into(), caption: title.into() },
    ];
    blocks.extend(shown.iter().map(|p| bars(&p.variable, &[("posterior", p)])));
    Ok(Section {
        heading: title.into(),
        blocks,
    })
}

fn intervene_section(trained: &TrainedModel, out: &std::path::Path, seed: u64) -> Result<Section> {
    let net = &trained.network;
    let attack = assignment(net, &pairs(&["action=Attack"]))?;
    let result = query::intervene(trained, &attack, &Assignment::new(), 8, seed)?;
    let schema = trained.model.schema();
    let mut tiles = Vec::new();
    for (headline, sampled) in [
        ("do(Attack)", &result.interventional),
        ("seen Attack", &result.conditional),
    ] {
        let captions = sampled
            .generated
            .labels
            .iter()
            .map(|l| grid::caption(schema, headline, l))
            .collect();
        tiles.extend(grid::tiles(&sampled.generated.images, captions));
    }
    grid::write_sheet(
        &out.join("intervene.png"),
        &tiles,
        trained.config.model.image_size,
        8,
        2,
    )?;
    let title = "Rung 2, intervene: do(action=Attack) versus seeing action=Attack";
    let (doing, seeing) = (
        &result.interventional.posteriors,
        &result.conditional.posteriors,
    );
    println!(
        "== {title}\nunder do(action=Attack):\n{}seeing action=Attack:\n{}",
        posteriors_table([find(doing, "actor_attack"), find(doing, "reaction")]),
        posteriors_table([find(seeing, "actor_attack"), find(seeing, "reaction")])
    );
    let mut blocks = vec![
        Block::Text("Top row: scenes under do(action=Attack) (graph surgery: the actor's attack skill keeps its prior). Bottom row: scenes where an attack is merely observed (attackers tend to be strong); sample i of both rows shares its z.".into()),
        Block::Image { path: "intervene.png".into(), caption: title.into() },
    ];
    for name in ["actor_attack", "actor_strength", "reaction"] {
        blocks.push(bars(
            name,
            &[
                ("seen Attack", find(seeing, name)),
                ("do(Attack)", find(doing, name)),
            ],
        ));
    }
    Ok(Section {
        heading: title.into(),
        blocks,
    })
}

fn counterfactual_section(
    trained: &TrainedModel,
    out: &std::path::Path,
    seed: u64,
) -> Result<Section> {
    let net = &trained.network;
    let taunt = assignment(net, &pairs(&["action=Taunt"]))?;
    let schema = trained.model.schema();
    let test = test_data(&trained.config, net, schema, 64)?;
    // Held-out scenes whose actor did not taunt, read from the pixels alone.
    let chosen: Vec<usize> = (0..test.len())
        .filter(|&i| test.states[i][schema.ids()[2].0] != 1)
        .take(4)
        .collect();
    let mut tiles = Vec::new();
    let mut blocks = vec![Block::Text(
        "Abduction: z from the encoder, the causal variables read by the label head as virtual evidence, the exogenous noise \
         through the twin network; action: do(action=Taunt); prediction: the counterfactual variables decoded with the same z. \
         Each row: the image, its reconstruction, the most probable counterfactual, then samples of the counterfactual world."
            .into(),
    )];
    let title = "Rung 3, counterfactual: had the actor taunted instead";
    for (row, &i) in chosen.iter().enumerate() {
        let image = test
            .images_at(&tch::Tensor::from_slice(&[i as i64]), tch::Device::Cpu)
            .squeeze_dim(0);
        let result = query::counterfactual(
            trained,
            &image,
            &Assignment::new(),
            &taunt,
            5,
            seed + row as u64,
        )?;
        tiles.extend(counterfactual_tiles(trained, &result));
        if row == 0 {
            let (fact, cf) = (
                find(&result.factual, "reaction"),
                find(&result.counterfactual, "reaction"),
            );
            println!(
                "== {title} (first scene)\nfactual:\n{}counterfactual:\n{}",
                posteriors_table([fact]),
                posteriors_table([cf])
            );
            blocks.push(bars(
                "reaction (first scene)",
                &[("factual", fact), ("had it taunted", cf)],
            ));
        }
    }
    grid::write_sheet(
        &out.join("counterfactual.png"),
        &tiles,
        trained.config.model.image_size,
        8,
        2,
    )?;
    blocks.insert(
        1,
        Block::Image {
            path: "counterfactual.png".into(),
            caption: title.into(),
        },
    );
    Ok(Section {
        heading: title.into(),
        blocks,
    })
}
