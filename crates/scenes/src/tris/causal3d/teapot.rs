//! The Utah teapot (Martin Newell, 1975; public domain), tessellated from its bicubic
//! Bézier patches.
//!
//! Newell's 32 patches have a lot of symmetry, which we use to store them compactly:
//! rim, body, bottom and lid are surfaces of revolution (each patch is a quarter turn
//! of one cubic profile curve, so we keep the (r, z) profile and revolve it exactly),
//! and handle and spout are mirror-symmetric in y, with cross-section rows of the form
//! `(a, 0) (a, −w) (b, −w) (b, 0)` in (xz-point, y). Coordinates are the original ones:
//! z up, spout towards +x, handle towards −x, bottom at z = 0.

use super::meshes::{cross, normalize_or, Mesh, V3};

/// Cubic profile segments (r, z) of the body: rim lip, upper body, lower body, bottom,
/// in order from the rim down to the centre of the bottom.
const BODY: [[[f32; 2]; 4]; 4] = [
    [[1.4, 2.4], [1.3375, 2.53125], [1.4375, 2.53125], [1.5, 2.4]],
    [[1.5, 2.4], [1.75, 1.875], [2.0, 1.35], [2.0, 0.9]],
    [[2.0, 0.9], [2.0, 0.45], [1.5, 0.225], [1.5, 0.15]],
    [[1.5, 0.15], [1.5, 0.075], [1.425, 0.0], [0.0, 0.0]],
];

/// Cubic profile segments of the lid, from the top of the knob outwards.
const LID: [[[f32; 2]; 4]; 2] = [
    [[0.0, 3.15], [0.8, 3.15], [0.0, 2.85], [0.2, 2.7]],
    [[0.2, 2.7], [0.4, 2.55], [1.3, 2.55], [1.3, 2.4]],
];

/// One control row of a mirrored patch: (x, z) of its first and last control point and
/// the half width w of the cross-section.
type Row = ([f32; 2], [f32; 2], f32);

/// Handle: two bicubic patches (rows 0–3 and 3–6), from the top joint to the bottom one.
const HANDLE: [Row; 7] = [
    ([-1.6, 2.025], [-1.5, 2.25], 0.3),
    ([-2.3, 2.025], [-2.5, 2.25], 0.3),
    ([-2.7, 2.025], [-3.0, 2.25], 0.3),
    ([-2.7, 1.8], [-3.0, 1.8], 0.3),
    ([-2.7, 1.575], [-3.0, 1.35], 0.3),
    ([-2.5, 1.125], [-2.65, 0.9375], 0.3),
    ([-2.0, 0.9], [-1.9, 0.6], 0.3),
];

/// Spout: two bicubic patches, from the body to the tip.
const SPOUT: [Row; 7] = [
    ([1.7, 1.425], [1.7, 0.6], 0.66),
    ([2.6, 1.425], [3.1, 0.825], 0.66),
    ([2.3, 2.1], [2.4, 2.025], 0.25),
    ([2.7, 2.4], [3.3, 2.4], 0.25),
    ([2.8, 2.475], [3.525, 2.49375], 0.25),
    ([2.9, 2.475], [3.45, 2.5125], 0.15),
    ([2.8, 2.4], [3.2, 2.4], 0.15),
];

/// Cubic Bernstein weights and their derivatives at t.
fn bernstein(t: f32) -> ([f32; 4], [f32; 4]) {
    let s = 1.0 - t;
    (
        [s * s * s, 3.0 * t * s * s, 3.0 * t * t * s, t * t * t],
        [
            -3.0 * s * s,
            3.0 * s * s - 6.0 * t * s,
            6.0 * t * s - 3.0 * t * t,
            3.0 * t * t,
        ],
    )
}

/// Samples of a cubic profile curve: (r, z) and the outward normal (−dz, dr).
fn profile(segments: &[[[f32; 2]; 4]], steps: &[usize]) -> Vec<([f32; 2], [f32; 2])> {
    let mut out: Vec<([f32; 2], [f32; 2])> = Vec::new();
    for (seg, &n) in segments.iter().zip(steps) {
        for k in 0..=n {
            if k == 0 && !out.is_empty() {
                continue; // shared with the previous segment's last sample
            }
            let (b, db) = bernstein(k as f32 / n as f32);
            let mut p = [0.0f32; 2];
            let mut d = [0.0f32; 2];
            for i in 0..4 {
                for c in 0..2 {
                    p[c] += b[i] * seg[i][c];
                    d[c] += db[i] * seg[i][c];
                }
            }
            out.push((p, [-d[1], d[0]]));
        }
    }
    out
}

/// Appends one mirrored patch pair (y ≤ 0 half and its mirror image) built from 4 rows.
fn mirrored_patch(mesh: &mut Mesh, rows: &[Row], nu: usize, nv: usize) {
    let control = |r: usize, c: usize| -> V3 {
        let (a, b, w) = rows[r];
        match c {
            0 => [a[0], 0.0, a[1]],
            1 => [a[0], -w, a[1]],
            2 => [b[0], -w, b[1]],
            _ => [b[0], 0.0, b[1]],
        }
    };
    // Position and unnormalised normal at (u across the section, v along the rows).
    let eval = |u: f32, v: f32| -> (V3, V3) {
        let (bu, dbu) = bernstein(u);
        let (bv, dbv) = bernstein(v);
        let (mut p, mut du, mut dv) = ([0.0f32; 3], [0.0f32; 3], [0.0f32; 3]);
        for r in 0..4 {
            for c in 0..4 {
                let q = control(r, c);
                for k in 0..3 {
                    p[k] += bv[r] * bu[c] * q[k];
                    du[k] += bv[r] * dbu[c] * q[k];
                    dv[k] += dbv[r] * bu[c] * q[k];
                }
            }
        }
        (p, cross(du, dv))
    };
    // Orient normals outwards: the middle of the section bulges towards −y.
    let flip = if eval(0.5, 0.5).1[1] > 0.0 { -1.0 } else { 1.0 };
    for mirror in [1.0f32, -1.0] {
        mesh.grid(nv + 1, nu + 1, |i, j| {
            let (p, n) = eval(j as f32 / nu as f32, i as f32 / nv as f32);
            let n = normalize_or(n.map(|x| x * flip), [0.0, -mirror, 0.0]);
            ([p[0], p[1] * mirror, p[2]], [n[0], n[1] * mirror, n[2]])
        });
    }
}

/// How finely to tessellate the teapot.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Detail {
    /// About 900 triangles with smooth normals, for the image.
    Fine,
    /// About 250 triangles, for shadow maps.
    Coarse,
}

/// The teapot mesh in Newell's coordinates.
pub(crate) fn teapot(detail: Detail) -> Mesh {
    // Angular segments, steps per body and lid profile segment, and the (across, along)
    // steps of the handle and spout patches.
    let (segments, body, lid, handle, spout) = match detail {
        Detail::Fine => (20, [2, 4, 3, 3], [3, 3], (4, 3), (4, 4)),
        Detail::Coarse => (12, [1, 2, 2, 2], [2, 1], (2, 2), (2, 2)),
    };
    let mut mesh = Mesh::default();
    mesh.revolve(&profile(&BODY, &body), segments);
    mesh.revolve(&profile(&LID, &lid), segments);
    for rows in [&HANDLE[0..4], &HANDLE[3..7]] {
        mirrored_patch(&mut mesh, rows, handle.0, handle.1);
    }
    for rows in [&SPOUT[0..4], &SPOUT[3..7]] {
        mirrored_patch(&mut mesh, rows, spout.0, spout.1);
    }
    mesh
}

#[cfg(test)]
mod tests {
    use super::super::meshes::{dot, sub};
    use super::*;

    #[test]
    fn teapot_has_the_classic_extent_and_outward_normals() {
        let m = teapot(Detail::Fine);
        assert!(teapot(Detail::Coarse).triangles.len() < 400);
        let (lo, hi) = m.bounds();
        // Handle to spout tip about 6.4, width 4, height 3.15.
        assert!((hi[0] - lo[0] - 6.4).abs() < 0.2, "{lo:?} {hi:?}");
        assert!((hi[1] - lo[1] - 4.0).abs() < 1e-3);
        assert!((hi[2] - lo[2] - 3.15).abs() < 1e-3);
        assert!(
            m.triangles.len() > 500 && m.triangles.len() < 1500,
            "{}",
            m.triangles.len()
        );
        // Normals on the body's widest ring point away from the axis.
        let centre = [0.0, 0.0, 1.2];
        let mut outward = 0;
        let mut total = 0;
        for (p, n) in m.positions.iter().zip(&m.normals) {
            let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
            if (r - 2.0).abs() < 1e-3 && (p[2] - 0.9).abs() < 1e-3 && p[1].abs() > 0.5 {
                total += 1;
                outward += usize::from(dot(*n, sub(*p, centre)) > 0.0);
            }
        }
        assert!(total > 0 && outward == total);
    }
}
