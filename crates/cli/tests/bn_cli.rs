//! End-to-end tests of the `causalgen bn` contract: JSON shapes other tools parse, exit
//! codes, and error messages for user mistakes (never a panic or a backtrace).

mod common;

use common::{fails, ok_json, succeeds};

use std::path::{Path, PathBuf};

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bn_cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A small network written to disk (asia, from the bundled BIF text of the tests).
fn asia() -> PathBuf {
    let path = scratch("asia.bif");
    // Tests run in parallel: write a private copy, then rename it into place atomically.
    let private = scratch(&format!("asia-{:?}.tmp", std::thread::current().id()));
    std::fs::write(&private, ASIA).unwrap();
    std::fs::rename(&private, &path).unwrap();
    path
}

const ASIA: &str = "network asia {}
variable asia { type discrete [ 2 ] { yes, no }; }
variable tub { type discrete [ 2 ] { yes, no }; }
variable smoke { type discrete [ 2 ] { yes, no }; }
variable lung { type discrete [ 2 ] { yes, no }; }
variable bronc { type discrete [ 2 ] { yes, no }; }
variable either { type discrete [ 2 ] { yes, no }; }
variable xray { type discrete [ 2 ] { yes, no }; }
variable dysp { type discrete [ 2 ] { yes, no }; }
probability ( asia ) { table 0.01, 0.99; }
probability ( tub | asia ) { (yes) 0.05, 0.95; (no) 0.01, 0.99; }
probability ( smoke ) { table 0.5, 0.5; }
probability ( lung | smoke ) { (yes) 0.1, 0.9; (no) 0.01, 0.99; }
probability ( bronc | smoke ) { (yes) 0.6, 0.4; (no) 0.3, 0.7; }
probability ( either | lung, tub ) { (yes, yes) 1.0, 0.0; (no, yes) 1.0, 0.0; (yes, no) 1.0, 0.0; (no, no) 0.0, 1.0; }
probability ( xray | either ) { (yes) 0.98, 0.02; (no) 0.05, 0.95; }
probability ( dysp | bronc, either ) { (yes, yes) 0.9, 0.1; (no, yes) 0.7, 0.3; (yes, no) 0.8, 0.2; (no, no) 0.1, 0.9; }
";

#[test]
fn query_json_contract() {
    let net = asia();
    let net = net.to_str().unwrap();
    let v = ok_json(&[
        "bn",
        "query",
        net,
        "--evidence",
        "xray=yes",
        "dysp=yes",
        "--target",
        "lung",
        "--json",
    ]);
    let p_e = v["evidence_probability"].as_f64().unwrap();
    let lung = v["marginals"]["lung"]["yes"].as_f64().unwrap();
    assert_eq!(v["marginals"].as_object().unwrap().len(), 1);
    // Values from pyAgrum/pgmpy for asia.
    assert!((lung - 0.6212527966776288).abs() < 1e-12, "{lung}");
    assert!((p_e - 0.0706701044).abs() < 1e-12, "{p_e}");
    // No targets: every variable is reported.
    let all = ok_json(&["bn", "query", net, "--evidence", "xray=yes", "--json"]);
    assert_eq!(all["marginals"].as_object().unwrap().len(), 8);
    assert_eq!(all["marginals"]["xray"]["yes"].as_f64(), Some(1.0));
    // Repeated flags work like one flag with several values.
    let again = ok_json(&[
        "bn",
        "query",
        net,
        "--evidence",
        "xray=yes",
        "--evidence",
        "dysp=yes",
        "--target",
        "lung",
        "--json",
    ]);
    assert_eq!(again, v);
    // Joint posterior of two targets: a table over both, summing to one.
    let joint = ok_json(&[
        "bn",
        "query",
        net,
        "--evidence",
        "dysp=yes",
        "--target",
        "lung",
        "bronc",
        "--joint",
        "--json",
    ]);
    let cells = joint["joint"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    assert_eq!(cells[0]["states"], serde_json::json!(["yes", "yes"]));
    let total: f64 = cells
        .iter()
        .map(|c| c["probability"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-12);
    let lung_yes: f64 = cells[..2]
        .iter()
        .map(|c| c["probability"].as_f64().unwrap())
        .sum();
    let lung = ok_json(&[
        "bn",
        "query",
        net,
        "--evidence",
        "dysp=yes",
        "--target",
        "lung",
        "--json",
    ]);
    assert!((lung_yes - lung["marginals"]["lung"]["yes"].as_f64().unwrap()).abs() < 1e-12);
}

#[test]
fn do_and_counterfactual_and_mpe_contracts() {
    let net = asia();
    let net = net.to_str().unwrap();
    let done = ok_json(&[
        "bn",
        "query",
        net,
        "--do",
        "smoke=yes",
        "--target",
        "smoke",
        "lung",
        "--json",
    ]);
    assert_eq!(done["marginals"]["smoke"]["yes"].as_f64(), Some(1.0));
    assert!((done["marginals"]["lung"]["yes"].as_f64().unwrap() - 0.1).abs() < 1e-15);
    // The evidence is on smoke itself; had the patient not smoked, lung follows its row.
    let cf = ok_json(&[
        "bn",
        "counterfactual",
        net,
        "--evidence",
        "smoke=yes",
        "lung=yes",
        "--do",
        "smoke=no",
        "--target",
        "lung",
        "--json",
    ]);
    // Monotone coupling: lung=yes at smoke=yes puts U below 0.1; below 0.01 it stays yes.
    assert!((cf["marginals"]["lung"]["yes"].as_f64().unwrap() - 0.1).abs() < 1e-12);
    let mpe = ok_json(&["bn", "mpe", net, "--evidence", "dysp=yes", "--json"]);
    assert_eq!(mpe["assignment"].as_object().unwrap().len(), 7);
    assert!(mpe["probability"].as_f64().unwrap() > 0.0);
    let map = ok_json(&[
        "bn",
        "mpe",
        net,
        "--evidence",
        "dysp=yes",
        "--over",
        "bronc",
        "--json",
    ]);
    assert_eq!(map["assignment"]["bron"], Value::Null);
    assert_eq!(map["assignment"]["bronc"], "yes");
}

#[test]
fn sample_then_learn_recovers_the_tables() {
    let net = asia();
    let csv = scratch("asia-samples.csv");
    let learned = scratch("asia-learned.bif");
    let net = net.to_str().unwrap();
    succeeds(&[
        "bn",
        "sample",
        net,
        "-n",
        "20000",
        "--seed",
        "3",
        "--out",
        csv.to_str().unwrap(),
    ]);
    let again = succeeds(&["bn", "sample", net, "-n", "20000", "--seed", "3"]);
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        again.stdout,
        "same seed, same samples"
    );
    let (csv, learned) = (csv.to_str().unwrap(), learned.to_str().unwrap());
    succeeds(&[
        "bn", "learn", net, "--data", csv, "--prior", "bdeu:1", "--out", learned,
    ]);
    let v = ok_json(&["bn", "query", learned, "--target", "bronc", "--json"]);
    // P(bronc=yes) = 0.5 * 0.6 + 0.5 * 0.3 = 0.45.
    assert!((v["marginals"]["bronc"]["yes"].as_f64().unwrap() - 0.45).abs() < 0.02);
}

#[test]
fn user_mistakes_are_clear_errors() {
    let net = asia();
    let net = net.to_str().unwrap();
    assert!(fails(&["bn", "query", net, "--target", "lungs"]).contains("unknown variable `lungs`"));
    let e = fails(&["bn", "query", net, "--evidence", "xray=maybe"]);
    assert!(
        e.contains("`xray` has no state `maybe`") && e.contains("yes, no"),
        "{e}"
    );
    assert!(fails(&["bn", "query", net, "--evidence", "xray"]).contains("expected VAR=STATE"));
    let e = fails(&["bn", "query", net, "--evidence", "either=no", "lung=yes"]);
    assert!(e.contains("impossible") && e.contains("either=no"), "{e}");
    assert!(fails(&["bn", "counterfactual", net, "--target", "lung"]).contains("--do"));
    assert!(fails(&["bn", "info", "no/such/file.bif"]).contains("no/such/file.bif"));

    let cyclic = scratch("cyclic.bif");
    std::fs::write(
        &cyclic,
        "network c {}\nvariable a { type discrete [ 2 ] { y, n }; }\nvariable b { type discrete [ 2 ] { y, n }; }\n\
         probability ( a | b ) { (y) 0.5, 0.5; (n) 0.5, 0.5; }\nprobability ( b | a ) { (y) 0.5, 0.5; (n) 0.5, 0.5; }\n",
    )
    .unwrap();
    let e = fails(&["bn", "info", cyclic.to_str().unwrap()]);
    assert!(
        e.contains("not acyclic") && (e.contains("a -> b -> a") || e.contains("b -> a -> b")),
        "{e}"
    );

    let bad_row = scratch("bad-row.bif");
    std::fs::write(&bad_row, ASIA.replace("(yes) 0.6, 0.4;", "(yes) 0.6, 0.5;")).unwrap();
    let e = fails(&["bn", "query", bad_row.to_str().unwrap()]);
    assert!(
        e.contains("bad-row.bif") && e.contains("bronc") && e.contains("(yes)"),
        "{e}"
    );
}

/// `bench bn --json` keeps the shape `bench/bn/report.py` reads (timings are not checked).
#[test]
fn bench_bn_json_contract() {
    let net = asia();
    let spec = scratch("bench-spec.json");
    std::fs::write(
        &spec,
        r#"{"networks": [{"name": "asia", "evidence": {"xray": "yes", "dysp": "yes"}, "target": "lung"}]}"#,
    )
    .unwrap();
    let dir = net.parent().unwrap().to_str().unwrap();
    let v = ok_json(&[
        "bench",
        "bn",
        "--spec",
        spec.to_str().unwrap(),
        "--data-dir",
        dir,
        "--repeats",
        "2",
        "--json",
    ]);
    let result = &v["results"][0];
    assert_eq!(result["network"], "asia");
    assert_eq!(result["engine"], "causalgen");
    assert_eq!(result["nodes"], 8);
    assert_eq!(result["posterior_ms"].as_array().unwrap().len(), 2);
    assert_eq!(result["all_marginals_ms"].as_array().unwrap().len(), 2);
    assert!((result["posterior"]["yes"].as_f64().unwrap() - 0.6212527966776288).abs() < 1e-12);
    let e = fails(&[
        "bench",
        "bn",
        "--spec",
        spec.to_str().unwrap(),
        "--data-dir",
        "no/such/dir",
    ]);
    assert!(e.contains("asia.bif") && e.contains("fetch-bnlearn"), "{e}");
}
