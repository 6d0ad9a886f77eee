use std::path::PathBuf;

/// Errors of the deep-learning layer; each names the file, tensor or step concerned.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("unknown device '{0}': expected cpu, cuda, cuda:N or auto")]
    UnknownDevice(String),
    #[error("CUDA was requested ({device}) but is not usable: {reason}")]
    CudaUnavailable { device: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("checkpoint {path} does not match the model: {problem}")]
    MismatchedCheckpoint { path: PathBuf, problem: String },
    #[error("{path}: {source}")]
    Torch {
        path: PathBuf,
        #[source]
        source: tch::TchError,
    },
    #[error("{path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error(
        "training stopped at step {step}: the loss{part} is {value}; {kept}",
        part = if .part.is_empty() { String::new() } else { format!(" term '{}'", .part) },
        kept = match .checkpoint_step {
            Some(s) => format!("the last good checkpoint (step {s}) is kept"),
            None => "no checkpoint had been written yet".to_string(),
        }
    )]
    NonFiniteLoss {
        step: usize,
        part: String,
        value: f64,
        checkpoint_step: Option<usize>,
    },
}

pub type Result<T> = std::result::Result<T, NnError>;

impl NnError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
