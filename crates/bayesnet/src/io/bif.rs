//! BIF, the Bayesian Interchange Format of the bnlearn repository (and of JavaBayes and
//! pgmpy): reading with errors that name file, line and variable, and writing that
//! round-trips bit-for-bit.
//!
//! The reader accepts the bnlearn layout and the older JavaBayes dialect (quoted names,
//! lists without commas, `probability ("child" "parent")` without `|`). Rows may come in
//! any order and are matched to parent states by label; `default` fills the rows not
//! given; `table` lists a parented CPT with the child's state varying *slowest* (see
//! `assemble` for the source of that convention). `property` entries are skipped.
//! Gzipped files are not read: decompress them first.

mod assemble;
mod lexer;
mod parser;
mod writer;

use std::path::Path;

use crate::error::{Error, Result};
use crate::network::Network;

use super::atomic::write_atomically;

/// Parses BIF text into a validated network. `source` (usually the file name) is used in
/// error messages, which have the form `source:line: message`.
///
/// ```
/// let text = "variable rain { type discrete [ 2 ] { yes, no }; }
/// variable wet { type discrete [ 2 ] { yes, no }; }
/// probability ( rain ) { table 0.2, 0.8; }
/// probability ( wet | rain ) { (yes) 0.9, 0.1; (no) 0.1, 0.9; }";
/// let net = bayesnet::parse_bif(text, "rain.bif")?;
/// assert_eq!(net.len(), 2);
///
/// let bad = text.replace("(no) 0.1", "(maybe) 0.1");
/// let err = bayesnet::parse_bif(&bad, "rain.bif").unwrap_err().to_string();
/// assert!(err.starts_with("rain.bif:4: probability of `wet`, row (maybe)"));
/// # Ok::<(), bayesnet::Error>(())
/// ```
pub fn parse_bif(text: &str, source: &str) -> Result<Network> {
    // A UTF-8 byte-order mark, as some Windows editors write, is not part of the text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let tokens = lexer::tokenize(text, source)?;
    let raw = parser::parse(&tokens, source)?;
    assemble::assemble(raw, source)
}

/// Reads and parses a `.bif` file; errors name the path as given.
pub fn read_bif(path: &Path) -> Result<Network> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        return Err(Error::Data {
            path: path.display().to_string(),
            message:
                "gzip-compressed networks are not supported; decompress the file first (gunzip)"
                    .into(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_bif(&text, &path.display().to_string())
}

/// Renders `net` as BIF text that [`parse_bif`] reads back to an identical network
/// (names, states, parent order and every probability bit-for-bit).
pub fn write_bif(net: &Network) -> String {
    writer::write(net)
}

/// Writes `net` as BIF to `path` atomically: readers never see a half-written file, and a
/// failed write leaves any previous file in place.
pub fn write_bif_file(net: &Network, path: &Path) -> Result<()> {
    write_atomically(path, write_bif(net).as_bytes())
}
