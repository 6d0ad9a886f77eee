//! Captioned image grids (PNG) of decoded scenes, laid out by the same code as the
//! data previews (`scenes::fight::tile_sheet`).

use std::path::Path;

use scenes::fight::{tile_sheet, RgbImage, Tile};
use tch::{Kind, Tensor};

use crate::schema::LabelSchema;
use crate::Result;

/// Images [n, 3, S, S] in [0, 1] as tiles with the given caption lines.
pub fn tiles(images: &Tensor, captions: Vec<Vec<String>>) -> Vec<Tile> {
    let hwc = (images.clamp(0.0, 1.0) * 255.0)
        .round()
        .to_kind(Kind::Uint8)
        .permute([0, 2, 3, 1])
        .contiguous();
    captions
        .into_iter()
        .enumerate()
        .map(|(i, caption)| Tile {
            pixels: Vec::<u8>::try_from(hwc.get(i as i64).view([-1])).expect("u8 image"),
            caption,
        })
        .collect()
}

/// The caption of a decoded scene: a headline (may be empty) and the labels it shows.
pub fn caption(schema: &LabelSchema, headline: &str, labels: &[i64]) -> Vec<String> {
    let mut lines = Vec::new();
    if !headline.is_empty() {
        lines.push(headline.to_string());
    }
    lines.extend(schema.scene_labels(labels).caption());
    lines
}

/// Lays `tiles` out `columns` wide at `zoom`× and writes the PNG atomically.
pub fn write_sheet(
    path: &Path,
    tiles: &[Tile],
    size: i64,
    columns: usize,
    zoom: usize,
) -> Result<RgbImage> {
    let sheet = tile_sheet(tiles, size as usize, columns, zoom);
    sheet.write_png(path)?;
    Ok(sheet)
}
