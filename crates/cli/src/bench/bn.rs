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
use serde::Deserialize;
use serde_json::json;

use super::timing::median;
use crate::bn::{load, variables};

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

pub(super) fn bench_bn(
    spec: &Path,
    data_dirs: &[PathBuf],
    repeats: usize,
    json: bool,
) -> Result<()> {
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
