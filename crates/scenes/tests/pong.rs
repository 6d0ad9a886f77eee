//! Interventional Pong follows CITRIS's generator: intervention policy, dynamics,
//! bounds, scoring and rendering.

mod common;

use std::f64::consts::{PI, TAU};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use scenes::tris::pong::{PaddleIntervention, Pong};
use scenes::tris::{TemporalProcess, VariableKind};

const N_STEPS: usize = 200_000;

/// Signed difference `a - b` of two angles, in (-π, π].
fn angle_diff(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(TAU);
    if d > PI {
        d - TAU
    } else {
        d
    }
}

fn scored(prev: &[f32], next: &[f32]) -> bool {
    prev[Pong::SCORE_LEFT] != next[Pong::SCORE_LEFT]
        || prev[Pong::SCORE_RIGHT] != next[Pong::SCORE_RIGHT]
}

#[test]
fn layout_matches_citris() {
    let pong = Pong::new();
    assert_eq!(pong.name(), "pong");
    assert_eq!(pong.frame_shape(), [32, 32, 4]);
    assert_eq!(
        pong.latent_names(),
        [
            "ball_vel_dir",
            "ball_vel_magn",
            "ball_x",
            "ball_y",
            "paddle_left_y",
            "paddle_right_y",
            "score_left",
            "score_right"
        ]
    );
    let vars = pong.variables();
    let names: Vec<_> = vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ball_vel_dir",
            "ball_x",
            "ball_y",
            "paddle_left_y",
            "paddle_right_y",
            "score_left",
            "score_right"
        ]
    );
    let latents: Vec<_> = vars.iter().map(|v| v.latents.clone()).collect();
    assert_eq!(latents, [[0], [2], [3], [4], [5], [6], [7]]);
    assert!(matches!(vars[0].kind, VariableKind::Angle { .. }));
    assert_eq!(
        vars[1].kind,
        VariableKind::Continuous {
            min: 2.0,
            max: 30.0
        }
    );
    assert_eq!(
        vars[2].kind,
        VariableKind::Continuous {
            min: 3.2,
            max: 28.8
        }
    );
    assert_eq!(vars[5].kind, VariableKind::Categorical { classes: 5 });
    assert_eq!(Pong::PADDLE_LEFT_X, 5.0);
    assert_eq!(Pong::PADDLE_RIGHT_X, 27.0);
    assert!((Pong::no_intervention_prob() - 0.85f64.powi(5)).abs() < 1e-12);
}

#[test]
fn initial_states_are_in_range() {
    let pong = Pong::new();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let states: Vec<_> = (0..50_000).map(|_| pong.sample_state(&mut rng)).collect();
    let col = |c: usize| states.iter().map(|s| f64::from(s[c])).collect::<Vec<_>>();
    common::assert_uniform(&col(Pong::BALL_X), 7.2, 24.8, "initial ball_x");
    common::assert_uniform(&col(Pong::BALL_Y), 3.2, 28.8, "initial ball_y");
    common::assert_uniform(&col(Pong::BALL_VEL_DIR), 0.0, TAU, "initial direction");
    common::assert_uniform(&col(Pong::PADDLE_LEFT_Y), 2.0, 30.0, "initial left paddle");
    for s in &states {
        assert_eq!(s[Pong::BALL_VEL_MAGN], 2.0);
        for c in [Pong::SCORE_LEFT, Pong::SCORE_RIGHT] {
            assert!(s[c] >= 0.0 && s[c] <= 4.0 && s[c].fract() == 0.0);
        }
    }
}

#[test]
fn intervention_statistics() {
    let steps = common::trajectory(&Pong::new(), 11, N_STEPS);
    let mut none = 0;
    let mut per_target = [0usize; 7];
    for (_, _, mask) in &steps {
        assert_eq!(mask.len(), 7);
        let k = mask.iter().filter(|&&m| m).count();
        assert!(k <= 1, "single-target interventions only");
        if k == 0 {
            none += 1;
        }
        for (t, &m) in mask.iter().enumerate() {
            per_target[t] += usize::from(m);
        }
    }
    common::assert_binomial(none, N_STEPS, 0.85f64.powi(5), "no intervention");
    let intervened = N_STEPS - none;
    for (t, &count) in per_target.iter().enumerate().take(5) {
        common::assert_binomial(count, intervened, 0.2, &format!("target {t}"));
    }
    assert_eq!(per_target[5], 0, "score_left is never intervened on");
    assert_eq!(per_target[6], 0, "score_right is never intervened on");
}

#[test]
fn intervened_values_follow_citris() {
    let steps = common::trajectory(&Pong::new(), 12, N_STEPS);
    let pick = |t: usize, col: usize| {
        steps
            .iter()
            .filter(|(_, _, m)| m[t])
            .map(|(_, n, _)| f64::from(n[col]))
            .collect::<Vec<_>>()
    };
    common::assert_uniform(
        &pick(0, Pong::BALL_VEL_DIR),
        0.0,
        TAU,
        "intervened direction",
    );
    common::assert_uniform(&pick(1, Pong::BALL_X), 7.2, 24.8, "intervened ball_x");
    common::assert_uniform(&pick(2, Pong::BALL_Y), 3.2, 28.8, "intervened ball_y");

    // Paddles: ±1.5 in a random direction (regardless of the ball) plus N(0, 0.5²), or
    // uniform in [4, 28] when the ball was reset in that step.
    for (t, col) in [(3, Pong::PADDLE_LEFT_Y), (4, Pong::PADDLE_RIGHT_Y)] {
        let mut deltas = Vec::new();
        let mut toward_ball = 0usize;
        let mut reset_values = Vec::new();
        for (prev, next, _) in steps.iter().filter(|(_, _, m)| m[t]) {
            if scored(prev, next) {
                reset_values.push(f64::from(next[col]));
                continue;
            }
            let (p, n) = (f64::from(prev[col]), f64::from(next[col]));
            // Skip clipped values and paddles that sit at the ball's height.
            if n <= 2.0 || n >= 30.0 || (p - f64::from(prev[Pong::BALL_Y])).abs() < 0.5 {
                continue;
            }
            let d = n - p;
            deltas.push(d);
            toward_ball += usize::from((d > 0.0) == (f64::from(prev[Pong::BALL_Y]) > p));
        }
        let n = deltas.len();
        assert!(n > 3000, "{n} intervened paddle steps");
        let (mean, _) = common::mean_std(&deltas);
        let mean_sq = deltas.iter().map(|d| d * d).sum::<f64>() / n as f64;
        // E[d] = 0, E[d²] = 1.5² + 0.5² = 2.5.
        assert!(
            mean.abs() < 5.0 * (2.5f64 / n as f64).sqrt(),
            "paddle {t} mean {mean}"
        );
        assert!((mean_sq - 2.5).abs() < 0.06, "paddle {t} E[d²] = {mean_sq}");
        let abs_residual: Vec<f64> = deltas.iter().map(|d| d.abs() - 1.5).collect();
        let (m, s) = common::mean_std(&abs_residual);
        assert!(
            m.abs() < 0.02 && (s - 0.5).abs() < 0.03,
            "paddle {t}: |d|-1.5 ~ ({m}, {s})"
        );
        common::assert_binomial(
            toward_ball,
            n,
            0.5,
            "intervened paddle moves toward the ball",
        );
        for v in reset_values {
            assert!((4.0..=28.0).contains(&v), "reset paddle {v}");
        }
    }
}

#[test]
fn paddles_follow_the_ball() {
    let steps = common::trajectory(&Pong::new(), 13, N_STEPS);
    for (t, col) in [(3, Pong::PADDLE_LEFT_Y), (4, Pong::PADDLE_RIGHT_Y)] {
        let mut residuals = Vec::new();
        for (prev, next, mask) in &steps {
            if mask[t] || scored(prev, next) {
                continue;
            }
            let (p, n) = (f64::from(prev[col]), f64::from(next[col]));
            let ball = f64::from(prev[Pong::BALL_Y]);
            // Far from the clipping bounds, so the residual is not truncated.
            if !(4.5..=27.5).contains(&p) {
                continue;
            }
            let step = (ball - p).abs().min(1.5) * (ball - p).signum();
            residuals.push(n - p - step);
        }
        let n = residuals.len();
        assert!(n > 50_000, "{n} regular paddle steps");
        let (mean, std) = common::mean_std(&residuals);
        assert!(
            mean.abs() < 5.0 * 0.5 / (n as f64).sqrt(),
            "paddle {t} residual mean {mean}"
        );
        assert!((std - 0.5).abs() < 0.01, "paddle {t} residual std {std}");
    }
}

#[test]
fn ball_moves_with_speed_two_and_noise() {
    let steps = common::trajectory(&Pong::new(), 14, N_STEPS);
    let (mut rx, mut ry, mut rd) = (Vec::new(), Vec::new(), Vec::new());
    for (prev, next, mask) in &steps {
        if mask[..3].iter().any(|&m| m) || scored(prev, next) {
            continue;
        }
        let dir = f64::from(prev[Pong::BALL_VEL_DIR]);
        let x = f64::from(prev[Pong::BALL_X]) + 2.0 * dir.sin();
        let y = f64::from(prev[Pong::BALL_Y]) + 2.0 * dir.cos();
        // No wall or paddle contact and no clipping.
        if !(9.0..=23.0).contains(&x) || !(4.5..=27.5).contains(&y) {
            continue;
        }
        rx.push(f64::from(next[Pong::BALL_X]) - x);
        ry.push(f64::from(next[Pong::BALL_Y]) - y);
        rd.push(angle_diff(f64::from(next[Pong::BALL_VEL_DIR]), dir));
    }
    for (name, r, sd) in [("x", &rx, 0.2), ("y", &ry, 0.2), ("direction", &rd, 0.1)] {
        let n = r.len();
        assert!(n > 30_000, "{n} free ball steps");
        let (mean, std) = common::mean_std(r);
        assert!(
            mean.abs() < 5.0 * sd / (n as f64).sqrt(),
            "ball {name} residual mean {mean}"
        );
        assert!(
            (std - sd).abs() < 0.02 * sd,
            "ball {name} residual std {std} vs {sd}"
        );
    }
    // The speed never changes.
    assert!(steps.iter().all(|(_, n, _)| n[Pong::BALL_VEL_MAGN] == 2.0));
}

#[test]
fn everything_stays_in_bounds() {
    for (_, s, _) in common::trajectory(&Pong::new(), 15, N_STEPS) {
        assert!(
            (2.0..=30.0).contains(&s[Pong::BALL_X]),
            "ball_x {}",
            s[Pong::BALL_X]
        );
        assert!((Pong::BALL_Y_MIN..=Pong::BALL_Y_MAX).contains(&s[Pong::BALL_Y]));
        assert!((0.0..std::f32::consts::TAU).contains(&s[Pong::BALL_VEL_DIR]));
        for c in [Pong::PADDLE_LEFT_Y, Pong::PADDLE_RIGHT_Y] {
            assert!((2.0..=30.0).contains(&s[c]));
        }
        for c in [Pong::SCORE_LEFT, Pong::SCORE_RIGHT] {
            assert!([0.0, 1.0, 2.0, 3.0, 4.0].contains(&s[c]), "score {}", s[c]);
        }
    }
}

/// A state with the given ball and paddles, scores 0.
fn state(x: f32, y: f32, dir: f64, left: f32, right: f32) -> Vec<f32> {
    let mut s = vec![0.0; Pong::NUM_LATENTS];
    s[Pong::BALL_X] = x;
    s[Pong::BALL_Y] = y;
    s[Pong::BALL_VEL_DIR] = dir as f32;
    s[Pong::BALL_VEL_MAGN] = 2.0;
    s[Pong::PADDLE_LEFT_Y] = left;
    s[Pong::PADDLE_RIGHT_Y] = right;
    s
}

/// Steps `s` with many seeds, keeping only the outcomes without any intervention.
fn regular_outcomes(s: &[f32]) -> Vec<Vec<f32>> {
    let pong = Pong::new();
    (0..2000u64)
        .filter_map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (next, mask) = pong.step(s, &mut rng);
            (!mask.iter().any(|&m| m)).then_some(next)
        })
        .collect()
}

#[test]
fn ball_reflects_off_the_walls() {
    // Moving straight up from y = 28: 30 is past the wall at 28.8, so it ends at 27.6.
    let outs = regular_outcomes(&state(16.0, 28.0, 0.0, 16.0, 16.0));
    assert!(outs.len() > 700);
    for o in &outs {
        assert!(
            (o[Pong::BALL_Y] - 27.6).abs() < 1.2,
            "y {}",
            o[Pong::BALL_Y]
        );
        assert!(
            f64::from(o[Pong::BALL_VEL_DIR]).cos() < -0.8,
            "now moving down"
        );
    }
    let ys: Vec<f64> = outs.iter().map(|o| f64::from(o[Pong::BALL_Y])).collect();
    assert!((common::mean_std(&ys).0 - 27.6).abs() < 0.03);
    // And down from y = 4: mirrored at 3.2 to 4.4, moving up.
    let outs = regular_outcomes(&state(16.0, 4.0, PI, 16.0, 16.0));
    let ys: Vec<f64> = outs.iter().map(|o| f64::from(o[Pong::BALL_Y])).collect();
    assert!((common::mean_std(&ys).0 - 4.4).abs() < 0.03);
    assert!(outs
        .iter()
        .all(|o| f64::from(o[Pong::BALL_VEL_DIR]).cos() > 0.8));
}

#[test]
fn ball_reflects_off_the_paddles() {
    // Moving left from x = 8 onto the left paddle (face at x = 6): x 6 → 14.4 - 6 = 8.4.
    let outs = regular_outcomes(&state(8.0, 16.0, 1.5 * PI, 16.0, 10.0));
    let xs: Vec<f64> = outs.iter().map(|o| f64::from(o[Pong::BALL_X])).collect();
    assert!(
        (common::mean_std(&xs).0 - 8.4).abs() < 0.03,
        "{}",
        common::mean_std(&xs).0
    );
    assert!(outs
        .iter()
        .all(|o| f64::from(o[Pong::BALL_VEL_DIR]).sin() > 0.8));
    // Moving right from x = 24 onto the right paddle (face at x = 26): 26 → 49.6 - 26.
    let outs = regular_outcomes(&state(24.0, 16.0, 0.5 * PI, 10.0, 16.0));
    let xs: Vec<f64> = outs.iter().map(|o| f64::from(o[Pong::BALL_X])).collect();
    assert!(
        (common::mean_std(&xs).0 - 23.6).abs() < 0.03,
        "{}",
        common::mean_std(&xs).0
    );
    assert!(outs
        .iter()
        .all(|o| f64::from(o[Pong::BALL_VEL_DIR]).sin() < -0.8));
    // With the paddle out of the way the ball passes through to x = 6.
    let outs = regular_outcomes(&state(8.0, 16.0, 1.5 * PI, 26.0, 10.0));
    let xs: Vec<f64> = outs.iter().map(|o| f64::from(o[Pong::BALL_X])).collect();
    assert!((common::mean_std(&xs).0 - 6.0).abs() < 0.03);
}

#[test]
fn scoring_resets_the_ball_and_the_scores() {
    let pong = Pong::new();
    // Past the left edge (x 4 → 2 < 3.2) with the left paddle far away: right scores.
    let mut s = state(4.0, 10.0, 1.5 * PI, 28.0, 16.0);
    s[Pong::SCORE_LEFT] = 2.0;
    s[Pong::SCORE_RIGHT] = 1.0;
    let mut seen = 0;
    for seed in 0..500u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (n, mask) = pong.step(&s, &mut rng);
        assert_eq!(
            n[Pong::SCORE_RIGHT],
            2.0,
            "interventions never touch the scores"
        );
        assert_eq!(n[Pong::SCORE_LEFT], 2.0);
        if !mask.iter().any(|&m| m) {
            seen += 1;
            assert_eq!((n[Pong::BALL_X], n[Pong::BALL_Y]), (16.0, 16.0));
            for c in [Pong::PADDLE_LEFT_Y, Pong::PADDLE_RIGHT_Y] {
                assert!((4.0..=28.0).contains(&n[c]), "reset paddle {}", n[c]);
            }
        }
    }
    assert!(seen > 150);
    // Past the right edge: left scores; reaching 5 resets both scores.
    let mut s = state(28.0, 10.0, 0.5 * PI, 16.0, 28.0);
    s[Pong::SCORE_LEFT] = 3.0;
    s[Pong::SCORE_RIGHT] = 1.0;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (n, _) = pong.step(&s, &mut rng);
    assert_eq!((n[Pong::SCORE_LEFT], n[Pong::SCORE_RIGHT]), (4.0, 1.0));
    s[Pong::SCORE_LEFT] = 4.0;
    let (n, _) = pong.step(&s, &mut rng);
    assert_eq!((n[Pong::SCORE_LEFT], n[Pong::SCORE_RIGHT]), (0.0, 0.0));

    // In a long run both scores change, only by +1 or by resetting to 0.
    let steps = common::trajectory(&Pong::new(), 16, N_STEPS);
    let mut points = [0usize; 2];
    for (prev, next, _) in &steps {
        for (i, c) in [Pong::SCORE_LEFT, Pong::SCORE_RIGHT]
            .into_iter()
            .enumerate()
        {
            let d = next[c] - prev[c];
            if d == 1.0 {
                points[i] += 1;
            } else {
                assert!(
                    d == 0.0 || next[c] == 0.0,
                    "score {} -> {}",
                    prev[c],
                    next[c]
                );
            }
        }
    }
    assert!(points[0] > 100 && points[1] > 100, "points {points:?}");
}

/// The RGB channels of a frame and its motion channel.
fn render_channels(s: &[f32]) -> (Vec<u8>, Vec<u8>) {
    let mut frame = vec![0u8; 32 * 32 * 4];
    Pong::new().render(s, &mut frame);
    let rgb = frame
        .chunks_exact(4)
        .flat_map(|p| p[..3].to_vec())
        .collect();
    let motion = frame.chunks_exact(4).map(|p| p[3]).collect();
    (rgb, motion)
}

fn render(s: &[f32]) -> Vec<u8> {
    render_channels(s).0
}

/// Centroid (column, row; pixel centres at +0.5) of the pixels weighted by `weight`.
fn weighted_centroid(frame: &[u8], weight: impl Fn([u8; 3]) -> f64) -> Option<(f64, f64)> {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for (i, p) in frame.chunks_exact(3).enumerate() {
        let w = weight([p[0], p[1], p[2]]);
        sx += w * ((i % 32) as f64 + 0.5);
        sy += w * ((i / 32) as f64 + 0.5);
        n += w;
    }
    (n > 0.0).then(|| (sx / n, sy / n))
}

/// Centroid of the pixels that look like `pred`.
fn centroid(frame: &[u8], pred: impl Fn([u8; 3]) -> bool) -> Option<(f64, f64)> {
    weighted_centroid(frame, |p| f64::from(u8::from(pred(p))))
}

/// How much of a pixel the red ball covers, where it lies on the grey background.
fn ball_coverage(p: [u8; 3]) -> f64 {
    if p[0] >= 200 && p[1] == p[2] {
        (1.0 - f64::from(p[1]) / 230.0).max(0.0)
    } else {
        0.0
    }
}

#[test]
fn rendering_follows_the_state() {
    let base = state(12.0, 10.0, 0.3, 8.0, 20.0);
    let frame = render(&base);
    // Background, borders (CITRIS grey 0.9 and 0.1).
    assert_eq!(&frame[..3], &[26, 26, 26]);
    let mid = (16 * 32 + 10) * 3;
    assert_eq!(&frame[mid..mid + 3], &[230, 230, 230]);

    // The ball moves right with x and up (smaller rows) with y.
    let (bx, by) = weighted_centroid(&frame, ball_coverage).unwrap();
    assert!(
        (bx - 12.0).abs() < 0.05 && (by - 22.0).abs() < 0.05,
        "ball at {bx}, {by}"
    );
    for dx in [0.3f32, 0.5, 1.7, 3.0, 10.0] {
        let mut s = base.clone();
        s[Pong::BALL_X] += dx;
        let (x2, y2) = weighted_centroid(&render(&s), ball_coverage).unwrap();
        assert!(
            x2 > bx && (x2 - bx - f64::from(dx)).abs() < 0.05,
            "{dx}: {bx} -> {x2}"
        );
        assert!((y2 - by).abs() < 0.05);
    }
    let mut s = base.clone();
    s[Pong::BALL_Y] += 5.0;
    let (_, y2) = weighted_centroid(&render(&s), ball_coverage).unwrap();
    assert!((by - y2 - 5.0).abs() < 0.05);

    // The left paddle is blue at x = 5 (columns 4 and 5), centred at y = 8 (rows 21..27);
    // the right one green at x = 27.
    let blue = |p: [u8; 3]| p[2] > 200 && p[0] < 60 && p[1] < 60;
    let green = |p: [u8; 3]| p[1] > 100 && p[0] < 60 && p[2] < 60;
    let (lx, ly) = centroid(&frame, blue).unwrap();
    assert!(
        (lx - 5.0).abs() < 1e-9 && (ly - 24.0).abs() < 1e-9,
        "{lx} {ly}"
    );
    let (rx, ry) = centroid(&frame, green).unwrap();
    assert!(
        (rx - 27.0).abs() < 1e-9 && (ry - 12.0).abs() < 1e-9,
        "{rx} {ry}"
    );
    for row in 21..27 {
        for col in [4, 5] {
            let i = (row * 32 + col) * 3;
            assert_eq!(&frame[i..i + 3], &[0, 0, 255]);
        }
    }
    // Paddles follow their state.
    let mut s = base.clone();
    s[Pong::PADDLE_LEFT_Y] = 20.0;
    let (_, ly2) = centroid(&render(&s), blue).unwrap();
    assert!((ly - ly2 - 12.0).abs() < 1e-9);

    // The scores are grey digits at the top (rows 3..8), left at columns 12..15.
    let grey = |p: [u8; 3]| p == [128, 128, 128];
    let digit_pixels = |f: &[u8], cols: std::ops::Range<usize>| {
        let mut v = Vec::new();
        for row in 0..32 {
            for col in cols.clone() {
                let i = (row * 32 + col) * 3;
                if grey([f[i], f[i + 1], f[i + 2]]) {
                    v.push((row, col));
                }
            }
        }
        v
    };
    let zero = digit_pixels(&frame, 12..15);
    assert_eq!(zero.len(), 12, "a 0 has 12 pixels");
    assert!(zero.iter().all(|&(r, _)| (3..8).contains(&r)));
    let mut s = base.clone();
    s[Pong::SCORE_LEFT] = 1.0;
    let f1 = render(&s);
    assert_eq!(digit_pixels(&f1, 12..15).len(), 5, "a 1 has 5 pixels");
    assert_eq!(
        digit_pixels(&f1, 18..21),
        zero.iter().map(|&(r, c)| (r, c + 6)).collect::<Vec<_>>()
    );
    let mut shapes = Vec::new();
    for d in 0..5 {
        s[Pong::SCORE_RIGHT] = d as f32;
        shapes.push(digit_pixels(&render(&s), 18..21));
    }
    for i in 0..5 {
        for j in i + 1..5 {
            assert_ne!(shapes[i], shapes[j], "digits {i} and {j} differ");
        }
    }
}

/// The motion channel is white with a black ball one step ahead: (x, y) + 2·(sin θ, cos θ).
#[test]
fn motion_channel_shows_the_next_ball_position() {
    for (dir, dx, dy) in [
        (0.0, 0.0, 2.0),
        (PI / 2.0, 2.0, 0.0),
        (PI, 0.0, -2.0),
        (1.0, 2.0 * 1f64.sin(), 2.0 * 1f64.cos()),
    ] {
        let s = state(14.0, 12.0, dir, 8.0, 20.0);
        let (rgb, motion) = render_channels(&s);
        let (bx, by) = weighted_centroid(&rgb, ball_coverage).unwrap();
        let darkness = motion.iter().flat_map(|&m| [m, m, m]).collect::<Vec<_>>();
        let (mx, my) = weighted_centroid(&darkness, |p| f64::from(255 - p[0]) / 255.0).unwrap();
        assert!(
            (mx - bx - dx).abs() < 0.05 && (by - my - dy).abs() < 0.05,
            "direction {dir}: ball at ({bx}, {by}), projection at ({mx}, {my})"
        );
        let white = motion.iter().filter(|&&m| m == 255).count();
        assert!(
            white >= 32 * 32 - 16,
            "only the projected ball is dark ({white} white)"
        );
    }
}

#[test]
fn deterministic_for_a_seed() {
    let pong = Pong::new();
    let run = |seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut s = pong.sample_state(&mut rng);
        let mut out = Vec::new();
        let mut frame = vec![0u8; 32 * 32 * 4];
        for _ in 0..500 {
            let (n, m) = pong.step(&s, &mut rng);
            pong.render(&n, &mut frame);
            out.push((n.clone(), m, frame.clone()));
            s = n;
        }
        out
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    // Rendering is a pure function of the state.
    let s = pong.sample_state(&mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(render(&s), render(&s));
}

/// Frames per second of step + render, single-threaded and with rayon; run with
/// `cargo test --release -p scenes --test pong -- --ignored --nocapture`.
#[test]
#[ignore]
fn benchmark_frames_per_second() {
    use rayon::prelude::*;
    use std::time::Instant;
    const FRAME: usize = 32 * 32 * 3;
    let pong = Pong::new();
    let n = 1_000_000;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut s = pong.sample_state(&mut rng);
    let t = Instant::now();
    let mut states = Vec::with_capacity(n);
    for _ in 0..n {
        s = pong.step(&s, &mut rng).0;
        states.push(s.clone());
    }
    let step_s = t.elapsed().as_secs_f64();
    // Frames go to a reused block of 4096 (as the dataset writer renders chunks).
    let chunk = 4096;
    let mut frames = vec![0u8; chunk * FRAME];
    let t = Instant::now();
    for block in states.chunks(chunk) {
        for (st, f) in block.iter().zip(frames.chunks_exact_mut(FRAME)) {
            pong.render(st, f);
        }
    }
    let render_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for block in states.chunks(chunk) {
        frames
            .par_chunks_exact_mut(FRAME)
            .zip(block.par_iter())
            .for_each(|(f, st)| pong.render(st, f));
    }
    let par_s = t.elapsed().as_secs_f64();
    println!(
        "pong: step {:.0}/s; render {:.0}/s on 1 thread, {:.0}/s on {} threads; \
         step + render on 1 thread {:.0}/s",
        n as f64 / step_s,
        n as f64 / render_s,
        n as f64 / par_s,
        rayon::current_num_threads(),
        n as f64 / (step_s + render_s)
    );
    assert!(frames.iter().any(|&b| b != 0));
}

/// Triplets never take a score from the second frame: scores are not intervened on.
#[test]
fn triplet_masks_leave_scores_alone() {
    use scenes::npz::NpzFile;
    use scenes::tris::dataset::{write_dataset, DatasetOptions};
    let dir = tempfile::tempdir().unwrap();
    write_dataset(&Pong::new(), dir.path(), &DatasetOptions::new(400, 3)).unwrap();
    let mut file = NpzFile::open(&dir.path().join("test_triplets.npz")).unwrap();
    let mask = file.read::<i32>("interventions").unwrap();
    let columns = mask.shape()[1];
    assert_eq!(columns, 7);
    let rows: Vec<&[i32]> = (0..mask.shape()[0]).map(|i| mask.row(i)).collect();
    assert!(rows.iter().all(|r| r[5] == 0 && r[6] == 0));
    assert!(rows.iter().any(|r| r[..5].contains(&1)));
}

/// In the `Uniform` variant an intervened paddle forgets its height: uniform in [4, 28]
/// (hence uncorrelated with the previous height); everything else as CITRIS's.
#[test]
fn uniform_paddle_interventions_redraw_the_height() {
    let process = Pong::with_paddle_interventions(PaddleIntervention::Uniform);
    assert_eq!(process.name(), "pong-uniform-paddles");
    let steps = common::trajectory(&process, 12, N_STEPS);
    for (t, col) in [(3, Pong::PADDLE_LEFT_Y), (4, Pong::PADDLE_RIGHT_Y)] {
        let (prev, next): (Vec<f64>, Vec<f64>) = steps
            .iter()
            .filter(|(_, _, m)| m[t])
            .map(|(p, n, _)| (f64::from(p[col]), f64::from(n[col])))
            .unzip();
        common::assert_uniform(&next, 4.0, 28.0, "intervened paddle");
        let (mp, sp) = common::mean_std(&prev);
        let (mn, sn) = common::mean_std(&next);
        let cov = prev
            .iter()
            .zip(&next)
            .map(|(p, n)| (p - mp) * (n - mn))
            .sum::<f64>()
            / (prev.len() as f64 - 1.0);
        let corr = cov / (sp * sn);
        assert!(
            corr.abs() < 5.0 / (prev.len() as f64).sqrt(),
            "paddle {t}: correlation with the previous height {corr}"
        );
    }
    common::assert_uniform(
        &steps
            .iter()
            .filter(|(_, _, m)| m[2])
            .map(|(_, n, _)| f64::from(n[Pong::BALL_Y]))
            .collect::<Vec<_>>(),
        3.2,
        28.8,
        "intervened ball_y",
    );
}
