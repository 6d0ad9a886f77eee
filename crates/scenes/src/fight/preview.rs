//! Contact sheets: a grid of rendered scenes, each captioned with its labels, as PNG.

use std::path::Path;

use bayesnet::Network;
use rayon::prelude::*;

use crate::atomic::write_atomically;
use crate::error::Result;

use super::font::{draw_text, ADVANCE, LINE};
use super::generate::{sample_scenes, FightOptions};
use super::png::encode_rgb;
use super::render::render;
use super::scene::{Labels, Nuisance};

/// An 8-bit RGB image, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// The image as a PNG file.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        encode_rgb(self.width, self.height, &self.data)
    }

    /// Writes the image as a PNG file, atomically.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_png()?)
    }
}

/// Renders `scenes` at `size` pixels, magnifies each `zoom` times (nearest neighbour, so
/// single pixels stay visible) and lays them out `columns` wide, each with its labels
/// as two caption lines underneath (actor, then reactor).
pub fn contact_sheet(
    scenes: &[(Labels, Nuisance)],
    size: usize,
    columns: usize,
    zoom: usize,
) -> RgbImage {
    let tiles: Vec<Tile> = scenes
        .par_iter()
        .map(|(labels, nuisance)| Tile {
            pixels: render(labels, nuisance, size),
            caption: labels.caption().to_vec(),
        })
        .collect();
    tile_sheet(&tiles, size, columns, zoom)
}

/// One picture of a sheet: `size × size` RGB pixels (row-major) and caption lines.
#[derive(Clone, Debug)]
pub struct Tile {
    pub pixels: Vec<u8>,
    pub caption: Vec<String>,
}

/// Lays out square tiles of `size` pixels `columns` wide, magnified `zoom` times
/// (nearest neighbour), each with its caption lines underneath (cut to the tile width).
/// Shared by the data previews and by the model's query grids.
pub fn tile_sheet(tiles: &[Tile], size: usize, columns: usize, zoom: usize) -> RgbImage {
    let zoom = zoom.max(1);
    let columns = columns.clamp(1, tiles.len().max(1));
    let tile = size * zoom;
    let text = (tile / 64).max(1);
    let pad = 2 * text;
    let lines = tiles.iter().map(|t| t.caption.len()).max().unwrap_or(0);
    let caption = lines * LINE * text;
    let (cell_w, cell_h) = (tile + 2 * pad, tile + caption + 2 * pad);
    let rows = tiles.len().div_ceil(columns);
    let (width, height) = (columns * cell_w, rows.max(1) * cell_h);
    let mut data = vec![32u8; width * height * 3];
    for (i, t) in tiles.iter().enumerate() {
        let (x0, y0) = ((i % columns) * cell_w + pad, (i / columns) * cell_h + pad);
        for y in 0..tile {
            let src_row = &t.pixels[(y / zoom) * size * 3..(y / zoom + 1) * size * 3];
            let dst = ((y0 + y) * width + x0) * 3;
            for x in 0..tile {
                let s = (x / zoom) * 3;
                data[dst + x * 3..dst + x * 3 + 3].copy_from_slice(&src_row[s..s + 3]);
            }
        }
        for (k, line) in t.caption.iter().enumerate() {
            // Shorten to the tile width.
            let fit = (tile / (ADVANCE * text)).max(1);
            let line: String = line.chars().take(fit).collect();
            let y = y0 + tile + text + k * LINE * text;
            draw_text(
                &mut data,
                width,
                height,
                x0,
                y,
                &line,
                text,
                [235, 235, 225],
            );
        }
    }
    RgbImage {
        width,
        height,
        data,
    }
}

/// Writes a contact sheet of the first `count` scenes that [`super::generate`] would
/// write with `options` (same seed, same scenes), magnified so that tiles are at least
/// 128 pixels wide.
pub fn write_preview(
    path: &Path,
    net: &Network,
    options: &FightOptions,
    count: usize,
) -> Result<RgbImage> {
    let scenes = sample_scenes(net, options, count)?;
    let items: Vec<(Labels, Nuisance)> = scenes.labels.into_iter().zip(scenes.nuisance).collect();
    let columns = (count as f64).sqrt().ceil() as usize;
    let zoom = 128usize.div_ceil(options.size).max(1);
    let sheet = contact_sheet(&items, options.size, columns, zoom);
    sheet.write_png(path)?;
    Ok(sheet)
}
