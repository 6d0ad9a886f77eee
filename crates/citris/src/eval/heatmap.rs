//! Heat maps of score matrices as PNG-ready images, drawn with the contact-sheet layout
//! of `scenes::fight` (its bitmap font is only reachable through captions): one square
//! per cell in a viridis colour, the value written underneath, a header row with the
//! column names and a first column with the row names.

use scenes::fight::{tile_sheet, RgbImage, Tile};

/// Side of a cell in pixels; at 128 the captions are drawn at twice the font's size and
/// hold 16 characters.
const CELL: usize = 128;
/// The sheet's background, so that label tiles show only their caption.
const BACKGROUND: [u8; 3] = [32, 32, 32];
/// Viridis at 0, ¼, ½, ¾ and 1, interpolated linearly in between.
const VIRIDIS: [[f64; 3]; 5] = [
    [68.0, 1.0, 84.0],
    [59.0, 82.0, 139.0],
    [33.0, 145.0, 140.0],
    [94.0, 201.0, 98.0],
    [253.0, 231.0, 37.0],
];

/// `values` (one `Vec` per row, one entry per column) as a labelled heat map; `title`
/// goes in the top-left corner. Colours span [0, 1]: scores below 0 (an R² worse than
/// guessing the mean, an anti-correlation) share the colour of 0, and their caption
/// tells them apart.
pub(crate) fn heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<f64>],
) -> RgbImage {
    let label = |text: &str| Tile {
        pixels: BACKGROUND.to_vec(),
        caption: vec![text.to_string()],
    };
    let mut tiles = vec![label(title)];
    tiles.extend(columns.iter().map(|c| label(c)));
    for (name, row) in rows.iter().zip(values) {
        tiles.push(label(name));
        tiles.extend(row.iter().map(|&v| Tile {
            pixels: colour(v).to_vec(),
            caption: vec![format!("{v:.2}")],
        }));
    }
    // Tiles are 1 × 1 pixel images magnified to the cell size.
    tile_sheet(&tiles, 1, columns.len() + 1, CELL)
}

/// The viridis colour of `v` clamped to [0, 1]; the background for a non-finite value.
fn colour(v: f64) -> [u8; 3] {
    if !v.is_finite() {
        return BACKGROUND;
    }
    let x = v.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let t = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    [0, 1, 2].map(|k| (a[k] + (b[k] - a[k]) * t).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(image: &RgbImage, rgb: [u8; 3]) -> bool {
        image.data.chunks_exact(3).any(|p| p == rgb)
    }

    #[test]
    fn colours_follow_viridis_and_clamp() {
        assert_eq!(colour(0.0), [68, 1, 84]);
        assert_eq!(colour(-0.4), [68, 1, 84]);
        assert_eq!(colour(0.5), [33, 145, 140]);
        assert_eq!(colour(1.0), [253, 231, 37]);
        assert_eq!(colour(1.7), [253, 231, 37]);
        // Halfway between the ¾ and 1 anchors.
        assert_eq!(colour(0.875), [174, 216, 68]);
    }

    #[test]
    fn every_cell_is_drawn_in_its_colour_with_labels() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let image = heatmap(
            "r2",
            &names(&["a", "none"]),
            &names(&["a", "b"]),
            &[vec![1.0, 0.5], vec![0.25, -0.3]],
        );
        // Three columns (labels + two variables), three rows (header + two groups).
        assert!(image.width >= 3 * CELL && image.height >= 3 * CELL);
        for v in [1.0, 0.5, 0.25, 0.0] {
            assert!(contains(&image, colour(v)), "no cell coloured for {v}");
        }
        assert!(!contains(&image, colour(0.75)), "a colour of no cell");
        assert!(contains(&image, [235, 235, 225]), "no caption drawn");
    }
}
