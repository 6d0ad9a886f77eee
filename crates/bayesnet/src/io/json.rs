//! Our own JSON form of a network, for tools that would rather not parse BIF:
//!
//! ```json
//! {"name": "rain", "variables": [
//!   {"name": "rain", "states": ["yes", "no"], "parents": [], "table": [0.2, 0.8]},
//!   {"name": "wet", "states": ["yes", "no"], "parents": ["rain"], "table": [0.9, 0.1, 0.1, 0.9]}
//! ]}
//! ```
//!
//! `table` has the [`crate::Cpt`] layout: parent configurations row-major in the listed
//! parent order (first parent slowest), the child's state fastest. `parents` may be
//! omitted for a root. Variables may be listed in any order. Numbers are written in
//! shortest round-trip form and parsed exactly, so a round trip is bit-for-bit.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::network::{Cpt, Network, VarId, Variable};

use super::atomic::write_atomically;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonNetwork {
    name: String,
    variables: Vec<JsonVariable>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonVariable {
    name: String,
    states: Vec<String>,
    #[serde(default)]
    parents: Vec<String>,
    table: Vec<f64>,
}

/// Renders `net` as pretty-printed JSON that [`network_from_json`] reads back identically.
pub fn network_to_json(net: &Network) -> String {
    let doc = JsonNetwork {
        name: net.name().to_string(),
        variables: net
            .ids()
            .map(|v| JsonVariable {
                name: net.variable(v).name.clone(),
                states: net.variable(v).states.clone(),
                parents: net
                    .parents(v)
                    .iter()
                    .map(|&p| net.variable(p).name.clone())
                    .collect(),
                table: net.cpt(v).table.clone(),
            })
            .collect(),
    };
    // Plain structs of strings and finite numbers always serialize; a NaN (impossible in a
    // validated network) would become `null` rather than a panic.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Parses the JSON form. `source` names the input in errors: syntax and shape errors
/// carry its line; errors in meaning (unknown parent, bad table) name the variable.
pub fn network_from_json(text: &str, source: &str) -> Result<Network> {
    let doc: JsonNetwork = serde_json::from_str(text).map_err(|e| Error::Parse {
        file: source.to_string(),
        line: e.line().max(1),
        message: e.to_string(),
    })?;
    let data_err = |message: String| Error::Data {
        path: source.to_string(),
        message,
    };
    let mut index = HashMap::with_capacity(doc.variables.len());
    for (i, v) in doc.variables.iter().enumerate() {
        if index.insert(v.name.as_str(), VarId(i)).is_some() {
            return Err(data_err(format!("variable `{}` is listed twice", v.name)));
        }
    }
    let mut cpts = Vec::with_capacity(doc.variables.len());
    for v in &doc.variables {
        let parents =
            v.parents
                .iter()
                .map(|p| {
                    index.get(p.as_str()).copied().ok_or_else(|| {
                        data_err(format!("variable `{}`: unknown parent `{p}`", v.name))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        cpts.push(Cpt {
            parents,
            table: v.table.clone(),
        });
    }
    let variables = doc
        .variables
        .into_iter()
        .map(|v| Variable {
            name: v.name,
            states: v.states,
        })
        .collect();
    Network::new(doc.name, variables, cpts).map_err(|e| data_err(e.to_string()))
}

/// Reads a JSON network file.
pub fn read_json(path: &Path) -> Result<Network> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    network_from_json(&text, &path.display().to_string())
}

/// Writes `net` as JSON to `path` atomically (temporary file and rename).
pub fn write_json_file(net: &Network, path: &Path) -> Result<()> {
    let mut text = network_to_json(net);
    text.push('\n');
    write_atomically(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;

    fn rain() -> Network {
        let mut b = NetworkBuilder::new("rain");
        b.variable("rain", &["yes", "no"]).unwrap();
        b.variable("wet", &["yes", "no"]).unwrap();
        b.cpt("rain", &[], &[0.2, 0.8]).unwrap();
        b.cpt("wet", &["rain"], &[0.9, 0.1, 0.1, 0.9]).unwrap();
        b.build().unwrap()
    }

    #[test]
    fn round_trip() {
        let net = rain();
        let back = network_from_json(&network_to_json(&net), "x.json").unwrap();
        assert_eq!(back.to_parts(), net.to_parts());
    }

    #[test]
    fn children_may_come_first_and_parents_default_to_none() {
        let text = r#"{"name": "n", "variables": [
            {"name": "b", "states": ["0", "1"], "parents": ["a"], "table": [0.5, 0.5, 0.1, 0.9]},
            {"name": "a", "states": ["0", "1"], "table": [0.3, 0.7]}]}"#;
        let net = network_from_json(text, "x.json").unwrap();
        assert_eq!(net.topological_order(), &[VarId(1), VarId(0)]);
    }

    #[test]
    fn errors_name_the_source() {
        let e = network_from_json(
            "{\"name\": \"n\",\n \"variables\": [ {\"name\": 3} ]}",
            "x.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("x.json:2:"), "{e}");
        let text = r#"{"name": "n", "variables": [{"name": "a", "states": ["0"], "parents": ["zz"], "table": [1]}]}"#;
        let e = network_from_json(text, "x.json").unwrap_err().to_string();
        assert_eq!(e, "x.json: variable `a`: unknown parent `zz`");
        let text = r#"{"name": "n", "variables": [{"name": "a", "states": ["0", "1"], "table": [0.5, 0.6]}]}"#;
        let e = network_from_json(text, "x.json").unwrap_err().to_string();
        assert!(
            e.starts_with("x.json: table of `a`") && e.contains("1.1"),
            "{e}"
        );
        let text = r#"{"name": "n", "variables": [], "extra": 1}"#;
        let e = network_from_json(text, "x.json").unwrap_err().to_string();
        assert!(e.contains("extra"), "{e}");
    }
}
