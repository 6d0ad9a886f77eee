//! The temporal dynamics of Temporal Causal3DIdent, following CITRIS'
//! `data_generation/temporal_causal3dident/data_generation_causal3dident.py`
//! (temporal, not instantaneous, with `--coarse_vars`):
//!
//! every latent moves half way towards a goal set by its parents at the previous step,
//! plus Gaussian noise (σ = 0.1 for positions, 0.15 for angles and hues; angles take the
//! shortest way round and wrap into [0, 2π); positions are redrawn until they lie in
//! [−2, 2]):
//!
//! | latent | goal |
//! |---|---|
//! | x | 1.5 · sin β |
//! | y, z | 1.5 · sin α, 1.5 · cos α |
//! | α | background hue |
//! | β | object hue |
//! | spotlight θ | atan2(x, y) |
//! | object hue | itself with one shape; with several, a function of the shape |
//! | spotlight hue | 2π − background hue |
//! | background hue | itself |
//!
//! Interventions are independent Bernoulli draws per causal variable with probability
//! 1/(number of coarse variables), position (x, y, z) and rotation (α, β) each
//! intervened on as one group; an intervened variable is drawn uniformly from its range
//! (perfect interventions). With several shapes the shape is a causal variable too, and
//! it also changes spontaneously with probability 0.05 per step.

use std::f64::consts::{PI, TAU};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Raw latent columns (CITRIS order).
pub(crate) const POS_X: usize = 0;
pub(crate) const POS_Y: usize = 1;
pub(crate) const POS_Z: usize = 2;
pub(crate) const ROT_ALPHA: usize = 3;
pub(crate) const ROT_BETA: usize = 4;
pub(crate) const ROT_GAMMA: usize = 5;
pub(crate) const ROT_SPOT: usize = 6;
pub(crate) const HUE_OBJECT: usize = 7;
pub(crate) const HUE_SPOT: usize = 8;
pub(crate) const HUE_BACK: usize = 9;
/// The shape index column, present only when there are several shapes.
pub(crate) const SHAPE: usize = 10;
/// Number of continuous raw latents.
pub(crate) const CONTINUOUS: usize = 10;

/// Noise standard deviation of positions.
pub const POSITION_SIGMA: f64 = 0.1;
/// Noise standard deviation of rotations, the spotlight angle and hues.
pub const ANGLE_SIGMA: f64 = 0.15;
/// Range of positions: [−POSITION_RANGE, POSITION_RANGE].
pub const POSITION_RANGE: f64 = 2.0;
/// Probability that the shape changes without an intervention (CITRIS' `shape_stds`).
pub const SHAPE_CHANGE_PROBABILITY: f64 = 0.05;

/// The intervention groups in the order their Bernoulli draws are made, with the
/// intervention columns each one sets.
pub(crate) const GROUPS: [&[usize]; 6] = [
    &[POS_X, POS_Y, POS_Z],
    &[ROT_ALPHA, ROT_BETA],
    &[ROT_SPOT],
    &[HUE_OBJECT],
    &[HUE_SPOT],
    &[HUE_BACK],
];

/// Intervention column of the shape variable.
pub(crate) const SHAPE_COLUMN: usize = 10;
/// Number of intervention columns (CITRIS' 12: ..., shape, material).
pub(crate) const COLUMNS: usize = 12;

/// Whether raw latent `k` is an angle in [0, 2π).
pub(crate) fn is_angle(k: usize) -> bool {
    (ROT_ALPHA..CONTINUOUS).contains(&k)
}

/// `a` wrapped into [0, 2π).
pub fn wrap_angle(a: f64) -> f64 {
    let w = a.rem_euclid(TAU);
    if w >= TAU {
        0.0
    } else {
        w
    }
}

/// `d` wrapped into (−π, π]: the shortest signed way round.
pub fn shortest(d: f64) -> f64 {
    let w = wrap_angle(d);
    if w > PI {
        w - TAU
    } else {
        w
    }
}

/// The circular mean of two angles.
fn angle_mean(a: f64, b: f64) -> f64 {
    (a.sin() + b.sin()).atan2(a.cos() + b.cos())
}

/// Goal of the object hue for a shape (index into the whole catalogue), as CITRIS maps
/// its seven shapes: fixed hues, or the (opposite of the) mean of spotlight and
/// background hue.
fn object_hue_goal(shape: usize, state: &[f32]) -> f64 {
    let (hs, hb) = (state[HUE_SPOT] as f64, state[HUE_BACK] as f64);
    let goal = match shape {
        0 => 0.0,
        1 => TAU / 5.0,
        2 => angle_mean(hs, hb),
        3 => 2.0 * TAU / 5.0,
        4 => PI + angle_mean(hs, hb),
        5 => 3.0 * TAU / 5.0,
        _ => 4.0 * TAU / 5.0,
    };
    wrap_angle(goal)
}

/// The goals of the ten continuous latents given the current state. `shape` is the
/// catalogue index of the current shape when the shape is a causal variable.
pub fn goals(state: &[f32], shape: Option<usize>) -> [f64; CONTINUOUS] {
    let s = |k: usize| state[k] as f64;
    let mut g = [0.0; CONTINUOUS];
    g[POS_X] = 1.5 * s(ROT_BETA).sin();
    g[POS_Y] = 1.5 * s(ROT_ALPHA).sin();
    g[POS_Z] = 1.5 * s(ROT_ALPHA).cos();
    g[ROT_ALPHA] = s(HUE_BACK);
    g[ROT_BETA] = s(HUE_OBJECT);
    g[ROT_GAMMA] = 0.0;
    g[ROT_SPOT] = wrap_angle(s(POS_X).atan2(s(POS_Y)));
    g[HUE_OBJECT] = match shape {
        Some(shape) => object_hue_goal(shape, state),
        None => s(HUE_OBJECT),
    };
    g[HUE_SPOT] = TAU - s(HUE_BACK);
    g[HUE_BACK] = s(HUE_BACK);
    g
}

/// The deterministic part of a step: half way from `current` to `goal`, the shortest way
/// round for angles (not wrapped).
pub fn half_step(current: f64, goal: f64, angle: bool) -> f64 {
    let d = goal - current;
    current + if angle { shortest(d) } else { d } / 2.0
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (TAU * v).cos()
}

/// A uniform draw from the range of raw latent `k`.
pub(crate) fn uniform_value(k: usize, rng: &mut ChaCha8Rng) -> f64 {
    if is_angle(k) {
        rng.gen::<f64>() * TAU
    } else {
        (rng.gen::<f64>() * 2.0 - 1.0) * POSITION_RANGE
    }
}

/// One step of the process. `shapes` is the number of selectable shapes and
/// `catalogue` maps a shape index (state column [`SHAPE`]) to its catalogue index.
/// Returns the next state and the 12 intervention flags.
pub(crate) fn step(
    state: &[f32],
    catalogue: &[usize],
    rng: &mut ChaCha8Rng,
) -> (Vec<f32>, Vec<bool>) {
    let several = catalogue.len() > 1;
    let groups = GROUPS.len() + usize::from(several);
    let p = 1.0 / groups as f64;
    let mut flags = vec![false; COLUMNS];
    for group in GROUPS {
        let hit = rng.gen::<f64>() < p;
        for &c in group {
            flags[c] = hit;
        }
    }
    if several {
        flags[SHAPE_COLUMN] = rng.gen::<f64>() < p;
    }

    let shape = several.then(|| catalogue[state[SHAPE] as usize]);
    let goal = goals(state, shape);
    let mut next = state.to_vec();
    for k in 0..CONTINUOUS {
        if k == ROT_GAMMA {
            next[k] = 0.0;
            continue;
        }
        let value = if flags[k] {
            uniform_value(k, rng)
        } else if is_angle(k) {
            wrap_angle(half_step(state[k] as f64, goal[k], true) + ANGLE_SIGMA * normal(rng))
        } else {
            // Truncated Gaussian: redraw the noise until the position is in range.
            let mean = half_step(state[k] as f64, goal[k], false);
            loop {
                let v = mean + POSITION_SIGMA * normal(rng);
                if v.abs() <= POSITION_RANGE {
                    break v;
                }
            }
        };
        next[k] = value as f32;
        if is_angle(k) && next[k] >= std::f32::consts::TAU {
            next[k] = 0.0; // f64 → f32 rounding up to 2π
        }
    }
    if several {
        let change = flags[SHAPE_COLUMN] || rng.gen::<f64>() < SHAPE_CHANGE_PROBABILITY;
        if change {
            next[SHAPE] = rng.gen_range(0..catalogue.len()) as f32;
        }
    }
    (next, flags)
}

/// A state from the initial distribution: every latent uniform over its range (gamma 0).
pub(crate) fn sample_state(shapes: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut s = vec![0.0f32; CONTINUOUS + usize::from(shapes > 1)];
    for (k, v) in s.iter_mut().enumerate().take(CONTINUOUS) {
        if k != ROT_GAMMA {
            *v = uniform_value(k, rng) as f32;
            if is_angle(k) && *v >= std::f32::consts::TAU {
                *v = 0.0;
            }
        }
    }
    if shapes > 1 {
        s[SHAPE] = rng.gen_range(0..shapes) as f32;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angles_take_the_short_way_round() {
        assert!((half_step(0.1, TAU - 0.1, true) - 0.0).abs() < 1e-12);
        assert!((half_step(TAU - 0.1, 0.3, true) - (TAU + 0.1)).abs() < 1e-12);
        assert!((half_step(1.0, 2.0, true) - 1.5).abs() < 1e-12);
        assert!((shortest(3.0 * PI / 2.0) + PI / 2.0).abs() < 1e-12);
        assert_eq!(wrap_angle(-0.5), TAU - 0.5);
    }

    #[test]
    fn goals_follow_the_citris_graph() {
        let mut s = [0.0f32; 10];
        s[POS_X] = 1.0;
        s[POS_Y] = 1.0;
        s[ROT_ALPHA] = 0.5;
        s[ROT_BETA] = 1.0;
        s[HUE_OBJECT] = 2.0;
        s[HUE_BACK] = 0.25;
        let g = goals(&s, None);
        assert!((g[POS_X] - 1.5 * 1f64.sin()).abs() < 1e-6);
        assert!((g[POS_Z] - 1.5 * 0.5f64.cos()).abs() < 1e-6);
        assert!((g[ROT_ALPHA] - 0.25).abs() < 1e-6);
        assert!((g[ROT_BETA] - 2.0).abs() < 1e-6);
        assert!((g[ROT_SPOT] - PI / 4.0).abs() < 1e-6);
        assert!((g[HUE_SPOT] - (TAU - 0.25)).abs() < 1e-6);
        assert!((g[HUE_OBJECT] - 2.0).abs() < 1e-6);
        assert_eq!(goals(&s, Some(0))[HUE_OBJECT], 0.0);
    }
}
