//! The Causal3DIdent-style process: layouts, dynamics statistics against the
//! specification (CITRIS' temporal Causal3DIdent with coarse interventions), rendering
//! invariants, agreement with the real frames where `../shared/data` is present, and
//! determinism. Run in release mode (a few seconds).

use std::f64::consts::TAU;
use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use scenes::npz::NpzFile;
use scenes::tris::causal3d::dynamics::{ANGLE_SIGMA, POSITION_SIGMA};
use scenes::tris::causal3d::Causal3d;
use scenes::tris::{TemporalProcess, VariableKind};

const NAMES: [&str; 12] = [
    "pos-x",
    "pos-y",
    "pos-z",
    "rot-alpha",
    "rot-beta",
    "rot-gamma",
    "rot-spot",
    "hue-object",
    "hue-spot",
    "hue-back",
    "obj-shape",
    "obj-material",
];

fn teapot() -> Causal3d {
    Causal3d::new(&["teapot"]).unwrap()
}

/// A sequence of `n` states and the `n − 1` intervention rows between them.
fn simulate(p: &Causal3d, n: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<Vec<bool>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut states = vec![p.sample_state(&mut rng)];
    let mut flags = Vec::new();
    for _ in 1..n {
        let (next, f) = p.step(states.last().unwrap(), &mut rng);
        states.push(next);
        flags.push(f);
    }
    (states, flags)
}

fn render(p: &Causal3d, state: &[f32]) -> Vec<u8> {
    let [h, w, c] = p.frame_shape();
    let mut frame = vec![0u8; h * w * c];
    p.render(state, &mut frame);
    frame
}

#[test]
fn layouts_follow_citris() {
    let p = teapot();
    assert_eq!(p.name(), "causal3d");
    assert_eq!(p.frame_shape(), [64, 64, 3]);
    let vars = p.variables();
    let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, NAMES);
    assert_eq!(p.latent_names(), NAMES[..10]);
    for (k, v) in vars.iter().enumerate().take(10) {
        assert_eq!(v.latents, [k]);
    }
    assert_eq!(
        vars[0].kind,
        VariableKind::Continuous {
            min: -2.0,
            max: 2.0
        }
    );
    assert!(
        matches!(vars[6].kind, VariableKind::Angle { min, max } if min == 0.0 && (max as f64 - TAU).abs() < 1e-6)
    );
    assert!(vars[10].latents.is_empty() && vars[11].latents.is_empty());
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let s = p.sample_state(&mut rng);
    assert_eq!(s.len(), 10);
    assert_eq!(s[5], 0.0, "gamma is unused");
    assert_eq!(p.shape_latents(&s), [0, 0]);

    // Several shapes: the shape is a causal variable and an internal state entry after
    // the ten raw latents; shape_latents records the catalogue index (teapot 0, cube 1).
    let p = Causal3d::new(&["cube", "teapot"]).unwrap();
    assert_eq!(p.latent_names().len(), 10);
    assert_eq!(p.variables()[10].latents, [10]);
    assert!(p.intervenable()[10]);
    assert!(!p.intervenable()[5]);
    assert_eq!(
        p.variables()[10].kind,
        VariableKind::Categorical { classes: 2 }
    );
    let mut s = p.sample_state(&mut rng);
    s[10] = 0.0;
    assert_eq!(p.shape_latents(&s), [1, 0]);
    s[10] = 1.0;
    assert_eq!(p.shape_latents(&s), [0, 0]);
}

#[test]
fn shape_names_are_checked() {
    let e = Causal3d::new(&["teapot", "banana"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("banana") && e.contains("teapot, cube, sphere, cylinder, cone, torus"),
        "{e}"
    );
    assert!(Causal3d::new(&[]).is_err());
    assert!(Causal3d::new(&["cube", "Cube"]).is_err());
    assert_eq!(
        Causal3d::new(&["Torus", " cone "]).unwrap().shapes().len(),
        2
    );
}

#[test]
fn interventions_are_coarse_bernoulli_one_sixth() {
    let p = teapot();
    let (states, flags) = simulate(&p, 60_001, 7);
    let n = flags.len() as f64;
    let rate = |c: usize| flags.iter().filter(|f| f[c]).count() as f64 / n;
    let sd = (1.0 / 6.0 * 5.0 / 6.0 / n).sqrt();
    for c in [0, 3, 6, 7, 8, 9] {
        let r = rate(c);
        assert!((r - 1.0 / 6.0).abs() < 4.5 * sd, "column {c}: rate {r}");
    }
    for f in &flags {
        assert_eq!(f.len(), 12);
        assert!(f[0] == f[1] && f[1] == f[2], "position is one group");
        assert_eq!(f[3], f[4], "rotation is one group");
        assert!(
            !f[5] && !f[10] && !f[11],
            "gamma, shape, material are never intervened on"
        );
    }
    // Independent draws: both of two groups about 1/36 of the time.
    let both = flags.iter().filter(|f| f[0] && f[9]).count() as f64 / n;
    assert!((both - 1.0 / 36.0).abs() < 4.5 * (1.0 / 36.0 * 35.0 / 36.0 / n).sqrt());
    // Ranges.
    for s in &states {
        assert!(s[..3].iter().all(|v| v.abs() <= 2.0));
        assert!(s[3..10]
            .iter()
            .all(|&v| (0.0..std::f32::consts::TAU).contains(&v)));
        assert_eq!(s[5], 0.0);
    }
}

/// The specification's goal of latent `k` given the current state (CITRIS, temporal):
/// x ← 1.5 sin β; (y, z) ← 1.5 (sin α, cos α); α ← hue_b; β ← hue_o; θ ← atan2(x, y);
/// hue_o ← hue_o (one shape); hue_s ← 2π − hue_b; hue_b ← hue_b.
fn spec_goal(s: &[f32], k: usize) -> f64 {
    let v = |i: usize| s[i] as f64;
    match k {
        0 => 1.5 * v(4).sin(),
        1 => 1.5 * v(3).sin(),
        2 => 1.5 * v(3).cos(),
        3 => v(9),
        4 => v(7),
        6 => v(0).atan2(v(1)),
        7 => v(7),
        8 => TAU - v(9),
        9 => v(9),
        _ => unreachable!(),
    }
}

/// `d` wrapped into [−π, π).
fn wrap_pi(d: f64) -> f64 {
    (d + std::f64::consts::PI).rem_euclid(TAU) - std::f64::consts::PI
}

/// Kolmogorov–Smirnov distance of `values` from the uniform distribution on [lo, hi].
fn ks_uniform(values: &mut [f64], lo: f64, hi: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = (v - lo) / (hi - lo);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn intervened_values_are_uniform_and_others_follow_their_goals() {
    let p = teapot();
    let (states, flags) = simulate(&p, 60_001, 11);
    for k in [0, 1, 2, 3, 4, 6, 7, 8, 9] {
        let angle = k >= 3;
        let sigma = if angle { ANGLE_SIGMA } else { POSITION_SIGMA };
        let mut intervened = Vec::new();
        let mut residuals = Vec::new();
        for (t, f) in flags.iter().enumerate() {
            let (cur, next) = (&states[t], states[t + 1][k] as f64);
            if f[k] {
                intervened.push(next);
                continue;
            }
            let c = cur[k] as f64;
            let to_goal = spec_goal(cur, k) - c;
            let mean = c + if angle { wrap_pi(to_goal) } else { to_goal } / 2.0;
            // Positions are truncated to [−2, 2]: keep steps far from the bounds.
            if !angle && mean.abs() > 2.0 - 4.0 * sigma {
                continue;
            }
            let r = next - mean;
            residuals.push(if angle { wrap_pi(r) } else { r });
        }
        let (lo, hi) = if angle { (0.0, TAU) } else { (-2.0, 2.0) };
        let n = intervened.len() as f64;
        let d = ks_uniform(&mut intervened, lo, hi);
        assert!(
            d < 1.95 / n.sqrt(),
            "latent {k}: KS distance {d} over {n} interventions"
        );
        let m = residuals.len() as f64;
        let mean = residuals.iter().sum::<f64>() / m;
        let sd = (residuals.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / m).sqrt();
        assert!(
            mean.abs() < 4.5 * sigma / m.sqrt(),
            "latent {k}: residual mean {mean}"
        );
        assert!(
            (sd / sigma - 1.0).abs() < 0.03,
            "latent {k}: residual sd {sd}, σ {sigma}"
        );
    }
}

#[test]
fn several_shapes_make_the_shape_a_causal_variable() {
    let p = Causal3d::new(&["teapot", "cube", "sphere"]).unwrap();
    let (states, flags) = simulate(&p, 20_001, 3);
    let n = flags.len() as f64;
    let sd = (1.0 / 7.0 * 6.0 / 7.0 / n).sqrt();
    for c in [0, 3, 9, 10] {
        let r = flags.iter().filter(|f| f[c]).count() as f64 / n;
        assert!((r - 1.0 / 7.0).abs() < 4.5 * sd, "column {c}: rate {r}");
    }
    // The object hue is pulled towards the shape's hue (teapot: 0), not a random walk.
    let mut counts = [0usize; 3];
    for s in &states {
        counts[s[10] as usize] += 1;
    }
    assert!(counts.iter().all(|&c| c > 4000), "{counts:?}");
    // Observational shape changes happen with probability 0.05.
    let spontaneous = flags
        .iter()
        .zip(states.windows(2))
        .filter(|(f, _)| !f[10])
        .map(|(_, w)| (w[0][10] != w[1][10]) as usize as f64)
        .collect::<Vec<_>>();
    let rate = spontaneous.iter().sum::<f64>() / spontaneous.len() as f64;
    // A change draws a new shape uniformly, the same one a third of the time.
    assert!((rate - 0.05 * 2.0 / 3.0).abs() < 0.006, "{rate}");
    let shapes: Vec<u8> = states.iter().map(|s| p.shape_latents(s)[0]).collect();
    assert!(shapes.iter().all(|&s| s <= 2));
}

#[test]
fn the_same_seed_gives_the_same_states_and_frames() {
    let p = teapot();
    let (a, fa) = simulate(&p, 300, 42);
    let (b, fb) = simulate(&p, 300, 42);
    assert_eq!(a, b);
    assert_eq!(fa, fb);
    let (c, _) = simulate(&p, 300, 43);
    assert_ne!(a, c);
    assert_eq!(render(&p, &a[100]), render(&p, &b[100]));
    assert_ne!(render(&p, &a[100]), render(&p, &a[101]));
    // Rendering does not depend on what was rendered before on the thread.
    let again = Causal3d::new(&["teapot"]).unwrap();
    assert_eq!(render(&again, &a[7]), render(&p, &a[7]));
}

/// A state with the object at `pos`, rotation (1, 2), the spotlight at θ and hues.
fn state(pos: [f32; 3], theta: f32, hues: [f32; 3]) -> Vec<f32> {
    vec![
        pos[0], pos[1], pos[2], 1.0, 2.0, 0.0, theta, hues[0], hues[1], hues[2],
    ]
}

/// Pixels that change when `vary` changes the state: (count, centroid x, centroid y,
/// mean RGB of the first frame over them).
fn changed(p: &Causal3d, a: &[f32], vary: impl Fn(&mut Vec<f32>)) -> (usize, f64, f64, [f64; 3]) {
    let mut b = a.to_vec();
    vary(&mut b);
    let (fa, fb) = (render(p, a), render(p, &b));
    let (mut n, mut sx, mut sy, mut rgb) = (0usize, 0.0, 0.0, [0.0; 3]);
    for i in 0..64 * 64 {
        let d: i32 = (0..3)
            .map(|c| (fa[3 * i + c] as i32 - fb[3 * i + c] as i32).abs())
            .sum();
        if d > 30 {
            n += 1;
            sx += (i % 64) as f64 + 0.5;
            sy += (i / 64) as f64 + 0.5;
            for c in 0..3 {
                rgb[c] += fa[3 * i + c] as f64;
            }
        }
    }
    let k = n.max(1) as f64;
    (n, sx / k, sy / k, rgb.map(|v| v / k))
}

/// The object's pixels: those whose colour changes with the object's hue.
fn object(p: &Causal3d, s: &[f32]) -> (usize, f64, f64, [f64; 3]) {
    changed(p, s, |t| t[7] = (t[7] + 3.0) % std::f32::consts::TAU)
}

#[test]
fn the_object_moves_like_in_the_real_frames() {
    let p = teapot();
    let hues = [0.5, 1.0, 3.5];
    let at = |pos| object(&p, &state(pos, 4.5, hues));
    let centre = at([0.0, 0.0, 0.0]);
    assert!(centre.0 > 60, "{centre:?}");
    // Image right is +y; +x comes towards the camera (down, larger); +z is up.
    let right = at([0.0, 1.5, 0.0]);
    assert!(right.1 > centre.1 + 5.0, "{right:?} vs {centre:?}");
    let near = at([1.5, 0.0, 0.0]);
    assert!(
        near.2 > centre.2 + 3.0 && near.0 > centre.0,
        "{near:?} vs {centre:?}"
    );
    let up = at([0.0, 0.0, 1.5]);
    eprintln!("object centre {centre:?} right {right:?} near {near:?} up {up:?}");
    assert!(up.2 < centre.2 - 5.0, "{up:?} vs {centre:?}");
}

#[test]
fn hues_colour_object_spotlight_and_ground() {
    let p = teapot();
    let base = state([0.0, 0.0, 0.0], 4.5, [0.0, 1.0, 3.5]);
    for (hue, channel) in [(0.0f32, 0), (2.1, 1), (4.2, 2)] {
        let mut s = base.clone();
        s[7] = hue;
        let (n, _, _, rgb) = object(&p, &s);
        assert!(n > 60);
        let other = (0..3)
            .filter(|&c| c != channel)
            .map(|c| rgb[c])
            .fold(0.0, f64::max);
        assert!(rgb[channel] > other + 20.0, "hue {hue}: {rgb:?}");
    }
    // Ground: a corner pixel has the background hue.
    for (hue, channel) in [(0.0f32, 0), (2.1, 1), (4.2, 2)] {
        let mut s = base.clone();
        s[9] = hue;
        let f = render(&p, &s);
        let px = &f[..3];
        let other = (0..3)
            .filter(|&c| c != channel)
            .map(|c| px[c])
            .max()
            .unwrap();
        assert!(px[channel] > other + 15, "background hue {hue}: {px:?}");
    }
}

#[test]
fn the_spotlight_angle_moves_the_light_ring() {
    let p = teapot();
    // The ring: ground pixels whose colour changes with the spotlight's hue.
    let ring = |theta: f32| {
        let s = state([0.0, 0.0, -1.0], theta, [0.5, 1.0, 3.5]);
        let obj = object(&p, &s);
        let r = changed(&p, &s, |t| t[8] = (t[8] + 3.0) % std::f32::consts::TAU);
        assert!(
            r.0 > 150,
            "θ {theta}: only {} ring pixels (object {})",
            r.0,
            obj.0
        );
        r
    };
    // The spotlight sits at (4 sin θ, 4 cos θ) and shines across the object: the ring
    // lies on the far side, so θ = 0 (light at +y) puts it left, θ = π right; θ = π/2
    // (light near the camera) puts it far away (up), θ = 3π/2 near (down).
    let (left, right) = (ring(0.0), ring(std::f32::consts::PI));
    eprintln!("ring θ=0 {left:?}, θ=π {right:?}");
    assert!(right.1 > left.1 + 10.0, "{left:?} {right:?}");
    let (far, near) = (ring(std::f32::consts::FRAC_PI_2), ring(4.712));
    eprintln!("ring θ=π/2 {far:?}, θ=3π/2 {near:?}");
    assert!(near.2 > far.2 + 8.0, "{far:?} {near:?}");
}

/// The reference frames of the real data set, when `../shared/data` is present.
fn slider() -> Option<NpzFile> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let path = root.join("causal3dident/data_slider.npz");
    if !path.exists() {
        eprintln!("skipping: {} not found", path.display());
        return None;
    }
    Some(NpzFile::open(&path).unwrap())
}

#[test]
fn renders_resemble_the_real_frames() {
    let Some(mut npz) = slider() else { return };
    let latents = npz.read::<f32>("raw_latents").unwrap();
    let imgs = npz.read::<u8>("imgs").unwrap();
    assert_eq!(latents.shape(), [30, 10]);
    let p = teapot();
    let mut total = 0.0;
    for i in 0..30 {
        let ours = render(&p, latents.row(i));
        let real = imgs.row(i);
        // The real frames are RGBA.
        let mut diff = 0.0;
        for px in 0..64 * 64 {
            for c in 0..3 {
                diff += (ours[3 * px + c] as f64 - real[4 * px + c] as f64).abs();
            }
        }
        total += diff / (64.0 * 64.0 * 3.0);
    }
    let mean = total / 30.0;
    eprintln!("mean absolute difference from the real frames: {mean:.2}");
    // Plain ground alone would differ by about 20 levels on average (object, ring and
    // shadow missing, wrong shading); our renders are within about 6.
    assert!(mean < 9.0, "mean absolute difference {mean:.2} grey levels");

    // Object positions: ours within 2.5 pixels of the real ones (first 11 frames move
    // the object), using the saturated object pixels of both.
    for i in 0..11 {
        let centroid = |img: &[u8], channels: usize| {
            let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
            for px in 0..64 * 64 {
                let c = &img[channels * px..channels * px + 3];
                let (mx, mn) = (
                    *c.iter().max().unwrap() as f64,
                    *c.iter().min().unwrap() as f64,
                );
                // The slider's object is yellow (hue 45°): saturated, red ≥ green ≫ blue.
                if px / 64 < 40 && mx > 40.0 && (mx - mn) / mx > 0.6 && c[2] < c[1] {
                    n += 1.0;
                    sx += (px % 64) as f64;
                    sy += (px / 64) as f64;
                }
            }
            (sx / n, sy / n)
        };
        let ours = render(&p, latents.row(i));
        let (a, b) = (centroid(&ours, 3), centroid(imgs.row(i), 4));
        let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        eprintln!("frame {i}: object at {a:.1?}, real {b:.1?}");
        assert!(d < 2.5, "frame {i}: object at {a:?}, real {b:?}");
    }
}

/// Renders the states in the text file `$C3D_LATENTS` (one state per line, whitespace
/// separated) to raw RGB bytes in `$C3D_OUT`, for side-by-side comparisons with the real
/// data (`$C3D_SHAPES`: comma-separated shapes, default teapot).
#[test]
#[ignore = "tool: renders given latents to a file"]
fn dump_frames() {
    let latents = std::env::var("C3D_LATENTS").expect("C3D_LATENTS");
    let out = std::env::var("C3D_OUT").expect("C3D_OUT");
    let shapes = std::env::var("C3D_SHAPES").unwrap_or_else(|_| "teapot".into());
    let names: Vec<&str> = shapes.split(',').collect();
    let process = Causal3d::new(&names).unwrap();
    let mut bytes = Vec::new();
    for line in std::fs::read_to_string(latents).unwrap().lines() {
        let state: Vec<f32> = line
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        if !state.is_empty() {
            bytes.extend(render(&process, &state));
        }
    }
    std::fs::write(out, bytes).unwrap();
}

/// Rendering speed (`cargo test --release --test causal3d -- --ignored bench --nocapture`):
/// single-threaded and on all threads with rayon, as the data set writer renders.
#[test]
#[ignore = "benchmark"]
fn bench_render() {
    use rayon::prelude::*;
    let p = teapot();
    let (states, _) = simulate(&p, 2000, 1);
    let [h, w, c] = p.frame_shape();
    let mut frame = vec![0u8; h * w * c];
    for s in &states[..50] {
        p.render(s, &mut frame);
    }
    let rounds = 5;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for s in &states {
            p.render(s, &mut frame);
        }
    }
    let single = (rounds * states.len()) as f64 / start.elapsed().as_secs_f64();
    let mut frames = vec![0u8; states.len() * h * w * c];
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        frames
            .par_chunks_mut(h * w * c)
            .zip(states.par_iter())
            .for_each(|(f, s)| p.render(s, f));
    }
    let parallel = (rounds * states.len()) as f64 / start.elapsed().as_secs_f64();
    println!(
        "causal3d render ({} triangles): {single:.0} frames/s single-threaded, {parallel:.0} frames/s on {} threads",
        p.triangle_counts()[0],
        rayon::current_num_threads()
    );
}

/// With several shapes the files keep CITRIS' layout: ten raw latents, the shape in
/// `shape_latents`, twelve intervention columns, and triplets that never mix the unused
/// gamma and material columns.
#[test]
fn multi_shape_files_keep_the_citris_layout() {
    use scenes::npz::NpzFile;
    use scenes::tris::dataset::{write_dataset, DatasetOptions};
    let dir = tempfile::tempdir().unwrap();
    let process = Causal3d::new(&["teapot", "cube"]).unwrap();
    write_dataset(&process, dir.path(), &DatasetOptions::new(60, 2)).unwrap();
    let mut train = NpzFile::open(&dir.path().join("train.npz")).unwrap();
    assert_eq!(train.read::<f32>("raw_latents").unwrap().shape(), [60, 10]);
    assert_eq!(train.read::<u8>("shape_latents").unwrap().shape(), [60, 2]);
    assert_eq!(
        train.read::<i64>("interventions").unwrap().shape(),
        [59, 12]
    );
    let mut triplets = NpzFile::open(&dir.path().join("test_triplets.npz")).unwrap();
    let mask = triplets.read::<i32>("interventions").unwrap();
    assert!((0..mask.shape()[0]).all(|i| mask.row(i)[5] == 0 && mask.row(i)[11] == 0));
}
