//! Printing answers: the stable JSON contract other tools parse, and readable tables.

use bayesnet::{Answer, Assignment, Explanation, Network};
use serde_json::{json, Map, Value};

/// `{"evidence_probability": p, "marginals": {"VAR": {"STATE": p, ...}, ...}}`.
pub fn answer_json(net: &Network, answer: &Answer) -> Value {
    let marginals: Map<String, Value> = answer
        .marginals
        .iter()
        .map(|(v, dist)| {
            let var = net.variable(*v);
            let states: Map<String, Value> = var
                .states
                .iter()
                .zip(dist)
                .map(|(s, p)| (s.clone(), json!(p)))
                .collect();
            (var.name.clone(), Value::Object(states))
        })
        .collect();
    json!({ "evidence_probability": answer.evidence_probability, "marginals": marginals })
}

/// `{"assignment": {"VAR": "STATE", ...}, "probability": p}`.
pub fn explanation_json(net: &Network, found: &Explanation) -> Value {
    json!({ "assignment": assignment_json(net, &found.assignment), "probability": found.probability })
}

/// `{"VAR": "STATE", ...}`.
pub fn assignment_json(net: &Network, assignment: &Assignment) -> Value {
    let map: Map<String, Value> = assignment
        .iter()
        .map(|(v, &s)| {
            let var = net.variable(*v);
            (var.name.clone(), json!(var.states[s]))
        })
        .collect();
    Value::Object(map)
}

/// One block per target: state, probability, and a bar for a quick read.
pub fn answer_table(net: &Network, answer: &Answer) -> String {
    let mut out = format!("P(evidence) = {}\n", fmt_p(answer.evidence_probability));
    for (v, dist) in &answer.marginals {
        let var = net.variable(*v);
        let width = var.states.iter().map(String::len).max().unwrap_or(0);
        out.push_str(&format!("\n{}\n", var.name));
        for (s, p) in var.states.iter().zip(dist) {
            let bar = "#".repeat((p * 40.0).round() as usize);
            out.push_str(&format!("  {s:<width$}  {}  {bar}\n", fmt_p(*p)));
        }
    }
    out
}

/// The assignment as aligned `VAR = STATE` lines with its probability.
pub fn explanation_table(net: &Network, found: &Explanation, what: &str) -> String {
    let width = found
        .assignment
        .keys()
        .map(|v| net.variable(*v).name.len())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "{what}: P(assignment, evidence) = {}\n",
        fmt_p(found.probability)
    );
    for (v, &s) in &found.assignment {
        let var = net.variable(*v);
        out.push_str(&format!("  {:<width$} = {}\n", var.name, var.states[s]));
    }
    out
}

/// Probabilities with enough digits to compare, without drowning the table.
pub fn fmt_p(p: f64) -> String {
    if p != 0.0 && p.abs() < 1e-4 {
        format!("{p:.6e}")
    } else {
        format!("{p:.6}")
    }
}
