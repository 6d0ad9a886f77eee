//! Atomic file replacement, so that an interrupted run (Ctrl-C, a crash, a full disk)
//! never leaves a truncated `train.npz` or `dataset.json` that a later run or a Python
//! loader would misread: data goes to a hidden temporary file in the destination's
//! directory (same file system, so the final rename is atomic), which is flushed to disk
//! and only then renamed over the destination. A file dropped before [`AtomicFile::commit`]
//! deletes its temporary; a killed process may leave a `.NAME.PID.N.tmp` file behind, but
//! never a partial `NAME`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Keeps temporary names of concurrent writers in one process apart.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Buffer size for writes: large enough that streaming image data costs one system
/// call per megabyte.
const BUFFER_BYTES: usize = 1 << 20;

/// A file being written under a temporary name, moved into place by [`commit`](Self::commit).
///
/// It implements [`Write`] and [`Seek`] (zip writers seek back to patch headers), and
/// buffers its writes.
pub struct AtomicFile {
    destination: PathBuf,
    temporary: PathBuf,
    /// `None` once committed, so that `Drop` knows not to delete anything.
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `destination`; nothing at `destination` changes until `commit`.
    pub fn create(destination: &Path) -> Result<Self> {
        let name = destination.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{}: not a file path (it has no file name)",
                destination.display()
            ))
        })?;
        let dir = match destination.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let temporary = dir.join(format!(
            ".{}.{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|source| Error::Io {
                path: temporary.clone(),
                source,
            })?;
        Ok(Self {
            destination: destination.to_path_buf(),
            temporary,
            file: Some(BufWriter::with_capacity(BUFFER_BYTES, file)),
        })
    }

    /// The path this file will have once committed.
    pub fn destination(&self) -> &Path {
        &self.destination
    }

    /// Flushes everything to disk and renames the temporary file over the destination.
    pub fn commit(mut self) -> Result<()> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let Some(writer) = self.file.take() else {
            return Ok(());
        };
        let result = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .map_err(io_err(&self.temporary))
            .and_then(|()| {
                fs::rename(&self.temporary, &self.destination).map_err(io_err(&self.destination))
            });
        if result.is_err() {
            // Best effort: the error above is the one worth reporting.
            let _ = fs::remove_file(&self.temporary);
        }
        result
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("write to an already committed file"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.writer()?.seek(pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Not committed: an error path or an abandoned write. Best effort cleanup.
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

/// Writes `contents` to `path` atomically (see the module documentation).
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(contents).map_err(|source| Error::Io {
        path: file.temporary.clone(),
        source,
    })?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_contents_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn abandoned_file_leaves_destination_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.npz");
        write_atomically(&path, b"old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"half of the new").unwrap();
        drop(file);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let e = write_atomically(Path::new("/nonexistent-scenes-dir/x.npz"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent-scenes-dir/"), "{e}");
    }
}
