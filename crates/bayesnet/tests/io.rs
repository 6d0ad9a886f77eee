//! File formats and parameter learning, end to end: the real bnlearn networks parse to the
//! right shapes and numbers and round-trip bit-for-bit through BIF and JSON; malformed
//! files are rejected with the file, line and variable; CSV data is read and written; and
//! learning from a large forward sample recovers the generating CPTs.

use std::path::{Path, PathBuf};

use bayesnet::{
    learn_parameters, network_from_json, network_to_json, parse_bif, parse_dataset, read_bif,
    read_dataset, read_network, samples_to_csv, write_bif, write_bif_file, write_network,
    write_samples_csv, Assignment, Dataset, Network, Prior,
};

/// The shared bnlearn files, or `None` (with a message) when this checkout lacks them.
fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bnlearn");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: bnlearn data directory {} not found",
            dir.display()
        );
        None
    }
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bayesnet-io-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Same names, states, parents and bit-identical tables.
fn assert_identical(a: &Network, b: &Network) {
    let (an, av, ac) = a.to_parts();
    let (bn, bv, bc) = b.to_parts();
    assert_eq!(an, bn);
    assert_eq!(av, bv);
    assert_eq!(ac.len(), bc.len());
    for (i, (x, y)) in ac.iter().zip(&bc).enumerate() {
        assert_eq!(x.parents, y.parents, "parents of {}", av[i].name);
        let xb: Vec<u64> = x.table.iter().map(|v| v.to_bits()).collect();
        let yb: Vec<u64> = y.table.iter().map(|v| v.to_bits()).collect();
        assert_eq!(xb, yb, "table of {}", av[i].name);
    }
}

/// The row of `child`'s CPT for the given parent state labels (in CPT parent order).
fn row(net: &Network, child: &str, parent_states: &[&str]) -> Vec<f64> {
    let v = net.var(child).unwrap();
    let r = net
        .parents(v)
        .iter()
        .zip(parent_states)
        .fold(0, |acc, (&p, s)| {
            acc * net.card(p) + net.state(p, s).unwrap()
        });
    let card = net.card(v);
    net.cpt(v).table[r * card..(r + 1) * card].to_vec()
}

const FILES: [(&str, usize); 5] = [
    ("asia", 8),
    ("sachs", 11),
    ("child", 20),
    ("insurance", 27),
    ("alarm", 37),
];

#[test]
fn real_networks_have_the_expected_shape() {
    let Some(dir) = data_dir() else { return };
    for (name, count) in FILES {
        let net = read_bif(&dir.join(format!("{name}.bif"))).unwrap();
        assert_eq!(net.len(), count, "{name}");
    }
}

#[test]
fn real_networks_have_the_expected_numbers() {
    let Some(dir) = data_dir() else { return };
    let asia = read_bif(&dir.join("asia.bif")).unwrap();
    let either = asia.var("either").unwrap();
    let names: Vec<&str> = asia
        .parents(either)
        .iter()
        .map(|&p| asia.variable(p).name.as_str())
        .collect();
    assert_eq!(names, ["lung", "tub"]);
    assert_eq!(row(&asia, "either", &["no", "yes"]), [1.0, 0.0]);
    assert_eq!(row(&asia, "either", &["no", "no"]), [0.0, 1.0]);
    assert_eq!(row(&asia, "dysp", &["no", "yes"]), [0.7, 0.3]);
    assert_eq!(row(&asia, "asia", &[]), [0.01, 0.99]);

    let child = read_bif(&dir.join("child.bif")).unwrap();
    let cx = child.var("ChestXray").unwrap();
    assert_eq!(child.variable(cx).states[4], "Asy/Patch");
    assert_eq!(
        child.variable(child.var("XrayReport").unwrap()).states[4],
        "Asy/Patchy"
    );
    assert_eq!(
        child.variable(child.var("LowerBodyO2").unwrap()).states,
        ["<5", "5-12", "12+"]
    );
    assert_eq!(
        child.variable(child.var("CO2Report").unwrap()).states,
        ["<7.5", ">=7.5"]
    );
    assert_eq!(
        child.variable(child.var("CardiacMixing").unwrap()).states[3],
        "Transp."
    );
    assert_eq!(
        row(&child, "ChestXray", &["Congested", "Low"]),
        [0.05, 0.22, 0.08, 0.50, 0.15]
    );
    assert_eq!(
        row(&child, "Disease", &["no"]),
        [0.03061224, 0.33673469, 0.29591837, 0.23469388, 0.05102041, 0.05102041]
    );

    let alarm = read_bif(&dir.join("alarm.bif")).unwrap();
    assert_eq!(
        row(&alarm, "HREKG", &["FALSE", "NORMAL"]),
        [0.98, 0.01, 0.01]
    );
    assert_eq!(row(&alarm, "HISTORY", &["FALSE"]), [0.01, 0.99]);
    // Rows like `0.3333333, 0.3333333, 0.3333333` are renormalised and noted.
    assert!(
        alarm.notes().iter().any(|n| n.contains("HREKG")),
        "{:?}",
        alarm.notes()
    );

    let sachs = read_bif(&dir.join("sachs.bif")).unwrap();
    assert_eq!(
        row(&sachs, "Erk", &["HIGH", "LOW"]),
        [0.008682883, 0.187958884, 0.803358233]
    );

    let insurance = read_bif(&dir.join("insurance.bif")).unwrap();
    assert_eq!(row(&insurance, "Age", &[]), [0.2, 0.6, 0.2]);
}

#[test]
fn real_networks_round_trip_through_bif_and_json() {
    let Some(dir) = data_dir() else { return };
    let out = scratch("roundtrip");
    for (name, _) in FILES {
        let net = read_bif(&dir.join(format!("{name}.bif"))).unwrap();
        let text = write_bif(&net);
        assert_identical(&net, &parse_bif(&text, "written.bif").unwrap());
        // Writing what we read back gives the same text again.
        assert_eq!(write_bif(&parse_bif(&text, "written.bif").unwrap()), text);
        assert_identical(
            &net,
            &network_from_json(&network_to_json(&net), "x.json").unwrap(),
        );

        let bif = out.join(format!("{name}.bif"));
        write_bif_file(&net, &bif).unwrap();
        assert_identical(&net, &read_network(&bif).unwrap());
        let json = out.join(format!("{name}.json"));
        write_network(&net, &json).unwrap();
        assert_identical(&net, &read_network(&json).unwrap());
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_edited_real_file_reports_the_edited_line() {
    let Some(dir) = data_dir() else { return };
    let text = std::fs::read_to_string(dir.join("asia.bif")).unwrap();
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim() == "(no, yes) 1.0, 0.0;")
        .unwrap();
    let broken = text.replacen(line, "  (no, maybe) 1.0, 0.0;", 1);
    let e = parse_bif(&broken, "asia.bif").unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "asia.bif:{}: probability of `either`, row (no, maybe): `maybe` is not a state of parent `tub` (its states are: yes, no)",
            n + 1
        )
    );
}

// ---------------------------------------------------------------- malformed files ----

const HEADER: &str = "network test {\n}\n\
variable a {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable b {\n  type discrete [ 3 ] { <5, 5-12, 12+ };\n}\n";
// Lines 1-8 are the header; probability blocks start on line 9.

fn parse_err(body: &str) -> String {
    parse_bif(&format!("{HEADER}{body}"), "bad.bif")
        .unwrap_err()
        .to_string()
}

fn assert_err(body: &str, line: usize, parts: &[&str]) {
    let e = parse_err(body);
    let prefix = format!("bad.bif:{line}: ");
    assert!(e.starts_with(&prefix), "expected `{prefix}...`, got: {e}");
    for p in parts {
        assert!(e.contains(p), "`{p}` missing from: {e}");
    }
}

const A_OK: &str = "probability ( a ) {\n  table 0.3, 0.7;\n}\n";

#[test]
fn unknown_parent() {
    let body = format!("{A_OK}probability ( b | a, zz ) {{\n  default 0.2, 0.3, 0.5;\n}}\n");
    assert_err(&body, 12, &["`b`", "unknown parent `zz`"]);
}

#[test]
fn unknown_state_label_in_a_row() {
    let body = format!(
        "{A_OK}probability ( b | a ) {{\n  (yes) 0.2, 0.3, 0.5;\n  (maybe) 0.2, 0.3, 0.5;\n}}\n"
    );
    assert_err(
        &body,
        14,
        &[
            "`b`",
            "row (maybe)",
            "`maybe` is not a state of parent `a`",
            "yes, no",
        ],
    );
}

#[test]
fn wrong_number_of_values_in_a_row() {
    let body =
        format!("{A_OK}probability ( b | a ) {{\n  (yes) 0.2, 0.3, 0.5;\n  (no) 0.5, 0.5;\n}}\n");
    assert_err(
        &body,
        14,
        &[
            "`b`",
            "row (no)",
            "has 2 values, expected 3",
            "<5, 5-12, 12+",
        ],
    );
    let body = format!("{A_OK}probability ( b | a ) {{\n  (yes, no) 0.2, 0.3, 0.5;\n}}\n");
    assert_err(
        &body,
        13,
        &["`b`", "row (yes, no)", "names 2 states, expected 1"],
    );
    let body = "probability ( a ) {\n  table 0.3, 0.3, 0.4;\n}\n";
    assert_err(body, 10, &["`a`", "`table` has 3 values, expected 2"]);
}

#[test]
fn duplicate_variable() {
    let body = "variable a {\n  type discrete [ 2 ] { x, y };\n}\n";
    assert_err(body, 9, &["`a`", "declared twice", "first on line 3"]);
}

#[test]
fn probability_block_for_an_undeclared_variable() {
    let body = format!("{A_OK}probability ( c | a ) {{\n  default 0.5, 0.5;\n}}\n");
    assert_err(&body, 12, &["`c`", "not declared"]);
}

#[test]
fn missing_probability_block() {
    assert_err(A_OK, 6, &["`b`", "no probability block"]);
}

#[test]
fn missing_and_duplicate_rows() {
    let body = format!("{A_OK}probability ( b | a ) {{\n  (no) 0.2, 0.3, 0.5;\n}}\n");
    assert_err(&body, 12, &["`b`", "no row for (yes)", "no `default`"]);
    let body = format!(
        "{A_OK}probability ( b | a ) {{\n  (no) 0.2, 0.3, 0.5;\n  (yes) 0.2, 0.3, 0.5;\n  (no) 0.1, 0.1, 0.8;\n}}\n"
    );
    assert_err(&body, 15, &["`b`", "row (no) is given twice", "line 13"]);
    let body = "probability ( a | b ) {\n  (<5) 0.5, 0.5;\n}\nprobability ( b ) {\n  table 0.2, 0.3, 0.5;\n}\n";
    assert_err(body, 9, &["`a`", "no row for (5-12)", "and 1 more"]);
}

#[test]
fn row_sums_are_reported_at_the_row() {
    let body = format!(
        "{A_OK}probability ( b | a ) {{\n  (yes) 0.2, 0.3, 0.5;\n  (no) 0.2, 0.3, 0.6;\n}}\n"
    );
    assert_err(&body, 14, &["`b`", "row (no)", "1.1"]);
    // Through `default`, the error points at the `default` line.
    let body = format!(
        "{A_OK}probability ( b | a ) {{\n  (yes) 0.2, 0.3, 0.5;\n  default 0.9, 0.9, 0.9;\n}}\n"
    );
    assert_err(&body, 14, &["`b`", "row (no)"]);
    let b_ok = "probability ( b ) {\n  table 0.2, 0.3, 0.5;\n}\n";
    let body = format!("probability ( a ) {{\n  table 0.3, 0.8;\n}}\n{b_ok}");
    assert_err(&body, 10, &["`a`", "sum to 1.1"]);
    let body = format!("probability ( a ) {{\n  table -0.1, 1.1;\n}}\n{b_ok}");
    assert_err(&body, 10, &["`a`", "-0.1"]);
}

#[test]
fn cycles_are_reported_at_a_block_of_the_cycle() {
    let body = "probability ( a | b ) {\n  default 0.5, 0.5;\n}\nprobability ( b | a ) {\n  default 0.2, 0.3, 0.5;\n}\n";
    let e = parse_err(body);
    assert!(
        e.starts_with("bad.bif:9: ") || e.starts_with("bad.bif:12: "),
        "{e}"
    );
    assert!(e.contains("not acyclic"), "{e}");
}

#[test]
fn syntax_errors_are_located() {
    assert_err(
        "probability ( a ) {\n  table 0.3 0.7\n}\n",
        11,
        &["`a`", "`}`"],
    );
    assert_err(
        "probability ( a ) {\n  table 0.3, zero;\n}\n",
        10,
        &["`a`", "`zero` is not a number"],
    );
    assert_err(
        "probability ( a ) {\n  blah 0.3;\n}\n",
        10,
        &["`a`", "`blah`"],
    );
    let e = parse_bif("variable a {\n  type continuous;\n}\n", "bad.bif")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("bad.bif:2: ") && e.contains("only `discrete`"),
        "{e}"
    );
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let text = format!("\u{feff}{HEADER}{A_OK}probability ( b ) {{\n  table 0.2, 0.3, 0.5;\n}}\n")
        .replace('\n', "\r\n");
    let net = parse_bif(&text, "dos.bif").unwrap();
    assert_eq!(net.len(), 2);
    let e = parse_bif(&text.replace("0.7", "0.8"), "dos.bif")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("dos.bif:10: "), "{e}");
}

#[test]
fn rows_in_any_order_default_and_numbers() {
    let body = format!(
        "{A_OK}probability ( b | a ) {{\n  (no) 1e-01, .2, 7E-1;\n  default 0.2, 0.3, 0.5;\n}}\n"
    );
    let net = parse_bif(&format!("{HEADER}{body}"), "ok.bif").unwrap();
    assert_eq!(row(&net, "b", &["yes"]), [0.2, 0.3, 0.5]);
    assert_eq!(row(&net, "b", &["no"]), [0.1, 0.2, 0.7]);
}

/// `table` in a block with parents lists the child's state slowest (JavaBayes / pgmpy).
#[test]
fn parented_table_lists_the_child_slowest() {
    let text = r#"
        // The JavaBayes dog problem, in its own dialect.
        network "Dog-Problem" { }
        variable "family-out" { type discrete[2] { "true" "false" }; }
        variable "bowel-problem" { type discrete[2] { "true" "false" }; }
        variable "dog-out" { type discrete[2] { "true" "false" }; }
        variable "light-on" { type discrete[2] { "true" "false" }; }
        probability ( "family-out" ) { table 0.15 0.85 ; }
        probability ( "bowel-problem" ) { table 0.01 0.99 ; }
        probability ( "light-on" "family-out" ) { table 0.6 0.05 0.4 0.95 ; }
        probability ( "dog-out" "bowel-problem" "family-out" ) {
            table 0.99 0.97 0.9 0.3 0.01 0.03 0.1 0.7 ;
        }"#;
    let net = parse_bif(text, "dog.bif").unwrap();
    assert_eq!(net.name(), "Dog-Problem");
    assert_eq!(row(&net, "light-on", &["true"]), [0.6, 0.4]);
    assert_eq!(row(&net, "light-on", &["false"]), [0.05, 0.95]);
    // Parents in declared order (bowel-problem, family-out); Charniak's numbers.
    assert_eq!(row(&net, "dog-out", &["true", "true"]), [0.99, 0.01]);
    assert_eq!(row(&net, "dog-out", &["true", "false"]), [0.97, 0.03]);
    assert_eq!(row(&net, "dog-out", &["false", "true"]), [0.9, 0.1]);
    assert_eq!(row(&net, "dog-out", &["false", "false"]), [0.3, 0.7]);
    assert_identical(&net, &parse_bif(&write_bif(&net), "dog.bif").unwrap());
}

#[test]
fn awkward_names_round_trip() {
    let text = "network \"my net\" {}\n\
        variable \"a b\" { type discrete [ 2 ] { \"x,y\", \"q\\\"uote\" }; }\n\
        variable c { type discrete [ 1 ] { only }; }\n\
        probability ( \"a b\" ) { table 1e-300, 1; }\n\
        probability ( c | \"a b\" ) { default 1; }\n";
    let net = parse_bif(text, "odd.bif").unwrap();
    assert_eq!(net.name(), "my net");
    assert_eq!(
        net.variable(net.var("a b").unwrap()).states,
        ["x,y", "q\"uote"]
    );
    assert_identical(&net, &parse_bif(&write_bif(&net), "odd.bif").unwrap());
    assert_identical(
        &net,
        &network_from_json(&network_to_json(&net), "odd.json").unwrap(),
    );
}

// ------------------------------------------------------------------ data and learning ----

const ASIA: &str = "network unknown {\n}\n\
variable asia {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable tub {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable smoke {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable lung {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable bronc {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable either {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable xray {\n  type discrete [ 2 ] { yes, no };\n}\n\
variable dysp {\n  type discrete [ 2 ] { yes, no };\n}\n\
probability ( asia ) {\n  table 0.01, 0.99;\n}\n\
probability ( tub | asia ) {\n  (yes) 0.05, 0.95;\n  (no) 0.01, 0.99;\n}\n\
probability ( smoke ) {\n  table 0.5, 0.5;\n}\n\
probability ( lung | smoke ) {\n  (yes) 0.1, 0.9;\n  (no) 0.01, 0.99;\n}\n\
probability ( bronc | smoke ) {\n  (yes) 0.6, 0.4;\n  (no) 0.3, 0.7;\n}\n\
probability ( either | lung, tub ) {\n  (yes, yes) 1.0, 0.0;\n  (no, yes) 1.0, 0.0;\n  (yes, no) 1.0, 0.0;\n  (no, no) 0.0, 1.0;\n}\n\
probability ( xray | either ) {\n  (yes) 0.98, 0.02;\n  (no) 0.05, 0.95;\n}\n\
probability ( dysp | bronc, either ) {\n  (yes, yes) 0.9, 0.1;\n  (no, yes) 0.7, 0.3;\n  (yes, no) 0.8, 0.2;\n  (no, no) 0.1, 0.9;\n}\n";

#[test]
fn learning_from_a_forward_sample_recovers_asia() {
    let asia = parse_bif(ASIA, "asia.bif").unwrap();
    let samples =
        bayesnet::sampling::sample(&asia, 200_000, &Assignment::new(), &Assignment::new(), 7)
            .unwrap();
    // Through CSV and back, as a user would: header in network order, labels in cells.
    let csv = samples_to_csv(&asia, &samples).unwrap();
    assert!(csv.starts_with("asia,tub,smoke,lung,bronc,either,xray,dysp\n"));
    let data = parse_dataset(&csv, "samples.csv", &asia).unwrap();
    assert_eq!(data.rows(), samples.as_slice());
    for prior in [Prior::None, Prior::BDeu(1.0)] {
        let learned = learn_parameters(&asia, &data, prior).unwrap();
        for v in asia.ids() {
            assert_eq!(learned.parents(v), asia.parents(v));
            for (i, (x, y)) in learned
                .cpt(v)
                .table
                .iter()
                .zip(&asia.cpt(v).table)
                .enumerate()
            {
                assert!(
                    (x - y).abs() < 0.02,
                    "{prior}: {} entry {i}: learned {x}, true {y}",
                    asia.variable(v).name
                );
            }
        }
    }
}

#[test]
fn datasets_and_samples_on_disk() {
    let asia = parse_bif(ASIA, "asia.bif").unwrap();
    let dir = scratch("data");
    let samples =
        bayesnet::sampling::sample(&asia, 50, &Assignment::new(), &Assignment::new(), 1).unwrap();
    let path = dir.join("samples.csv");
    write_samples_csv(&asia, &samples, &path).unwrap();
    assert_eq!(
        read_dataset(&path, &asia).unwrap(),
        Dataset::new(&asia, samples).unwrap()
    );

    // Columns in another order, one bad cell on line 3 (the header is line 1).
    let shuffled = dir.join("shuffled.csv");
    std::fs::write(
        &shuffled,
        "dysp,xray,either,bronc,lung,smoke,tub,asia\n\
        yes,no,no,yes,no,yes,no,no\n\
        yes,no,no,yes,no,often,no,no\n",
    )
    .unwrap();
    let e = read_dataset(&shuffled, &asia).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}:3: column `smoke`: unknown state `often`; the states of `smoke` are: yes, no",
            shuffled.display()
        )
    );
    std::fs::write(
        &shuffled,
        "dysp,xray,either,bronc,lung,smoke,tub,asia,age\nyes,no,no,yes,no,yes,no,no,3\n",
    )
    .unwrap();
    let e = read_dataset(&shuffled, &asia).unwrap_err().to_string();
    assert!(e.contains(":1: ") && e.contains("`age`"), "{e}");
    std::fs::write(&shuffled, "xray,either,bronc,lung,smoke,tub,asia\n").unwrap();
    let e = read_dataset(&shuffled, &asia).unwrap_err().to_string();
    assert!(
        e.contains(":1: ") && e.contains("`dysp` have no column"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
