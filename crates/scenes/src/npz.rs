//! NumPy `.npz` archives: the container CITRIS (and most Python ML code) reads and writes.
//!
//! An `.npz` is a zip file holding one `.npy` file per array. We use the `zip` crate for
//! the container and encode the tiny `.npy` header ourselves (see Cargo.toml for why).
//! Writing streams values straight into the archive, so a 100k-frame image array never
//! has to sit in memory whole, and is atomic (see [`crate::atomic`]). Reading accepts what
//! `np.savez` and `np.savez_compressed` produce: stored or deflated members, any byte
//! order, the default dtypes (`bool`, all integer widths, `float32`, `float64`).

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};

/// How array members are stored inside the archive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed, like `np.savez`: fastest to write and to read.
    #[default]
    Stored,
    /// Deflate, like `np.savez_compressed`: smaller, several times slower to write.
    Deflated,
}

/// The element types found in numeric `.npy` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

impl Dtype {
    /// NumPy's name for the type, as printed by `array.dtype`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "bool",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    /// Bytes per element.
    fn size(self) -> usize {
        match self {
            Dtype::Bool | Dtype::U8 | Dtype::I8 => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod npy;

use npy::Values;

mod sealed {
    use super::Values;
    use std::io::{self, Write};

    /// The encoding half of [`super::Element`], hidden so the set of types stays closed.
    pub trait Sealed: Sized {
        /// Writes `values` little-endian, using `scratch` as a conversion buffer.
        fn write_le(values: &[Self], out: &mut dyn Write, scratch: &mut Vec<u8>) -> io::Result<()>;
        /// The values if they have exactly this type.
        fn take(values: Values) -> Option<Vec<Self>>;
    }
}

/// A Rust type that maps one-to-one to a NumPy dtype, for writing and exact-type reads.
pub trait Element: sealed::Sealed + Copy + 'static {
    /// The NumPy dtype this type is written as.
    const DTYPE: Dtype;
}

/// Elements converted per batch when writing multi-byte types.
const CONVERT_BATCH: usize = 1 << 14;

impl sealed::Sealed for u8 {
    fn write_le(values: &[u8], out: &mut dyn Write, _: &mut Vec<u8>) -> io::Result<()> {
        out.write_all(values)
    }

    fn take(values: Values) -> Option<Vec<u8>> {
        match values {
            Values::U8(v) => Some(v),
            _ => None,
        }
    }
}

impl Element for u8 {
    const DTYPE: Dtype = Dtype::U8;
}

macro_rules! multi_byte_element {
    ($t:ty, $variant:ident) => {
        impl sealed::Sealed for $t {
            fn write_le(
                values: &[$t],
                out: &mut dyn Write,
                scratch: &mut Vec<u8>,
            ) -> io::Result<()> {
                for batch in values.chunks(CONVERT_BATCH) {
                    scratch.clear();
                    scratch.extend(batch.iter().flat_map(|v| v.to_le_bytes()));
                    out.write_all(scratch)?;
                }
                Ok(())
            }

            fn take(values: Values) -> Option<Vec<$t>> {
                match values {
                    Values::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }

        impl Element for $t {
            const DTYPE: Dtype = Dtype::$variant;
        }
    };
}

multi_byte_element!(i32, I32);
multi_byte_element!(i64, I64);
multi_byte_element!(f32, F32);
multi_byte_element!(f64, F64);

/// An n-dimensional array in C (row-major) order: `data.len()` is the product of `shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct Array<T> {
    shape: Vec<usize>,
    data: Vec<T>,
}

impl<T> Array<T> {
    /// An array of `shape` holding `data`, which must have exactly the right length.
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Result<Self> {
        match element_count(&shape) {
            Some(n) if n == data.len() => Ok(Self { shape, data }),
            _ => Err(Error::InvalidArgument(format!(
                "shape {shape:?} does not hold {} values",
                data.len()
            ))),
        }
    }

    /// Length of every axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// All values, row-major.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// All values, row-major, without copying.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// Entry `i` along the first axis (one frame of an image stack, one row of a table).
    ///
    /// # Panics
    /// If the array is 0-dimensional or `i` is out of range, like slice indexing.
    pub fn row(&self, i: usize) -> &[T] {
        let len: usize = self.shape[1..].iter().product();
        &self.data[i * len..(i + 1) * len]
    }
}

/// Converts every value losslessly.
fn widen<S, D: From<S>>(values: Vec<S>) -> Vec<D> {
    values.into_iter().map(D::from).collect()
}

/// Product of the axis lengths, `None` on overflow.
fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

fn format_error(path: &Path, message: String) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message,
    }
}

fn zip_error(path: &Path, e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        other => format_error(path, format!("not a readable npz (zip) archive: {other}")),
    }
}

/// Writes an `.npz` archive array by array; nothing appears at the destination until
/// [`finish`](Self::finish) succeeds. Output is byte-for-byte deterministic (fixed
/// timestamps and permissions).
pub struct NpzWriter {
    zip: ZipWriter<AtomicFile>,
    path: PathBuf,
    compression: Compression,
    keys: Vec<String>,
    /// Key of a stream that was started but not finished.
    unfinished: Option<String>,
}

impl NpzWriter {
    /// Starts writing the archive at `path`.
    pub fn create(path: &Path, compression: Compression) -> Result<Self> {
        Ok(Self {
            zip: ZipWriter::new(AtomicFile::create(path)?),
            path: path.to_path_buf(),
            compression,
            keys: Vec::new(),
            unfinished: None,
        })
    }

    /// Adds the array `key` (NumPy reads it as `np.load(path)[key]`) of `shape`.
    pub fn add<T: Element>(&mut self, key: &str, shape: &[usize], values: &[T]) -> Result<()> {
        let mut stream = self.stream::<T>(key, shape)?;
        stream.write(values)?;
        stream.finish()
    }

    /// Starts the array `key` of `shape`, whose values are then written in row-major
    /// order, in as many pieces as convenient, through the returned stream.
    pub fn stream<T: Element>(&mut self, key: &str, shape: &[usize]) -> Result<ArrayStream<'_, T>> {
        self.check_complete()?;
        if key.is_empty() || self.keys.iter().any(|k| k == key) {
            return Err(Error::InvalidArgument(format!(
                "{}: array key `{key}` is empty or used twice",
                self.path.display()
            )));
        }
        let count = element_count(shape).ok_or_else(|| {
            Error::InvalidArgument(format!("array `{key}`: shape {shape:?} is too large"))
        })?;
        let header = npy::encode_header(T::DTYPE, shape);
        let total_bytes = (header.len() as u64)
            .saturating_add((count as u64).saturating_mul(T::DTYPE.size() as u64));
        let method = match self.compression {
            Compression::Stored => CompressionMethod::Stored,
            Compression::Deflated => CompressionMethod::Deflated,
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(total_bytes >= u64::from(u32::MAX));
        self.zip
            .start_file(format!("{key}.npy"), options)
            .map_err(|e| zip_error(&self.path, e))?;
        self.zip.write_all(&header).map_err(|e| self.io_error(e))?;
        self.keys.push(key.to_string());
        self.unfinished = Some(key.to_string());
        Ok(ArrayStream {
            npz: self,
            remaining: count,
            scratch: Vec::new(),
            _element: PhantomData,
        })
    }

    /// Completes the archive and moves it into place.
    pub fn finish(self) -> Result<()> {
        self.check_complete()?;
        let file = self.zip.finish().map_err(|e| zip_error(&self.path, e))?;
        file.commit()
    }

    fn check_complete(&self) -> Result<()> {
        match &self.unfinished {
            Some(key) => Err(Error::InvalidArgument(format!(
                "{}: array `{key}` was started but not finished",
                self.path.display()
            ))),
            None => Ok(()),
        }
    }

    fn io_error(&self, source: io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// The values of one array being written; see [`NpzWriter::stream`].
pub struct ArrayStream<'a, T: Element> {
    npz: &'a mut NpzWriter,
    remaining: usize,
    scratch: Vec<u8>,
    _element: PhantomData<T>,
}

impl<T: Element> ArrayStream<'_, T> {
    /// Appends the next `values`.
    pub fn write(&mut self, values: &[T]) -> Result<()> {
        if values.len() > self.remaining {
            return Err(self.error(format!(
                "has room for {} more value(s), got {}",
                self.remaining,
                values.len()
            )));
        }
        self.remaining -= values.len();
        T::write_le(values, &mut self.npz.zip, &mut self.scratch).map_err(|e| self.npz.io_error(e))
    }

    /// Checks that exactly the shape's number of values was written.
    pub fn finish(self) -> Result<()> {
        if self.remaining != 0 {
            return Err(self.error(format!(
                "is missing {} value(s) of its shape",
                self.remaining
            )));
        }
        self.npz.unfinished = None;
        Ok(())
    }

    fn error(&self, problem: String) -> Error {
        let key = self.npz.unfinished.as_deref().unwrap_or_default();
        Error::InvalidArgument(format!(
            "{}: array `{key}` {problem}",
            self.npz.path.display()
        ))
    }
}

/// An `.npz` archive opened for reading. Arrays are decoded only when asked for, so
/// listing keys is cheap and members we cannot decode (string arrays such as CITRIS'
/// `keys`) do not stop the others from being read.
pub struct NpzFile {
    path: PathBuf,
    archive: ZipArchive<BufReader<File>>,
    /// `(key, member name)` in archive order.
    members: Vec<(String, String)>,
}

impl NpzFile {
    /// Opens `path` and lists its arrays.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let archive = ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(path, e))?;
        let members = archive
            .file_names()
            .map(|name| {
                let key = name.strip_suffix(".npy").unwrap_or(name);
                (key.to_string(), name.to_string())
            })
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            archive,
            members,
        })
    }

    /// The file this archive was read from, for error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Array names, in archive order.
    pub fn keys(&self) -> Vec<&str> {
        self.members.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Whether the archive holds the array `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| k == key)
    }

    /// Reads `key`, which must have exactly `T`'s dtype.
    pub fn read<T: Element>(&mut self, key: &str) -> Result<Array<T>> {
        let (shape, dtype, values) = self.read_values(key)?;
        let data = T::take(values).ok_or_else(|| {
            self.error(format!("`{key}` has dtype {dtype}, expected {}", T::DTYPE))
        })?;
        Ok(Array { shape, data })
    }

    /// Reads `key` as `i64`, accepting any boolean or integer dtype (CITRIS stores
    /// intervention flags as `int64`, triplet masks as `int32`, shape labels as `uint8`).
    pub fn read_as_i64(&mut self, key: &str) -> Result<Array<i64>> {
        let (shape, dtype, values) = self.read_values(key)?;
        let data = match values {
            Values::Bool(v) => widen(v),
            Values::U8(v) => widen(v),
            Values::U16(v) => widen(v),
            Values::U32(v) => widen(v),
            Values::I8(v) => widen(v),
            Values::I16(v) => widen(v),
            Values::I32(v) => widen(v),
            Values::I64(v) => v,
            Values::U64(v) => v
                .into_iter()
                .map(i64::try_from)
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| {
                    self.error(format!("`{key}` has uint64 values beyond the int64 range"))
                })?,
            Values::F32(_) | Values::F64(_) => {
                return Err(self.error(format!(
                    "`{key}` has dtype {dtype}, expected an integer type"
                )))
            }
        };
        Ok(Array { shape, data })
    }

    /// Reads `key` as `f64`, accepting any numeric dtype (integers beyond 2^53 round).
    pub fn read_as_f64(&mut self, key: &str) -> Result<Array<f64>> {
        let (shape, _, values) = self.read_values(key)?;
        let data = match values {
            Values::Bool(v) => v.into_iter().map(|b| f64::from(u8::from(b))).collect(),
            Values::U8(v) => widen(v),
            Values::U16(v) => widen(v),
            Values::U32(v) => widen(v),
            Values::I8(v) => widen(v),
            Values::I16(v) => widen(v),
            Values::I32(v) => widen(v),
            Values::F32(v) => widen(v),
            Values::F64(v) => v,
            Values::U64(v) => v.into_iter().map(|x| x as f64).collect(),
            Values::I64(v) => v.into_iter().map(|x| x as f64).collect(),
        };
        Ok(Array { shape, data })
    }

    fn error(&self, message: String) -> Error {
        format_error(&self.path, message)
    }

    fn read_values(&mut self, key: &str) -> Result<(Vec<usize>, Dtype, Values)> {
        let Some((_, member)) = self.members.iter().find(|(k, _)| k == key) else {
            return Err(self.error(format!(
                "key `{key}` missing (keys: {})",
                self.keys().join(", ")
            )));
        };
        let path = self.path.clone();
        let mut file = self
            .archive
            .by_name(member)
            .map_err(|e| zip_error(&path, e))?;
        let member_size = file.size();
        let (header, header_len) = npy::read_header(&mut file)
            .map_err(|e| format_error(&path, format!("`{key}`: {e}")))?;
        let (dtype, big_endian) = header.dtype.map_err(|descr| {
            format_error(
                &path,
                format!(
                    "`{key}` has dtype {descr}, which is not a numeric type this reader supports"
                ),
            )
        })?;
        if header.fortran_order && header.shape.len() > 1 {
            return Err(format_error(
                &path,
                format!("`{key}` is stored in Fortran order; save it with np.ascontiguousarray"),
            ));
        }
        let expected = element_count(&header.shape)
            .and_then(|n| n.checked_mul(dtype.size()))
            .filter(|&n| n as u64 == member_size.saturating_sub(header_len))
            .ok_or_else(|| {
                format_error(
                    &path,
                    format!(
                        "`{key}`: shape {:?} of {dtype} does not match the {} data bytes stored",
                        header.shape,
                        member_size.saturating_sub(header_len)
                    ),
                )
            })?;
        let mut bytes = vec![0u8; expected];
        file.read_exact(&mut bytes)
            .map_err(|e| format_error(&path, format!("`{key}`: {e}")))?;
        Ok((
            header.shape,
            dtype,
            Values::decode(dtype, big_endian, bytes),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_type_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        for compression in [Compression::Stored, Compression::Deflated] {
            let mut w = NpzWriter::create(&path, compression).unwrap();
            w.add("u8", &[2, 3], &[0u8, 1, 2, 3, 4, 255]).unwrap();
            w.add("i32", &[2], &[-1i32, i32::MAX]).unwrap();
            w.add("i64", &[1, 2], &[i64::MIN, 7]).unwrap();
            w.add("f32", &[], &[1.5f32]).unwrap();
            w.add("f64", &[0, 4], &[] as &[f64]).unwrap();
            w.finish().unwrap();
            let mut r = NpzFile::open(&path).unwrap();
            assert_eq!(r.keys(), ["u8", "i32", "i64", "f32", "f64"]);
            let a = r.read::<u8>("u8").unwrap();
            assert_eq!((a.shape(), a.row(1)), (&[2, 3][..], &[3u8, 4, 255][..]));
            assert_eq!(r.read::<i32>("i32").unwrap().data(), [-1, i32::MAX]);
            assert_eq!(r.read::<i64>("i64").unwrap().data(), [i64::MIN, 7]);
            assert_eq!(r.read::<f32>("f32").unwrap().shape(), [] as [usize; 0]);
            assert_eq!(r.read::<f64>("f64").unwrap().shape(), [0, 4]);
            assert_eq!(r.read_as_i64("u8").unwrap().data()[5], 255);
            assert_eq!(r.read_as_f64("i32").unwrap().data(), [-1.0, 2147483647.0]);
        }
    }

    #[test]
    fn header_is_the_one_numpy_writes() {
        let mut expected =
            b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }"
                .to_vec();
        expected.resize(127, b' ');
        expected.push(b'\n');
        assert_eq!(npy::encode_header(Dtype::U8, &[2, 3]), expected);
    }

    #[test]
    fn streams_must_be_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        let mut w = NpzWriter::create(&path, Compression::Stored).unwrap();
        let mut s = w.stream::<f32>("x", &[3]).unwrap();
        s.write(&[1.0, 2.0]).unwrap();
        assert!(s.write(&[3.0, 4.0]).is_err());
        let e = s.finish().unwrap_err().to_string();
        assert!(
            e.ends_with("a.npz: array `x` is missing 1 value(s) of its shape"),
            "{e}"
        );
        assert!(w.finish().is_err());
        assert!(!path.exists());
    }

    #[test]
    fn type_errors_name_file_key_and_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npz");
        let mut w = NpzWriter::create(&path, Compression::Stored).unwrap();
        w.add("interventions", &[1], &[1.0f64]).unwrap();
        w.finish().unwrap();
        let mut r = NpzFile::open(&path).unwrap();
        let e = r.read_as_i64("interventions").unwrap_err().to_string();
        assert!(
            e.ends_with("t.npz: `interventions` has dtype float64, expected an integer type"),
            "{e}"
        );
        let e = r.read::<u8>("interventions").unwrap_err().to_string();
        assert!(
            e.ends_with("`interventions` has dtype float64, expected uint8"),
            "{e}"
        );
        let e = r.read::<u8>("imgs").unwrap_err().to_string();
        assert!(
            e.ends_with("t.npz: key `imgs` missing (keys: interventions)"),
            "{e}"
        );
    }
}
