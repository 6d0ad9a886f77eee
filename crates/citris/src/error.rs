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

/// Checks that every named option is a finite number ≥ 0 (weights, noise levels); the
/// error names the first that is not, with its value.
pub(crate) fn check_non_negative(options: &[(&str, f64)]) -> Result<()> {
    match options
        .iter()
        .find(|(_, value)| !value.is_finite() || *value < 0.0)
    {
        Some((name, value)) => Err(Error::Invalid(format!(
            "{name} must be a finite number ≥ 0 (got {value})"
        ))),
        None => Ok(()),
    }
}
