//! `metrics.csv`: one row per logged step (step, learning rate, loss terms, gradient
//! norm, seconds since the start of training). A resumed run first drops the rows
//! logged after its checkpoint, so the file never has two rows for one step; if it logs
//! other columns than the file has (a run resumed by a newer version that logs more),
//! the file is rewritten with the new header and the old rows keep their values under
//! their own column names, blank where they had none.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use csv::StringRecord;

use crate::run_dir::write_atomically;
use crate::{NnError, Result};

/// Appends rows to a run's metrics file.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    writer: csv::Writer<File>,
    /// The header the file has, until the first row is logged; `None` for a new file.
    existing_header: Option<StringRecord>,
    header_written: bool,
}

impl MetricsLog {
    /// Opens `path` for appending; keeps only rows with `step <= keep_until` (all rows
    /// are dropped when it is `None`, i.e. a fresh run).
    pub fn open(path: &Path, keep_until: Option<usize>) -> Result<Self> {
        let mut kept = Vec::new();
        let mut existing_header = None;
        if let (Some(limit), true) = (keep_until, path.is_file()) {
            let (header, rows) = read(path)?;
            kept = rows
                .into_iter()
                .filter(|row| {
                    let step = row.get(0).and_then(|s| s.parse::<usize>().ok());
                    step.is_some_and(|step| step <= limit)
                })
                .collect();
            existing_header = Some(header);
        }
        rewrite(path, existing_header.as_ref(), &kept)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: appender(path)?,
            header_written: existing_header.is_some(),
            existing_header,
        })
    }

    /// Writes one row; the column names of the first row become the header.
    pub fn log(&mut self, columns: &[(&str, f64)]) -> Result<()> {
        let names = StringRecord::from(columns.iter().map(|(name, _)| *name).collect::<Vec<_>>());
        if let Some(old) = self.existing_header.take() {
            if old != names {
                self.widen(&old, &names)?;
            }
        }
        if !self.header_written {
            self.writer
                .write_record(&names)
                .map_err(|source| csv_error(&self.path, source))?;
            self.header_written = true;
        }
        self.writer
            .write_record(columns.iter().map(|(name, v)| match *name {
                "step" => format!("{}", *v as u64),
                _ => format!("{v:.6e}"),
            }))
            .map_err(|source| csv_error(&self.path, source))?;
        self.writer.flush().map_err(|e| NnError::io(&self.path, e))
    }

    /// Rewrites the file under the header `new`, each old row's values moved from the
    /// columns of `old` to the same names in `new` (blank where `new` has a column the
    /// old rows lack; old columns that `new` lacks are dropped).
    fn widen(&mut self, old: &StringRecord, new: &StringRecord) -> Result<()> {
        let (_, rows) = read(&self.path)?;
        let moved: Vec<StringRecord> = rows
            .iter()
            .map(|row| {
                new.iter()
                    .map(|name| {
                        old.iter()
                            .position(|o| o == name)
                            .and_then(|i| row.get(i))
                            .unwrap_or("")
                    })
                    .collect()
            })
            .collect();
        rewrite(&self.path, Some(new), &moved)?;
        self.writer = appender(&self.path)?;
        Ok(())
    }
}

fn csv_error(path: &Path, source: csv::Error) -> NnError {
    NnError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

/// The header and rows of a metrics file.
fn read(path: &Path) -> Result<(StringRecord, Vec<StringRecord>)> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| csv_error(path, e))?;
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let rows = reader
        .records()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| csv_error(path, e))?;
    Ok((header, rows))
}

/// Replaces the file by `header` (if any) and `rows`, atomically.
fn rewrite(path: &Path, header: Option<&StringRecord>, rows: &[StringRecord]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in header.into_iter().chain(rows) {
        writer
            .write_record(record)
            .map_err(|e| csv_error(path, e))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| NnError::io(path, e.into_error()))?;
    write_atomically(path, &bytes)
}

/// A writer that appends rows (no header) to the file.
fn appender(path: &Path) -> Result<csv::Writer<File>> {
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| NnError::io(path, e))?;
    Ok(csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_drops_rows_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for step in [10, 20, 30] {
            log.log(&[("step", step as f64), ("loss", 1.5)]).unwrap();
        }
        drop(log);
        let mut log = MetricsLog::open(&path, Some(20)).unwrap();
        log.log(&[("step", 30.0), ("loss", 0.5)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "step,loss",
                "10,1.500000e0",
                "20,1.500000e0",
                "30,5.000000e-1"
            ]
        );
    }

    #[test]
    fn a_resumed_run_logging_new_columns_keeps_the_old_rows_under_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for step in [10, 20] {
            log.log(&[("step", step as f64), ("loss", 1.5)]).unwrap();
        }
        drop(log);
        let mut log = MetricsLog::open(&path, Some(10)).unwrap();
        log.log(&[("step", 20.0), ("loss", 0.5), ("psi_entropy", 0.25)])
            .unwrap();
        log.log(&[("step", 30.0), ("loss", 0.5), ("psi_entropy", 0.0)])
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "step,loss,psi_entropy",
                "10,1.500000e0,",
                "20,5.000000e-1,2.500000e-1",
                "30,5.000000e-1,0.000000e0"
            ]
        );
        // The rewritten file reads back as one table.
        let (header, rows) = read(&path).unwrap();
        assert_eq!(header.len(), 3);
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn an_empty_file_gets_the_first_rows_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, "").unwrap();
        let mut log = MetricsLog::open(&path, Some(10)).unwrap();
        log.log(&[("step", 20.0), ("loss", 0.5)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            ["step,loss", "20,5.000000e-1"]
        );
    }
}
