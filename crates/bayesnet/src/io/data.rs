//! Complete data sets as CSV: one column per network variable, one record per row, each
//! cell a state *label*. Reading checks the header against the network and every cell
//! against its variable's states, so learning never sees an index it cannot interpret;
//! writing produces the same layout, for samples or for other tools.
//!
//! Cells are trimmed of surrounding whitespace; blank lines are skipped. Columns may come
//! in any order, but every network variable must have exactly one column and no other
//! column may appear (a misspelt header would otherwise silently drop data).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::network::Network;

use super::atomic::write_atomically;

/// Complete observations: every row holds one state index per network variable, indexed
/// by [`crate::VarId`] (the same layout as a full sample). Built only through checks, so
/// every index is in range for the network it was built against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    cards: Vec<usize>,
    rows: Vec<Vec<usize>>,
}

impl Dataset {
    /// Wraps full assignments (`rows[i][v.index()]` = state of `v`), checking each row's
    /// length and every state against `net`.
    pub fn new(net: &Network, rows: Vec<Vec<usize>>) -> Result<Self> {
        let cards: Vec<usize> = net.ids().map(|v| net.card(v)).collect();
        check_rows(net, &rows, "dataset")?;
        Ok(Self { cards, rows })
    }

    /// The rows, each indexed by [`crate::VarId`].
    pub fn rows(&self) -> &[Vec<usize>] {
        &self.rows
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of states of each variable of the network the data was checked against;
    /// learning uses it to refuse data meant for another network.
    pub fn cards(&self) -> &[usize] {
        &self.cards
    }

    /// Moves the rows out.
    pub fn into_rows(self) -> Vec<Vec<usize>> {
        self.rows
    }
}

/// Checks that every row is a full assignment of `net`; `what` names the data in errors.
fn check_rows(net: &Network, rows: &[Vec<usize>], what: &str) -> Result<()> {
    for (i, row) in rows.iter().enumerate() {
        if row.len() != net.len() {
            return Err(Error::Data {
                path: what.to_string(),
                message: format!(
                    "row {} has {} values, expected {} (one per variable of `{}`)",
                    i + 1,
                    row.len(),
                    net.len(),
                    net.name()
                ),
            });
        }
        for v in net.ids() {
            if row[v.index()] >= net.card(v) {
                return Err(Error::Data {
                    path: what.to_string(),
                    message: format!(
                        "row {}: state index {} of `{}` is out of range (it has {} states)",
                        i + 1,
                        row[v.index()],
                        net.variable(v).name,
                        net.card(v)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Parses CSV text into a [`Dataset`] for `net`. `source` names the input in errors,
/// which carry the 1-based line (the header is line 1).
pub fn parse_dataset(text: &str, source: &str, net: &Network) -> Result<Dataset> {
    let err = |line: u64, message: String| Error::Parse {
        file: source.to_string(),
        line: usize::try_from(line).unwrap_or(usize::MAX),
        message,
    };
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line());
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("has {len} fields, expected {expected_len} (as many as the header)")
            }
            _ => e.to_string(),
        };
        err(line, message)
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(csv_err)?.clone();
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err(err(
            1,
            "no header: the first line must name the variables".into(),
        ));
    }

    // Column -> variable, checking duplicates, extras and missing variables.
    let mut columns = Vec::with_capacity(header.len());
    let mut seen = vec![false; net.len()];
    let mut extra = Vec::new();
    for name in header.iter() {
        match net.var(name) {
            Ok(v) if seen[v.index()] => {
                return Err(err(
                    1,
                    format!("column `{name}` appears twice in the header"),
                ));
            }
            Ok(v) => {
                seen[v.index()] = true;
                columns.push(v);
            }
            Err(_) => extra.push(format!("`{name}`")),
        }
    }
    let missing: Vec<String> = net
        .ids()
        .filter(|v| !seen[v.index()])
        .map(|v| format!("`{}`", net.variable(v).name))
        .collect();
    if !extra.is_empty() || !missing.is_empty() {
        let mut parts = Vec::new();
        if !extra.is_empty() {
            parts.push(format!(
                "column(s) {} are not variables of network `{}`",
                extra.join(", "),
                net.name()
            ));
        }
        if !missing.is_empty() {
            parts.push(format!("variable(s) {} have no column", missing.join(", ")));
        }
        return Err(err(1, format!("header: {}", parts.join("; "))));
    }

    let lookups: Vec<HashMap<&str, usize>> = columns
        .iter()
        .map(|&v| {
            net.variable(v)
                .states
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(1, |p| p.line());
        let mut row = vec![0usize; net.len()];
        for ((cell, &v), lookup) in record.iter().zip(&columns).zip(&lookups) {
            let var = net.variable(v);
            row[v.index()] = *lookup.get(cell).ok_or_else(|| {
                let what = if cell.is_empty() {
                    "empty cell (learning needs complete data)".to_string()
                } else {
                    format!("unknown state `{cell}`")
                };
                err(
                    line,
                    format!(
                        "column `{}`: {what}; the states of `{}` are: {}",
                        var.name,
                        var.name,
                        var.states.join(", ")
                    ),
                )
            })?;
        }
        rows.push(row);
    }
    Ok(Dataset {
        cards: net.ids().map(|v| net.card(v)).collect(),
        rows,
    })
}

/// Reads a CSV file of state labels into a [`Dataset`] for `net`.
pub fn read_dataset(path: &Path, net: &Network) -> Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_dataset(&text, &path.display().to_string(), net)
}

/// Renders full assignments (each indexed by [`crate::VarId`]) as CSV: a header of
/// variable names in network order, then one line of state labels per sample.
pub fn samples_to_csv(net: &Network, samples: &[Vec<usize>]) -> Result<String> {
    check_rows(net, samples, "samples")?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::Data {
        path: "samples".into(),
        message: e.to_string(),
    };
    writer
        .write_record(net.variables().iter().map(|v| v.name.as_str()))
        .map_err(csv_err)?;
    for sample in samples {
        writer
            .write_record(
                net.variables()
                    .iter()
                    .zip(sample)
                    .map(|(var, &s)| var.states[s].as_str()),
            )
            .map_err(csv_err)?;
    }
    let bytes = writer.into_inner().map_err(|e| Error::Data {
        path: "samples".into(),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|e| Error::Data {
        path: "samples".into(),
        message: e.to_string(),
    })
}

/// Writes samples as CSV (see [`samples_to_csv`]) to `path` atomically.
pub fn write_samples_csv(net: &Network, samples: &[Vec<usize>], path: &Path) -> Result<()> {
    let text = samples_to_csv(net, samples).map_err(|e| match e {
        Error::Data { message, .. } => Error::Data {
            path: path.display().to_string(),
            message,
        },
        other => other,
    })?;
    write_atomically(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::NetworkBuilder;

    fn net() -> Network {
        let mut b = NetworkBuilder::new("n");
        b.variable("a", &["yes", "no"]).unwrap();
        b.variable("b", &["<5", "5-12", "12+"]).unwrap();
        b.cpt("a", &[], &[0.5, 0.5]).unwrap();
        b.cpt("b", &["a"], &[0.2, 0.3, 0.5, 0.1, 0.1, 0.8]).unwrap();
        b.build().unwrap()
    }

    #[test]
    fn columns_in_any_order() {
        let d = parse_dataset("b,a\n<5,no\n 12+ , yes\n\n5-12,no\n", "d.csv", &net()).unwrap();
        assert_eq!(d.rows(), &[vec![1, 0], vec![0, 2], vec![1, 1]]);
        // A byte-order mark and CRLF line ends, as spreadsheet exports write them.
        let d2 = parse_dataset(
            "\u{feff}b,a\r\n<5,no\r\n 12+ , yes\r\n5-12,no\r\n",
            "d.csv",
            &net(),
        )
        .unwrap();
        assert_eq!(d2, d);
    }

    #[test]
    fn header_errors_name_columns() {
        let e = parse_dataset("a,c,d\n", "d.csv", &net())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "d.csv:1: header: column(s) `c`, `d` are not variables of network `n`; variable(s) `b` have no column"
        );
        let e = parse_dataset("a,b,a\n", "d.csv", &net())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`a` appears twice"), "{e}");
        let e = parse_dataset("", "d.csv", &net()).unwrap_err().to_string();
        assert!(e.starts_with("d.csv:1: no header"), "{e}");
    }

    #[test]
    fn cell_errors_name_line_column_and_states() {
        let e = parse_dataset("a,b\nyes,<5\nmaybe,<5\n", "d.csv", &net())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "d.csv:3: column `a`: unknown state `maybe`; the states of `a` are: yes, no"
        );
        let e = parse_dataset("a,b\nyes,\n", "d.csv", &net())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d.csv:2: column `b`: empty cell"), "{e}");
        let e = parse_dataset("a,b\nyes,<5,x\n", "d.csv", &net())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d.csv:2: has 3 fields, expected 2"), "{e}");
    }

    #[test]
    fn samples_round_trip() {
        let n = net();
        let samples = vec![vec![0, 2], vec![1, 0]];
        let text = samples_to_csv(&n, &samples).unwrap();
        assert_eq!(text, "a,b\nyes,12+\nno,<5\n");
        assert_eq!(
            parse_dataset(&text, "s.csv", &n).unwrap().into_rows(),
            samples
        );
        let e = samples_to_csv(&n, &[vec![0, 3]]).unwrap_err().to_string();
        assert!(e.contains("state index 3 of `b`"), "{e}");
        let e = Dataset::new(&n, vec![vec![0]]).unwrap_err().to_string();
        assert!(e.contains("has 1 values, expected 2"), "{e}");
    }
}
