//! Exactness against other libraries: marginals, do-queries and MPE on real bnlearn
//! networks must equal the answers pyAgrum and pgmpy computed (fixtures written by
//! `scripts/reference/bn_fixtures.py`) to 1e-9.
//!
//! The five small networks live in `../shared/data/bnlearn`; the large ones are fetched
//! into `reference-data/bnlearn` by `scripts/fetch-bnlearn`. A test whose network file is
//! absent says so and passes, so a checkout without the data still tests everything else.

use std::path::{Path, PathBuf};

use bayesnet::elimination::DEFAULT_TABLE_LIMIT;
use bayesnet::io::read_bif;
use bayesnet::{mpe, Answer, Assignment, Engine, JunctionTree, Network, Query};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn locate(name: &str) -> Option<PathBuf> {
    let root = repo_root();
    [
        root.join("../shared/data/bnlearn"),
        root.join("reference-data/bnlearn"),
    ]
    .into_iter()
    .map(|dir| dir.join(format!("{name}.bif")))
    .find(|p| p.exists())
}

fn assignment(net: &Network, value: &Value) -> Assignment {
    let pairs: Vec<(String, String)> = value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default();
    net.assignment(&pairs).unwrap()
}

/// Relative comparison, for joint probabilities that can be tiny.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL * b.abs() || a == b
}

fn check(name: &str) {
    let fixture = repo_root().join(format!(
        "crates/bayesnet/tests/fixtures/bnlearn/{name}.json"
    ));
    let text =
        std::fs::read_to_string(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let Some(path) = locate(name) else {
        eprintln!("skipping {name}: {name}.bif not found in ../shared/data/bnlearn or reference-data/bnlearn (run scripts/fetch-bnlearn)");
        return;
    };
    let net = read_bif(&path).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let engine = Engine::new(net.clone());
    let queries = fixture["queries"].as_array().unwrap();
    assert!(!queries.is_empty());
    for (i, q) in queries.iter().enumerate() {
        let evidence = assignment(&net, &q["evidence"]);
        match q["kind"].as_str().unwrap() {
            "marginals" => {
                let expected = q["marginals"].as_object().unwrap();
                let targets: Vec<_> = expected.keys().map(|k| net.var(k).unwrap()).collect();
                let intervention = assignment(&net, &q["do"]);
                let planned = engine
                    .answer(&Query {
                        targets: targets.clone(),
                        evidence: evidence.clone(),
                        intervention: intervention.clone(),
                    })
                    .unwrap_or_else(|e| panic!("{name} query {i}: {e}"));
                // The planner may answer by elimination; check the junction tree as well,
                // so both algorithms are held to the references at full scale.
                let cut = net.intervene(&intervention).unwrap();
                let tree = JunctionTree::new(&cut, DEFAULT_TABLE_LIMIT).unwrap();
                let calibrated = tree.calibrate(&cut, &evidence).unwrap();
                let by_tree = Answer {
                    evidence_probability: calibrated.evidence_probability(),
                    marginals: targets
                        .iter()
                        .map(|&t| (t, calibrated.marginal(&cut, t)))
                        .collect(),
                };
                for (how, answer) in [("engine", planned), ("junction tree", by_tree)] {
                    let p_e = q["evidence_probability"].as_f64().unwrap();
                    assert!(
                        same(answer.evidence_probability, p_e),
                        "{name} query {i} ({how}): P(e) {} vs {p_e}",
                        answer.evidence_probability
                    );
                    for (v, dist) in &answer.marginals {
                        let var = net.variable(*v);
                        for (state, p) in var.states.iter().zip(dist) {
                            let want = expected[&var.name][state].as_f64().unwrap();
                            assert!(
                                (p - want).abs() <= TOL,
                                "{name} query {i} ({how}): P({}={state}) = {p}, expected {want}",
                                var.name
                            );
                        }
                    }
                }
            }
            "mpe" => {
                let found = mpe(&net, &evidence, DEFAULT_TABLE_LIMIT).unwrap();
                let want = q["probability"].as_f64().unwrap();
                assert!(
                    same(found.probability, want),
                    "{name} query {i}: MPE probability {} vs {want}",
                    found.probability
                );
                let mut states = vec![0; net.len()];
                for (v, &s) in found.assignment.iter().chain(evidence.iter()) {
                    states[v.0] = s;
                }
                let joint = net.joint_probability(&states);
                assert!(
                    same(joint, want),
                    "{name} query {i}: our MPE's joint {joint} vs {want}"
                );
            }
            other => panic!("{name}: unknown query kind {other}"),
        }
    }
}

macro_rules! networks {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            check(stringify!($name));
        }
    )*};
}

networks!(asia, sachs, child, insurance, alarm, hepar2, win95pts, andes, pathfinder, munin1);
