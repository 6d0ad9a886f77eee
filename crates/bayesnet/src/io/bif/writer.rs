//! Writes a network as BIF in the bnlearn layout, so other tools (bnlearn, pgmpy) read it
//! and our reader gives back the identical network.
//!
//! Parented tables are written as one labelled row per parent configuration (row-major:
//! first parent slowest), never as `table`, so no reader has to guess the `table` order.
//! Probabilities use Rust's shortest round-trip formatting (`{:?}`, e.g. `0.1`, `1.0`,
//! `1e-7`), which parses back bit-for-bit. Names that would not survive tokenizing
//! (empty, or containing whitespace, punctuation `{}()[];,|`, quotes or comment markers)
//! are double-quoted with `\"` and `\\` escapes.

use std::fmt::Write;

use crate::network::Network;

/// Renders `net` as BIF text.
pub(crate) fn write(net: &Network) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "network {} {{\n}}", quote(net.name()));
    for var in net.variables() {
        let states: Vec<String> = var.states.iter().map(|s| quote(s)).collect();
        let _ = writeln!(
            out,
            "variable {} {{\n  type discrete [ {} ] {{ {} }};\n}}",
            quote(&var.name),
            var.states.len(),
            states.join(", ")
        );
    }
    for v in net.ids() {
        let cpt = net.cpt(v);
        let card = net.card(v);
        let child = quote(&net.variable(v).name);
        if cpt.parents.is_empty() {
            let _ = writeln!(
                out,
                "probability ( {child} ) {{\n  table {};\n}}",
                numbers(&cpt.table)
            );
            continue;
        }
        let parents: Vec<String> = cpt
            .parents
            .iter()
            .map(|&p| quote(&net.variable(p).name))
            .collect();
        let _ = writeln!(out, "probability ( {child} | {} ) {{", parents.join(", "));
        let cards: Vec<usize> = cpt.parents.iter().map(|&p| net.card(p)).collect();
        let mut config = vec![0usize; cards.len()];
        for row in cpt.table.chunks(card) {
            let labels: Vec<String> = cpt
                .parents
                .iter()
                .zip(&config)
                .map(|(&p, &s)| quote(&net.variable(p).states[s]))
                .collect();
            let _ = writeln!(out, "  ({}) {};", labels.join(", "), numbers(row));
            // Odometer, last parent fastest.
            for i in (0..config.len()).rev() {
                config[i] += 1;
                if config[i] < cards[i] {
                    break;
                }
                config[i] = 0;
            }
        }
        out.push_str("}\n");
    }
    out
}

fn numbers(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|x| format!("{x:?}")).collect();
    parts.join(", ")
}

/// The name as a BIF word, quoted when the bare form would tokenize differently.
fn quote(name: &str) -> String {
    let plain = !name.is_empty()
        && !name.contains("//")
        && !name.contains("/*")
        && !name.chars().any(|c| {
            c.is_whitespace()
                || matches!(c, '{' | '}' | '(' | ')' | '[' | ']' | ';' | ',' | '|' | '"')
        });
    if plain {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_only_where_needed() {
        assert_eq!(quote("Asy/Patch"), "Asy/Patch");
        assert_eq!(quote(">=7.5"), ">=7.5");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("x,y"), "\"x,y\"");
        assert_eq!(quote("q\"\\"), "\"q\\\"\\\\\"");
        assert_eq!(quote("a//b"), "\"a//b\"");
    }
}
