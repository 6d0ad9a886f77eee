//! Gives raw BIF blocks their meaning: resolves variable and state names, lays every
//! table out in [`Cpt`] order, and checks that each parent configuration gets exactly one
//! row. Every error names the file, the line to fix and the variable; errors found later by
//! [`Network::new`] (row sums, cycles) are re-labelled with the line of the offending
//! row or probability block.
//!
//! Table layout. A `table` entry in a block *with* parents lists the child's state
//! slowest: all parent configurations for the child's first state, then all for its
//! second, and so on; within that, parent configurations run row-major in the declared
//! parent order (last parent fastest). This is the JavaBayes/BIF 0.15 convention that
//! pgmpy's `BIFReader` implements (it reshapes a `table` to `(child_card, rows)`), and it
//! agrees with the JavaBayes dog-problem file where
//! `probability ("light-on" "family-out") { table 0.6 0.05 0.4 0.95; }` is written
//! elsewhere as `(true) 0.6 0.4; (false) 0.05 0.95;`. Without parents both orders
//! coincide. Our [`Cpt`] is the transpose (child fastest), so `table` values are
//! transposed on reading; the writer never emits `table` for a node with parents.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::network::{Cpt, Network, VarId, Variable};

use super::parser::{EntryKind, RawFile, RawProbability, RawVariable};

/// Builds the network described by `raw`; `file` names the source in errors.
pub(crate) fn assemble(raw: RawFile, file: &str) -> Result<Network> {
    let err = |line: usize, message: String| Error::Parse {
        file: file.to_string(),
        line,
        message,
    };

    let mut index: HashMap<&str, usize> = HashMap::with_capacity(raw.variables.len());
    for (i, var) in raw.variables.iter().enumerate() {
        if let Some(&first) = index.get(var.name.as_str()) {
            return Err(err(
                var.line,
                format!(
                    "variable `{}` is declared twice (first on line {})",
                    var.name, raw.variables[first].line
                ),
            ));
        }
        for (j, s) in var.states.iter().enumerate() {
            if var.states[..j].contains(s) {
                return Err(err(
                    var.line,
                    format!("variable `{}` declares state `{s}` twice", var.name),
                ));
            }
        }
        if var.states.is_empty() {
            return Err(err(
                var.line,
                format!("variable `{}` has no states", var.name),
            ));
        }
        index.insert(var.name.as_str(), i);
    }

    let mut blocks: Vec<Option<&RawProbability>> = vec![None; raw.variables.len()];
    for block in &raw.probabilities {
        let &i = index.get(block.child.as_str()).ok_or_else(|| {
            err(
                block.line,
                format!(
                    "probability block for `{}`, which is not declared as a variable",
                    block.child
                ),
            )
        })?;
        if let Some(first) = blocks[i] {
            return Err(err(
                block.line,
                format!(
                    "second probability block for `{}` (first on line {})",
                    block.child, first.line
                ),
            ));
        }
        blocks[i] = Some(block);
    }

    let mut cpts = Vec::with_capacity(raw.variables.len());
    // Per variable: the line that supplied each row, to locate row-sum errors.
    let mut row_lines: Vec<Vec<usize>> = Vec::with_capacity(raw.variables.len());
    for (i, var) in raw.variables.iter().enumerate() {
        let block = blocks[i].ok_or_else(|| {
            err(
                var.line,
                format!("variable `{}` has no probability block", var.name),
            )
        })?;
        let (cpt, lines) = block_to_cpt(block, &raw.variables, &index, file)?;
        cpts.push(cpt);
        row_lines.push(lines);
    }

    let variables: Vec<Variable> = raw
        .variables
        .iter()
        .map(|v| Variable {
            name: v.name.clone(),
            states: v.states.clone(),
        })
        .collect();
    let parents: Vec<Vec<usize>> = cpts
        .iter()
        .map(|c| c.parents.iter().map(|p| p.0).collect())
        .collect();
    let name = raw.name.clone().unwrap_or_else(|| "unknown".to_string());
    Network::new(name, variables, cpts).map_err(|inner| {
        let located = Locate {
            vars: &raw.variables,
            parents: &parents,
            row_lines: &row_lines,
            blocks: &blocks,
        };
        err(located.line_of(&inner), inner.to_string())
    })
}

/// Reads one probability block into a [`Cpt`] plus the source line of each row.
fn block_to_cpt(
    block: &RawProbability,
    vars: &[RawVariable],
    index: &HashMap<&str, usize>,
    file: &str,
) -> Result<(Cpt, Vec<usize>)> {
    let err = |line: usize, message: String| Error::Parse {
        file: file.to_string(),
        line,
        message,
    };
    let child = &block.child;
    let child_idx = index[child.as_str()];
    let card = vars[child_idx].states.len();

    let mut parents: Vec<usize> = Vec::with_capacity(block.parents.len());
    for (p, line) in &block.parents {
        let &pi = index.get(p.as_str()).ok_or_else(|| {
            err(
                *line,
                format!(
                    "probability of `{child}`: unknown parent `{p}` (not declared as a variable)"
                ),
            )
        })?;
        if pi == child_idx {
            return Err(err(
                *line,
                format!("probability of `{child}`: `{child}` lists itself as a parent"),
            ));
        }
        if parents.contains(&pi) {
            return Err(err(
                *line,
                format!("probability of `{child}`: parent `{p}` is listed twice"),
            ));
        }
        parents.push(pi);
    }
    let cards: Vec<usize> = parents.iter().map(|&p| vars[p].states.len()).collect();
    let rows = cards
        .iter()
        .try_fold(1usize, |acc, &c| acc.checked_mul(c))
        .filter(|&r| r.checked_mul(card).is_some())
        .ok_or_else(|| {
            err(
                block.line,
                format!("probability of `{child}`: the table is too large to address"),
            )
        })?;
    let label = |row: usize| row_label(row, &parents, &cards, vars);

    if block.entries.is_empty() {
        return Err(err(
            block.line,
            format!("probability block of `{child}` has no values"),
        ));
    }
    let mut table = vec![0.0; rows * card];
    // 0 = row not given yet; otherwise the line that gave it.
    let mut lines = vec![0usize; rows];
    let mut default: Option<(&[f64], usize)> = None;
    let mut table_line: Option<usize> = None;
    let mut row_line: Option<usize> = None;
    for entry in &block.entries {
        match &entry.kind {
            EntryKind::Table => {
                if let Some(first) = table_line {
                    return Err(err(
                        entry.line,
                        format!("probability of `{child}`: second `table` (first on line {first})"),
                    ));
                }
                if let Some(first) = row_line {
                    return Err(err(
                        entry.line,
                        format!("probability of `{child}`: `table` cannot follow rows (first row on line {first})"),
                    ));
                }
                let expected = rows * card;
                if entry.values.len() != expected {
                    let shape = if parents.is_empty() {
                        format!("one per state of `{child}`")
                    } else {
                        format!("{rows} parent configurations x {card} states of `{child}`")
                    };
                    return Err(err(
                        entry.line,
                        format!(
                            "probability of `{child}`: `table` has {} values, expected {expected} ({shape})",
                            entry.values.len()
                        ),
                    ));
                }
                // BIF lists the child slowest; Cpt wants it fastest.
                for k in 0..card {
                    for r in 0..rows {
                        table[r * card + k] = entry.values[k * rows + r];
                    }
                }
                lines.fill(entry.line);
                table_line = Some(entry.line);
            }
            EntryKind::Default => {
                if let Some((_, first)) = default {
                    return Err(err(
                        entry.line,
                        format!(
                            "probability of `{child}`: second `default` (first on line {first})"
                        ),
                    ));
                }
                check_count(
                    entry.values.len(),
                    card,
                    child,
                    "`default`",
                    vars[child_idx].states.join(", "),
                )
                .map_err(|m| err(entry.line, m))?;
                default = Some((&entry.values, entry.line));
            }
            EntryKind::Row(labels) => {
                let shown = format!("({})", labels.join(", "));
                if labels.len() != parents.len() {
                    let names: Vec<&str> = parents.iter().map(|&p| vars[p].name.as_str()).collect();
                    return Err(err(
                        entry.line,
                        format!(
                            "probability of `{child}`, row {shown}: names {} states, expected {} (one per parent: {})",
                            labels.len(),
                            parents.len(),
                            names.join(", ")
                        ),
                    ));
                }
                let mut r = 0;
                for ((label, &p), &c) in labels.iter().zip(&parents).zip(&cards) {
                    let s = vars[p].states.iter().position(|s| s == label).ok_or_else(|| {
                        err(
                            entry.line,
                            format!(
                                "probability of `{child}`, row {shown}: `{label}` is not a state of parent `{}` (its states are: {})",
                                vars[p].name,
                                vars[p].states.join(", ")
                            ),
                        )
                    })?;
                    r = r * c + s;
                }
                check_count(
                    entry.values.len(),
                    card,
                    child,
                    &format!("row {shown}"),
                    vars[child_idx].states.join(", "),
                )
                .map_err(|m| err(entry.line, m))?;
                if lines[r] != 0 {
                    let what = if table_line.is_some() {
                        "`table`"
                    } else {
                        "a row"
                    };
                    return Err(err(
                        entry.line,
                        format!(
                            "probability of `{child}`: row {shown} is given twice (already by {what} on line {})",
                            lines[r]
                        ),
                    ));
                }
                table[r * card..(r + 1) * card].copy_from_slice(&entry.values);
                lines[r] = entry.line;
                row_line.get_or_insert(entry.line);
            }
        }
    }
    if let (Some(t), Some(d)) = (table_line, default.map(|(_, l)| l)) {
        return Err(err(
            d.max(t),
            format!("probability of `{child}`: `table` (line {t}) and `default` (line {d}) cannot be combined"),
        ));
    }
    let missing: Vec<usize> = (0..rows).filter(|&r| lines[r] == 0).collect();
    if let Some(&first) = missing.first() {
        match default {
            Some((values, line)) => {
                for &r in &missing {
                    table[r * card..(r + 1) * card].copy_from_slice(values);
                    lines[r] = line;
                }
            }
            None => {
                let more = match missing.len() {
                    1 => String::new(),
                    n => format!(" (and {} more rows are missing)", n - 1),
                };
                let message = if parents.is_empty() {
                    format!("probability of `{child}`: no `table` values")
                } else {
                    format!(
                        "probability of `{child}`: no row for {} and no `default`{more}",
                        label(first)
                    )
                };
                return Err(err(block.line, message));
            }
        }
    }
    let cpt = Cpt {
        parents: parents.into_iter().map(VarId).collect(),
        table,
    };
    Ok((cpt, lines))
}

fn check_count(
    found: usize,
    expected: usize,
    child: &str,
    what: &str,
    states: String,
) -> Result<(), String> {
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "probability of `{child}`, {what}: has {found} values, expected {expected} (one per state of `{child}`: {states})"
        ))
    }
}

/// `(s1, s2)` for row `row`, the same text as [`Network::row_label`].
fn row_label(row: usize, parents: &[usize], cards: &[usize], vars: &[RawVariable]) -> String {
    let mut rem = row;
    let mut labels = vec![""; parents.len()];
    for i in (0..parents.len()).rev() {
        labels[i] = vars[parents[i]].states[rem % cards[i]].as_str();
        rem /= cards[i];
    }
    format!("({})", labels.join(", "))
}

/// What is needed to find the line behind an error from [`Network::new`].
struct Locate<'a> {
    vars: &'a [RawVariable],
    parents: &'a [Vec<usize>],
    row_lines: &'a [Vec<usize>],
    blocks: &'a [Option<&'a RawProbability>],
}

impl Locate<'_> {
    /// The line of the row an error names, else of the variable's probability block.
    fn line_of(&self, inner: &Error) -> usize {
        let (variable, row) = match inner {
            Error::RowSum { variable, row, .. }
            | Error::InvalidProbability { variable, row, .. } => {
                (variable.as_str(), Some(row.as_str()))
            }
            Error::CptSize { variable, .. } => (variable.as_str(), None),
            // "a -> b -> c": b's block is the one that names a as a parent.
            Error::Cycle(path) => (path.split(" -> ").nth(1).unwrap_or(""), None),
            _ => return 1,
        };
        let Some(i) = self.vars.iter().position(|v| v.name == variable) else {
            return 1;
        };
        let block_line = self.blocks[i].map_or(self.vars[i].line, |b| b.line);
        let Some(row) = row else {
            return block_line;
        };
        let parents = &self.parents[i];
        let cards: Vec<usize> = parents.iter().map(|&p| self.vars[p].states.len()).collect();
        (0..self.row_lines[i].len())
            .find(|&r| {
                if parents.is_empty() {
                    row == "table"
                } else {
                    row_label(r, parents, &cards, self.vars) == row
                }
            })
            .map_or(block_line, |r| self.row_lines[i][r])
    }
}
