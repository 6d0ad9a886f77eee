//! The run directory: the unit of work of a training run.
//!
//! ```text
//! RUN/
//!   config.toml              everything needed to rebuild the model and resume
//!   checkpoint.safetensors   weights + optimiser state + step (atomic, periodic)
//!   model.safetensors        final weights only (PyTorch-compatible names)
//!   metrics.csv              one row per logged step
//!   samples/                 images written by the model's own code
//! ```

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{NnError, Result};

/// A run directory on disk.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Opens (creating it if needed) the directory `root`.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| NnError::io(&root, e))?;
        Ok(Self { root })
    }

    /// The run directory `root` as it is, neither created nor checked: to name the files
    /// of a part of another run (a CITRIS-NF run's autoencoder has no `config.toml` of its
    /// own), which fail by their names when read.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Opens an existing run; fails when `root` has no `config.toml`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let run = Self { root: root.into() };
        if !run.config_path().is_file() {
            return Err(NnError::Config {
                path: run.config_path(),
                message: "not a run directory (no config.toml); train one first".into(),
            });
        }
        Ok(run)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint.safetensors")
    }

    pub fn weights_path(&self) -> PathBuf {
        self.root.join("model.safetensors")
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }

    /// A file of the run (`name` may contain folders, which are created).
    pub fn file(&self, name: impl AsRef<Path>) -> Result<PathBuf> {
        let path = self.root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| NnError::io(parent, e))?;
        }
        Ok(path)
    }

    /// Whether a checkpoint exists to resume from.
    pub fn has_checkpoint(&self) -> bool {
        self.checkpoint_path().is_file()
    }

    /// Reads `config.toml`; unknown or missing keys are errors naming the file.
    pub fn read_config<C: DeserializeOwned>(&self) -> Result<C> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(|e| NnError::io(&path, e))?;
        toml::from_str(&text).map_err(|e| NnError::Config {
            path,
            message: e.to_string(),
        })
    }

    /// Writes `config.toml` atomically.
    pub fn write_config<C: Serialize>(&self, config: &C) -> Result<()> {
        let path = self.config_path();
        let text = toml::to_string_pretty(config).map_err(|e| NnError::Config {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomically(&path, text.as_bytes())
    }

    /// Makes `config` the run's configuration: writes it to a new run, or checks that an
    /// existing run was made with the same one (a resumed run must not change its
    /// model or data under its checkpoint). Returns whether the run is new.
    pub fn adopt_config<C: Serialize + DeserializeOwned + PartialEq>(
        &self,
        config: &C,
    ) -> Result<bool> {
        if !self.config_path().is_file() {
            self.write_config(config)?;
            return Ok(true);
        }
        let existing: C = self.read_config()?;
        if &existing != config {
            return Err(NnError::Config {
                path: self.config_path(),
                message: "this run was made with a different configuration; resume it with \
                          the same options (see its config.toml) or choose a new run directory"
                    .into(),
            });
        }
        Ok(false)
    }
}

/// Whether `a` and `b` name the same file or folder. Configurations record paths as
/// they were typed (`data/pong`, `./data/pong`, an absolute path), so two spellings of one
/// folder must compare equal: both are resolved when they exist, else compared as written.
pub fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).map_err(|e| NnError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        NnError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_folder_are_the_same_path() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("data");
        std::fs::create_dir(&sub).unwrap();
        assert!(same_path(&sub, &dir.path().join("data/../data/.")));
        assert!(!same_path(&sub, dir.path()));
        // Missing paths compare as written.
        assert!(same_path(Path::new("gone/x"), Path::new("gone/x")));
        assert!(!same_path(Path::new("gone/x"), Path::new("gone/y/../x")));
    }
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        steps: usize,
        name: String,
    }

    #[test]
    fn config_round_trips_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path().join("run")).unwrap();
        let config = Config {
            steps: 3,
            name: "x".into(),
        };
        run.write_config(&config).unwrap();
        let opened = RunDir::open(run.root()).unwrap();
        assert_eq!(opened.read_config::<Config>().unwrap(), config);
        std::fs::write(run.config_path(), "steps = 3\nname = 'x'\nwidth = 2\n").unwrap();
        let err = opened.read_config::<Config>().unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("width"),
            "{err}"
        );
        let err = RunDir::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a run directory"), "{err}");
    }
}
