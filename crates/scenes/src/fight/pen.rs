//! Drawing in a fighter's local coordinates: a [`Pen`] maps them to pixels (mirrored for
//! the reactor, who faces left) and wraps the canvas's distance-field primitives, each
//! with a dark cartoon outline so that shapes stay separable at 64 × 64.

use crate::canvas::{sdf, Canvas};

use super::poses::V2;

/// Outline colour.
pub(crate) const INK: [f32; 3] = [0.09, 0.07, 0.07];

/// Multiplies a colour (darkens with `k < 1`).
pub(crate) fn shade(c: [f32; 3], k: f32) -> [f32; 3] {
    c.map(|v| (v * k).min(1.0))
}

/// Mixes two colours.
pub(crate) fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

/// Maps local coordinates (unit = fighter height, y up, x forward) to pixels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pen {
    /// Pixel position of the local origin.
    pub ox: f32,
    pub oy: f32,
    /// Pixels per local unit.
    pub unit: f32,
    /// +1 facing right, -1 facing left.
    pub facing: f32,
    /// Outline width in pixels.
    pub line: f32,
}

impl Pen {
    pub(crate) fn p(&self, q: V2) -> [f32; 2] {
        [
            self.ox + self.facing * q[0] * self.unit,
            self.oy - q[1] * self.unit,
        ]
    }

    /// Screen angle (radians, y down) of a local direction.
    pub(crate) fn angle(&self, v: V2) -> f32 {
        (-v[1]).atan2(self.facing * v[0])
    }

    pub(crate) fn capsule(&self, c: &mut Canvas, a: V2, b: V2, ra: f32, rb: f32, fill: [f32; 3]) {
        self.capsule_with(c, a, b, ra, rb, fill, self.line, 1.0);
    }

    /// A capsule without outline (markings, highlights).
    pub(crate) fn stroke(&self, c: &mut Canvas, a: V2, b: V2, r: f32, fill: [f32; 3]) {
        self.capsule_with(c, a, b, r, r, fill, 0.0, 1.0);
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn capsule_with(
        &self,
        c: &mut Canvas,
        a: V2,
        b: V2,
        ra: f32,
        rb: f32,
        fill: [f32; 3],
        line: f32,
        alpha: f32,
    ) {
        let (a, b) = (self.p(a), self.p(b));
        let (ra, rb) = (ra * self.unit, rb * self.unit);
        c.fill_sdf_outlined(
            sdf::capsule_bbox(a, b, ra, rb),
            fill,
            INK,
            line,
            alpha,
            |x, y| sdf::capsule([x, y], a, b, ra, rb),
        );
    }

    /// A box of half-thickness `half` along a–b, corners rounded by `round`.
    pub(crate) fn block(
        &self,
        c: &mut Canvas,
        a: V2,
        b: V2,
        half: f32,
        round: f32,
        fill: [f32; 3],
    ) {
        let (a, b) = (self.p(a), self.p(b));
        let (h, r) = ((half - round).max(0.0) * self.unit, round * self.unit);
        let e = h + r;
        c.fill_sdf_outlined(
            sdf::capsule_bbox(a, b, e, e),
            fill,
            INK,
            self.line,
            1.0,
            |x, y| sdf::oriented_box([x, y], a, b, h) - r,
        );
    }

    pub(crate) fn circle(&self, c: &mut Canvas, centre: V2, r: f32, fill: [f32; 3]) {
        self.capsule(c, centre, centre, r, r, fill);
    }

    pub(crate) fn dot(&self, c: &mut Canvas, centre: V2, r: f32, fill: [f32; 3]) {
        self.capsule_with(c, centre, centre, r, r, fill, 0.0, 1.0);
    }

    /// An ellipse with semi-axes `rx` along the local direction `axis` and `ry` across.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ellipse(
        &self,
        c: &mut Canvas,
        centre: V2,
        rx: f32,
        ry: f32,
        axis: V2,
        fill: [f32; 3],
        line: f32,
        alpha: f32,
    ) {
        let o = self.p(centre);
        let (rx, ry) = (rx * self.unit, ry * self.unit);
        let (s, co) = self.angle(axis).sin_cos();
        let r = rx.max(ry);
        c.fill_sdf_outlined(
            [o[0] - r, o[1] - r, o[0] + r, o[1] + r],
            fill,
            INK,
            line,
            alpha,
            |x, y| {
                let (dx, dy) = (x - o[0], y - o[1]);
                sdf::ellipse([dx * co + dy * s, -dx * s + dy * co], [rx, ry])
            },
        );
    }

    /// A polygon (up to 16 points) with outline `line` pixels wide.
    pub(crate) fn poly_with(&self, c: &mut Canvas, pts: &[V2], fill: [f32; 3], line: f32) {
        let mut buf = [[0.0f32; 2]; 16];
        let n = pts.len().min(16);
        for (b, q) in buf.iter_mut().zip(pts) {
            *b = self.p(*q);
        }
        let v = &buf[..n];
        c.fill_sdf_outlined(sdf::points_bbox(v), fill, INK, line, 1.0, |x, y| {
            sdf::polygon([x, y], v)
        });
    }

    pub(crate) fn poly(&self, c: &mut Canvas, pts: &[V2], fill: [f32; 3]) {
        self.poly_with(c, pts, fill, self.line);
    }
}
