//! A minimal PNG encoder (8-bit RGB, one zlib stream, Sub filter on every row). It
//! reuses `flate2`, already in the build for `.npz` archives, instead of pulling an image
//! library and its codecs into the crate for the one format we write. The output is
//! deterministic: same pixels, same bytes.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::{Compression, Crc};

/// Encodes `width × height` interleaved RGB bytes as a PNG file.
pub(crate) fn encode_rgb(width: usize, height: usize, rgb: &[u8]) -> Vec<u8> {
    assert_eq!(rgb.len(), width * height * 3, "pixel buffer size");
    let stride = width * 3;
    let mut raw = Vec::with_capacity((stride + 1) * height);
    for row in rgb.chunks_exact(stride.max(1)).take(height) {
        raw.push(1); // Sub: each byte minus the byte one pixel to its left.
        raw.extend_from_slice(&row[..3.min(row.len())]);
        raw.extend(row.windows(4).map(|w| w[3].wrapping_sub(w[0])));
    }
    let mut z = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::new(6));
    z.write_all(&raw).expect("writing to memory");
    let idat = z.finish().expect("writing to memory");

    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour, deflate, filter 0, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    #[test]
    fn round_trips_through_the_sub_filter() {
        let (w, h) = (5, 3);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let png = encode_rgb(w, h, &rgb);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        // IDAT starts after the 8-byte signature and the 25-byte IHDR chunk.
        let len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        ZlibDecoder::new(&png[41..41 + len])
            .read_to_end(&mut raw)
            .unwrap();
        let mut back = Vec::new();
        for row in raw.chunks(w * 3 + 1) {
            assert_eq!(row[0], 1);
            let mut line = row[1..].to_vec();
            for i in 3..line.len() {
                line[i] = line[i].wrapping_add(line[i - 3]);
            }
            back.extend(line);
        }
        assert_eq!(back, rgb);
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND CRC");
    }
}
