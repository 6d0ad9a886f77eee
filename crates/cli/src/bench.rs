//! `causalgen bench bn`: times our engine on the benchmark queries shared with the
//! reference implementations (`bench/bn/run` puts both side by side). Loading the file is
//! not timed, as in the reference script; building the junction tree is, because
//! pyAgrum's fresh `LazyPropagation` triangulates too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bayesnet::elimination::{joint_posterior, DEFAULT_TABLE_LIMIT};
use bayesnet::{Answer, Engine, Network, Query};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::json;

use scenes::fight::FightOptions;
use scenes::tris::boxes::Boxes;
use scenes::tris::causal3d::Causal3d;
use scenes::tris::dataset::{write_dataset, DatasetOptions};
use scenes::tris::pong::Pong;
use scenes::tris::TemporalProcess;

use crate::bn::{load, variables};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Exact inference on bnlearn networks: one posterior, and all marginals, with evidence.
    Bn {
        /// Query spec (see bench/bn/queries.json).
        #[arg(long, default_value = "bench/bn/queries.json")]
        spec: PathBuf,
        /// Folders searched, in order, for `<network>.bif`.
        #[arg(long = "data-dir", required = true)]
        data_dirs: Vec<PathBuf>,
        /// Timed repetitions per measurement (fewer once one measurement passes 20 s).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// Dataset generators: frames (or scenes) per second, end to end (sampling,
    /// rendering on all cores, writing the files to a temporary folder).
    Data {
        /// Training frames for causal3d and fight scenes (pong and boxes use 10 times
        /// as many: they are cheap).
        #[arg(short = 'n', long, default_value_t = 20_000)]
        n: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Deserialize)]
struct Spec {
    networks: Vec<SpecQuery>,
}

#[derive(Deserialize)]
struct SpecQuery {
    name: String,
    evidence: BTreeMap<String, String>,
    target: String,
}

const BUDGET: Duration = Duration::from_secs(20);

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Bn {
            spec,
            data_dirs,
            repeats,
            json,
        } => bench_bn(&spec, &data_dirs, repeats, json),
        BenchCommand::Data { n, seed } => bench_data(n, seed),
    }
}

/// Times every generator end to end and prints frames per second.
fn bench_data(n: usize, seed: u64) -> Result<()> {
    println!(
        "{:<10} {:>10} {:>9} {:>12}   ({} threads)",
        "generator",
        "frames",
        "seconds",
        "frames/s",
        rayon::current_num_threads()
    );
    let report = |name: &str, frames: usize, seconds: f64| {
        println!(
            "{name:<10} {frames:>10} {seconds:>9.2} {:>12.0}",
            frames as f64 / seconds
        );
    };
    let net = bayesnet::examples::fight_scene()?;
    let dir = crate::data::scratch_dir("fight")?;
    let options = FightOptions {
        n,
        seed,
        ..FightOptions::default()
    };
    let start = Instant::now();
    scenes::fight::generate(&net, dir.path(), &options, &|_| ())?;
    report("fight", n, start.elapsed().as_secs_f64());

    let causal3d = Causal3d::new(&["teapot"])?;
    let processes: [(&dyn TemporalProcess, usize); 3] = [
        (&causal3d, n),
        (&Pong::new(), 10 * n),
        (&Boxes::new(), 10 * n),
    ];
    for (process, train) in processes {
        let dir = crate::data::scratch_dir(process.name())?;
        let start = Instant::now();
        let summary = write_dataset(process, dir.path(), &DatasetOptions::new(train, seed))?;
        report(
            process.name(),
            summary.manifest.splits.total(),
            start.elapsed().as_secs_f64(),
        );
    }
    Ok(())
}

fn bench_bn(spec: &Path, data_dirs: &[PathBuf], repeats: usize, json: bool) -> Result<()> {
    let text =
        std::fs::read_to_string(spec).with_context(|| format!("reading {}", spec.display()))?;
    let spec: Spec =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", spec.display()))?;
    let mut results = Vec::new();
    if !json {
        println!(
            "{:<12} {:>6} {:>14} {:>18}",
            "network", "nodes", "posterior ms", "all marginals ms"
        );
    }
    for q in &spec.networks {
        let path = find(data_dirs, &q.name)?;
        let net = load(&path)?;
        let pairs: Vec<String> = q.evidence.iter().map(|(v, s)| format!("{v}={s}")).collect();
        let evidence = crate::bn::assignment(&net, &pairs)?;
        let target = variables(&net, std::slice::from_ref(&q.target))?[0];

        let mut posterior = Vec::new();
        let posterior_ms = time(repeats, || {
            posterior =
                joint_posterior(&net, &[target], &evidence, DEFAULT_TABLE_LIMIT)?.marginal(target);
            Ok(())
        })?;
        let all_marginals_ms = time(repeats, || all_marginals(&net, &evidence).map(drop))?;
        let states: BTreeMap<&str, f64> = net
            .variable(target)
            .states
            .iter()
            .map(String::as_str)
            .zip(posterior.iter().copied())
            .collect();
        if !json {
            println!(
                "{:<12} {:>6} {:>14.3} {:>18.3}",
                q.name,
                net.len(),
                median(&posterior_ms),
                median(&all_marginals_ms)
            );
        }
        results.push(json!({
            "network": q.name,
            "engine": "causalgen",
            "nodes": net.len(),
            "posterior_ms": posterior_ms,
            "all_marginals_ms": all_marginals_ms,
            "posterior": states,
        }));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "results": results }))?
        );
    }
    Ok(())
}

/// All marginals with a fresh engine, so the junction tree (if the planner wants one) is
/// built inside the timing, as pyAgrum's fresh `LazyPropagation` triangulates.
fn all_marginals(net: &Network, evidence: &bayesnet::Assignment) -> Result<Answer> {
    let engine = Engine::new(net.clone());
    Ok(engine.answer(&Query {
        evidence: evidence.clone(),
        ..Query::default()
    })?)
}

/// Milliseconds per run, `repeats` runs or until the budget is spent (at least one).
fn time(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let start = Instant::now();
    let mut out = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        f()?;
        out.push(t.elapsed().as_secs_f64() * 1e3);
        if start.elapsed() > BUDGET {
            break;
        }
    }
    Ok(out)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn find(dirs: &[PathBuf], name: &str) -> Result<PathBuf> {
    dirs.iter()
        .map(|d| d.join(format!("{name}.bif")))
        .find(|p| Path::exists(p))
        .with_context(|| {
            format!(
                "{name}.bif is not in any --data-dir ({}); run scripts/fetch-bnlearn to download the bnlearn networks",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            )
        })
}
