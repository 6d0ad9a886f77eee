//! Ball-in-boxes follows CITRIS's generator: intervention policy, dynamics, bounds and
//! rendering.

mod common;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use scenes::tris::boxes::Boxes;
use scenes::tris::{TemporalProcess, VariableKind};

const N_STEPS: usize = 200_000;

#[test]
fn layout_matches_citris() {
    let boxes = Boxes::new();
    assert_eq!(boxes.name(), "boxes");
    assert_eq!(boxes.frame_shape(), [32, 32, 3]);
    assert_eq!(boxes.latent_names(), ["ball_b", "ball_x", "ball_y"]);
    let vars = boxes.variables();
    assert_eq!(vars.len(), 3);
    assert_eq!(vars[0].kind, VariableKind::Categorical { classes: 2 });
    assert_eq!(
        vars[1].kind,
        VariableKind::Continuous {
            min: 3.5,
            max: 12.5
        }
    );
    assert_eq!(
        vars[2].kind,
        VariableKind::Continuous {
            min: 3.5,
            max: 28.5
        }
    );
    for (i, v) in vars.iter().enumerate() {
        assert_eq!(v.latents, [i]);
        assert_eq!(v.name, boxes.latent_names()[i]);
    }
    assert!((Boxes::no_intervention_prob() - 0.64).abs() < 1e-12);
}

#[test]
fn initial_states_are_uniform() {
    let boxes = Boxes::new();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let states: Vec<_> = (0..50_000).map(|_| boxes.sample_state(&mut rng)).collect();
    let col = |c: usize| states.iter().map(|s| f64::from(s[c])).collect::<Vec<_>>();
    common::assert_uniform(&col(Boxes::BALL_X), 3.5, 12.5, "initial ball_x");
    common::assert_uniform(&col(Boxes::BALL_Y), 3.5, 28.5, "initial ball_y");
    let right = states.iter().filter(|s| s[Boxes::BALL_B] == 1.0).count();
    assert!(states
        .iter()
        .all(|s| s[Boxes::BALL_B] == 0.0 || s[Boxes::BALL_B] == 1.0));
    common::assert_binomial(right, states.len(), 0.5, "initial box");
}

#[test]
fn intervention_statistics() {
    let steps = common::trajectory(&Boxes::new(), 2, N_STEPS);
    let mut none = 0;
    let mut per_target = [0usize; 3];
    for (_, _, mask) in &steps {
        assert_eq!(mask.len(), 3);
        let k = mask.iter().filter(|&&m| m).count();
        assert!(k <= 1, "single-target interventions only");
        none += usize::from(k == 0);
        for (t, &m) in mask.iter().enumerate() {
            per_target[t] += usize::from(m);
        }
    }
    // intv_prob 0.2 over two targets: none with 0.8², each target 0.18 of all steps.
    common::assert_binomial(none, N_STEPS, 0.64, "no intervention");
    assert_eq!(
        per_target[Boxes::BALL_X],
        0,
        "x within the box is never intervened on"
    );
    common::assert_binomial(
        per_target[Boxes::BALL_B],
        N_STEPS,
        0.18,
        "box interventions",
    );
    common::assert_binomial(per_target[Boxes::BALL_Y], N_STEPS, 0.18, "y interventions");
}

#[test]
fn interventions_flip_the_box_and_resample_y() {
    let steps = common::trajectory(&Boxes::new(), 3, N_STEPS);
    let mut ys = Vec::new();
    for (prev, next, mask) in &steps {
        let flipped = next[Boxes::BALL_B] != prev[Boxes::BALL_B];
        assert_eq!(
            flipped,
            mask[Boxes::BALL_B],
            "the box changes exactly when intervened"
        );
        assert!(next[Boxes::BALL_B] == 0.0 || next[Boxes::BALL_B] == 1.0);
        if mask[Boxes::BALL_Y] {
            ys.push(f64::from(next[Boxes::BALL_Y]));
        }
    }
    common::assert_uniform(&ys, 3.5, 28.5, "intervened ball_y");
}

#[test]
fn regular_steps_are_clipped_gaussian_steps() {
    let steps = common::trajectory(&Boxes::new(), 4, N_STEPS);
    // y, away from the bounds: N(0, 1.5²).
    let ry: Vec<f64> = steps
        .iter()
        .filter(|(p, _, m)| !m[Boxes::BALL_Y] && (11.0..=21.0).contains(&p[Boxes::BALL_Y]))
        .map(|(p, n, _)| f64::from(n[Boxes::BALL_Y] - p[Boxes::BALL_Y]))
        .collect();
    let (mean, std) = common::mean_std(&ry);
    assert!(ry.len() > 20_000);
    assert!(
        mean.abs() < 5.0 * 1.5 / (ry.len() as f64).sqrt(),
        "y step mean {mean}"
    );
    assert!((std - 1.5).abs() < 0.03, "y step std {std}");

    // x lives in [3.5, 12.5], so its steps are clipped often: from the middle (x ≈ 8),
    // |step| < 1.5 with 68.3%, < 3 with 95.4%, and the bound is hit with 0.27%.
    let mut n = 0;
    let (mut within1, mut within2, mut clipped) = (0, 0, 0);
    let mut signed = Vec::new();
    for (p, q, _) in &steps {
        let x = p[Boxes::BALL_X];
        if (x - 8.0).abs() > 0.25 {
            continue;
        }
        let d = f64::from(q[Boxes::BALL_X] - x);
        n += 1;
        within1 += usize::from(d.abs() < 1.5);
        within2 += usize::from(d.abs() < 3.0);
        clipped += usize::from(q[Boxes::BALL_X] == 3.5 || q[Boxes::BALL_X] == 12.5);
        signed.push(d);
    }
    assert!(n > 5000, "{n}");
    common::assert_binomial(within1, n, 0.6827, "|x step| < 1σ");
    common::assert_binomial(within2, n, 0.9545, "|x step| < 2σ");
    assert!((clipped as f64 / n as f64) < 0.01);
    let (mean, _) = common::mean_std(&signed);
    assert!(mean.abs() < 5.0 * 1.5 / (n as f64).sqrt());

    for (_, s, _) in &steps {
        assert!((3.5..=12.5).contains(&s[Boxes::BALL_X]));
        assert!((3.5..=28.5).contains(&s[Boxes::BALL_Y]));
    }
}

fn render(s: &[f32]) -> Vec<u8> {
    let mut frame = vec![0u8; 32 * 32 * 3];
    Boxes::new().render(s, &mut frame);
    frame
}

/// Centroid (column, row; pixel centres at +0.5) of the red ball, weighted by coverage.
fn ball_centroid(frame: &[u8]) -> (f64, f64) {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for (i, p) in frame.chunks_exact(3).enumerate() {
        if p[0] >= 200 && p[1] == p[2] {
            let w = (1.0 - f64::from(p[1]) / 230.0).max(0.0);
            sx += w * ((i % 32) as f64 + 0.5);
            sy += w * ((i / 32) as f64 + 0.5);
            n += w;
        }
    }
    assert!(n > 0.0, "no ball drawn");
    (sx / n, sy / n)
}

#[test]
fn rendering_follows_the_state() {
    let f = render(&[0.0, 6.0, 12.0]);
    let px = |f: &[u8], row: usize, col: usize| {
        let i = (row * 32 + col) * 3;
        [f[i], f[i + 1], f[i + 2]]
    };
    // The frame and the wall between the boxes (columns 15 and 16) are dark.
    for row in 0..32 {
        for col in [0, 1, 15, 16, 30, 31] {
            assert_eq!(px(&f, row, col), [26, 26, 26], "({row}, {col})");
        }
    }
    for col in 0..32 {
        assert_eq!(px(&f, 0, col), [26, 26, 26]);
        assert_eq!(px(&f, 31, col), [26, 26, 26]);
    }
    assert_eq!(px(&f, 5, 20), [230, 230, 230]);

    // Left box: the ball is drawn at (x, y) with y up; the right box shifts it by 16.
    let (x, y) = ball_centroid(&f);
    assert!((x - 6.0).abs() < 0.05 && (y - 20.0).abs() < 0.05, "{x} {y}");
    let (x1, y1) = ball_centroid(&render(&[1.0, 6.0, 12.0]));
    assert!(
        (x1 - 22.0).abs() < 0.05 && (y1 - 20.0).abs() < 0.05,
        "{x1} {y1}"
    );
    let (x2, _) = ball_centroid(&render(&[0.0, 9.3, 12.0]));
    assert!((x2 - x - 3.3).abs() < 0.05, "ball moves right with x");
    let (_, y3) = ball_centroid(&render(&[0.0, 6.0, 20.0]));
    assert!((y - y3 - 8.0).abs() < 0.05, "ball moves up with y");
    // At its extreme positions the ball stays inside its box.
    for s in [
        [0.0, 3.5, 3.5],
        [0.0, 12.5, 28.5],
        [1.0, 3.5, 28.5],
        [1.0, 12.5, 3.5],
    ] {
        let f = render(&s);
        for row in 0..32 {
            for col in [0, 1, 15, 16, 30, 31] {
                assert_eq!(px(&f, row, col), [26, 26, 26], "{s:?} ({row}, {col})");
            }
        }
    }
}

#[test]
fn deterministic_for_a_seed() {
    let boxes = Boxes::new();
    let run = |seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut s = boxes.sample_state(&mut rng);
        let mut out = Vec::new();
        let mut frame = vec![0u8; 32 * 32 * 3];
        for _ in 0..500 {
            let (n, m) = boxes.step(&s, &mut rng);
            boxes.render(&n, &mut frame);
            out.push((n.clone(), m, frame.clone()));
            s = n;
        }
        out
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}
