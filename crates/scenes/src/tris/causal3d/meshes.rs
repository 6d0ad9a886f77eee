//! Triangle meshes with per-vertex normals, the small vector algebra the renderer uses,
//! and the simple extra shapes (cube, sphere, cylinder, cone, torus).
//!
//! Every mesh is built once, centred on its bounding-box centre and scaled so that its
//! largest bounding-box side has a given length (Blender places CITRIS' objects by their
//! origin and sizes the scene by `max(dimensions)`; we do the same with the box).

use std::f32::consts::TAU;

pub(crate) type V3 = [f32; 3];

#[inline]
pub(crate) fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

#[inline]
pub(crate) fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

#[inline]
pub(crate) fn scale(a: V3, s: f32) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

#[inline]
pub(crate) fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline]
pub(crate) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[inline]
pub(crate) fn norm(a: V3) -> f32 {
    dot(a, a).sqrt()
}

/// `a / |a|`, or `fallback` for a (near) zero vector.
#[inline]
pub(crate) fn normalize_or(a: V3, fallback: V3) -> V3 {
    let n = norm(a);
    if n > 1e-12 {
        scale(a, 1.0 / n)
    } else {
        fallback
    }
}

/// An indexed triangle mesh. Normals are per vertex and point outwards; triangles are
/// rendered two-sided, so their winding does not matter.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mesh {
    pub positions: Vec<V3>,
    pub normals: Vec<V3>,
    pub triangles: Vec<[u32; 3]>,
}

impl Mesh {
    /// Appends a vertex and returns its index.
    pub fn vertex(&mut self, p: V3, n: V3) -> u32 {
        self.positions.push(p);
        self.normals.push(normalize_or(n, [0.0, 0.0, 1.0]));
        (self.positions.len() - 1) as u32
    }

    /// Appends a grid of `rows × cols` vertices (row-major, from `at(i, j)` returning
    /// position and normal) and the two triangles of every grid cell.
    pub fn grid(&mut self, rows: usize, cols: usize, mut at: impl FnMut(usize, usize) -> (V3, V3)) {
        let base = self.positions.len() as u32;
        for i in 0..rows {
            for j in 0..cols {
                let (p, n) = at(i, j);
                self.vertex(p, n);
            }
        }
        let idx = |i: usize, j: usize| base + (i * cols + j) as u32;
        for i in 0..rows - 1 {
            for j in 0..cols - 1 {
                let (a, b, c, d) = (idx(i, j), idx(i, j + 1), idx(i + 1, j + 1), idx(i + 1, j));
                self.push_triangle([a, b, c]);
                self.push_triangle([a, c, d]);
            }
        }
    }

    /// Appends a triangle unless it is degenerate (zero area, e.g. at a pole).
    pub fn push_triangle(&mut self, t: [u32; 3]) {
        let [a, b, c] = t.map(|i| self.positions[i as usize]);
        if norm(cross(sub(b, a), sub(c, a))) > 1e-9 {
            self.triangles.push(t);
        }
    }

    /// Appends a surface of revolution about the z axis: `profile` gives (r, z) points
    /// with their outward (nr, nz) normals, revolved in `segments` steps.
    pub fn revolve(&mut self, profile: &[([f32; 2], [f32; 2])], segments: usize) {
        self.grid(profile.len(), segments + 1, |i, j| {
            let phi = TAU * j as f32 / segments as f32;
            let (s, c) = phi.sin_cos();
            let ([r, z], [nr, nz]) = profile[i];
            ([r * c, r * s, z], [nr * c, nr * s, nz])
        });
    }

    /// Moves the bounding-box centre to the origin and scales the largest side to `size`.
    #[cfg(test)]
    pub fn normalized(self, size: f32) -> Self {
        let (centre, s) = self.normalization(size);
        self.transformed(centre, s)
    }

    /// The bounding-box centre and the factor that scales the largest side to `size`.
    pub fn normalization(&self, size: f32) -> (V3, f32) {
        let (lo, hi) = self.bounds();
        let extent = sub(hi, lo);
        (
            scale(add(lo, hi), 0.5),
            size / extent[0].max(extent[1]).max(extent[2]),
        )
    }

    /// The mesh moved by −`centre` and scaled by `s`.
    pub fn transformed(mut self, centre: V3, s: f32) -> Self {
        for p in &mut self.positions {
            *p = scale(sub(*p, centre), s);
        }
        self
    }

    /// Axis-aligned bounding box (min, max).
    pub fn bounds(&self) -> (V3, V3) {
        let mut lo = [f32::MAX; 3];
        let mut hi = [f32::MIN; 3];
        for p in &self.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        (lo, hi)
    }

    /// Largest distance of a vertex from the origin.
    pub fn radius(&self) -> f32 {
        self.positions.iter().map(|&p| norm(p)).fold(0.0, f32::max)
    }
}

/// A cube with flat faces.
pub(crate) fn cube() -> Mesh {
    let mut m = Mesh::default();
    for axis in 0..3 {
        for sign in [-1.0f32, 1.0] {
            let mut n = [0.0; 3];
            n[axis] = sign;
            let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
            m.grid(2, 2, |i, j| {
                let mut p = [0.0; 3];
                p[axis] = sign;
                p[u] = if i == 0 { -1.0 } else { 1.0 };
                p[v] = if j == 0 { -1.0 } else { 1.0 };
                (p, n)
            });
        }
    }
    m
}

/// A UV sphere.
pub(crate) fn sphere() -> Mesh {
    let mut m = Mesh::default();
    let rings = 10;
    let profile: Vec<_> = (0..=rings)
        .map(|i| {
            let a = std::f32::consts::PI * i as f32 / rings as f32;
            let (s, c) = a.sin_cos();
            ([s, c], [s, c])
        })
        .collect();
    m.revolve(&profile, 16);
    m
}

/// A cylinder of radius 1 and height 2 with flat caps.
pub(crate) fn cylinder() -> Mesh {
    let mut m = Mesh::default();
    m.revolve(&[([1.0, 1.0], [1.0, 0.0]), ([1.0, -1.0], [1.0, 0.0])], 16);
    m.revolve(&[([0.0, 1.0], [0.0, 1.0]), ([1.0, 1.0], [0.0, 1.0])], 16);
    m.revolve(
        &[([1.0, -1.0], [0.0, -1.0]), ([0.0, -1.0], [0.0, -1.0])],
        16,
    );
    m
}

/// A cone of base radius 1 and height 2 standing on its base.
pub(crate) fn cone() -> Mesh {
    let mut m = Mesh::default();
    // Side normal: perpendicular to the slant from (1, -1) to (0, 1).
    let n = [2.0, 1.0];
    m.revolve(&[([0.0, 1.0], n), ([0.5, 0.0], n), ([1.0, -1.0], n)], 16);
    m.revolve(
        &[([1.0, -1.0], [0.0, -1.0]), ([0.0, -1.0], [0.0, -1.0])],
        16,
    );
    m
}

/// A torus with tube radius 0.5 around a circle of radius 1, lying in the xy plane.
pub(crate) fn torus() -> Mesh {
    let mut m = Mesh::default();
    let steps = 10;
    let profile: Vec<_> = (0..=steps)
        .map(|i| {
            let a = TAU * i as f32 / steps as f32;
            let (s, c) = a.sin_cos();
            ([1.0 + 0.5 * c, 0.5 * s], [c, s])
        })
        .collect();
    m.revolve(&profile, 20);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_meshes_fit_their_box() {
        for mesh in [cube(), sphere(), cylinder(), cone(), torus()] {
            let m = mesh.normalized(2.0);
            let (lo, hi) = m.bounds();
            let ext = sub(hi, lo);
            assert!((ext[0].max(ext[1]).max(ext[2]) - 2.0).abs() < 1e-4);
            for k in 0..3 {
                assert!((lo[k] + hi[k]).abs() < 1e-4, "not centred: {lo:?} {hi:?}");
            }
            assert!(!m.triangles.is_empty());
            assert!(m.normals.iter().all(|n| (norm(*n) - 1.0).abs() < 1e-4));
        }
    }
}
