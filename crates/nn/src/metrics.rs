//! `metrics.csv`: one row per logged step (step, learning rate, loss terms, gradient
//! norm, seconds since the start of training). A resumed run first drops the rows
//! logged after its checkpoint, so the file never has two rows for one step.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::{NnError, Result};

/// Appends rows to a run's metrics file.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    writer: csv::Writer<File>,
    header_written: bool,
}

impl MetricsLog {
    /// Opens `path` for appending; keeps only rows with `step <= keep_until` (all rows
    /// are dropped when it is `None`, i.e. a fresh run).
    pub fn open(path: &Path, keep_until: Option<usize>) -> Result<Self> {
        let csv_error = |source| NnError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut kept = Vec::new();
        if let (Some(limit), true) = (keep_until, path.is_file()) {
            let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
            let header = reader.headers().map_err(csv_error)?.clone();
            kept.push(header);
            for record in reader.records() {
                let record = record.map_err(csv_error)?;
                let step: usize = record
                    .get(0)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(usize::MAX);
                if step <= limit {
                    kept.push(record);
                }
            }
        }
        let mut rewrite = csv::Writer::from_path(path).map_err(csv_error)?;
        for record in &kept {
            rewrite.write_record(record).map_err(csv_error)?;
        }
        rewrite.flush().map_err(|e| NnError::io(path, e))?;
        drop(rewrite);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| NnError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(file),
            header_written: !kept.is_empty(),
        })
    }

    /// Writes one row; the column names of the first row become the header.
    pub fn log(&mut self, columns: &[(&str, f64)]) -> Result<()> {
        let csv_error = |source| NnError::Csv {
            path: self.path.clone(),
            source,
        };
        if !self.header_written {
            self.writer
                .write_record(columns.iter().map(|(name, _)| *name))
                .map_err(csv_error)?;
            self.header_written = true;
        }
        self.writer
            .write_record(columns.iter().map(|(name, v)| match *name {
                "step" => format!("{}", *v as u64),
                _ => format!("{v:.6e}"),
            }))
            .map_err(csv_error)?;
        self.writer.flush().map_err(|e| NnError::io(&self.path, e))
    }
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
}
