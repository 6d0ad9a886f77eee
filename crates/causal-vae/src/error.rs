use std::path::PathBuf;

/// Errors of the causal VAE; each names the file, variable, state or option concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Nn(#[from] nn::NnError),
    #[error(transparent)]
    Network(#[from] bayesnet::Error),
    #[error(transparent)]
    Scenes(#[from] scenes::Error),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;
