//! The `.npy` format inside each `.npz` member: a magic string, a version, a Python dict
//! literal giving dtype, memory order and shape, then the raw values. This is all the
//! format has; a PEG parser crate for the one-line dict would cost more than it saves.

use std::io::Read;

use super::Dtype;

impl Dtype {
    /// The little-endian `descr` string of a `.npy` header.
    pub(super) fn descr(self) -> String {
        let kind = match self {
            Dtype::Bool => 'b',
            Dtype::U8 | Dtype::U16 | Dtype::U32 | Dtype::U64 => 'u',
            Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64 => 'i',
            Dtype::F32 | Dtype::F64 => 'f',
        };
        let order = if self.size() == 1 { '|' } else { '<' };
        format!("{order}{kind}{}", self.size())
    }

    /// Parses a `descr` such as `<f4`, `|u1` or `>i8`; `None` for anything else (strings,
    /// half floats, structured types...). The flag says whether the data is big-endian.
    pub(super) fn parse_descr(descr: &str) -> Option<(Dtype, bool)> {
        let (big_endian, rest) = match descr.chars().next()? {
            '<' | '|' => (false, &descr[1..]),
            '>' => (true, &descr[1..]),
            '=' => (cfg!(target_endian = "big"), &descr[1..]),
            _ => (cfg!(target_endian = "big"), descr),
        };
        let dtype = match rest {
            "b1" => Dtype::Bool,
            "u1" => Dtype::U8,
            "u2" => Dtype::U16,
            "u4" => Dtype::U32,
            "u8" => Dtype::U64,
            "i1" => Dtype::I8,
            "i2" => Dtype::I16,
            "i4" => Dtype::I32,
            "i8" => Dtype::I64,
            "f4" => Dtype::F32,
            "f8" => Dtype::F64,
            _ => return None,
        };
        Some((dtype, big_endian))
    }
}

/// Decoded array data of whichever type the file held.
pub enum Values {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Copies a chunk produced by `chunks_exact(N)` into an array.
fn bytes_of<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(chunk);
    out
}

impl Values {
    /// Decodes raw `.npy` data of `dtype`.
    pub fn decode(dtype: Dtype, big_endian: bool, bytes: Vec<u8>) -> Values {
        macro_rules! numbers {
            ($variant:ident, $t:ty) => {{
                const N: usize = std::mem::size_of::<$t>();
                let convert = if big_endian {
                    <$t>::from_be_bytes
                } else {
                    <$t>::from_le_bytes
                };
                Values::$variant(
                    bytes
                        .chunks_exact(N)
                        .map(|c| convert(bytes_of::<N>(c)))
                        .collect(),
                )
            }};
        }
        match dtype {
            Dtype::Bool => Values::Bool(bytes.into_iter().map(|b| b != 0).collect()),
            Dtype::U8 => Values::U8(bytes),
            Dtype::I8 => Values::I8(bytes.into_iter().map(|b| b as i8).collect()),
            Dtype::U16 => numbers!(U16, u16),
            Dtype::U32 => numbers!(U32, u32),
            Dtype::U64 => numbers!(U64, u64),
            Dtype::I16 => numbers!(I16, i16),
            Dtype::I32 => numbers!(I32, i32),
            Dtype::I64 => numbers!(I64, i64),
            Dtype::F32 => numbers!(F32, f32),
            Dtype::F64 => numbers!(F64, f64),
        }
    }
}

/// The `.npy` header NumPy itself writes: magic, version, a Python dict literal padded
/// with spaces so the data starts at a multiple of 64 bytes.
pub fn encode_header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}",
        dtype.descr()
    );
    // Version 1 has a 2-byte header length, version 2 a 4-byte one; both are 8 bytes of
    // magic and version before it.
    let version_one = dict.len() + 1 + 10 <= usize::from(u16::MAX);
    let prefix = if version_one { 10 } else { 12 };
    let padding = (64 - (prefix + dict.len() + 1) % 64) % 64;
    dict.push_str(&" ".repeat(padding));
    dict.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    if version_one {
        out.extend([1, 0]);
        out.extend((dict.len() as u16).to_le_bytes());
    } else {
        out.extend([2, 0]);
        out.extend((dict.len() as u32).to_le_bytes());
    }
    out.extend(dict.as_bytes());
    out
}

/// What a `.npy` header says about the data after it.
pub struct Header {
    /// The dtype and whether it is big-endian, or the unsupported `descr`.
    pub dtype: Result<(Dtype, bool), String>,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
}

/// Reads and parses a `.npy` header, leaving `reader` at the first data byte. Returns
/// the header and its length in bytes.
pub fn read_header(reader: &mut impl Read) -> std::result::Result<(Header, u64), String> {
    let mut magic = [0u8; 8];
    reader
        .read_exact(&mut magic)
        .map_err(|e| format!("not a .npy array ({e})"))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err("not a .npy array (bad magic bytes)".into());
    }
    let (len, prefix) = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).map_err(|e| e.to_string())?;
            (u64::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader.read_exact(&mut b).map_err(|e| e.to_string())?;
            (u64::from(u32::from_le_bytes(b)), 12)
        }
        v => return Err(format!(".npy format version {v} is not supported")),
    };
    let mut text = Vec::new();
    reader
        .by_ref()
        .take(len)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 != len {
        return Err("the .npy header is truncated".into());
    }
    let text = String::from_utf8_lossy(&text);
    let header =
        parse_header_dict(&text).map_err(|e| format!("unreadable .npy header {text:?}: {e}"))?;
    Ok((header, prefix + len))
}

/// A value in the header's Python literal; only what numeric arrays use is kept.
#[derive(Debug)]
enum Literal {
    Str(String),
    Bool(bool),
    Int(usize),
    Seq(Vec<Literal>),
}

/// Deepest nesting of tuples and lists accepted in a header (structured dtypes nest a
/// few levels; numeric ones not at all).
const MAX_NESTING: usize = 16;

/// A minimal parser for the Python dict literal of a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
struct LiteralParser<'a> {
    rest: &'a str,
}

impl LiteralParser<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Parses one value; `depth` bounds the nesting, so that a malicious header cannot
    /// overflow the stack.
    fn value(&mut self, depth: usize) -> std::result::Result<Literal, String> {
        if depth > MAX_NESTING {
            return Err("nested too deeply".into());
        }
        self.skip_space();
        let first = self.rest.chars().next().ok_or("unexpected end")?;
        match first {
            '\'' | '"' => {
                let body = &self.rest[1..];
                let end = body.find(first).ok_or("unterminated string")?;
                self.rest = &body[end + 1..];
                Ok(Literal::Str(body[..end].to_string()))
            }
            '(' | '[' => {
                let close = if first == '(' { ')' } else { ']' };
                self.rest = &self.rest[1..];
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    if self.eat(close) {
                        break;
                    }
                    if !self.eat(',') {
                        return Err(format!("expected `,` or `{close}`"));
                    }
                }
                Ok(Literal::Seq(items))
            }
            c if c.is_ascii_digit() => {
                let end = self
                    .rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(self.rest.len());
                let n = self.rest[..end].parse().map_err(|_| "integer too large")?;
                self.rest = &self.rest[end..];
                // Python 2 wrote long integers as `3L`.
                self.rest = self.rest.strip_prefix('L').unwrap_or(self.rest);
                Ok(Literal::Int(n))
            }
            _ if self.rest.starts_with("True") => {
                self.rest = &self.rest[4..];
                Ok(Literal::Bool(true))
            }
            _ if self.rest.starts_with("False") => {
                self.rest = &self.rest[5..];
                Ok(Literal::Bool(false))
            }
            c => Err(format!("unexpected `{c}`")),
        }
    }
}

fn parse_header_dict(text: &str) -> std::result::Result<Header, String> {
    let mut p = LiteralParser { rest: text };
    if !p.eat('{') {
        return Err("expected `{`".into());
    }
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        if p.eat('}') {
            break;
        }
        let Literal::Str(key) = p.value(0)? else {
            return Err("expected a string key".into());
        };
        if !p.eat(':') {
            return Err("expected `:`".into());
        }
        let value = p.value(0)?;
        match key.as_str() {
            "descr" => descr = Some(value),
            "fortran_order" => fortran_order = Some(value),
            "shape" => shape = Some(value),
            _ => {}
        }
        if p.eat('}') {
            break;
        }
        if !p.eat(',') {
            return Err("expected `,` or `}`".into());
        }
    }
    let dtype = match descr.ok_or("no `descr`")? {
        Literal::Str(s) => Dtype::parse_descr(&s).ok_or(s),
        other => Err(format!("structured dtype {other:?}")),
    };
    let Some(Literal::Bool(fortran_order)) = fortran_order else {
        return Err("no boolean `fortran_order`".into());
    };
    let Some(Literal::Seq(dims)) = shape else {
        return Err("no tuple `shape`".into());
    };
    let shape = dims
        .into_iter()
        .map(|d| match d {
            Literal::Int(n) => Ok(n),
            other => Err(format!("shape entry {other:?} is not an integer")),
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(Header {
        dtype,
        fortran_order,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Header {
        parse_header_dict(text).unwrap()
    }

    #[test]
    fn parses_the_headers_numpy_and_others_write() {
        let h = parse("{'descr': '<i8', 'fortran_order': False, 'shape': (99, 12), }");
        assert_eq!(
            (h.dtype, h.fortran_order, h.shape),
            (Ok((Dtype::I64, false)), false, vec![99, 12])
        );
        let h = parse("{'descr':'>f4','fortran_order':True,'shape':(3L,)}");
        assert_eq!(
            (h.dtype, h.fortran_order, h.shape),
            (Ok((Dtype::F32, true)), true, vec![3])
        );
        assert_eq!(
            parse("{'shape': (), 'descr': '|b1', 'fortran_order': False}").shape,
            Vec::<usize>::new()
        );
        assert_eq!(
            parse("{'descr': '<U12', 'fortran_order': False, 'shape': (9,), }").dtype,
            Err("<U12".into())
        );
        assert!(
            parse("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }")
                .dtype
                .is_err()
        );
        assert!(parse_header_dict("{'descr': '<i8', 'shape': (2,)}").is_err());
        let deep = format!(
            "{{'descr': {}, 'fortran_order': False, 'shape': (2,), }}",
            "(".repeat(100_000)
        );
        assert_eq!(parse_header_dict(&deep).err().unwrap(), "nested too deeply");
        assert!(
            parse_header_dict("{'descr': '<i8', 'fortran_order': False, 'shape': (2,").is_err()
        );
    }

    #[test]
    fn decodes_both_byte_orders() {
        let Values::I32(v) = Values::decode(Dtype::I32, true, vec![0, 0, 1, 2]) else {
            panic!("wrong variant")
        };
        assert_eq!(v, [258]);
        let Values::F64(v) = Values::decode(Dtype::F64, false, 2.5f64.to_le_bytes().to_vec())
        else {
            panic!("wrong variant")
        };
        assert_eq!(v, [2.5]);
    }
}
