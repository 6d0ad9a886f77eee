//! One scene from labels and nuisance: background, shadows, the two fighters and the
//! effects that make their poses read, then lighting. Everything is laid out in image
//! fractions, so any `size` draws the same picture.

use crate::canvas::{sdf, Canvas};

use super::pen::Pen;
use super::poses::{action_pose, add, dir, mad, reaction_pose, scale, Effect, Pose, Skeleton};
use super::scene::{Character, Labels, Nuisance};
use super::weapons::{self, Weapon};
use super::{draw_golem, draw_satyr};

/// Where the fighters stand, in image fractions.
const GROUND: f32 = 0.87;
const HORIZON: f32 = 0.7;
const ACTOR_X: f32 = 0.21;
const REACTOR_X: f32 = 0.765;
/// A fighter's nominal height, in image heights.
const HEIGHT: f32 = 0.44;

const SKY_TOP: [f32; 3] = [0.56, 0.7, 0.86];
const SKY_LOW: [f32; 3] = [0.86, 0.87, 0.82];
const FIELD_FAR: [f32; 3] = [0.62, 0.66, 0.46];
const FIELD_NEAR: [f32; 3] = [0.5, 0.55, 0.36];

/// Renders one scene as RGB bytes, row-major, `size * size * 3` long.
pub fn render(labels: &Labels, nuisance: &Nuisance, size: usize) -> Vec<u8> {
    let mut out = vec![0; size * size * 3];
    render_into(labels, nuisance, size, &mut out);
    out
}

/// [`render`] into a caller's buffer of `size * size * 3` bytes.
pub fn render_into(labels: &Labels, nuisance: &Nuisance, size: usize, out: &mut [u8]) {
    let mut c = Canvas::new(size, size, [0.0; 3]);
    background(&mut c, nuisance);
    let s = size as f32;
    let n = nuisance;
    let fighters = [
        (
            labels.actor,
            labels.actor_type,
            action_pose(labels.action, n.actor_phase),
            ACTOR_X + n.actor_dx,
            n.actor_dy,
            n.actor_scale,
            1.0,
        ),
        (
            labels.reactor,
            labels.reactor_type,
            reaction_pose(labels.reaction, n.reactor_phase),
            REACTOR_X + n.reactor_dx,
            n.reactor_dy,
            n.reactor_scale,
            -1.0,
        ),
    ];
    for (character, kind, pose, x, dy, scale, facing) in fighters {
        let pen = Pen {
            ox: x * s,
            oy: (GROUND + dy) * s,
            unit: HEIGHT * scale * s,
            facing,
            line: 0.011 * s,
        };
        let (build, weapon) = match character {
            Character::Satyr => (draw_satyr::BUILD, draw_satyr::weapon(kind)),
            Character::Golem => (draw_golem::BUILD, draw_golem::weapon(kind)),
        };
        let sk = Skeleton::new(&build, &pose);
        ground_marks(&mut c, &pen, &sk, &pose, character);
        if pose.effect == Effect::Swoosh {
            swoosh(
                &mut c,
                &pen,
                &sk,
                &pose,
                weapon,
                build.upper_arm + build.forearm,
            );
        }
        match character {
            Character::Satyr => draw_satyr::draw(&mut c, &pen, &sk, kind, &pose),
            Character::Golem => draw_golem::draw(&mut c, &pen, &sk, kind, &pose),
        }
        match pose.effect {
            Effect::Bubble => bubble(&mut c, &pen, &sk),
            Effect::Impact => impact(&mut c, &pen, &sk),
            // The fallen fighter's weapon lies on the ground in front of the body.
            Effect::Fallen => weapons::draw(&mut c, &pen, weapon, [0.28, -0.08], [-1.0, 0.0]),
            _ => {}
        }
    }
    if n.light_level != 1.0 || n.light_slope != 0.0 {
        let gain: Vec<f32> = (0..size)
            .map(|x| n.light_level * (1.0 + n.light_slope * (0.5 - (x as f32 + 0.5) / s)))
            .collect();
        c.map_pixels(|x, _, p| p.map(|v| v * gain[x]));
    }
    c.write_rgb8(out);
}

/// Sky and field, hue-rotated and textured by the nuisance.
fn background(c: &mut Canvas, n: &Nuisance) {
    let size = c.height();
    let hue = |col: [f32; 3]| rotate_hue(col, n.bg_hue);
    let horizon = (HORIZON * size as f32).round() as usize;
    c.vertical_gradient(0, horizon, hue(SKY_TOP), hue(SKY_LOW));
    c.vertical_gradient(horizon, size, hue(FIELD_FAR), hue(FIELD_NEAR));
    if n.bg_texture > 0.0 {
        let fine = Octave::new(size, 9.0, n.texture_x, n.texture_y);
        let coarse = Octave::new(size, 24.3, n.texture_x * 2.7 + 3.1, n.texture_y * 2.7 + 7.3);
        let amp = 2.0 * n.bg_texture;
        c.map_pixels(|x, y, p| {
            let t = 0.65 * fine.at(x, y) + 0.35 * coarse.at(x, y);
            let k = 1.0 + amp * (2.0 * t - 1.0);
            p.map(|c| c * k)
        });
    }
}

/// One octave of smooth value noise over the image, `cells` lattice cells across,
/// offset by (`ox`, `oy`) cells: lattice values and interpolation weights are tabulated
/// per column and per row, so a pixel costs four lookups and three blends.
struct Octave {
    /// Lattice cell and smoothstep weight of each column and each row.
    cols: Vec<(usize, f32)>,
    rows: Vec<(usize, f32)>,
    /// Lattice values, `stride` per row.
    lattice: Vec<f32>,
    stride: usize,
}

impl Octave {
    fn new(size: usize, cells: f32, ox: f32, oy: f32) -> Self {
        let axis = |offset: f32| {
            let base = offset.floor();
            let weights: Vec<(usize, f32)> = (0..size)
                .map(|i| {
                    let u = (i as f32 + 0.5) / size as f32 * cells + offset - base;
                    let cell = u.floor();
                    let f = u - cell;
                    (cell as usize, f * f * (3.0 - 2.0 * f))
                })
                .collect();
            (base as i64, weights)
        };
        let (bx, cols) = axis(ox);
        let (by, rows) = axis(oy);
        let stride = cols.last().map_or(0, |c| c.0) + 2;
        let height = rows.last().map_or(0, |r| r.0) + 2;
        let mut lattice = Vec::with_capacity(stride * height);
        for j in 0..height {
            for i in 0..stride {
                lattice.push(lattice_value(bx + i as i64, by + j as i64));
            }
        }
        Self {
            cols,
            rows,
            lattice,
            stride,
        }
    }

    fn at(&self, x: usize, y: usize) -> f32 {
        let (i, sx) = self.cols[x];
        let (j, sy) = self.rows[y];
        let o = j * self.stride + i;
        let l = &self.lattice;
        let a = l[o] + (l[o + 1] - l[o]) * sx;
        let b = l[o + self.stride] + (l[o + self.stride + 1] - l[o + self.stride]) * sx;
        a + (b - a) * sy
    }
}

/// A pseudo-random value in [0, 1) for each lattice point.
fn lattice_value(i: i64, j: i64) -> f32 {
    let mut v = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    v ^= v >> 29;
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v ^= v >> 32;
    (v >> 40) as f32 / (1u64 << 24) as f32
}

/// Rotates a colour about the grey axis by `angle` radians.
fn rotate_hue(c: [f32; 3], angle: f32) -> [f32; 3] {
    if angle == 0.0 {
        return c;
    }
    let (s, co) = angle.sin_cos();
    let k = (1.0 - co) / 3.0;
    let r = s / 3f32.sqrt();
    let m = [
        [co + k, k - r, k + r],
        [k + r, co + k, k - r],
        [k - r, k + r, co + k],
    ];
    [0, 1, 2].map(|i| (m[i][0] * c[0] + m[i][1] * c[1] + m[i][2] * c[2]).clamp(0.0, 1.0))
}

/// Shadow under the fighter, dust for a walk, a pool for the dying.
fn ground_marks(c: &mut Canvas, pen: &Pen, sk: &Skeleton, pose: &Pose, character: Character) {
    let wide = if character == Character::Golem {
        1.25
    } else {
        1.0
    };
    let (centre, rx) = if pose.effect == Effect::Fallen {
        ([0.0, 0.0], 0.48)
    } else {
        ([sk.hip[0], 0.0], 0.2 * wide)
    };
    pen.ellipse(c, centre, rx, 0.035, [1.0, 0.0], [0.1, 0.1, 0.08], 0.0, 0.3);
    match pose.effect {
        Effect::Fallen => {
            pen.ellipse(
                c,
                [0.05, 0.01],
                0.3,
                0.035,
                [1.0, 0.0],
                [0.55, 0.05, 0.05],
                0.0,
                0.85,
            );
        }
        Effect::Dust => {
            let foot = sk.toe_b;
            for (k, (dx, r)) in [(0.07, 0.045), (0.14, 0.035), (0.2, 0.025)]
                .iter()
                .enumerate()
            {
                let centre = [foot[0] - dx, r * 0.9 + 0.01 * k as f32];
                pen.capsule_with(c, centre, centre, *r, *r, [0.8, 0.74, 0.6], 0.0, 0.85);
            }
        }
        _ => {}
    }
}

/// A white arc trailing the swung weapon, from where it came (higher) to where it is.
fn swoosh(c: &mut Canvas, pen: &Pen, sk: &Skeleton, pose: &Pose, weapon: Weapon, arm: f32) {
    let r = (arm * 0.85 + weapon.reach() * 0.8) * pen.unit;
    let from = pose.weapon + 1.2;
    let mid = pen.angle(dir((pose.weapon + from) * 0.5));
    let centre = pen.p(sk.shoulder);
    let half = 0.028 * pen.unit;
    let bbox = [
        centre[0] - r - half,
        centre[1] - r - half,
        centre[0] + r + half,
        centre[1] + r + half,
    ];
    c.fill_sdf(bbox, [1.0, 1.0, 0.96], 0.85, |x, y| {
        sdf::arc([x, y], centre, r, mid, 0.6, half)
    });
}

/// A shout bubble with an exclamation mark, above and in front of the head.
fn bubble(c: &mut Canvas, pen: &Pen, sk: &Skeleton) {
    let centre = add(sk.head, [0.24, 0.1]);
    pen.poly(
        c,
        &[
            add(centre, [-0.07, -0.04]),
            add(sk.head, [0.1, 0.02]),
            add(centre, [-0.01, -0.07]),
        ],
        [1.0; 3],
    );
    pen.ellipse(c, centre, 0.12, 0.09, [1.0, 0.0], [1.0; 3], pen.line, 1.0);
    pen.stroke(
        c,
        add(centre, [0.0, 0.05]),
        add(centre, [0.0, -0.01]),
        0.022,
        [0.85, 0.1, 0.1],
    );
    pen.dot(c, add(centre, [0.0, -0.05]), 0.02, [0.85, 0.1, 0.1]);
}

/// An impact star on the front of the chest.
fn impact(c: &mut Canvas, pen: &Pen, sk: &Skeleton) {
    let chest = mad(sk.hip, sk.up, 0.22);
    let centre = add(chest, [0.17, 0.02]);
    let mut pts = [[0.0f32; 2]; 16];
    for (i, p) in pts.iter_mut().enumerate() {
        let a = i as f32 * std::f32::consts::PI / 8.0 + 0.2;
        let r = if i % 2 == 0 { 0.13 } else { 0.06 };
        *p = add(centre, scale([a.cos(), a.sin()], r));
    }
    pen.poly(c, &pts, [1.0, 0.85, 0.15]);
    pen.dot(c, centre, 0.04, [0.95, 0.25, 0.1]);
}
