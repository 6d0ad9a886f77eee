//! Files: networks as BIF or JSON, data sets and samples as CSV. Every reader reports
//! errors with the file, the line where one exists, and the variable concerned; every
//! writer replaces its target atomically.

mod atomic;
pub mod bif;
pub mod data;
pub mod json;

use std::path::Path;

use crate::error::{Error, Result};
use crate::network::Network;

pub use bif::{parse_bif, read_bif, write_bif, write_bif_file};
pub use data::{parse_dataset, read_dataset, samples_to_csv, write_samples_csv, Dataset};
pub use json::{network_from_json, network_to_json, read_json, write_json_file};

/// The network file formats we read and write, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkFormat {
    /// `.bif`: the bnlearn / JavaBayes interchange format.
    Bif,
    /// `.json`: our own layout (see [`json`]).
    Json,
}

impl NetworkFormat {
    /// The format a path's extension names, or an error that lists the supported ones, so
    /// a typo never makes us guess a format.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("bif") => Ok(Self::Bif),
            Some("json") => Ok(Self::Json),
            Some("gz") => Err(Error::Data {
                path: path.display().to_string(),
                message:
                    "gzip-compressed networks are not supported; decompress the file first (gunzip)"
                        .into(),
            }),
            Some(other) => Err(Error::Data {
                path: path.display().to_string(),
                message: format!(
                    "unsupported network file extension `.{other}` (expected `.bif` or `.json`)"
                ),
            }),
            None => Err(Error::Data {
                path: path.display().to_string(),
                message: "network file has no extension (expected `.bif` or `.json`)".into(),
            }),
        }
    }
}

/// Reads a network from a `.bif` or `.json` file, chosen by extension.
pub fn read_network(path: &Path) -> Result<Network> {
    match NetworkFormat::from_path(path)? {
        NetworkFormat::Bif => read_bif(path),
        NetworkFormat::Json => read_json(path),
    }
}

/// Writes a network to a `.bif` or `.json` file, chosen by extension, atomically.
pub fn write_network(net: &Network, path: &Path) -> Result<()> {
    match NetworkFormat::from_path(path)? {
        NetworkFormat::Bif => write_bif_file(net, path),
        NetworkFormat::Json => write_json_file(net, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_checked() {
        assert_eq!(
            NetworkFormat::from_path(Path::new("a/b.BIF")).unwrap(),
            NetworkFormat::Bif
        );
        assert_eq!(
            NetworkFormat::from_path(Path::new("b.json")).unwrap(),
            NetworkFormat::Json
        );
        let e = read_network(Path::new("net.xdsl")).unwrap_err().to_string();
        assert_eq!(
            e,
            "net.xdsl: unsupported network file extension `.xdsl` (expected `.bif` or `.json`)"
        );
        let e = read_network(Path::new("alarm.bif.gz"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gunzip"), "{e}");
        let e = read_network(Path::new("/nonexistent/net.bif"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/net.bif:"), "{e}");
    }
}
