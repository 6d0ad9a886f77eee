//! A small software rasterizer: z-buffered, Gouraud-shaded triangles into a colour
//! buffer, coverage-only triangles into shadow maps, and the blur and bilinear lookup
//! the shadow maps need. Pixel (i, j) covers [i, i+1) × [j, j+1) and is sampled at its
//! centre; triangles may have either winding.

/// A projected vertex: screen position (pixels), 1/depth and a linear RGB colour.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScreenVertex {
    pub x: f32,
    pub y: f32,
    pub inv_z: f32,
    pub colour: [f32; 3],
}

/// A colour buffer with a depth buffer storing 1/depth (0 = empty, larger = nearer).
#[derive(Clone, Debug, Default)]
pub(crate) struct ColourBuffer {
    pub size: usize,
    pub inv_z: Vec<f32>,
    pub colour: Vec<[f32; 3]>,
}

/// An inclusive pixel rectangle [x0, x1] × [y0, y1].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

/// `x.floor()` for |x| < 2^31, without a libm call on baseline x86-64.
#[inline]
pub(crate) fn floor(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x {
        t - 1.0
    } else {
        t
    }
}

impl Rect {
    /// The pixels touched by the bounding box [x0, x1] × [y0, y1] (in pixel units),
    /// clipped to a `size × size` image; `None` when nothing is inside.
    pub fn around(x0: f32, y0: f32, x1: f32, y1: f32, size: usize) -> Option<Rect> {
        let max = size as f32 - 1.0;
        if !(x1 >= 0.0 && y1 >= 0.0 && x0 <= max + 1.0 && y0 <= max + 1.0) {
            return None;
        }
        Some(Rect {
            x0: floor(x0.max(0.0)).min(max) as usize,
            y0: floor(y0.max(0.0)).min(max) as usize,
            x1: floor(x1.max(0.0)).min(max) as usize,
            y1: floor(y1.max(0.0)).min(max) as usize,
        })
    }
}

impl ColourBuffer {
    pub fn resize(&mut self, size: usize) {
        self.size = size;
        self.inv_z.resize(size * size, 0.0);
        self.colour.resize(size * size, [0.0; 3]);
    }

    /// Marks the pixels of `rect` empty.
    pub fn clear(&mut self, rect: Rect) {
        for y in rect.y0..=rect.y1 {
            self.inv_z[y * self.size + rect.x0..=y * self.size + rect.x1].fill(0.0);
        }
    }

    /// Draws a triangle with perspective-correct depth test and affine colours.
    pub fn triangle(&mut self, a: &ScreenVertex, b: &ScreenVertex, c: &ScreenVertex) {
        let area = edge(a.x, a.y, b.x, b.y, c.x, c.y);
        if area.abs() < 1e-8 {
            return;
        }
        let Some(r) = Rect::around(
            a.x.min(b.x).min(c.x) - 0.5,
            a.y.min(b.y).min(c.y) - 0.5,
            a.x.max(b.x).max(c.x) - 0.5,
            a.y.max(b.y).max(c.y) - 0.5,
            self.size,
        ) else {
            return;
        };
        let inv_area = 1.0 / area;
        let setup = EdgeSetup::new(a, b, c, r, inv_area);
        let [wa0, wb0, wc0] = setup.start;
        let [dxa, dxb, dxc] = setup.dx;
        let [dya, dyb, dyc] = setup.dy;
        let (mut ra, mut rb, mut rc) = (wa0, wb0, wc0);
        for y in r.y0..=r.y1 {
            let (mut wa, mut wb, mut wc) = (ra, rb, rc);
            let row = y * self.size;
            for x in r.x0..=r.x1 {
                // Normalised barycentrics are all ≥ 0 inside, whatever the winding.
                if wa >= 0.0 && wb >= 0.0 && wc >= 0.0 {
                    let z = wa * a.inv_z + wb * b.inv_z + wc * c.inv_z;
                    let i = row + x;
                    if z > self.inv_z[i] {
                        self.inv_z[i] = z;
                        self.colour[i] = std::array::from_fn(|k| {
                            wa * a.colour[k] + wb * b.colour[k] + wc * c.colour[k]
                        });
                    }
                }
                wa += dxa;
                wb += dxb;
                wc += dxc;
            }
            ra += dya;
            rb += dyb;
            rc += dyc;
        }
    }
}

/// Twice the signed area of (a, b, p).
#[inline]
fn edge(ax: f32, ay: f32, bx: f32, by: f32, px: f32, py: f32) -> f32 {
    (bx - ax) * (py - ay) - (by - ay) * (px - ax)
}

/// Normalised barycentric coordinates at the first pixel centre of a rectangle and
/// their increments per pixel in x and y.
struct EdgeSetup {
    start: [f32; 3],
    dx: [f32; 3],
    dy: [f32; 3],
}

impl EdgeSetup {
    fn new(a: &ScreenVertex, b: &ScreenVertex, c: &ScreenVertex, r: Rect, inv_area: f32) -> Self {
        Self::from_points([a.x, a.y], [b.x, b.y], [c.x, c.y], r, inv_area)
    }

    fn from_points(a: [f32; 2], b: [f32; 2], c: [f32; 2], r: Rect, inv_area: f32) -> Self {
        let (px, py) = (r.x0 as f32 + 0.5, r.y0 as f32 + 0.5);
        // Weight of a is the area of (b, c, p), and so on.
        let start = [
            edge(b[0], b[1], c[0], c[1], px, py) * inv_area,
            edge(c[0], c[1], a[0], a[1], px, py) * inv_area,
            edge(a[0], a[1], b[0], b[1], px, py) * inv_area,
        ];
        let dx = [
            -(c[1] - b[1]) * inv_area,
            -(a[1] - c[1]) * inv_area,
            -(b[1] - a[1]) * inv_area,
        ];
        let dy = [
            (c[0] - b[0]) * inv_area,
            (a[0] - c[0]) * inv_area,
            (b[0] - a[0]) * inv_area,
        ];
        Self { start, dx, dy }
    }
}

/// A square single-channel map (shadow coverage), `size × size` texels.
#[derive(Clone, Debug, Default)]
pub(crate) struct Map {
    pub size: usize,
    pub data: Vec<f32>,
    scratch: Vec<f32>,
}

impl Map {
    pub fn reset(&mut self, size: usize) {
        self.size = size;
        self.data.clear();
        self.data.resize(size * size, 0.0);
        self.scratch.resize(size * size, 0.0);
    }

    /// Sets the texels whose centre lies in the triangle (texel units) to 1.
    pub fn fill_triangle(&mut self, a: [f32; 2], b: [f32; 2], c: [f32; 2]) {
        let area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
        if area.abs() < 1e-8 {
            return;
        }
        let Some(r) = Rect::around(
            a[0].min(b[0]).min(c[0]) - 0.5,
            a[1].min(b[1]).min(c[1]) - 0.5,
            a[0].max(b[0]).max(c[0]) - 0.5,
            a[1].max(b[1]).max(c[1]) - 0.5,
            self.size,
        ) else {
            return;
        };
        let s = EdgeSetup::from_points(a, b, c, r, 1.0 / area);
        let (mut ra, mut rb, mut rc) = (s.start[0], s.start[1], s.start[2]);
        for y in r.y0..=r.y1 {
            let (mut wa, mut wb, mut wc) = (ra, rb, rc);
            let row = &mut self.data[y * self.size..(y + 1) * self.size];
            for texel in &mut row[r.x0..=r.x1] {
                if wa >= 0.0 && wb >= 0.0 && wc >= 0.0 {
                    *texel = 1.0;
                }
                wa += s.dx[0];
                wb += s.dx[1];
                wc += s.dx[2];
            }
            ra += s.dy[0];
            rb += s.dy[1];
            rc += s.dy[2];
        }
    }

    /// Box blur of radius `r` texels (a (2r+1)² mean), separable, zero outside.
    pub fn blur(&mut self, r: usize) {
        if r == 0 {
            return;
        }
        let n = self.size;
        let norm = 1.0 / (2 * r + 1) as f32;
        // Rows into scratch, then columns back into data.
        for y in 0..n {
            let src = &self.data[y * n..(y + 1) * n];
            let dst = &mut self.scratch[y * n..(y + 1) * n];
            let mut sum: f32 = src[..r.min(n)].iter().sum();
            for x in 0..n {
                if x + r < n {
                    sum += src[x + r];
                }
                if x > r {
                    sum -= src[x - r - 1];
                }
                dst[x] = sum * norm;
            }
        }
        for x in 0..n {
            let mut sum = 0.0;
            for y in 0..r.min(n) {
                sum += self.scratch[y * n + x];
            }
            for y in 0..n {
                if y + r < n {
                    sum += self.scratch[(y + r) * n + x];
                }
                if y > r {
                    sum -= self.scratch[(y - r - 1) * n + x];
                }
                self.data[y * n + x] = sum * norm;
            }
        }
    }

    /// Bilinear lookup at texel coordinates (u, v) (texel centres at +0.5); 0 outside.
    #[inline]
    pub fn sample(&self, u: f32, v: f32) -> f32 {
        let n = self.size as isize;
        let limit = self.size as f32 + 0.5;
        if !(u > -0.5 && v > -0.5 && u < limit && v < limit) {
            return 0.0;
        }
        let (fu, fv) = (u - 0.5, v - 0.5);
        let (x0, y0) = (floor(fu), floor(fv));
        let (tx, ty) = (fu - x0, fv - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let at = |x: isize, y: isize| -> f32 {
            if x < 0 || y < 0 || x >= n || y >= n {
                0.0
            } else {
                self.data[(y * n + x) as usize]
            }
        };
        let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1, y0) * tx;
        let bottom = at(x0, y0 + 1) * (1.0 - tx) + at(x0 + 1, y0 + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f32, y: f32, inv_z: f32, c: f32) -> ScreenVertex {
        ScreenVertex {
            x,
            y,
            inv_z,
            colour: [c; 3],
        }
    }

    #[test]
    fn triangles_fill_their_inside_with_depth_test() {
        let mut buf = ColourBuffer::default();
        buf.resize(8);
        buf.clear(Rect {
            x0: 0,
            y0: 0,
            x1: 7,
            y1: 7,
        });
        // Two triangles covering the square [0, 8]², both windings.
        buf.triangle(
            &v(0.0, 0.0, 1.0, 0.5),
            &v(8.0, 0.0, 1.0, 0.5),
            &v(8.0, 8.0, 1.0, 0.5),
        );
        buf.triangle(
            &v(0.0, 0.0, 1.0, 0.5),
            &v(0.0, 8.0, 1.0, 0.5),
            &v(8.0, 8.0, 1.0, 0.5),
        );
        assert!(buf.inv_z.iter().all(|&z| z == 1.0));
        // A farther triangle is hidden, a nearer one drawn.
        buf.triangle(
            &v(0.0, 0.0, 0.5, 1.0),
            &v(8.0, 0.0, 0.5, 1.0),
            &v(0.0, 8.0, 0.5, 1.0),
        );
        assert_eq!(buf.colour[0], [0.5; 3]);
        buf.triangle(
            &v(0.0, 0.0, 2.0, 1.0),
            &v(8.0, 0.0, 2.0, 1.0),
            &v(0.0, 8.0, 2.0, 1.0),
        );
        assert_eq!(buf.colour[0], [1.0; 3]);
        assert_eq!(buf.colour[63], [0.5; 3]);
    }

    #[test]
    fn maps_fill_blur_and_sample() {
        let mut m = Map::default();
        m.reset(16);
        m.fill_triangle([4.0, 4.0], [12.0, 4.0], [12.0, 12.0]);
        m.fill_triangle([4.0, 4.0], [4.0, 12.0], [12.0, 12.0]);
        let covered: f32 = m.data.iter().sum();
        assert_eq!(covered, 64.0);
        m.blur(2);
        let after: f32 = m.data.iter().sum();
        assert!(
            (after - 64.0).abs() < 1e-3,
            "blur keeps mass away from borders"
        );
        assert!((m.sample(8.0, 8.0) - 1.0).abs() < 1e-5);
        assert_eq!(m.sample(-5.0, 3.0), 0.0);
        assert!(m.sample(4.0, 8.0) > 0.3 && m.sample(4.0, 8.0) < 0.7);
    }
}
