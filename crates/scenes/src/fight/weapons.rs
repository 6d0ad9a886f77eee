//! The six weapons, one per fighter type: spear, sabre and axe for satyrs; club, hammer
//! and crystal blade for golems.

use crate::canvas::Canvas;

use super::pen::{mix, Pen};
use super::poses::{mad, V2};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Weapon {
    Spear,
    Sabre,
    Axe,
    Club,
    Hammer,
    Crystal,
}

const WOOD: [f32; 3] = [0.52, 0.34, 0.17];
const STEEL: [f32; 3] = [0.86, 0.89, 0.93];
const DARK: [f32; 3] = [0.25, 0.18, 0.14];
const GOLD: [f32; 3] = [0.95, 0.75, 0.2];

impl Weapon {
    /// Reach beyond the hand, in local units (for the swing trail).
    pub(crate) fn reach(self) -> f32 {
        match self {
            Weapon::Spear => 0.5,
            Weapon::Sabre => 0.4,
            Weapon::Axe => 0.38,
            Weapon::Club => 0.4,
            Weapon::Hammer => 0.36,
            Weapon::Crystal => 0.46,
        }
    }
}

/// Draws `weapon` held at `grip`, pointing along the unit vector `d`.
pub(crate) fn draw(c: &mut Canvas, pen: &Pen, weapon: Weapon, grip: V2, d: V2) {
    let n = [-d[1], d[0]];
    let at = |along: f32, across: f32| mad(mad(grip, d, along), n, across);
    match weapon {
        Weapon::Spear => {
            pen.capsule(c, at(-0.14, 0.0), at(0.4, 0.0), 0.014, 0.013, WOOD);
            pen.poly(
                c,
                &[
                    at(0.38, -0.035),
                    at(0.56, 0.0),
                    at(0.38, 0.035),
                    at(0.36, 0.0),
                ],
                STEEL,
            );
            pen.stroke(c, at(0.35, 0.0), at(0.3, 0.03), 0.012, [0.25, 0.75, 0.25]);
        }
        Weapon::Sabre => {
            pen.capsule(c, at(-0.07, 0.0), at(0.03, 0.0), 0.016, 0.016, DARK);
            pen.poly(
                c,
                &[
                    at(0.05, -0.028),
                    at(0.25, -0.03),
                    at(0.44, 0.03),
                    at(0.26, 0.03),
                    at(0.05, 0.026),
                ],
                STEEL,
            );
            pen.capsule(c, at(0.04, -0.055), at(0.04, 0.055), 0.016, 0.016, GOLD);
        }
        Weapon::Axe => {
            pen.capsule(c, at(-0.1, 0.0), at(0.38, 0.0), 0.016, 0.015, WOOD);
            pen.poly(
                c,
                &[
                    at(0.25, 0.01),
                    at(0.2, 0.13),
                    at(0.3, 0.15),
                    at(0.4, 0.13),
                    at(0.36, 0.01),
                ],
                STEEL,
            );
            pen.poly(c, &[at(0.36, 0.0), at(0.42, -0.06), at(0.3, -0.05)], STEEL);
            pen.stroke(
                c,
                at(0.21, 0.125),
                at(0.39, 0.125),
                0.012,
                [0.3, 0.45, 0.95],
            );
        }
        Weapon::Club => {
            pen.capsule(
                c,
                at(-0.06, 0.0),
                at(0.36, 0.0),
                0.024,
                0.065,
                mix(WOOD, DARK, 0.2),
            );
            pen.dot(c, at(0.24, 0.03), 0.014, DARK);
            pen.dot(c, at(0.32, -0.03), 0.013, DARK);
        }
        Weapon::Hammer => {
            pen.capsule(c, at(-0.08, 0.0), at(0.34, 0.0), 0.02, 0.02, WOOD);
            pen.block(
                c,
                at(0.34, -0.11),
                at(0.34, 0.11),
                0.07,
                0.015,
                [0.42, 0.3, 0.26],
            );
            pen.stroke(c, at(0.34, -0.09), at(0.34, 0.09), 0.022, [0.95, 0.35, 0.1]);
        }
        Weapon::Crystal => {
            pen.capsule(c, at(-0.07, 0.0), at(0.04, 0.0), 0.02, 0.02, DARK);
            pen.poly(
                c,
                &[
                    at(0.04, -0.05),
                    at(0.36, -0.05),
                    at(0.5, 0.0),
                    at(0.36, 0.05),
                    at(0.04, 0.05),
                ],
                [0.35, 0.88, 0.95],
            );
            pen.stroke(c, at(0.08, 0.0), at(0.4, 0.0), 0.012, [0.85, 1.0, 1.0]);
        }
    }
}
