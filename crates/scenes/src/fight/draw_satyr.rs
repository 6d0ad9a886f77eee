//! The satyr: slim human torso, furry goat legs bent back at the hock with black hooves,
//! pointed ear, beard and swept-back horns. Types differ in fur (tan, black, white),
//! clothing (green tunic, red sash, blue breastplate) and weapon (spear, sabre, axe).

use crate::canvas::Canvas;

use super::pen::{shade, Pen};
use super::poses::{add, mad, scale, Build, Effect, Pose, Skeleton, V2};
use super::weapons::{self, Weapon};

pub(crate) const BUILD: Build = Build {
    thigh: 0.2,
    shin: 0.17,
    foot: 0.11,
    goat: true,
    torso: 0.27,
    neck: 0.03,
    head: 0.085,
    shoulder: 0.04,
    upper_arm: 0.16,
    forearm: 0.15,
    limb: 0.03,
    body: 0.07,
};

const SKIN: [f32; 3] = [0.93, 0.71, 0.53];
const HORN: [f32; 3] = [0.93, 0.88, 0.72];
const HOOF: [f32; 3] = [0.12, 0.1, 0.1];

struct Palette {
    fur: [f32; 3],
    accent: [f32; 3],
    weapon: Weapon,
}

const PALETTES: [Palette; 3] = [
    Palette {
        fur: [0.66, 0.43, 0.2],
        accent: [0.18, 0.68, 0.2],
        weapon: Weapon::Spear,
    },
    Palette {
        fur: [0.2, 0.15, 0.13],
        accent: [0.9, 0.13, 0.12],
        weapon: Weapon::Sabre,
    },
    Palette {
        fur: [0.93, 0.92, 0.88],
        accent: [0.2, 0.38, 0.92],
        weapon: Weapon::Axe,
    },
];

/// The weapon of a satyr of type `kind`.
pub(crate) fn weapon(kind: usize) -> Weapon {
    PALETTES[kind.min(2)].weapon
}

/// Draws a satyr of type `kind` (0..3) in the posed skeleton `sk`.
pub(crate) fn draw(c: &mut Canvas, pen: &Pen, sk: &Skeleton, kind: usize, pose: &Pose) {
    let pal = &PALETTES[kind.min(2)];
    let back = 0.7;
    // Back arm and leg, in shadow.
    arm(
        c,
        pen,
        sk.shoulder,
        sk.elbow_b,
        sk.hand_b,
        shade(SKIN, back),
    );
    leg(
        c,
        pen,
        sk.hip,
        sk.knee_b,
        sk.ankle_b,
        sk.toe_b,
        shade(pal.fur, back),
    );
    // Tail: a tuft behind the hip.
    let behind = scale(sk.fwd, -1.0);
    let tail = mad(mad(sk.hip, behind, 0.08), sk.up, 0.05);
    pen.capsule(c, mad(sk.hip, behind, 0.03), tail, 0.03, 0.02, pal.fur);
    // Torso: skin from the waist up, goat fur on the hips.
    let chest = mad(sk.neck, sk.up, -0.07);
    pen.capsule(c, mad(sk.hip, sk.up, 0.06), chest, 0.055, 0.075, SKIN);
    match kind {
        0 => {
            // Green tunic over the chest and belly.
            pen.capsule(c, mad(sk.hip, sk.up, 0.07), chest, 0.06, 0.078, pal.accent);
        }
        1 => {
            // Red sash across the chest.
            let a = mad(mad(sk.neck, sk.up, -0.03), sk.fwd, -0.05);
            let b = mad(mad(sk.hip, sk.up, 0.1), sk.fwd, 0.05);
            pen.capsule(c, a, b, 0.026, 0.026, pal.accent);
        }
        _ => {
            // Blue breastplate.
            let b = mad(sk.hip, sk.up, 0.12);
            pen.capsule(c, b, chest, 0.062, 0.08, pal.accent);
            pen.stroke(
                c,
                mad(b, sk.fwd, 0.0),
                mad(chest, sk.up, 0.02),
                0.012,
                [1.0, 0.85, 0.3],
            );
        }
    }
    pen.capsule(c, sk.hip, mad(sk.hip, sk.up, 0.07), 0.075, 0.065, pal.fur);
    if kind == 1 {
        // Red loincloth.
        pen.capsule(
            c,
            mad(sk.hip, sk.up, 0.075),
            mad(sk.hip, sk.up, 0.1),
            0.07,
            0.068,
            pal.accent,
        );
    }
    leg(c, pen, sk.hip, sk.knee_f, sk.ankle_f, sk.toe_f, pal.fur);
    head(c, pen, sk, pal, pose.effect == Effect::Fallen);
    if pose.effect != Effect::Fallen {
        weapons::draw(c, pen, pal.weapon, sk.hand_f, sk.weapon);
    }
    arm(c, pen, sk.shoulder, sk.elbow_f, sk.hand_f, SKIN);
    if kind == 2 {
        // Blue pauldron over the front shoulder.
        pen.circle(c, mad(sk.shoulder, sk.up, 0.01), 0.045, pal.accent);
    }
}

fn arm(c: &mut Canvas, pen: &Pen, shoulder: V2, elbow: V2, hand: V2, skin: [f32; 3]) {
    pen.capsule(c, shoulder, elbow, 0.034, 0.028, skin);
    pen.capsule(c, elbow, hand, 0.028, 0.024, skin);
    pen.circle(c, hand, 0.03, skin);
}

/// Goat leg: thick furry thigh, thin shin back to the hock, cannon bone, black hoof.
fn leg(c: &mut Canvas, pen: &Pen, hip: V2, knee: V2, hock: V2, hoof: V2, fur: [f32; 3]) {
    pen.capsule(c, hock, hoof, 0.024, 0.02, fur);
    pen.capsule(c, knee, hock, 0.04, 0.026, fur);
    pen.capsule(c, hip, knee, 0.06, 0.042, fur);
    let d = [hoof[0] - hock[0], hoof[1] - hock[1]];
    let l = (d[0] * d[0] + d[1] * d[1]).sqrt().max(1e-6);
    let d = [d[0] / l, d[1] / l];
    pen.capsule(c, hoof, mad(hoof, d, 0.02), 0.026, 0.026, HOOF);
}

fn head(c: &mut Canvas, pen: &Pen, sk: &Skeleton, pal: &Palette, dead: bool) {
    let (h, up, fwd) = (sk.head, sk.head_up, sk.head_fwd);
    let at = |f: f32, u: f32| add(h, add(scale(fwd, f), scale(up, u)));
    // Far horn, then ear, head, beard, near horn.
    horn(c, pen, at(0.01, 0.06), up, fwd, shade(HORN, 0.75));
    pen.poly(
        c,
        &[at(-0.06, 0.02), at(-0.13, 0.06), at(-0.05, -0.02)],
        SKIN,
    );
    pen.circle(c, h, BUILD.head, SKIN);
    pen.poly(
        c,
        &[at(0.02, -0.055), at(0.09, -0.05), at(0.05, -0.13)],
        pal.fur,
    );
    // Hair on the crown.
    pen.capsule_with(
        c,
        at(-0.04, 0.06),
        at(0.03, 0.07),
        0.03,
        0.025,
        pal.fur,
        0.0,
        1.0,
    );
    horn(c, pen, at(-0.02, 0.065), up, fwd, HORN);
    if dead {
        // Crossed-out eye.
        let k = 0.018;
        pen.stroke(
            c,
            at(0.045 - k, 0.015 - k),
            at(0.045 + k, 0.015 + k),
            0.007,
            [0.1; 3],
        );
        pen.stroke(
            c,
            at(0.045 - k, 0.015 + k),
            at(0.045 + k, 0.015 - k),
            0.007,
            [0.1; 3],
        );
    } else {
        pen.dot(c, at(0.05, 0.015), 0.014, [0.1; 3]);
    }
}

/// A horn rising from `base`, sweeping up and back, tapering to a point.
fn horn(c: &mut Canvas, pen: &Pen, base: V2, up: V2, fwd: V2, colour: [f32; 3]) {
    let at = |f: f32, u: f32| add(base, add(scale(fwd, f), scale(up, u)));
    let (p1, p2, p3) = (at(-0.02, 0.07), at(-0.08, 0.12), at(-0.16, 0.12));
    pen.capsule(c, base, p1, 0.03, 0.024, colour);
    pen.capsule(c, p1, p2, 0.024, 0.016, colour);
    pen.capsule(c, p2, p3, 0.016, 0.006, colour);
}
