//! Fight scenes: label frequencies against exact marginals, do() samples, the clean
//! 432-image grid and which half of the picture each label changes, determinism, image
//! sizes, the files written, and the errors for unusable networks or options.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use bayesnet::{examples::fight_scene, Assignment, Engine, Network, Query};
use scenes::fight::{
    self, clean_grid, render, Action, Character, FightOptions, Labels, Nuisance, Reaction,
};
use scenes::npz::NpzFile;

/// A fresh, empty folder under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fight-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn options(n: usize, seed: u64) -> FightOptions {
    FightOptions {
        n,
        size: 16,
        seed,
        ..FightOptions::default()
    }
}

/// All splits' values of the array `key`, concatenated in file order.
fn read_all(dir: &Path, key: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for split in fight::SPLITS {
        let mut npz = NpzFile::open(&dir.join(format!("{split}.npz"))).unwrap();
        out.extend(npz.read_as_i64(key).unwrap().into_data());
    }
    out
}

/// Pearson's chi-square statistic of observed counts against expected probabilities.
fn chi_square(counts: &[usize], probs: &[f64]) -> f64 {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .zip(probs)
        .filter(|(_, &p)| p > 0.0)
        .map(|(&c, &p)| {
            let e = n as f64 * p;
            (c as f64 - e).powi(2) / e
        })
        .sum()
}

/// Upper 0.1% points of the chi-square distribution for 1 to 5 degrees of freedom.
const CHI2_999: [f64; 5] = [10.83, 13.82, 16.27, 18.47, 20.52];

/// Every variable's frequencies in the written dataset against exact marginals of the
/// network under `intervention`.
fn check_frequencies(dir: &Path, net: &Network, intervention: &Assignment) {
    let exact = Engine::new(net.clone())
        .answer(&Query {
            intervention: intervention.clone(),
            ..Query::default()
        })
        .unwrap();
    for (v, probs) in &exact.marginals {
        let var = net.variable(*v);
        let values = read_all(dir, &var.name);
        let mut counts = vec![0; var.card()];
        for x in values {
            counts[x as usize] += 1;
        }
        // Forced variables (probability one) and impossible states must match exactly.
        for (c, p) in counts.iter().zip(probs) {
            if *p == 0.0 {
                assert_eq!(*c, 0, "{}: a state of probability zero was drawn", var.name);
            }
        }
        let df = probs.iter().filter(|&&p| p > 0.0).count().saturating_sub(1);
        if df == 0 {
            continue;
        }
        let stat = chi_square(&counts, probs);
        assert!(
            stat < CHI2_999[df - 1],
            "{}: chi-square {stat:.2} with {df} df; counts {counts:?}, exact {probs:?}",
            var.name
        );
    }
}

#[test]
fn label_frequencies_match_exact_marginals() {
    let net = fight_scene().unwrap();
    let dir = scratch("marginals");
    let summary = fight::generate(&net, &dir, &options(4000, 11), &|_| {}).unwrap();
    assert_eq!(summary.counts, [3200, 400, 400]);
    check_frequencies(&dir, &net, &Assignment::new());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn do_samples_respect_the_intervention() {
    let net = fight_scene().unwrap();
    let dir = scratch("do");
    let attack = net.assignment(&[("action", "Attack")]).unwrap();
    let opts = FightOptions {
        intervention: attack.clone(),
        ..options(3000, 5)
    };
    fight::generate(&net, &dir, &opts, &|_| {}).unwrap();
    let action = read_all(&dir, "action");
    assert!(action.iter().all(|&a| a == 0), "every scene shows Attack");
    // The actor's hidden attack skill keeps its prior (0.3928 HIGH), unlike under
    // conditioning (0.6229): the chi-square check runs on every variable.
    check_frequencies(&dir, &net, &attack);
    let manifest = fs::read_to_string(dir.join("dataset.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["intervention"]["action"], "Attack");
    fs::remove_dir_all(&dir).unwrap();
}

/// Renders the whole clean grid at `size`.
fn grid_images(size: usize) -> Vec<(Labels, Vec<u8>)> {
    clean_grid()
        .into_iter()
        .map(|l| (l, render(&l, &Nuisance::default(), size)))
        .collect()
}

#[test]
fn clean_grid_has_432_distinct_images() {
    let images = grid_images(64);
    assert_eq!(images.len(), 432);
    let distinct: HashSet<&Vec<u8>> = images.iter().map(|(_, img)| img).collect();
    assert_eq!(distinct.len(), 432);
}

/// Pixels of columns `cols` that differ between two images by more than `tol` in any
/// channel.
fn changed(a: &[u8], b: &[u8], size: usize, cols: std::ops::Range<usize>, tol: u8) -> usize {
    let mut n = 0;
    for y in 0..size {
        for x in cols.clone() {
            let o = (y * size + x) * 3;
            if (0..3).any(|c| a[o + c].abs_diff(b[o + c]) > tol) {
                n += 1;
            }
        }
    }
    n
}

/// Changing one label changes only its fighter's half of a clean image, and visibly.
fn check_halves(size: usize, min_pixels: usize) {
    let images = grid_images(size);
    let index = |l: &Labels| images.iter().position(|(m, _)| m == l).unwrap();
    let chars = [Character::Satyr, Character::Golem];
    let actions = [Action::Attack, Action::Taunt, Action::Walk];
    let reactions = [
        Reaction::Dying,
        Reaction::Hurt,
        Reaction::Idle,
        Reaction::Attack,
    ];
    let half = size / 2;
    let mut weakest = usize::MAX;
    for (l, img) in &images {
        let mut variants: Vec<(Labels, bool)> = Vec::new();
        for c in chars {
            variants.push((Labels { actor: c, ..*l }, true));
            variants.push((Labels { reactor: c, ..*l }, false));
        }
        for t in 0..3 {
            variants.push((
                Labels {
                    actor_type: t,
                    ..*l
                },
                true,
            ));
            variants.push((
                Labels {
                    reactor_type: t,
                    ..*l
                },
                false,
            ));
        }
        for a in actions {
            variants.push((Labels { action: a, ..*l }, true));
        }
        for r in reactions {
            variants.push((Labels { reaction: r, ..*l }, false));
        }
        for (m, left) in variants {
            if m == *l {
                continue;
            }
            let other = &images[index(&m)].1;
            let (own, rest) = if left {
                (0..half, half..size)
            } else {
                (half..size, 0..half)
            };
            assert_eq!(
                changed(img, other, size, rest, 0),
                0,
                "{l:?} -> {m:?} changed the other fighter's half"
            );
            let n = changed(img, other, size, own, 40);
            weakest = weakest.min(n);
            assert!(
                n >= min_pixels,
                "{l:?} -> {m:?}: only {n} pixels changed clearly"
            );
        }
    }
    println!("size {size}: smallest single-label change {weakest} pixels");
}

#[test]
fn each_label_changes_its_own_half_at_64() {
    check_halves(64, 40);
}

#[test]
fn size_128_draws_the_same_scene_finer() {
    check_halves(128, 160);
    // The 128-pixel picture, box-filtered down to 64, is close to the 64-pixel one.
    let l = clean_grid()[123];
    let big = render(&l, &Nuisance::default(), 128);
    let small = render(&l, &Nuisance::default(), 64);
    let mut diff = 0u64;
    for y in 0..64 {
        for x in 0..64 {
            for c in 0..3 {
                let s: u32 = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(dy, dx)| big[((2 * y + dy) * 128 + 2 * x + dx) * 3 + c] as u32)
                    .sum();
                diff += (s / 4).abs_diff(small[(y * 64 + x) * 3 + c] as u32) as u64;
            }
        }
    }
    let mean = diff as f64 / (64.0 * 64.0 * 3.0);
    assert!(mean < 8.0, "mean difference {mean}");

    let net = fight_scene().unwrap();
    let dir = scratch("size128");
    let opts = FightOptions {
        size: 128,
        split: [0.5, 0.25, 0.25],
        ..options(8, 1)
    };
    fight::generate(&net, &dir, &opts, &|_| {}).unwrap();
    let mut npz = NpzFile::open(&dir.join("train.npz")).unwrap();
    let images = npz.read::<u8>("images").unwrap();
    assert_eq!(images.shape(), &[4, 128, 128, 3]);
    fs::remove_dir_all(&dir).unwrap();
}

/// Every file under `dir` (recursively) with its bytes, by relative path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let net = fight_scene().unwrap();
    let opts = FightOptions {
        pngs: true,
        nuisance: 1.0,
        ..options(600, 42)
    };
    let (a, b, c) = (scratch("seed-a"), scratch("seed-b"), scratch("seed-c"));
    let calls = std::cell::Cell::new(0);
    fight::generate(&net, &a, &opts, &|done| {
        assert!(done > calls.get());
        calls.set(done);
    })
    .unwrap();
    assert_eq!(calls.get(), 600, "progress reaches n");
    // A second run on a one-thread pool must not change a byte.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| fight::generate(&net, &b, &opts, &|_| {}).unwrap());
    let (sa, sb) = (snapshot(&a), snapshot(&b));
    assert_eq!(
        sa.len(),
        6 + 600,
        "three splits, labels, network, manifest and PNGs"
    );
    assert!(sa
        .iter()
        .all(|(p, _)| !p.to_string_lossy().ends_with(".tmp")));
    assert!(sa == sb, "same seed, different bytes");
    fight::generate(&net, &c, &FightOptions { seed: 43, ..opts }, &|_| {}).unwrap();
    let sc = snapshot(&c);
    for name in ["train.npz", "labels.csv"] {
        let get = |s: &[(PathBuf, Vec<u8>)]| {
            s.iter()
                .find(|(p, _)| p == Path::new(name))
                .unwrap()
                .1
                .clone()
        };
        assert_ne!(get(&sa), get(&sc), "{name} did not change with the seed");
    }
    for d in [a, b, c] {
        fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn files_hold_what_the_manifest_says() {
    let net = fight_scene().unwrap();
    let dir = scratch("files");
    let opts = FightOptions {
        size: 32,
        ..options(50, 3)
    };
    let summary = fight::generate(&net, &dir, &opts, &|_| {}).unwrap();
    assert_eq!(summary.counts, [40, 5, 5]);
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(manifest["generator"], "fight");
    assert_eq!(manifest["causalgen_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["seed"], 3);
    assert_eq!(manifest["size"], 32);
    assert_eq!(manifest["counts"]["val"], 5);
    assert_eq!(manifest["nuisance"], 1.0);
    assert_eq!(manifest["intervention"], serde_json::json!({}));

    let mut npz = NpzFile::open(&dir.join("val.npz")).unwrap();
    assert_eq!(npz.read::<u8>("images").unwrap().shape(), &[5, 32, 32, 3]);
    for v in net.variables() {
        assert_eq!(
            npz.read_as_i64(&v.name).unwrap().shape(),
            &[5],
            "{}",
            v.name
        );
    }
    assert_eq!(npz.read::<f32>("nuisance").unwrap().shape(), &[5, 14]);

    let csv = fs::read_to_string(dir.join("labels.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..2], &["index", "split"]);
    assert_eq!(header.len(), 2 + net.len() + Nuisance::COLUMNS.len());
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[44][1], "val");
    assert_eq!(rows[45][1], "test");
    // The CSV's labels are the npz's state indices, spelled out.
    let reaction = net.var("reaction").unwrap();
    let col = header.iter().position(|h| *h == "reaction").unwrap();
    let codes = read_all(&dir, "reaction");
    for (row, code) in rows.iter().zip(codes) {
        assert_eq!(row[col], net.variable(reaction).states[code as usize]);
    }
    let back = bayesnet::read_bif(&dir.join("network.bif")).unwrap();
    assert_eq!(back.variables(), net.variables());
    fs::remove_dir_all(&dir).unwrap();
}

/// The bundled network's BIF text without the `reaction` variable.
fn without_reaction() -> String {
    let bif = bayesnet::examples::FIGHT_SCENE_BIF;
    let mut out = String::new();
    let mut skip = false;
    for line in bif.lines() {
        if line.starts_with("variable reaction ") || line.starts_with("probability ( reaction ") {
            skip = true;
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
        if skip && line.starts_with('}') {
            skip = false;
        }
    }
    out
}

#[test]
fn unusable_networks_and_options_are_clear_errors() {
    let net = bayesnet::parse_bif(&without_reaction(), "no-reaction.bif").unwrap();
    let dir = scratch("errors");
    let e = fight::generate(&net, &dir, &options(10, 0), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("no variable `reaction`"), "{e}");
    assert!(!dir.join("train.npz").exists());

    let renamed = bayesnet::examples::FIGHT_SCENE_BIF.replace("Taunt", "Dance");
    let net = bayesnet::parse_bif(&renamed, "dance.bif").unwrap();
    let e = fight::generate(&net, &dir, &options(10, 0), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("`action` has no state `Taunt`"), "{e}");

    // State order does not matter: labels are matched by name.
    let net = fight_scene().unwrap();
    for (opts, needle) in [
        (
            FightOptions {
                size: 8,
                ..options(10, 0)
            },
            "image size",
        ),
        (
            FightOptions {
                split: [0.5, 0.1, 0.1],
                ..options(10, 0)
            },
            "sum to 1",
        ),
        (
            FightOptions {
                nuisance: -1.0,
                ..options(10, 0)
            },
            "nuisance",
        ),
        (
            FightOptions {
                n: 0,
                ..options(10, 0)
            },
            "at least 1",
        ),
    ] {
        let e = fight::generate(&net, &dir, &opts, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{e}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn state_order_in_the_network_does_not_matter() {
    let swapped = bayesnet::examples::FIGHT_SCENE_BIF.replace(
        "{ Dying, Hurt, Idle, Attack }",
        "{ Idle, Attack, Dying, Hurt }",
    );
    let net = bayesnet::parse_bif(&swapped, "swapped.bif").unwrap();
    let vars = fight::FightVars::new(&net).unwrap();
    let reaction = net.var("reaction").unwrap();
    let mut states = vec![0; net.len()];
    states[reaction.0] = 0; // "Idle" in this network
    assert_eq!(vars.labels(&states).reaction, Reaction::Idle);
}

/// A sheet of every character, type, action and reaction, left in the temporary folder
/// for people to look at (`fight-overview.png`), and one of sampled noisy scenes.
#[test]
fn contact_sheets() {
    let chars = [Character::Satyr, Character::Golem];
    let actions = [Action::Attack, Action::Taunt, Action::Walk];
    let reactions = [
        Reaction::Dying,
        Reaction::Hurt,
        Reaction::Idle,
        Reaction::Attack,
    ];
    let mut items = Vec::new();
    for c in chars {
        for t in 0..3 {
            for (k, r) in reactions.iter().enumerate() {
                let l = Labels {
                    actor: c,
                    actor_type: t,
                    action: actions[k % 3],
                    reactor: chars[(t + k) % 2],
                    reactor_type: (t + k) % 3,
                    reaction: *r,
                };
                items.push((l, Nuisance::default()));
            }
        }
    }
    let dir = std::env::temp_dir();
    let sheet = fight::contact_sheet(&items, 64, 4, 3);
    assert_eq!(sheet.width % 4, 0);
    sheet.write_png(&dir.join("fight-overview.png")).unwrap();
    fight::contact_sheet(&items, 64, 4, 1)
        .write_png(&dir.join("fight-overview-64.png"))
        .unwrap();
    fight::contact_sheet(&items, 128, 4, 1)
        .write_png(&dir.join("fight-overview-128.png"))
        .unwrap();
    fight::contact_sheet(&[items[2], items[17], items[4], items[12]], 128, 2, 2)
        .write_png(&dir.join("fight-closeup.png"))
        .unwrap();
    // Each pose at the two ends of its animation and in the middle.
    let mut phases = Vec::new();
    for (k, r) in reactions.iter().enumerate() {
        for phase in [0.0, 0.5, 1.0] {
            let l = Labels {
                actor: chars[k % 2],
                actor_type: k % 3,
                action: actions[k % 3],
                reactor: chars[(k + 1) % 2],
                reactor_type: (k + 1) % 3,
                reaction: *r,
            };
            let n = Nuisance {
                actor_phase: phase,
                reactor_phase: phase,
                ..Nuisance::default()
            };
            phases.push((l, n));
        }
    }
    fight::contact_sheet(&phases, 64, 3, 3)
        .write_png(&dir.join("fight-phases.png"))
        .unwrap();
    let net = fight_scene().unwrap();
    let opts = FightOptions {
        seed: 7,
        ..FightOptions::default()
    };
    let sheet = fight::write_preview(&dir.join("fight-preview.png"), &net, &opts, 24).unwrap();
    let png = fs::read(dir.join("fight-preview.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(sheet.width >= 5 * 128);
}

/// CPU seconds this process has used (user + system), where Linux tells.
fn cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Throughput, not a test: `cargo test --release --test fight -- --ignored --nocapture`.
/// Prints wall-clock rates and, from CPU time, the rate two otherwise idle cores would
/// reach (the machine this is run on may be busy with other work).
#[test]
#[ignore]
fn bench_scenes_per_second() {
    let net = fight_scene().unwrap();
    let threads = rayon::current_num_threads() as f64;
    for size in [64, 128] {
        let n = if size == 64 { 40_000 } else { 10_000 };
        let opts = FightOptions {
            size,
            ..options(n, 9)
        };
        let scenes = fight::sample_scenes(&net, &opts, n).unwrap();
        let (t, cpu) = (std::time::Instant::now(), cpu_seconds());
        let check: usize = {
            use rayon::prelude::*;
            scenes
                .labels
                .par_iter()
                .zip(&scenes.nuisance)
                .map(|(l, nu)| render(l, nu, size)[7] as usize)
                .sum()
        };
        let wall = n as f64 / t.elapsed().as_secs_f64();
        let idle = cpu_seconds()
            .zip(cpu)
            .map(|(b, a)| n as f64 / (b - a) * 2.0);
        let dir = scratch(&format!("bench{size}"));
        let (t2, cpu2) = (std::time::Instant::now(), cpu_seconds());
        fight::generate(&net, &dir, &opts, &|_| {}).unwrap();
        let wall2 = n as f64 / t2.elapsed().as_secs_f64();
        let idle2 = cpu_seconds()
            .zip(cpu2)
            .map(|(b, a)| n as f64 / (b - a) * 2.0);
        fs::remove_dir_all(&dir).unwrap();
        println!(
            "size {size} ({threads} threads): render {wall:.0}/s wall, {:.0}/s on 2 idle cores; \
             generate() {wall2:.0}/s wall, {:.0}/s on 2 idle cores [{check}]",
            idle.unwrap_or(f64::NAN),
            idle2.unwrap_or(f64::NAN),
        );
    }
}
