//! Typed errors naming the file, key, shape or variable that was wrong.

use std::path::PathBuf;

/// Everything that can go wrong generating, writing or reading datasets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },

    #[error("{0}")]
    InvalidArgument(String),

    #[error(transparent)]
    Network(#[from] bayesnet::Error),
}

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
