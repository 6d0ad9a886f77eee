//! `dataset.json`, written next to the `.npz` files of a generated data set: what made
//! it (generator, causalgen version, seed) and how to interpret the arrays (variables in
//! `interventions` column order, latent names in `raw_latents` column order), so a data
//! set stays usable and reproducible without the command line that produced it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomically;
use crate::error::{Error, Result};
use crate::tris::CausalVariable;

/// Number of frames (sequences, independent sets) or triplets in each file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCounts {
    pub train: usize,
    pub val: usize,
    pub test: usize,
    pub val_indep: usize,
    pub test_indep: usize,
    pub val_triplets: usize,
    pub test_triplets: usize,
}

impl SplitCounts {
    /// The sizes CITRIS uses relative to the training sequence
    /// (`data_generation/data_generation_interventional_pong.py`): validation and test
    /// sequences and triplet sets are a tenth of it, independent sets a quarter; each
    /// at least 1.
    pub fn scaled_from(n_train: usize) -> Self {
        let tenth = (n_train / 10).max(1);
        let quarter = (n_train / 4).max(1);
        Self {
            train: n_train,
            val: tenth,
            test: tenth,
            val_indep: quarter,
            test_indep: quarter,
            val_triplets: tenth,
            test_triplets: tenth,
        }
    }

    /// Entries over all files: the frames a generator renders (one per triplet, whose
    /// other two frames are copies).
    pub fn total(&self) -> usize {
        self.train
            + self.val
            + self.test
            + self.val_indep
            + self.test_indep
            + self.val_triplets
            + self.test_triplets
    }
}

/// The manifest of a temporal (CITRIS-layout) data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The process that generated the data (`causal3d`, `pong`, `boxes`, ...).
    pub generator: String,
    /// Version of causalgen that wrote the files; the same version and seed reproduce
    /// them byte for byte.
    pub causalgen_version: String,
    pub seed: u64,
    pub splits: SplitCounts,
    /// `[height, width, channels]` of every image.
    pub image_shape: [usize; 3],
    /// Causal variables, in the column order of `interventions` and triplet masks.
    pub variables: Vec<CausalVariable>,
    /// Names of the `raw_latents` columns.
    pub latent_names: Vec<String>,
    /// Number of `shape_latents` columns; 0 when the files have no such key.
    pub shape_latent_columns: usize,
    /// Whether the `.npz` members are deflated (`np.savez_compressed`) or stored.
    pub compressed: bool,
}

impl Manifest {
    /// The version recorded in new manifests.
    pub const CAUSALGEN_VERSION: &'static str = env!("CARGO_PKG_VERSION");

    /// Writes the manifest as pretty-printed JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            message: format!("cannot encode the manifest: {e}"),
        })?;
        json.push(b'\n');
        write_atomically(path, &json)
    }

    /// Reads a manifest written by [`Manifest::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            message: format!("not a causalgen data set manifest: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes_follow_citris_and_never_vanish() {
        let c = SplitCounts::scaled_from(1000);
        assert_eq!(
            (c.val, c.test, c.val_indep, c.val_triplets),
            (100, 100, 250, 100)
        );
        let c = SplitCounts::scaled_from(3);
        assert_eq!(
            (c.train, c.val, c.test_indep, c.test_triplets),
            (3, 1, 1, 1)
        );
    }
}
