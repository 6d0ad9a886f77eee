//! The golem: a hulking figure of stone blocks, small head sunk between boulder
//! shoulders, glowing eyes, huge fists. Types differ in stone (grey, sandstone, slate),
//! markings (moss, glowing lava cracks, crystal spikes) and weapon (club, hammer,
//! crystal blade).

use crate::canvas::Canvas;

use super::pen::{mix, shade, Pen};
use super::poses::{add, mad, scale, Build, Effect, Pose, Skeleton, V2};
use super::weapons::{self, Weapon};

pub(crate) const BUILD: Build = Build {
    thigh: 0.17,
    shin: 0.16,
    foot: 0.1,
    goat: false,
    torso: 0.34,
    neck: -0.02,
    head: 0.075,
    shoulder: 0.06,
    upper_arm: 0.18,
    forearm: 0.17,
    limb: 0.06,
    body: 0.15,
};

struct Palette {
    stone: [f32; 3],
    accent: [f32; 3],
    eyes: [f32; 3],
    weapon: Weapon,
}

const PALETTES: [Palette; 3] = [
    Palette {
        stone: [0.6, 0.6, 0.58],
        accent: [0.3, 0.66, 0.18],
        eyes: [1.0, 0.95, 0.3],
        weapon: Weapon::Club,
    },
    Palette {
        stone: [0.8, 0.62, 0.38],
        accent: [1.0, 0.3, 0.08],
        eyes: [1.0, 0.25, 0.1],
        weapon: Weapon::Hammer,
    },
    Palette {
        stone: [0.3, 0.34, 0.48],
        accent: [0.35, 0.92, 0.98],
        eyes: [0.5, 1.0, 1.0],
        weapon: Weapon::Crystal,
    },
];

/// The weapon of a golem of type `kind`.
pub(crate) fn weapon(kind: usize) -> Weapon {
    PALETTES[kind.min(2)].weapon
}

/// Draws a golem of type `kind` (0..3) in the posed skeleton `sk`.
pub(crate) fn draw(c: &mut Canvas, pen: &Pen, sk: &Skeleton, kind: usize, pose: &Pose) {
    let pal = &PALETTES[kind.min(2)];
    let stone = pal.stone;
    let dark = shade(stone, 0.7);
    arm(c, pen, sk.shoulder, sk.elbow_b, sk.hand_b, dark);
    leg(c, pen, sk.hip, sk.knee_b, sk.ankle_b, sk.toe_b, dark);
    if kind == 2 {
        // Crystal spikes growing out of the back.
        let behind = scale(sk.fwd, -1.0);
        for (u, len, w) in [(0.3, 0.13, 0.04), (0.18, 0.11, 0.035), (0.06, 0.08, 0.03)] {
            let base = mad(mad(sk.hip, sk.up, u), behind, 0.11);
            let tip_dir = add(scale(behind, 0.8), scale(sk.up, 0.6));
            let tip = mad(base, tip_dir, len);
            let side = mad(base, sk.up, w);
            pen.poly(c, &[mad(base, sk.up, -w), tip, side], pal.accent);
        }
    }
    // Pelvis and the great block of the torso.
    pen.block(
        c,
        mad(sk.hip, sk.up, -0.03),
        mad(sk.hip, sk.up, 0.08),
        0.11,
        0.03,
        dark,
    );
    let top = mad(sk.neck, sk.up, 0.02);
    pen.block(c, mad(sk.hip, sk.up, 0.06), top, 0.15, 0.05, stone);
    let chest = mad(sk.hip, sk.up, 0.22);
    match kind {
        0 => {
            // Moss patches.
            pen.ellipse(
                c,
                mad(mad(top, sk.up, -0.04), sk.fwd, -0.04),
                0.08,
                0.04,
                sk.fwd,
                pal.accent,
                0.0,
                1.0,
            );
            pen.ellipse(
                c,
                mad(mad(chest, sk.up, -0.1), sk.fwd, 0.06),
                0.05,
                0.035,
                sk.fwd,
                pal.accent,
                0.0,
                1.0,
            );
        }
        1 => {
            // Glowing cracks of lava.
            let p = |f: f32, u: f32| add(chest, add(scale(sk.fwd, f), scale(sk.up, u)));
            let glow = pal.accent;
            pen.stroke(c, p(-0.08, 0.1), p(0.0, 0.02), 0.016, glow);
            pen.stroke(c, p(0.0, 0.02), p(-0.04, -0.07), 0.016, glow);
            pen.stroke(c, p(0.0, 0.02), p(0.09, -0.02), 0.016, glow);
            pen.stroke(c, p(-0.04, -0.07), p(0.03, -0.14), 0.014, glow);
        }
        _ => {
            // A crystal set in the chest.
            let p = |f: f32, u: f32| add(chest, add(scale(sk.fwd, f), scale(sk.up, u)));
            pen.poly(
                c,
                &[p(0.02, 0.07), p(0.07, 0.0), p(0.02, -0.07), p(-0.03, 0.0)],
                pal.accent,
            );
        }
    }
    // A few cracks in the stone.
    let p = |f: f32, u: f32| add(sk.hip, add(scale(sk.fwd, f), scale(sk.up, u)));
    pen.stroke(c, p(-0.1, 0.3), p(-0.06, 0.24), 0.008, shade(stone, 0.55));
    leg(c, pen, sk.hip, sk.knee_f, sk.ankle_f, sk.toe_f, stone);
    head(c, pen, sk, kind, pose.effect == Effect::Fallen);
    if pose.effect != Effect::Fallen {
        weapons::draw(c, pen, pal.weapon, sk.hand_f, sk.weapon);
    }
    arm(c, pen, sk.shoulder, sk.elbow_f, sk.hand_f, stone);
    if kind == 0 {
        pen.ellipse(
            c,
            mad(sk.shoulder, sk.up, 0.06),
            0.06,
            0.025,
            sk.fwd,
            pal.accent,
            0.0,
            1.0,
        );
    }
}

fn arm(c: &mut Canvas, pen: &Pen, shoulder: V2, elbow: V2, hand: V2, stone: [f32; 3]) {
    pen.circle(c, shoulder, 0.085, stone);
    pen.block(c, shoulder, elbow, 0.06, 0.02, stone);
    pen.block(c, elbow, hand, 0.065, 0.02, stone);
    pen.circle(c, hand, 0.068, mix(stone, [0.0; 3], 0.08));
}

fn leg(c: &mut Canvas, pen: &Pen, hip: V2, knee: V2, ankle: V2, toe: V2, stone: [f32; 3]) {
    pen.block(c, hip, knee, 0.07, 0.02, stone);
    pen.block(c, knee, ankle, 0.065, 0.02, stone);
    let d = [toe[0] - ankle[0], toe[1] - ankle[1]];
    pen.block(c, mad(ankle, d, -0.5), toe, 0.04, 0.015, stone);
}

fn head(c: &mut Canvas, pen: &Pen, sk: &Skeleton, kind: usize, dead: bool) {
    let pal = &PALETTES[kind.min(2)];
    let (h, up, fwd) = (sk.head, sk.head_up, sk.head_fwd);
    let at = |f: f32, u: f32| add(h, add(scale(fwd, f), scale(up, u)));
    pen.block(c, at(-0.06, 0.0), at(0.06, 0.0), 0.075, 0.025, pal.stone);
    // Heavy brow.
    pen.block(
        c,
        at(-0.02, 0.035),
        at(0.08, 0.035),
        0.02,
        0.01,
        shade(pal.stone, 0.75),
    );
    if dead {
        pen.stroke(c, at(0.02, -0.0), at(0.065, 0.0), 0.01, [0.1; 3]);
    } else {
        pen.stroke(c, at(0.025, 0.0), at(0.065, 0.0), 0.016, pal.eyes);
    }
    if kind == 0 {
        // Moss on the crown.
        pen.ellipse(c, at(-0.01, 0.07), 0.06, 0.022, fwd, pal.accent, 0.0, 1.0);
    }
}
