//! The BIF grammar: turns tokens into raw blocks (names still unresolved, every piece
//! tagged with its line). Meaning — which labels exist, whether every row is present — is
//! checked afterwards in `assemble`, where all variables are known, so a probability block
//! may come before the variables it mentions.
//!
//! Accepted, per block (commas between list items are optional, as in JavaBayes files):
//!
//! ```text
//! network NAME { property ...; }
//! variable NAME { type discrete [ N ] { s1, s2, ... }; property ...; }
//! probability ( CHILD | P1, P2 ) { (p1, p2) v1, v2; default v1, v2; table v...; }
//! probability ( CHILD P1 P2 ) { ... }        // JavaBayes: no `|`
//! ```
//!
//! Properties are skipped: [`crate::Network`] has nowhere to keep them.

use crate::error::{Error, Result};

use super::lexer::{Tok, Token};

/// The whole file, in declaration order.
#[derive(Debug, Default)]
pub(crate) struct RawFile {
    pub name: Option<String>,
    pub variables: Vec<RawVariable>,
    pub probabilities: Vec<RawProbability>,
}

/// A `variable` block.
#[derive(Debug)]
pub(crate) struct RawVariable {
    pub name: String,
    pub line: usize,
    pub states: Vec<String>,
}

/// A `probability` block.
#[derive(Debug)]
pub(crate) struct RawProbability {
    pub child: String,
    pub line: usize,
    /// Parent names with the line each was written on.
    pub parents: Vec<(String, usize)>,
    pub entries: Vec<Entry>,
}

/// One `...;` line inside a probability block.
#[derive(Debug)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    pub line: usize,
    pub values: Vec<f64>,
}

/// What an entry fills.
#[derive(Debug)]
pub(crate) enum EntryKind {
    /// `table`: the whole CPT, the child's state varying slowest.
    Table,
    /// `default`: every parent configuration not given a row.
    Default,
    /// `(s1, s2)`: the row for these parent state labels.
    Row(Vec<String>),
}

/// Parses tokens into raw blocks; `file` names the source in errors.
pub(crate) fn parse(tokens: &[Token<'_>], file: &str) -> Result<RawFile> {
    Parser {
        tokens,
        pos: 0,
        file,
    }
    .file()
}

struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    pos: usize,
    file: &'t str,
}

impl<'t, 'a> Parser<'t, 'a> {
    fn err(&self, line: usize, message: impl Into<String>) -> Error {
        Error::Parse {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }

    /// Line of the next token, or of the last one at end of input.
    fn line(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(1, |t| t.line)
    }

    fn peek(&self) -> Option<&'t Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self, what: &str) -> Result<&'t Token<'a>> {
        let tok = self
            .tokens
            .get(self.pos)
            .ok_or_else(|| self.err(self.line(), format!("file ends where {what} was expected")))?;
        self.pos += 1;
        Ok(tok)
    }

    fn peek_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(p), .. }) if *p == c)
    }

    /// True when the next token is the unquoted keyword `kw`.
    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), quoted: false, .. }) if w == kw)
    }

    fn expect_punct(&mut self, c: char, context: &str) -> Result<usize> {
        let tok = self.next(&format!("`{c}` {context}"))?;
        match tok.tok {
            Tok::Punct(p) if p == c => Ok(tok.line),
            _ => Err(self.err(
                tok.line,
                format!("expected `{c}` {context}, found {}", tok.describe()),
            )),
        }
    }

    fn word(&mut self, what: &str) -> Result<(String, usize)> {
        let tok = self.next(what)?;
        match &tok.tok {
            Tok::Word(w) => Ok((w.to_string(), tok.line)),
            Tok::Punct(_) => Err(self.err(
                tok.line,
                format!("expected {what}, found {}", tok.describe()),
            )),
        }
    }

    /// Skips a `property ... ;` entry (the keyword already consumed).
    fn skip_property(&mut self, context: &str) -> Result<()> {
        loop {
            let tok = self.next(&format!("`;` closing a property {context}"))?;
            if tok.tok == Tok::Punct(';') {
                return Ok(());
            }
        }
    }

    fn file(mut self) -> Result<RawFile> {
        let mut out = RawFile::default();
        while let Some(tok) = self.peek() {
            let line = tok.line;
            match &tok.tok {
                Tok::Word(w) if !tok.quoted && w == "network" => {
                    self.pos += 1;
                    let name = self.network_block()?;
                    if out.name.is_some() {
                        return Err(self.err(line, "second `network` block"));
                    }
                    out.name = Some(name);
                }
                Tok::Word(w) if !tok.quoted && w == "variable" => {
                    self.pos += 1;
                    out.variables.push(self.variable_block(line)?);
                }
                Tok::Word(w) if !tok.quoted && w == "probability" => {
                    self.pos += 1;
                    out.probabilities.push(self.probability_block(line)?);
                }
                _ => {
                    return Err(self.err(
                        line,
                        format!(
                            "expected `network`, `variable` or `probability`, found {}",
                            tok.describe()
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// `network NAME { property ...; }`; the name may be missing.
    fn network_block(&mut self) -> Result<String> {
        let name = if self.peek_punct('{') {
            String::new()
        } else {
            self.word("the network's name")?.0
        };
        self.expect_punct('{', "opening the network block")?;
        loop {
            if self.peek_punct('}') {
                self.pos += 1;
                return Ok(name);
            }
            if self.peek_keyword("property") {
                self.pos += 1;
                self.skip_property("in the network block")?;
                continue;
            }
            let tok = self.next("`}` closing the network block")?;
            return Err(self.err(
                tok.line,
                format!(
                    "unexpected {} in the network block (only `property ...;` may appear there)",
                    tok.describe()
                ),
            ));
        }
    }

    /// `variable NAME { type discrete [ N ] { states }; property ...; }`.
    fn variable_block(&mut self, line: usize) -> Result<RawVariable> {
        let (name, _) = self.word("a variable name after `variable`")?;
        let ctx = format!("in variable `{name}`");
        self.expect_punct('{', &format!("after `variable {name}`"))?;
        let mut states: Option<Vec<String>> = None;
        loop {
            if self.peek_punct('}') {
                self.pos += 1;
                break;
            }
            if self.peek_keyword("property") {
                self.pos += 1;
                self.skip_property(&ctx)?;
                continue;
            }
            if self.peek_keyword("type") {
                let type_line = self.line();
                self.pos += 1;
                if states.is_some() {
                    return Err(self.err(
                        type_line,
                        format!("variable `{name}` has two `type` declarations"),
                    ));
                }
                states = Some(self.type_decl(&name)?);
                continue;
            }
            let tok = self.next(&format!("`}}` closing variable `{name}`"))?;
            return Err(self.err(
                tok.line,
                format!(
                    "unexpected {} {ctx} (expected `type discrete [ N ] {{ ... }};` or `property ...;`)",
                    tok.describe()
                ),
            ));
        }
        let states = states.ok_or_else(|| {
            self.err(
                line,
                format!("variable `{name}` has no `type discrete [ N ] {{ ... }};` declaration"),
            )
        })?;
        Ok(RawVariable { name, line, states })
    }

    /// `discrete [ N ] { s1, s2, ... };` after `type`; checks that N matches.
    fn type_decl(&mut self, name: &str) -> Result<Vec<String>> {
        let (kind, kind_line) =
            self.word(&format!("`discrete` after `type` in variable `{name}`"))?;
        if kind != "discrete" {
            return Err(self.err(
                kind_line,
                format!(
                    "variable `{name}` has type `{kind}`; only `discrete` variables are supported"
                ),
            ));
        }
        let ctx = format!("in the type of variable `{name}`");
        self.expect_punct('[', &ctx)?;
        let (count, count_line) = self.word(&format!("the number of states of `{name}`"))?;
        let declared: usize = count.parse().map_err(|_| {
            self.err(
                count_line,
                format!("variable `{name}`: `{count}` is not a number of states"),
            )
        })?;
        self.expect_punct(']', &ctx)?;
        let open = self.expect_punct('{', &format!("opening the state list of `{name}`"))?;
        let mut states = Vec::new();
        loop {
            let tok = self.next(&format!("`}}` closing the state list of `{name}`"))?;
            match &tok.tok {
                Tok::Punct('}') => break,
                Tok::Punct(',')
                    if !states.is_empty() && !self.peek_punct(',') && !self.peek_punct('}') => {}
                Tok::Word(w) => states.push(w.to_string()),
                _ => {
                    return Err(self.err(
                        tok.line,
                        format!(
                            "unexpected {} in the state list of `{name}`",
                            tok.describe()
                        ),
                    ))
                }
            }
        }
        self.expect_punct(';', &format!("after the state list of `{name}`"))?;
        if states.len() != declared {
            return Err(self.err(
                open,
                format!(
                    "variable `{name}` declares [ {declared} ] states but lists {}: {}",
                    states.len(),
                    states.join(", ")
                ),
            ));
        }
        Ok(states)
    }

    /// `( CHILD | P1, P2 ) { entries }` after `probability`.
    fn probability_block(&mut self, line: usize) -> Result<RawProbability> {
        self.expect_punct('(', "after `probability`")?;
        let (child, _) = self.word("a variable name after `probability (`")?;
        let mut parents = Vec::new();
        if self.peek_punct('|') {
            self.pos += 1;
        }
        loop {
            let tok = self.next(&format!(
                "`)` closing the header of `{child}`'s probability block"
            ))?;
            match &tok.tok {
                Tok::Punct(')') => break,
                Tok::Punct(',')
                    if !parents.is_empty() && !self.peek_punct(',') && !self.peek_punct(')') => {}
                Tok::Word(w) => parents.push((w.to_string(), tok.line)),
                _ => {
                    return Err(self.err(
                        tok.line,
                        format!(
                            "unexpected {} in the parent list of `{child}`",
                            tok.describe()
                        ),
                    ))
                }
            }
        }
        self.expect_punct('{', &format!("opening `{child}`'s probability block"))?;
        let mut entries = Vec::new();
        loop {
            let Some(tok) = self.peek() else {
                return Err(self.err(
                    line,
                    format!("probability block of `{child}` is never closed with `}}`"),
                ));
            };
            let entry_line = tok.line;
            let kind = match &tok.tok {
                Tok::Punct('}') => {
                    self.pos += 1;
                    break;
                }
                Tok::Word(w) if !tok.quoted && w == "property" => {
                    self.pos += 1;
                    self.skip_property(&format!("in `{child}`'s probability block"))?;
                    continue;
                }
                Tok::Word(w) if !tok.quoted && w == "table" => {
                    self.pos += 1;
                    EntryKind::Table
                }
                Tok::Word(w) if !tok.quoted && w == "default" => {
                    self.pos += 1;
                    EntryKind::Default
                }
                Tok::Punct('(') => {
                    self.pos += 1;
                    EntryKind::Row(self.row_labels(&child)?)
                }
                _ => {
                    return Err(self.err(
                        entry_line,
                        format!(
                            "unexpected {} in `{child}`'s probability block (expected `(states) values;`, `table values;` or `default values;`)",
                            tok.describe()
                        ),
                    ))
                }
            };
            let values = self.values(&child, &kind)?;
            entries.push(Entry {
                kind,
                line: entry_line,
                values,
            });
        }
        Ok(RawProbability {
            child,
            line,
            parents,
            entries,
        })
    }

    /// The labels of a row, after its `(`, through its `)`.
    fn row_labels(&mut self, child: &str) -> Result<Vec<String>> {
        let mut labels = Vec::new();
        loop {
            let tok = self.next(&format!("`)` closing a row label of `{child}`"))?;
            match &tok.tok {
                Tok::Punct(')') => return Ok(labels),
                Tok::Punct(',')
                    if !labels.is_empty() && !self.peek_punct(',') && !self.peek_punct(')') => {}
                Tok::Word(w) => labels.push(w.to_string()),
                _ => {
                    return Err(self.err(
                        tok.line,
                        format!("unexpected {} in a row label of `{child}`", tok.describe()),
                    ))
                }
            }
        }
    }

    /// Numbers through the closing `;`.
    fn values(&mut self, child: &str, kind: &EntryKind) -> Result<Vec<f64>> {
        let what = match kind {
            EntryKind::Table => "`table`".to_string(),
            EntryKind::Default => "`default`".to_string(),
            EntryKind::Row(labels) => format!("row ({})", labels.join(", ")),
        };
        let mut values = Vec::new();
        loop {
            let tok = self.next(&format!("`;` ending {what} of `{child}`"))?;
            match &tok.tok {
                Tok::Punct(';') => return Ok(values),
                Tok::Punct(',')
                    if !values.is_empty() && !self.peek_punct(',') && !self.peek_punct(';') => {}
                Tok::Word(w) => match w.parse::<f64>() {
                    Ok(v) if v.is_finite() => values.push(v),
                    _ => {
                        return Err(self.err(
                            tok.line,
                            format!("probability of `{child}`, {what}: `{w}` is not a number"),
                        ))
                    }
                },
                _ => {
                    return Err(self.err(
                        tok.line,
                        format!(
                            "probability of `{child}`, {what}: unexpected {} (values end with `;`)",
                            tok.describe()
                        ),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn parse_str(text: &str) -> Result<RawFile> {
        parse(&tokenize(text, "t.bif")?, "t.bif")
    }

    #[test]
    fn javabayes_dialect_parses() {
        let raw = parse_str(
            r#"network "Dog-Problem" { //5 variables
                property "credal-set constant-density-bounded 1.1" ;
            }
            variable "light-on" { //2 values
                type discrete[2] {  "true"  "false" };
                property "position = (218, 195)" ;
            }
            probability (  "light-on"  "family-out" ) { //2 variable(s) and 4 values
                table 0.6 0.05 0.4 0.95 ;
            }"#,
        )
        .unwrap();
        assert_eq!(raw.name.as_deref(), Some("Dog-Problem"));
        assert_eq!(raw.variables[0].states, ["true", "false"]);
        assert_eq!(raw.variables[0].line, 4);
        let p = &raw.probabilities[0];
        assert_eq!(p.child, "light-on");
        assert_eq!(p.parents, [("family-out".to_string(), 8)]);
        assert_eq!(p.entries[0].values, [0.6, 0.05, 0.4, 0.95]);
    }

    #[test]
    fn numbers_in_all_spellings() {
        let raw = parse_str("probability ( a ) { table 1e-04, .5, 5E-1, 1., 0.4999; }").unwrap();
        assert_eq!(
            raw.probabilities[0].entries[0].values,
            [1e-4, 0.5, 0.5, 1.0, 0.4999]
        );
    }

    #[test]
    fn bad_tokens_are_located() {
        let e = parse_str("variable a {\n type discrete [ 2 ] { x, y };\n}\nprobability ( a ) {\n table 0.5, nan;\n}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "t.bif:5: probability of `a`, `table`: `nan` is not a number"
        );
        let e = parse_str("variable a {\n type discrete [ 3 ] { x, y };\n}")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.bif:2:") && e.contains("[ 3 ]") && e.contains("lists 2"),
            "{e}"
        );
        let e = parse_str("variable a {\n type discrete [ 2 ] { x,, y };\n}")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.bif:2:") && e.contains("`,`"), "{e}");
        let e = parse_str("probability ( a ) {\n table 0.5 0.5;\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.bif:1:") && e.contains("never closed"),
            "{e}"
        );
        let e = parse_str("varible a {}").unwrap_err().to_string();
        assert!(e.starts_with("t.bif:1:") && e.contains("`varible`"), "{e}");
    }
}
