use std::path::PathBuf;

/// Errors of the CITRIS models and evaluations; each names the file, split, variable or
/// option concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Nn(#[from] nn::NnError),
    #[error(transparent)]
    Scenes(#[from] scenes::Error),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;
