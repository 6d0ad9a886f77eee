//! Ball-in-boxes, the CITRIS example in which a variable's value within a context is
//! never intervened on (`data_generation/data_generation_ball_in_boxes.py` in
//! phlippe/CITRIS).
//!
//! A 32×32 image with a dark frame of 2 pixels split by a dark wall (x ∈ [15, 17]) into
//! two boxes; a red ball of radius 1.5 sits in the left (`ball_b = 0`) or the right box
//! (`ball_b = 1`), drawn at `(ball_x + 16·ball_b, ball_y)`. Coordinates are CITRIS's
//! (matplotlib's): `x` right, `y` up, origin at the bottom-left corner of the image.
//!
//! # State (`raw_latents`) and causal variables (intervention columns)
//!
//! Both in CITRIS's sorted key order, one latent per variable:
//!
//! | column | key      | values                                                  |
//! |--------|----------|---------------------------------------------------------|
//! | 0      | `ball_b` | box, categorical 0 (left) or 1 (right)                  |
//! | 1      | `ball_x` | x within the box, `[3.5, 12.5]`; never intervened on     |
//! | 2      | `ball_y` | `[3.5, 28.5]`                                            |
//!
//! # Dynamics (one step)
//!
//! `ball_x` and `ball_y` take a Gaussian step `N(0, 1.5²)` each and are clipped to their
//! ranges; `ball_b` stays. Interventions follow CITRIS's single-target policy with
//! `intv_prob = 0.2` over the two targets `ball_b` and `ball_y`: with probability
//! `0.8² = 0.64` none, otherwise one of the two uniformly (so each is intervened on in
//! 18% of the steps). An intervention on `ball_b` moves the ball to the other box
//! (`1 − b`, keeping `ball_x`); one on `ball_y` draws it uniformly from `[3.5, 28.5]`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::pong::{randn, Frame32, BACKGROUND, RED, RES};
use super::{CausalVariable, TemporalProcess, VariableKind};

/// The ball-in-boxes process of CITRIS. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Boxes {
    _private: (),
}

impl Boxes {
    /// Column of the box (0 left, 1 right) in a state.
    pub const BALL_B: usize = 0;
    /// Column of the ball's x within its box in a state.
    pub const BALL_X: usize = 1;
    /// Column of the ball's y in a state.
    pub const BALL_Y: usize = 2;
    /// Number of columns of a state.
    pub const NUM_LATENTS: usize = 3;

    /// Frame width and height in pixels.
    pub const RESOLUTION: f32 = 32.0;
    /// Width of the dark frame and of the wall between the boxes.
    pub const BORDER: f32 = 2.0;
    /// Ball radius.
    pub const BALL_RADIUS: f32 = 1.5;
    /// Standard deviation of the ball's step in x and in y.
    pub const STEP_NOISE: f32 = 1.5;
    /// How far right the ball is drawn in the right box.
    pub const BOX_SHIFT: f32 = Self::RESOLUTION / 2.0;
    /// Bounds of `ball_x` (within a box).
    pub const BALL_X_MIN: f32 = Self::BORDER + Self::BALL_RADIUS;
    /// Bounds of `ball_x` (within a box).
    pub const BALL_X_MAX: f32 = Self::RESOLUTION / 2.0 - Self::BALL_RADIUS - Self::BORDER;
    /// Bounds of `ball_y`.
    pub const BALL_Y_MIN: f32 = Self::BALL_RADIUS + Self::BORDER;
    /// Bounds of `ball_y`.
    pub const BALL_Y_MAX: f32 = Self::RESOLUTION - Self::BALL_RADIUS - Self::BORDER;
    /// CITRIS's `intv_prob`: a step has no intervention with probability `(1 - p)^2`.
    pub const INTERVENTION_PROB: f64 = 0.2;
    /// Number of intervention targets (`ball_b`, `ball_y`).
    pub const NUM_TARGETS: usize = 2;

    /// The process with CITRIS's settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Probability that a step has no intervention: `0.8² = 0.64`.
    pub fn no_intervention_prob() -> f64 {
        (1.0 - Self::INTERVENTION_PROB).powi(Self::NUM_TARGETS as i32)
    }
}

impl TemporalProcess for Boxes {
    fn name(&self) -> &str {
        "boxes"
    }

    fn frame_shape(&self) -> [usize; 3] {
        [RES, RES, 3]
    }

    fn variables(&self) -> Vec<CausalVariable> {
        vec![
            CausalVariable {
                name: "ball_b".into(),
                kind: VariableKind::Categorical { classes: 2 },
                latents: vec![Self::BALL_B],
            },
            CausalVariable {
                name: "ball_x".into(),
                kind: VariableKind::Continuous {
                    min: Self::BALL_X_MIN,
                    max: Self::BALL_X_MAX,
                },
                latents: vec![Self::BALL_X],
            },
            CausalVariable {
                name: "ball_y".into(),
                kind: VariableKind::Continuous {
                    min: Self::BALL_Y_MIN,
                    max: Self::BALL_Y_MAX,
                },
                latents: vec![Self::BALL_Y],
            },
        ]
    }

    fn latent_names(&self) -> Vec<String> {
        vec!["ball_b".into(), "ball_x".into(), "ball_y".into()]
    }

    /// The ball's x within its box is never intervened on.
    fn intervenable(&self) -> Vec<bool> {
        vec![true, false, true]
    }

    fn sample_state(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let x = rng.gen_range(f64::from(Self::BALL_X_MIN)..f64::from(Self::BALL_X_MAX));
        let b = rng.gen_range(0..2u8);
        let y = rng.gen_range(f64::from(Self::BALL_Y_MIN)..f64::from(Self::BALL_Y_MAX));
        vec![f32::from(b), x as f32, y as f32]
    }

    fn step(&self, state: &[f32], rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<bool>) {
        assert_eq!(
            state.len(),
            Self::NUM_LATENTS,
            "boxes: a state has {} columns",
            Self::NUM_LATENTS
        );
        // Single-target policy over the intervention keys [ball_b, ball_y].
        let target = rng.gen_range(0..Self::NUM_TARGETS);
        let target = (rng.gen::<f64>() >= Self::no_intervention_prob()).then_some(target);

        let noise = f64::from(Self::STEP_NOISE);
        let clip = |v: f64, lo: f32, hi: f32| v.clamp(f64::from(lo), f64::from(hi)) as f32;
        let x = f64::from(state[Self::BALL_X]) + randn(rng) * noise;
        let mut y = f64::from(state[Self::BALL_Y]) + randn(rng) * noise;
        let mut b = state[Self::BALL_B];
        let mut mask = vec![false; Self::NUM_LATENTS];
        match target {
            Some(0) => {
                b = 1.0 - b;
                mask[Self::BALL_B] = true;
            }
            Some(_) => {
                y = rng.gen_range(f64::from(Self::BALL_Y_MIN)..f64::from(Self::BALL_Y_MAX));
                mask[Self::BALL_Y] = true;
            }
            None => {}
        }
        let next = vec![
            b,
            clip(x, Self::BALL_X_MIN, Self::BALL_X_MAX),
            clip(y, Self::BALL_Y_MIN, Self::BALL_Y_MAX),
        ];
        (next, mask)
    }

    fn render(&self, state: &[f32], frame: &mut [u8]) {
        assert_eq!(state.len(), Self::NUM_LATENTS, "boxes: state length");
        let mut img = Frame32::filled(BACKGROUND);
        img.borders(Self::BORDER, true);
        img.circle(
            state[Self::BALL_X] + Self::BOX_SHIFT * state[Self::BALL_B],
            state[Self::BALL_Y],
            Self::BALL_RADIUS,
            RED,
        );
        img.write_rgb8(frame);
    }
}
