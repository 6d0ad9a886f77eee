//! PNG output through the `png` crate (8-bit RGB). Deterministic: same pixels, same
//! bytes.

use crate::error::{Error, Result};

/// Encodes `width × height` interleaved RGB bytes as a PNG file.
pub(crate) fn encode_rgb(width: usize, height: usize, rgb: &[u8]) -> Result<Vec<u8>> {
    let invalid = |message: String| Error::InvalidArgument(format!("PNG encoding: {message}"));
    if rgb.len() != width * height * 3 {
        return Err(invalid(format!(
            "{} bytes for a {width}x{height} RGB image",
            rgb.len()
        )));
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| invalid(e.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| invalid(e.to_string()))?;
    writer.finish().map_err(|e| invalid(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let (w, h) = (5, 3);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let bytes = encode_rgb(w, h, &rgb).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (w as u32, h as u32));
        assert_eq!(&buf[..info.buffer_size()], &rgb[..]);
        assert!(encode_rgb(2, 2, &rgb).is_err());
    }
}
