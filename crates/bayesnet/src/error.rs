//! Typed errors. Every variant names what was wrong (file, line, variable, state) so a
//! user can fix the input without reading our source.

use std::path::PathBuf;

/// Everything that can go wrong when building, reading or querying a network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown variable `{0}`")]
    UnknownVariable(String),

    #[error("variable `{variable}` has no state `{state}` (its states are: {states})")]
    UnknownState {
        variable: String,
        state: String,
        states: String,
    },

    #[error("variable `{0}` is declared twice")]
    DuplicateVariable(String),

    #[error("variable `{variable}` declares state `{state}` twice")]
    DuplicateState { variable: String, state: String },

    #[error("variable `{0}` has no states")]
    NoStates(String),

    #[error("variable `{0}` has no probability table")]
    MissingCpt(String),

    #[error("variable `{0}` has two probability tables")]
    DuplicateCpt(String),

    #[error("variable `{variable}` lists parent `{parent}` twice")]
    DuplicateParent { variable: String, parent: String },

    #[error("the graph is not acyclic: {0}")]
    Cycle(String),

    #[error("table of `{variable}` has {found} entries, expected {expected} ({shape})")]
    CptSize {
        variable: String,
        expected: usize,
        found: usize,
        shape: String,
    },

    #[error("table of `{variable}`, row {row}: probability {value} is not a number in [0, 1]")]
    InvalidProbability {
        variable: String,
        row: String,
        value: f64,
    },

    #[error("table of `{variable}`, row {row}: probabilities sum to {sum}, not 1 (tolerance {tolerance})")]
    RowSum {
        variable: String,
        row: String,
        sum: f64,
        tolerance: f64,
    },

    #[error("the evidence is impossible: P({0}) = 0")]
    ImpossibleEvidence(String),

    #[error("variable `{variable}` is given twice with different states ({first} and {second})")]
    ConflictingAssignment {
        variable: String,
        first: String,
        second: String,
    },

    #[error("{0}")]
    InvalidQuery(String),

    #[error(
        "likelihood of `{variable}` has {found} entries, expected {expected} (one per state: {states})"
    )]
    LikelihoodLength {
        variable: String,
        expected: usize,
        found: usize,
        states: String,
    },

    #[error("likelihood of `{variable}`, state `{state}`: {value} is not a finite number >= 0")]
    InvalidLikelihood {
        variable: String,
        state: String,
        value: f64,
    },

    #[error("likelihood of `{0}` is zero for every state, so the observation is impossible")]
    ZeroLikelihood(String),

    #[error("invalid prior `{given}`: {reason}")]
    InvalidPrior { given: String, reason: String },

    #[error(
        "the query needs a table of {entries} entries over [{scope}], above the limit of {limit}; \
         the network is too densely connected for exact inference with this query"
    )]
    TooLarge {
        entries: u128,
        limit: u128,
        scope: String,
    },

    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Data { path: String, message: String },

    #[error("JSON network: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
