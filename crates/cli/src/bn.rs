//! `causalgen bn ...`: the scriptable contract for discrete causal Bayesian networks.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use bayesnet::elimination::DEFAULT_TABLE_LIMIT;
use bayesnet::io::{read_dataset, read_network, samples_to_csv, write_network, write_samples_csv};
use bayesnet::learning::{learn_parameters, Prior};
use bayesnet::sampling::sample;
use bayesnet::{
    counterfactual, map, mpe, Assignment, Engine, IndependentRows, JunctionTree, MonotoneCoupling,
    Network, NoiseModel, Query, VarId,
};
use clap::{Args, Subcommand, ValueEnum};

use crate::report;

#[derive(Subcommand)]
pub enum BnCommand {
    /// Variables, states, parents and a treewidth estimate.
    Info {
        /// Network file (.bif or .json).
        net: PathBuf,
    },
    /// Posterior marginals P(target | do(x), evidence) and P(evidence).
    Query {
        net: PathBuf,
        #[command(flatten)]
        given: Given,
        /// Variables to report (all when omitted).
        #[arg(long = "target", num_args = 1.., value_name = "VAR")]
        targets: Vec<String>,
        /// Print the joint posterior of the targets instead of their marginals.
        #[arg(long)]
        joint: bool,
        #[arg(long)]
        json: bool,
    },
    /// Counterfactual marginals P(target_x | evidence): "had X been x, given e".
    Counterfactual {
        net: PathBuf,
        #[command(flatten)]
        given: Given,
        #[arg(long = "target", num_args = 1.., value_name = "VAR")]
        targets: Vec<String>,
        /// How each node's exogenous noise is shared between the factual and the
        /// counterfactual world.
        #[arg(long, value_enum, default_value_t = Noise::Monotone)]
        noise: Noise,
        #[arg(long)]
        json: bool,
    },
    /// Most probable explanation (or MAP over `--over` variables) given evidence.
    Mpe {
        net: PathBuf,
        #[arg(long = "evidence", num_args = 1.., value_name = "VAR=STATE")]
        evidence: Vec<String>,
        /// Maximise over these variables only, summing the others out (MAP).
        #[arg(long = "over", num_args = 1.., value_name = "VAR")]
        over: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Seeded samples, forward or under do() and evidence, as CSV of state labels.
    Sample {
        net: PathBuf,
        #[arg(short = 'n', long, default_value_t = 1000)]
        n: usize,
        #[command(flatten)]
        given: Given,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output CSV (stdout when omitted).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Learn the network's CPTs from a CSV of states (same structure).
    Learn {
        net: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// `mle`, `dirichlet:ALPHA` or `bdeu:ESS`.
        #[arg(long, default_value = "mle")]
        prior: String,
        /// Output network (.bif or .json).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Evidence and interventions, shared by the query-like commands.
#[derive(Args)]
pub struct Given {
    /// Observed values.
    #[arg(long = "evidence", num_args = 1.., value_name = "VAR=STATE")]
    evidence: Vec<String>,
    /// Interventions do(VAR=STATE).
    #[arg(long = "do", num_args = 1.., value_name = "VAR=STATE")]
    intervention: Vec<String>,
}

impl Given {
    /// (evidence, intervention) resolved against the network's names.
    fn resolve(&self, net: &Network) -> Result<(Assignment, Assignment)> {
        Ok((
            assignment(net, &self.evidence)?,
            assignment(net, &self.intervention)?,
        ))
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Noise {
    /// Inverse-CDF coupling of one uniform noise per node (the default SCM).
    Monotone,
    /// Independent noise per parent configuration.
    Independent,
}

pub fn run(cmd: BnCommand) -> Result<()> {
    match cmd {
        BnCommand::Info { net } => info(&load(&net)?),
        BnCommand::Query {
            net,
            given,
            targets,
            joint,
            json,
        } => {
            let net = load(&net)?;
            let (evidence, intervention) = given.resolve(&net)?;
            let query = Query {
                targets: variables(&net, &targets)?,
                evidence,
                intervention,
            };
            if joint {
                return print_joint(&net, &query, json);
            }
            let answer = Engine::new(net.clone()).answer(&query)?;
            print(json, report::answer_json(&net, &answer), || {
                report::answer_table(&net, &answer)
            })
        }
        BnCommand::Counterfactual {
            net,
            given,
            targets,
            noise,
            json,
        } => {
            let net = load(&net)?;
            let (evidence, intervention) = given.resolve(&net)?;
            if intervention.is_empty() {
                bail!(
                    "a counterfactual needs at least one --do VAR=STATE (the hypothetical change)"
                );
            }
            let model: &dyn NoiseModel = match noise {
                Noise::Monotone => &MonotoneCoupling,
                Noise::Independent => &IndependentRows,
            };
            let answer = counterfactual(
                &net,
                &evidence,
                &intervention,
                &variables(&net, &targets)?,
                model,
            )?;
            print(json, report::answer_json(&net, &answer), || {
                report::answer_table(&net, &answer)
            })
        }
        BnCommand::Mpe {
            net,
            evidence,
            over,
            json,
        } => {
            let net = load(&net)?;
            let evidence = assignment(&net, &evidence)?;
            let (found, what) = match over.is_empty() {
                true => (mpe(&net, &evidence, DEFAULT_TABLE_LIMIT)?, "MPE"),
                false => (
                    map(
                        &net,
                        &variables(&net, &over)?,
                        &evidence,
                        DEFAULT_TABLE_LIMIT,
                    )?,
                    "MAP",
                ),
            };
            print(json, report::explanation_json(&net, &found), || {
                report::explanation_table(&net, &found, what)
            })
        }
        BnCommand::Sample {
            net: path,
            n,
            given,
            seed,
            out,
        } => {
            let net = load(&path)?;
            let (evidence, intervention) = given.resolve(&net)?;
            let samples = sample(&net, n, &evidence, &intervention, seed)?;
            match out {
                Some(out) => {
                    write_samples_csv(&net, &samples, &out)?;
                    eprintln!("wrote {n} samples to {}", out.display());
                }
                None => print!("{}", samples_to_csv(&net, &samples)?),
            }
            Ok(())
        }
        BnCommand::Learn {
            net: path,
            data,
            prior,
            out,
        } => {
            let net = load(&path)?;
            let prior: Prior = prior.parse()?;
            let dataset = read_dataset(&data, &net)?;
            let learned = learn_parameters(&net, &dataset, prior)?;
            write_network(&learned, &out)?;
            eprintln!(
                "learned {} tables from {} rows of {}; wrote {}",
                learned.len(),
                dataset.len(),
                data.display(),
                out.display()
            );
            Ok(())
        }
    }
}

/// Reads a network and reports rows that were accepted within tolerance.
pub fn load(path: &Path) -> Result<Network> {
    let net = read_network(path)?;
    for note in net.notes() {
        eprintln!("note: {}: {note}", path.display());
    }
    Ok(net)
}

/// Parses `VAR=STATE` pairs against the network.
pub fn assignment(net: &Network, pairs: &[String]) -> Result<Assignment> {
    let parsed = pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(v, s)| (v.trim(), s.trim()))
                .with_context(|| format!("expected VAR=STATE, got `{pair}`"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(net.assignment(&parsed)?)
}

/// Resolves variable names.
pub fn variables(net: &Network, names: &[String]) -> Result<Vec<VarId>> {
    Ok(names
        .iter()
        .map(|n| net.var(n))
        .collect::<bayesnet::Result<_>>()?)
}

fn print(json: bool, value: serde_json::Value, table: impl FnOnce() -> String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", table());
    }
    Ok(())
}

fn print_joint(net: &Network, query: &Query, json: bool) -> Result<()> {
    if query.targets.is_empty() {
        bail!("--joint needs the variables to join: --target A B ...");
    }
    let cut = net.intervene(&query.intervention)?;
    let post = bayesnet::elimination::joint_posterior(
        &cut,
        &query.targets,
        &query.evidence,
        DEFAULT_TABLE_LIMIT,
    )?;
    let names: Vec<&str> = query
        .targets
        .iter()
        .map(|&v| net.variable(v).name.as_str())
        .collect();
    let mut rows = Vec::new();
    let cards = post.joint.cards().to_vec();
    for (i, &p) in post.joint.values().iter().enumerate() {
        let mut rem = i;
        let mut states = vec![""; cards.len()];
        for k in (0..cards.len()).rev() {
            states[k] = net.variable(query.targets[k]).states[rem % cards[k]].as_str();
            rem /= cards[k];
        }
        rows.push((states, p));
    }
    let value = serde_json::json!({
        "evidence_probability": post.evidence_probability,
        "variables": names,
        "joint": rows.iter().map(|(s, p)| serde_json::json!({"states": s, "probability": p})).collect::<Vec<_>>(),
    });
    print(json, value, || {
        let mut out = format!(
            "P(evidence) = {}\n\n{}  P\n",
            report::fmt_p(post.evidence_probability),
            names.join("  ")
        );
        for (states, p) in &rows {
            out.push_str(&format!("{}  {}\n", states.join("  "), report::fmt_p(*p)));
        }
        out
    })
}

fn info(net: &Network) -> Result<()> {
    let arcs: usize = net.ids().map(|v| net.parents(v).len()).sum();
    let parameters: usize = net.ids().map(|v| net.cpt(v).table.len()).sum();
    println!("network    {}", net.name());
    println!("variables  {}", net.len());
    println!("arcs       {arcs}");
    println!("parameters {parameters}");
    match JunctionTree::new(net, DEFAULT_TABLE_LIMIT) {
        Ok(tree) => println!(
            "treewidth  <= {} (junction tree: {} cliques, {:.3e} entries in all)",
            tree.width(),
            tree.len(),
            tree.total_size()
        ),
        Err(err) => println!("treewidth  too large for exact inference here: {err}"),
    }
    let width = net
        .variables()
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0);
    println!();
    for v in net.ids() {
        let var = net.variable(v);
        let parents: Vec<&str> = net
            .parents(v)
            .iter()
            .map(|&p| net.variable(p).name.as_str())
            .collect();
        let parents = if parents.is_empty() {
            "-".to_string()
        } else {
            parents.join(", ")
        };
        println!(
            "{:<width$}  [{}]  parents: {parents}",
            var.name,
            var.states.join(", ")
        );
    }
    Ok(())
}
