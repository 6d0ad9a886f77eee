//! A small RGB canvas with anti-aliased 2D primitives: everything the 2D generators
//! (fight scenes, pong, boxes) draw with. Coordinates are in pixels, y pointing down;
//! colours are linear-ish `[f32; 3]` in [0, 1], converted to `u8` once at the end.

/// An RGB image under construction.
#[derive(Clone, Debug)]
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<[f32; 3]>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: [f32; 3]) -> Self {
        Self {
            width,
            height,
            pixels: vec![background; width * height],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The colour at (x, y).
    pub fn get(&self, x: usize, y: usize) -> [f32; 3] {
        self.pixels[y * self.width + x]
    }

    /// Blends `colour` into (x, y) with opacity `alpha`; outside pixels are ignored.
    pub fn blend(&mut self, x: i64, y: i64, colour: [f32; 3], alpha: f32) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let p = &mut self.pixels[y as usize * self.width + x as usize];
        for c in 0..3 {
            p[c] = p[c] * (1.0 - a) + colour[c] * a;
        }
    }

    /// Fills every pixel whose centre satisfies `coverage > 0`, where `coverage(px, py)`
    /// returns the fraction of the pixel covered (0..=1), within the bounding box given.
    /// All shapes below are built on this, with 4×4 supersampling for their edges.
    pub fn fill_shape(
        &mut self,
        bbox: [f32; 4],
        colour: [f32; 3],
        inside: impl Fn(f32, f32) -> bool,
    ) {
        const S: usize = 4;
        let x0 = bbox[0].floor().max(0.0) as i64;
        let y0 = bbox[1].floor().max(0.0) as i64;
        let x1 = (bbox[2].ceil() as i64).min(self.width as i64 - 1);
        let y1 = (bbox[3].ceil() as i64).min(self.height as i64 - 1);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let mut hits = 0;
                for sy in 0..S {
                    for sx in 0..S {
                        let px = x as f32 + (sx as f32 + 0.5) / S as f32;
                        let py = y as f32 + (sy as f32 + 0.5) / S as f32;
                        hits += usize::from(inside(px, py));
                    }
                }
                self.blend(x, y, colour, hits as f32 / (S * S) as f32);
            }
        }
    }

    /// A filled circle.
    pub fn fill_circle(&mut self, cx: f32, cy: f32, r: f32, colour: [f32; 3]) {
        self.fill_shape([cx - r, cy - r, cx + r, cy + r], colour, |x, y| {
            (x - cx).powi(2) + (y - cy).powi(2) <= r * r
        });
    }

    /// A filled axis-aligned rectangle [x0, x1] × [y0, y1].
    pub fn fill_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, colour: [f32; 3]) {
        self.fill_shape([x0, y0, x1, y1], colour, |x, y| {
            x >= x0 && x <= x1 && y >= y0 && y <= y1
        });
    }

    /// A filled polygon (any simple polygon; even-odd rule).
    pub fn fill_polygon(&mut self, points: &[[f32; 2]], colour: [f32; 3]) {
        if points.len() < 3 {
            return;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in points {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
        self.fill_shape([x0, y0, x1, y1], colour, |x, y| {
            let mut inside = false;
            let mut j = points.len() - 1;
            for i in 0..points.len() {
                let (a, b) = (points[i], points[j]);
                if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0]
                {
                    inside = !inside;
                }
                j = i;
            }
            inside
        });
    }

    /// A thick line segment with round caps.
    pub fn line(&mut self, a: [f32; 2], b: [f32; 2], width: f32, colour: [f32; 3]) {
        let r = width / 2.0;
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len2 = (dx * dx + dy * dy).max(1e-12);
        let bbox = [
            a[0].min(b[0]) - r,
            a[1].min(b[1]) - r,
            a[0].max(b[0]) + r,
            a[1].max(b[1]) + r,
        ];
        self.fill_shape(bbox, colour, |x, y| {
            let t = (((x - a[0]) * dx + (y - a[1]) * dy) / len2).clamp(0.0, 1.0);
            let (px, py) = (a[0] + t * dx - x, a[1] + t * dy - y);
            px * px + py * py <= r * r
        });
    }

    /// The image as interleaved RGB bytes, row-major.
    pub fn to_rgb8(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|p| p.map(|c| (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_cover_what_they_should() {
        let mut c = Canvas::new(16, 16, [0.0; 3]);
        c.fill_circle(8.0, 8.0, 4.0, [1.0, 0.0, 0.0]);
        assert_eq!(c.get(8, 8), [1.0, 0.0, 0.0]);
        assert_eq!(c.get(0, 0), [0.0; 3]);
        c.fill_rect(0.0, 0.0, 2.0, 2.0, [0.0, 1.0, 0.0]);
        assert_eq!(c.get(0, 0), [0.0, 1.0, 0.0]);
        c.fill_polygon(&[[10.0, 12.0], [15.0, 12.0], [15.0, 15.0]], [0.0, 0.0, 1.0]);
        assert_eq!(c.get(14, 14), [0.0, 0.0, 1.0]);
        let bytes = c.to_rgb8();
        assert_eq!(bytes.len(), 16 * 16 * 3);
        assert_eq!(&bytes[..3], &[0, 255, 0]);
    }
}
